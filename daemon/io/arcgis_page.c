/*
 * arcgis_page.c - one FeatureSet page (ARCGIS.md 3.3) read in one pass over
 * its text, straight into canonical CSV rows (io/arcgis.h), without a JSON
 * tree: the page's values are located as spans of the body, each feature's
 * row is rendered as soon as its object closes, into the chunk's text.
 * Pure; any thread.
 *
 * The contract is jansson's DOM (json_loadb, then json_object_get) as the
 * pager used it before, byte for byte (tests/unit/io/arcgis_dom.c keeps that
 * path and the unit test and tests/fuzz/fuzz_arcgis_page.c compare the two):
 *   - the body is accepted exactly when json_loadb(body, 0) accepts it:
 *     strict RFC 8259 grammar, strict UTF-8 everywhere, no \u0000, no lone
 *     surrogate, integers within int64, reals that do not overflow, depth
 *     at most 2048, nothing but white space after the top-level value (and
 *     its quirk: one NUL byte right after a number or literal is skipped).  A
 *     rejected body, and one with an "error" object at the top, is judged
 *     by ag_judge_body (so the verdict and message are its own);
 *   - a key given twice means its last value (json_object_set);
 *   - top-level "features" not an array: "the page has no features";
 *   - a feature that is not an object, whose "attributes" is not an
 *     object, or whose object id is not an integer: "feature N of the page
 *     has no integer <oid>", the rows before it kept in the chunk;
 *   - values: strings decoded, RFC 4180 quoted; integers as written ("-0"
 *     is "0"); reals, and geometry x/y of either kind, as ag_csv_number of
 *     their double; Date fields through ag_csv_date; true/false; null or
 *     absent: empty; an object or array: its compact JSON text (jansson's
 *     json_dumps of that value, the rare path).
 * Rows outside the chunk's ids, or twice, are dropped (the server ignored
 * the range); a rejected page leaves the chunk as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>

#include "domain/tz.h"
#include "io/arcgis_int.h"
#include "io/arcgis_scan.h"

struct ag_pscan {
	struct ag_span *v;          /* per layer field: its value in this feature */
	size_t n_v;
	struct ag_span x, y;        /* the geometry's */
	int32_t *slot;           /* name hash -> field + 1 */
	int32_t *same;           /* next field of the same name, or -1 */
	bool *tail;              /* a field whose name an earlier one has */
	size_t n_slot;
	char *tmp;               /* a decoded key or string; a row for the hash */
	size_t n_tmp;
};

static bool grow(struct ag_pscan *ps, size_t n)
{
	if (n <= ps->n_tmp)
		return true;
	char *t = realloc(ps->tmp, n);
	if (!t)
		return false;
	ps->tmp = t;
	ps->n_tmp = n;
	return true;
}

/* A key's text: the raw span, or decoded into ps->tmp. */
static bool key_text(struct ag_pscan *ps, const struct ag_span *k, const char **t, size_t *n)
{
	if (!k->esc) {
		*t = k->p;
		*n = k->n;
		return true;
	}
	if (!grow(ps, k->n + 1))
		return false;
	*n = ag_decode(k, ps->tmp);
	*t = ps->tmp;
	return true;
}

static bool key_is(const char *t, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(t, w, n) == 0;
}

/* ---- the layer's field names ---- */

static uint32_t name_hash(const char *t, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)t[i]) * 16777619u;
	return h;
}

/* The table of L's names in PS (fields of one name chained in order). */
static int build_names(struct ag_pscan *ps, const struct ag_layer *l)
{
	size_t ns = 16;
	while (ns < 2 * l->n_fields)
		ns *= 2;
	if (l->n_fields > ps->n_v) {
		struct ag_span *v = realloc(ps->v, l->n_fields * sizeof *v);
		int32_t *same = realloc(ps->same, l->n_fields * sizeof *same);
		bool *tail = realloc(ps->tail, l->n_fields * sizeof *tail);
		if (v)
			ps->v = v;
		if (same)
			ps->same = same;
		if (tail)
			ps->tail = tail;
		if (!v || !same || !tail)
			return -ENOMEM;
		ps->n_v = l->n_fields;
	}
	if (ns > ps->n_slot) {
		int32_t *s = realloc(ps->slot, ns * sizeof *s);
		if (!s)
			return -ENOMEM;
		ps->slot = s;
		ps->n_slot = ns;
	}
	memset(ps->slot, 0, ps->n_slot * sizeof *ps->slot);
	for (size_t i = l->n_fields; i-- > 0;) {
		const char *nm = l->fields[i].name;
		size_t n = strlen(nm), h = name_hash(nm, n) & (ps->n_slot - 1);
		ps->same[i] = -1;
		ps->tail[i] = false;
		for (; ps->slot[h]; h = (h + 1) & (ps->n_slot - 1)) {
			int32_t j = ps->slot[h] - 1;
			if (strcmp(l->fields[j].name, nm) == 0)
				break;
		}
		if (ps->slot[h]) {
			ps->same[i] = ps->slot[h] - 1;   /* i comes first: the head */
			ps->tail[ps->same[i]] = true;
		}
		ps->slot[h] = (int32_t)i + 1;
	}
	return 0;
}

/* The first field named T (N bytes), or -1. */
static int32_t field_of(const struct ag_pscan *ps, const struct ag_layer *l, const char *t,
                        size_t n)
{
	for (size_t h = name_hash(t, n) & (ps->n_slot - 1); ps->slot[h];
	     h = (h + 1) & (ps->n_slot - 1)) {
		int32_t j = ps->slot[h] - 1;
		const char *nm = l->fields[j].name;
		if (strncmp(nm, t, n) == 0 && nm[n] == '\0')
			return j;
	}
	return -1;
}

/* ---- values as canonical text ---- */

static int64_t int_of(const struct ag_span *v)
{
	const char *p = v->p, *e = v->p + v->n;
	bool neg = *p == '-';
	uint64_t u = 0;
	for (p += neg; p < e; p++)
		u = u * 10 + (uint64_t)(*p - '0');
	return neg ? (int64_t)(0 - u) : (int64_t)u;
}

/* A real's text at O as ag_csv_number(strtod(text)) writes it; its length.
 * Without an exponent and with at most 15 significant digits (and a value
 * of at least 1e-4, below 1e15) the text itself is that: %.15g reads back
 * any such decimal (DBL_DIG) and drops its trailing zeros, a whole value
 * prints as an integer.  Anything else goes the long way. */
static size_t put_real(char *o, const struct ag_span *v)
{
	const char *p = v->p, *e = v->p + v->n, *ip, *ie, *fp = NULL, *fe = NULL;
	bool neg = *p == '-';

	ip = p + neg;
	for (ie = ip; ie < e && *ie >= '0' && *ie <= '9'; ie++)
		;
	if (ie < e && *ie == '.') {
		fp = ie + 1;
		for (fe = fp; fe < e && *fe >= '0' && *fe <= '9'; fe++)
			;
	} else {
		fp = fe = ie;
	}
	if (fe == e) {
		while (fe > fp && fe[-1] == '0')
			fe--;
		size_t ni = (size_t)(ie - ip), nf = (size_t)(fe - fp);
		bool zero_int = ni == 1 && *ip == '0';
		size_t lead = 0;
		if (zero_int)
			while (fp + lead < fe && fp[lead] == '0')
				lead++;
		if (nf == 0 && zero_int) {
			o[0] = '0';
			return 1;
		}
		if (ni <= 15 && (zero_int ? lead <= 3 && nf - lead <= 15 : ni + nf <= 15)) {
			char *o0 = o;
			if (neg)
				*o++ = '-';
			memcpy(o, ip, ni);
			o += ni;
			if (nf) {
				*o++ = '.';
				memcpy(o, fp, nf);
				o += nf;
			}
			return (size_t)(o - o0);
		}
	}
	ag_csv_number(strtod(v->p, NULL), o, 40);
	return strlen(o);
}

/* An integer's text as ag_csv_number((double)value) writes it (x, y). */
static size_t put_int_coord(char *o, const struct ag_span *v)
{
	size_t nd = v->n - (*v->p == '-');
	if (nd <= 15) {
		if (v->n == 2 && v->p[0] == '-' && v->p[1] == '0') {  /* "-0" */
			o[0] = '0';
			return 1;
		}
		memcpy(o, v->p, v->n);
		return v->n;
	}
	ag_csv_number((double)int_of(v), o, 40);
	return strlen(o);
}

/* The compact JSON text of a nested value, quoted as a field, onto B. */
static void put_nest(struct buf *b, const struct ag_span *v)
{
	json_t *j = json_loadb(v->p, v->n, JSON_DECODE_ANY, NULL);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	if (s)
		ag_csv_field(b, s, strlen(s));
	else
		b->err = ENOMEM;
	free(s);
	json_decref(j);
}

/* A string's field at O (room for v->n + 2); its length. */
static size_t put_str(struct ag_pscan *ps, char *o, const struct ag_span *v)
{
	const char *t = v->p;
	size_t n = v->n;
	bool q = v->comma;

	if (v->esc) {
		n = ag_decode(v, ps->tmp);
		t = ps->tmp;
		q = q || memchr(t, '"', n) || memchr(t, '\r', n) || memchr(t, '\n', n) ||
		    memchr(t, ',', n);
	}
	if (!q) {
		memcpy(o, t, n);
		return n;
	}
	char *o0 = o;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '"')
			*o++ = '"';
		*o++ = t[i];
	}
	*o++ = '"';
	return (size_t)(o - o0);
}

/* The row of the feature whose values are in PS onto C's text, with its
 * digest (of the line without the oid field).  0 or -ENOMEM. */
static int render(struct ag_pscan *ps, const struct ag_layer *l, const struct tz *tz,
                  struct buf *b, struct ag_row *row)
{
	size_t need = 64 + (l->geometry ? ps->x.n + ps->y.n + 96 : 0), most = 0;
	size_t start = b->len, oid_a = 0, oid_z = 0;
	char *o;

	for (size_t i = 0; i < l->n_fields; i++) {
		need += ps->v[i].n + 48;
		if (ps->v[i].kind == V_STR && ps->v[i].esc && ps->v[i].n > most)
			most = ps->v[i].n;
	}
	if (!grow(ps, most + 1) || !buf_reserve(b, need))
		return -ENOMEM;
	o = b->p + b->len;
	for (size_t i = 0; i < l->n_fields; i++) {
		const struct ag_span *v = &ps->v[i];
		if (i)
			*o++ = ',';
		if (i == l->oid_index)
			oid_a = (size_t)(o - b->p) - start;
		switch (v->kind) {
		case V_STR:
			o += put_str(ps, o, v);
			break;
		case V_INT:
			if (l->fields[i].type == AG_F_DATE) {
				ag_csv_date(tz, int_of(v), o, 48);
				o += strlen(o);
			} else if (v->n == 2 && v->p[0] == '-' && v->p[1] == '0') {
				*o++ = '0';
			} else {
				memcpy(o, v->p, v->n);
				o += v->n;
			}
			break;
		case V_REAL:
			if (l->fields[i].type == AG_F_DATE) {
				ag_csv_date(tz, ag_date_ms(strtod(v->p, NULL)), o, 48);
				o += strlen(o);
			} else {
				o += put_real(o, v);
			}
			break;
		case V_TRUE:
		case V_FALSE:
			memcpy(o, v->p, v->n);
			o += v->n;
			break;
		case V_NEST:
			b->len = (size_t)(o - b->p);
			put_nest(b, v);
			if (!buf_reserve(b, need))
				return -ENOMEM;
			o = b->p + b->len;
			break;
		default:
			break;
		}
		if (i == l->oid_index)
			oid_z = (size_t)(o - b->p) - start;
	}
	if (l->geometry) {
		if (l->n_fields)
			*o++ = ',';
		for (int k = 0; k < 2; k++) {
			const struct ag_span *v = k ? &ps->y : &ps->x;
			if (k)
				*o++ = ',';
			if (v->kind == V_INT)
				o += put_int_coord(o, v);
			else if (v->kind == V_REAL)
				o += put_real(o, v);
		}
	}
	*o++ = '\r';
	*o++ = '\n';
	*o = '\0';
	b->len = (size_t)(o - b->p);
	row->off = start;
	row->len = b->len - start;

	/* XXH3-128 of the line without the oid field, in one call. */
	size_t hn = row->len - (oid_z - oid_a);
	if (!grow(ps, hn + 1))
		return -ENOMEM;
	memcpy(ps->tmp, b->p + start, oid_a);
	memcpy(ps->tmp + oid_a, b->p + start + oid_z, row->len - oid_z);
	XXH128_hash_t h = XXH3_128bits(ps->tmp, hn);
	row->h.hi = h.high64;
	row->h.lo = h.low64;
	return 0;
}

/* Index of OID among the chunk's ids, or -1. */
static ssize_t chunk_index(const struct ag_chunk *c, int64_t oid)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->ids[mid] < oid)
			lo = mid + 1;
		else if (c->ids[mid] > oid)
			hi = mid;
		else
			return (ssize_t)mid;
	}
	return -1;
}

/* Back to N rows (and their text). */
static void rollback(struct ag_chunk *c, size_t n, size_t text_len)
{
	for (size_t i = n; i < c->n_rows; i++)
		c->have[chunk_index(c, c->rows[i].oid)] = false;
	c->n_rows = n;
	c->text->len = text_len;
	if (c->text->p)
		c->text->p[text_len] = '\0';
}

struct walk {
	struct ag_pscan *ps;
	const struct ag_layer *l;
	const struct tz *tz;
	struct ag_chunk *c;
	struct ag_sc s;
	size_t bad;              /* the first bad feature of the array, or SIZE_MAX */
	int err;                 /* -ENOMEM */
};

/* One member of an object walk_members reads: its key's text and value. */
typedef void member_fn(struct walk *w, const char *key, size_t n, const struct ag_span *v,
                       void *ctx);

/*
 * The object at w->s.p ('{'), each "key": value member handed to FN in
 * order (VALUE is any JSON value, scanned but not walked).  true with the
 * scanner past the '}'; false on bad JSON, or with w->err set on -ENOMEM.
 */
static bool walk_members(struct walk *w, member_fn *fn, void *ctx)
{
	struct ag_sc *s = &w->s;
	struct ag_span k, v;
	const char *t;
	size_t n;

	s->depth++;
	s->p++;
	ag_ws(s);
	if (s->p < s->e && *s->p == '}')
		goto end;
	for (;;) {
		ag_ws(s);
		if (s->p >= s->e || *s->p != '"' || !ag_scan_str(s, &k))
			return false;
		ag_ws(s);
		if (s->p >= s->e || *s->p++ != ':' || !ag_scan_value(s, &v))
			return false;
		if (!key_text(w->ps, &k, &t, &n))
			return w->err = -ENOMEM, false;
		fn(w, t, n, &v, ctx);
		ag_ws(s);
		if (s->p < s->e && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p >= s->e || *s->p != '}')
			return false;
		break;
	}
end:
	s->p++;
	s->depth--;
	return true;
}

/* A "geometry" member: x and y kept. */
static void geometry_member(struct walk *w, const char *t, size_t n, const struct ag_span *v,
                            void *ctx)
{
	(void)ctx;
	if (n == 1 && (*t == 'x' || *t == 'y'))
		*(*t == 'x' ? &w->ps->x : &w->ps->y) = *v;
}

/* An "attributes" member: its value to the fields of its name.  CTX is the
 * index of the field expected next: attributes come in layer order, mostly,
 * so that one is tried first. */
static void attribute_member(struct walk *w, const char *t, size_t n, const struct ag_span *v,
                             void *ctx)
{
	const struct ag_layer *l = w->l;
	struct ag_pscan *ps = w->ps;
	size_t *guess = ctx;
	const char *nm = *guess < l->n_fields ? l->fields[*guess].name : NULL;
	int32_t f;

	if (nm && !ps->tail[*guess] && strncmp(nm, t, n) == 0 && nm[n] == '\0')
		f = (int32_t)*guess;
	else
		f = field_of(ps, l, t, n);
	if (f >= 0)
		*guess = (size_t)f + 1;
	for (; f >= 0; f = ps->same[f])
		ps->v[f] = *v;
}

static bool walk_geometry(struct walk *w)
{
	return walk_members(w, geometry_member, NULL);
}

static bool walk_attributes(struct walk *w)
{
	size_t guess = 0;

	return walk_members(w, attribute_member, &guess);
}

/* One feature object: its row into the chunk, or w->bad. */
static bool walk_feature(struct walk *w, size_t index)
{
	struct ag_sc *s = &w->s;
	struct ag_pscan *ps = w->ps;
	const struct ag_layer *l = w->l;
	struct ag_chunk *c = w->c;
	bool attrs = false;
	struct ag_span k, v;
	const char *t;
	size_t n;

	memset(ps->v, 0, l->n_fields * sizeof *ps->v);
	memset(&ps->x, 0, sizeof ps->x);
	memset(&ps->y, 0, sizeof ps->y);
	s->depth++;
	s->p++;
	ag_ws(s);
	if (s->p < s->e && *s->p == '}')
		goto end;
	for (;;) {
		ag_ws(s);
		if (s->p >= s->e || *s->p != '"' || !ag_scan_str(s, &k))
			return false;
		ag_ws(s);
		if (s->p >= s->e || *s->p++ != ':')
			return false;
		ag_ws(s);
		if (s->p >= s->e || !key_text(ps, &k, &t, &n))
			return s->p < s->e ? (w->err = -ENOMEM, false) : false;
		if (key_is(t, n, "attributes")) {
			memset(ps->v, 0, l->n_fields * sizeof *ps->v);
			attrs = *s->p == '{';
			if (attrs ? !walk_attributes(w) : !ag_scan_value(s, &v))
				return false;
		} else if (key_is(t, n, "geometry")) {
			memset(&ps->x, 0, sizeof ps->x);
			memset(&ps->y, 0, sizeof ps->y);
			if (*s->p == '{' ? !walk_geometry(w) : !ag_scan_value(s, &v))
				return false;
		} else if (!ag_scan_value(s, &v)) {
			return false;
		}
		ag_ws(s);
		if (s->p < s->e && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p >= s->e || *s->p != '}')
			return false;
		break;
	}
end:
	s->p++;
	s->depth--;
	if (!attrs || ps->v[l->oid_index].kind != V_INT) {
		w->bad = index;
		return true;
	}
	int64_t oid = int_of(&ps->v[l->oid_index]);
	ssize_t at = chunk_index(c, oid);
	if (at < 0 || c->have[at])      /* outside the chunk, or twice */
		return true;
	if ((w->err = render(ps, l, w->tz, c->text, &c->rows[c->n_rows])) < 0)
		return false;
	c->rows[c->n_rows++].oid = oid;
	c->have[at] = true;
	return true;
}

/* The "features" array at s->p; the rows of an earlier one are dropped. */
static bool walk_features(struct walk *w, size_t rows0, size_t text0)
{
	struct ag_sc *s = &w->s;
	struct ag_span v;

	rollback(w->c, rows0, text0);
	w->bad = SIZE_MAX;
	s->depth++;
	s->p++;
	ag_ws(s);
	if (s->p < s->e && *s->p == ']')
		goto end;
	for (size_t i = 0;; i++) {
		ag_ws(s);
		if (s->p >= s->e)
			return false;
		if (w->bad == SIZE_MAX && *s->p == '{') {
			if (!walk_feature(w, i))
				return false;
		} else {
			if (w->bad == SIZE_MAX)
				w->bad = i;      /* not an object */
			if (!ag_scan_value(s, &v))
				return false;
		}
		ag_ws(s);
		if (s->p < s->e && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p >= s->e || *s->p != ']')
			return false;
		break;
	}
end:
	s->p++;
	s->depth--;
	return true;
}

struct ag_pscan *ag_pscan_new(void)
{
	return calloc(1, sizeof(struct ag_pscan));
}

void ag_pscan_free(struct ag_pscan *ps)
{
	if (!ps)
		return;
	free(ps->v);
	free(ps->same);
	free(ps->tail);
	free(ps->slot);
	free(ps->tmp);
	free(ps);
}

int ag_page_parse(struct ag_pscan *ps, const struct ag_layer *l, const struct tz *tz,
                  const char *p, size_t n, struct ag_chunk *c, bool *retryable, char *msg)
{
	struct walk w = { .ps = ps, .l = l, .tz = tz, .c = c, .bad = SIZE_MAX,
	                  .s = { (const unsigned char *)p, (const unsigned char *)p + n, 0 } };
	struct ag_sc *s = &w.s;
	size_t rows0 = c->n_rows, text0 = c->text->len;
	bool ok = false, feats = false, err_obj = false;
	struct ag_span k, v;
	const char *t;
	size_t kn;

	*retryable = true;
	if (build_names(ps, l) < 0)
		return -ENOMEM;
	ag_ws(s);
	if (s->p < s->e && *s->p == '[') {
		ok = ag_skip_nest(s, &v);
	} else if (s->p < s->e && *s->p == '{') {
		s->depth = 1;
		s->p++;
		ag_ws(s);
		if (s->p < s->e && *s->p == '}') {
			s->p++;
			ok = true;
		}
		while (!ok) {
			ag_ws(s);
			if (s->p >= s->e || *s->p != '"' || !ag_scan_str(s, &k))
				break;
			ag_ws(s);
			if (s->p >= s->e || *s->p++ != ':')
				break;
			ag_ws(s);
			if (s->p >= s->e)
				break;
			if (!key_text(ps, &k, &t, &kn)) {
				w.err = -ENOMEM;
				break;
			}
			if (key_is(t, kn, "features")) {
				feats = *s->p == '[';
				if (feats ? !walk_features(&w, rows0, text0) : !ag_scan_value(s, &v))
					break;
			} else {
				bool error = key_is(t, kn, "error");
				if (!ag_scan_value(s, &v))
					break;
				if (error)
					err_obj = v.kind == V_NEST && *v.p == '{';
			}
			ag_ws(s);
			if (s->p < s->e && *s->p == ',') {
				s->p++;
				continue;
			}
			if (s->p >= s->e || *s->p != '}')
				break;
			s->p++;
			ok = true;
		}
	}
	if (ok) {
		ag_ws(s);
		ok = s->p == s->e;
	}
	if (!ok || err_obj || !feats)
		rollback(c, rows0, text0);
	if (w.err)
		return w.err;
	if (!ok || err_obj) {
		/* jansson's verdict and words (the rare path) */
		json_t *doc;
		if (ag_judge_body(n ? p : "", n, &doc, retryable, msg) == 0) {
			json_decref(doc);
			snprintf(msg, AG_ERR_MAX, "the page parser and jansson disagree (%zu bytes)", n);
			*retryable = true;
		}
		return -EIO;
	}
	if (!feats) {
		snprintf(msg, AG_ERR_MAX, "the page has no features");
		return -EIO;
	}
	if (w.bad != SIZE_MAX) {
		snprintf(msg, AG_ERR_MAX, "feature %zu of the page has no integer %s", w.bad,
		         l->oid_name);
		return -EIO;
	}
	return 0;
}
