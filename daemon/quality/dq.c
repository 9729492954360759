/*
 * dq.c - the check engine: one pass of the CSV scanner over a snapshot,
 * every configured check evaluated row by row, the key index built on the
 * way (keyidx.c), the results put into a struct dq_report (dq.h).
 *
 * Per row only the columns some check needs are trimmed and typed, each
 * once, whatever the number of checks reading them.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "base/buf.h"
#include "common/fmt.h"
#include "domain/execdate.h"
#include "domain/tz.h"
#include "quality/dq.h"
#include "quality/keyidx.h"
#include "quality/value.h"

#define NEED_NUM  1u
#define NEED_TIME 2u
#define MAX_BAD_VALUES 5           /* distinct unexpected values kept (allowed) */
#define DETAIL_MAX 2048            /* bytes of one result's detail */
#define KEY_SEP '\x1f'             /* between the parts of a composite key */
#define READBACK_BLOCK (64u << 10)
#define KEY_MAX 4096               /* bytes of a normalized key (longer: cut) */

/* A column the checks know: a schema column, or a name a check uses that
 * the schema does not declare. */
struct col {
	const char *name;              /* canonical */
	const struct cfg_column *cfg;  /* NULL: not in the schema */
	enum col_type type;
	int idx;                       /* field index in the file; -1 absent */
	unsigned need;
	struct tsfmt *fmts;
	size_t n_fmts, hint;           /* hint: the format that matched last */
	size_t *null_len;              /* lengths of cfg->nulls.items */
	size_t n_nulls;
	/* this row */
	const char *v;
	size_t len;
	bool null, num_ok, ts_ok;
	double num;
	int64_t ts;
};

/* Per checked column counters. */
struct acc {
	struct col *c;
	uint64_t total;                /* non-null values */
	uint64_t nulls, bad, future;
};

/* Case-insensitive set of allowed values: trimmed, lower-cased copies. */
struct vset {
	struct vitem {
		char *p;
		size_t len;
	} *items;
	size_t n;
	uint32_t *slot;                /* index + 1, 0 = empty */
	size_t mask;
};

struct chk {
	const struct cfg_check *cfg;
	struct dq_result *res;
	struct acc *acc;
	size_t n_acc;
	bool broken;                   /* a needed column is missing: bad */
	/* coordinates */
	struct col *lat, *lon;
	uint64_t total, missing, unparsed, swapped, outside;
	/* freshness */
	struct col *ev;
	bool have_newest;
	int64_t newest;
	/* allowed */
	struct vset set;
	char *bad_values[MAX_BAD_VALUES];
	size_t n_bad_values;
};

struct run {
	const struct dq_input *in;
	const struct cfg_dataset *ds;
	struct dq_report *rep;
	struct col *cols;
	size_t n_cols, cap_cols;
	struct col **used;             /* typed on every row */
	size_t n_used;
	struct chk *chks;
	struct col **key;
	int *key_idx;                  /* their field indexes in this file */
	size_t n_key;
	bool key_absent;               /* a key column is not in the file */
	uint64_t key_def;
	struct keyidx *ki;
	int64_t exec_end;              /* civil seconds at the end of exec_date */
	bool header_seen;
	uint64_t rows;
	char *canon;                   /* canonical row text (non-plain rows) */
	size_t canon_cap;
	char keybuf[KEY_MAX];
	int rc;                        /* first error in the row callback */
	char *err;
};

/* ---- small helpers ---- */

/* A result's text (detail, threshold): at most DETAIL_MAX bytes, cut with
 * "..." beyond. */
static void text_init(struct buf *t)
{
	buf_init(t, 0, DETAIL_MAX);
	buf_set_cut(t, "...");
}

/* Give away the text (never NULL unless out of memory). */
static char *text_take(struct buf *t)
{
	size_t len;

	return buf_take(t, &len);
}

static void fmt_civil(char *buf, size_t n, int64_t secs)
{
	struct civil c;
	tz_civil_wall(secs, &c);
	snprintf(buf, n, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour,
	         c.minute, c.second);
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0;
}

/* The canonical form of a header name: trimmed, lower case, ' ' as '_'. */
static size_t canon_name(const char *p, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	value_trim(&p, &len);
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		char c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (c == ' ')
			c = '_';
		out[n++] = c;
	}
	out[n] = 0;
	return n;
}

static bool same_name(const char *a, const char *b)
{
	char x[CONFIG_MAX_NAME * 4 + 1], y[CONFIG_MAX_NAME * 4 + 1];
	canon_name(a, strlen(a), x, sizeof x);
	canon_name(b, strlen(b), y, sizeof y);
	return strcmp(x, y) == 0;
}

/* ---- columns ---- */

static struct col *find_col(struct run *R, const char *name)
{
	for (size_t i = 0; i < R->n_cols; i++)
		if (strcmp(R->cols[i].name, name) == 0)
			return &R->cols[i];
	return NULL;
}

static int compile_formats(struct col *c, const struct cfg_schema *s)
{
	const struct strlist *l = c->cfg && c->cfg->formats.n ? &c->cfg->formats
	                                                       : &s->timestamp_formats;
	static const char *const fallback[] = { "%Y-%m-%d %H:%M:%S", "%Y-%m-%d" };
	size_t n = l->n ? l->n : 2;

	c->fmts = calloc(n, sizeof *c->fmts);
	if (!c->fmts)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *t = l->n ? l->items[i] : fallback[i];
		/* config.c validates formats; a bad one here matches nothing. */
		if (tsfmt_compile(t, &c->fmts[c->n_fmts]) == 0)
			c->n_fmts++;
	}
	return 0;
}

/* The column named NAME, added (not in the schema) if needed.  The array
 * is sized up front (init_cols), so pointers stay valid. */
static struct col *use_col(struct run *R, const char *name, unsigned need)
{
	struct col *c = find_col(R, name);
	if (!c) {
		if (R->n_cols == R->cap_cols)
			return NULL;
		c = &R->cols[R->n_cols++];
		c->name = name;
		c->type = COL_STRING;
		c->idx = -1;
	}
	c->need |= need;
	for (size_t i = 0; i < R->n_used; i++)
		if (R->used[i] == c)
			return c;
	R->used[R->n_used++] = c;
	return c;
}

#define VSET_MAX_LEN 256            /* longer values are never allowed */

/* Lower-case P into OUT (at most VSET_MAX_LEN bytes) and hash it; false
 * when it is too long to be in any set. */
static bool fold(const char *p, size_t len, char *out, uint64_t *hash)
{
	uint64_t h = 1469598103934665603ULL;
	if (len > VSET_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out[i] = c;
		h = (h ^ (unsigned char)c) * 1099511628211ULL;
	}
	*hash = h;
	return true;
}

static bool vset_has(const struct vset *s, const char *p, size_t len)
{
	char low[VSET_MAX_LEN];
	uint64_t h;
	if (!fold(p, len, low, &h))
		return false;
	for (size_t j = h & s->mask; s->slot[j]; j = (j + 1) & s->mask) {
		const struct vitem *v = &s->items[s->slot[j] - 1];
		if (v->len == len && memcmp(v->p, low, len) == 0)
			return true;
	}
	return false;
}

static int vset_init(struct vset *s, const struct strlist *l)
{
	size_t cap = 8;
	while (cap < 2 * l->n)
		cap *= 2;
	s->mask = cap - 1;
	s->slot = calloc(cap, sizeof *s->slot);
	s->items = calloc(l->n + 1, sizeof *s->items);
	if (!s->slot || !s->items)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		const char *v = l->items[i];
		size_t len = strlen(v), j;
		char low[VSET_MAX_LEN];
		uint64_t h;
		value_trim(&v, &len);
		if (!fold(v, len, low, &h) || vset_has(s, v, len))
			continue;
		if (!(s->items[s->n].p = malloc(len + 1)))
			return -ENOMEM;
		memcpy(s->items[s->n].p, low, len);
		s->items[s->n].len = len;
		for (j = h & s->mask; s->slot[j]; j = (j + 1) & s->mask)
			;
		s->slot[j] = (uint32_t)++s->n;
	}
	return 0;
}

static int init_cols(struct run *R)
{
	const struct cfg_schema *s = &R->ds->schema;
	size_t extra = s->key.n + 1 + 2 * R->ds->n_checks;

	for (size_t i = 0; i < R->ds->n_checks; i++)
		extra += R->ds->checks[i].columns.n;
	R->cap_cols = s->n_columns + extra;
	R->cols = calloc(R->cap_cols, sizeof *R->cols);
	R->used = calloc(R->cap_cols, sizeof *R->used);
	R->chks = calloc(R->ds->n_checks, sizeof *R->chks);
	R->key = calloc(s->key.n + 1, sizeof *R->key);
	R->key_idx = calloc(s->key.n + 1, sizeof *R->key_idx);
	if (!R->cols || !R->used || !R->chks || !R->key || !R->key_idx)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_columns; i++) {
		struct col *c = &R->cols[R->n_cols++];
		c->name = s->columns[i].name;
		c->cfg = &s->columns[i];
		c->type = c->cfg->type;
		c->idx = -1;
	}
	return 0;
}

/* The checks' needs: which columns are typed how on every row. */
static int plan(struct run *R)
{
	const struct cfg_schema *s = &R->ds->schema;
	XXH3_state_t st;

	for (size_t i = 0; i < s->key.n; i++)
		if (!(R->key[R->n_key++] = use_col(R, s->key.items[i], 0)))
			return -ENOMEM;
	XXH3_64bits_reset(&st);
	for (size_t i = 0; i < R->n_key; i++) {
		const char *t = config_col_type_name(R->key[i]->type);
		XXH3_64bits_update(&st, R->key[i]->name, strlen(R->key[i]->name) + 1);
		XXH3_64bits_update(&st, t, strlen(t) + 1);
	}
	R->key_def = XXH3_64bits_digest(&st);

	for (size_t i = 0; i < R->ds->n_checks; i++) {
		const struct cfg_check *k = &R->ds->checks[i];
		struct chk *c = &R->chks[i];
		const struct strlist *names = &k->columns;
		unsigned need = 0;
		size_t n = names->n;

		c->cfg = k;
		c->res = &R->rep->results[i];
		switch (k->type) {
		case CHECK_RANGE:      need = NEED_NUM; break;
		case CHECK_TIMESTAMPS: need = NEED_TIME; break;
		case CHECK_COORDINATES:
			if (!(c->lat = use_col(R, k->lat, NEED_NUM)) ||
			    !(c->lon = use_col(R, k->lon, NEED_NUM)))
				return -ENOMEM;
			break;
		case CHECK_FRESHNESS:
			if (s->event_time && !(c->ev = use_col(R, s->event_time, NEED_TIME)))
				return -ENOMEM;
			break;
		case CHECK_ALLOWED:
			if (vset_init(&c->set, &k->values) < 0)
				return -ENOMEM;
			break;
		default:
			break;
		}
		if (k->type == CHECK_TIMESTAMPS && !n) {
			/* Every timestamp and date column of the schema. */
			for (size_t j = 0; j < s->n_columns; j++)
				n += s->columns[j].type == COL_TIMESTAMP || s->columns[j].type == COL_DATE;
		} else if (k->type == CHECK_NULLS && !n) {
			n = s->n_columns;        /* every column of the schema */
		}
		if (k->type != CHECK_NULLS && k->type != CHECK_RANGE &&
		    k->type != CHECK_TIMESTAMPS && k->type != CHECK_ALLOWED)
			continue;
		c->acc = calloc(n ? n : 1, sizeof *c->acc);
		if (!c->acc)
			return -ENOMEM;
		if (names->n) {
			for (size_t j = 0; j < names->n; j++)
				if (!(c->acc[c->n_acc++].c = use_col(R, names->items[j], need)))
					return -ENOMEM;
		} else {
			for (size_t j = 0; j < s->n_columns; j++)
				if (k->type == CHECK_NULLS || s->columns[j].type == COL_TIMESTAMP ||
				    s->columns[j].type == COL_DATE)
					if (!(c->acc[c->n_acc++].c = use_col(R, s->columns[j].name, need)))
						return -ENOMEM;
		}
	}
	for (size_t i = 0; i < R->n_used; i++) {
		struct col *c = R->used[i];
		if ((c->need & NEED_TIME) && compile_formats(c, s) < 0)
			return -ENOMEM;
		if (c->cfg && c->cfg->nulls.n) {
			if (!(c->null_len = calloc(c->cfg->nulls.n, sizeof *c->null_len)))
				return -ENOMEM;
			for (size_t j = 0; j < c->cfg->nulls.n; j++)
				c->null_len[j] = strlen(c->cfg->nulls.items[j]);
			c->n_nulls = c->cfg->nulls.n;
		}
	}
	return 0;
}

/* ---- the header ---- */

static bool name_in(const struct strlist *l, const char *canon)
{
	for (size_t i = 0; i < l->n; i++)
		if (same_name(l->items[i], canon))
			return true;
	return false;
}

static int add_str(struct strlist *l, const char *p, size_t len)
{
	char **items = realloc(l->items, (l->n + 2) * sizeof *items);
	if (!items)
		return -ENOMEM;
	l->items = items;
	if (!(items[l->n] = strndup(p, len)))
		return -ENOMEM;
	items[++l->n] = NULL;
	return 0;
}

static bool field_mapped(const struct run *R, uint32_t j)
{
	for (size_t i = 0; i < R->n_cols; i++)
		if (R->cols[i].idx == (int)j)
			return true;
	return false;
}

static int add_rename(struct dq_drift *d, const char *p, size_t len, const char *to)
{
	struct dq_rename *rn = realloc(d->renamed, (d->n_renamed + 1) * sizeof *rn);
	if (!rn)
		return -ENOMEM;
	d->renamed = rn;
	value_trim(&p, &len);
	rn += d->n_renamed++;
	rn->from = strndup(p, len);
	rn->to = strdup(to);
	return rn->from && rn->to ? 0 : -ENOMEM;
}

/* Map the file's columns onto ours: by canonical name first (in a first
 * pass, so an exact name wins over an alias wherever it stands), then by
 * alias.  A second file column with a name already taken is "added". */
static int on_header(struct run *R, const struct csv_row *row)
{
	struct dq_drift *d = &R->rep->drift;
	char canon[256];

	R->header_seen = true;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t j = 0; j < row->n_fields; j++) {
			if (field_mapped(R, j))
				continue;
			canon_name(row->fields[j].p, row->fields[j].len, canon, sizeof canon);
			for (size_t i = 0; i < R->n_cols; i++) {
				struct col *c = &R->cols[i];
				if (c->idx >= 0 || !(pass == 0 ? same_name(c->name, canon)
				                     : c->cfg && name_in(&c->cfg->aliases, canon)))
					continue;
				c->idx = (int)j;
				if (pass == 1 && add_rename(d, row->fields[j].p, row->fields[j].len,
				                            c->name) < 0)
					return -ENOMEM;
				break;
			}
		}
	}
	for (uint32_t j = 0; j < row->n_fields; j++) {
		const char *p = row->fields[j].p;
		size_t len = row->fields[j].len;
		if (field_mapped(R, j))
			continue;
		value_trim(&p, &len);
		if (add_str(&d->added, p, len) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < R->n_key; i++) {
		R->key_idx[i] = R->key[i]->idx;
		R->key_absent |= R->key[i]->idx < 0;
	}
	return 0;
}

/* ---- rows ---- */

static void offend(struct dq_result *r, uint64_t line)
{
	if (r->n_lines < DQ_MAX_LINES)
		r->lines[r->n_lines++] = line;
}

static bool is_null(const struct col *c)
{
	if (!c->len)
		return true;
	for (size_t i = 0; i < c->n_nulls; i++)
		if (c->null_len[i] == c->len && strncasecmp(c->cfg->nulls.items[i], c->v, c->len) == 0)
			return true;
	return false;
}

static void type_col(struct col *c, const struct csv_row *row)
{
	if (c->idx < 0 || (uint32_t)c->idx >= row->n_fields) {
		c->v = "";
		c->len = 0;
	} else {
		c->v = row->fields[c->idx].p;
		c->len = row->fields[c->idx].len;
		value_trim(&c->v, &c->len);
	}
	c->null = is_null(c);
	c->num_ok = c->ts_ok = false;
	if (c->null)
		return;
	if (c->need & NEED_NUM)
		c->num_ok = value_double(c->v, c->len, &c->num);
	if (c->need & NEED_TIME) {
		if (c->n_fmts && tsfmt_match(&c->fmts[c->hint], c->v, c->len, &c->ts)) {
			c->ts_ok = true;
			return;
		}
		for (size_t i = 0; i < c->n_fmts; i++) {
			if (i != c->hint && tsfmt_match(&c->fmts[i], c->v, c->len, &c->ts)) {
				c->ts_ok = true;
				c->hint = i;
				return;
			}
		}
	}
}

static bool in_box(const struct cfg_check *k, double lat, double lon)
{
	return lat >= k->min_lat && lat <= k->max_lat && lon >= k->min_lon && lon <= k->max_lon;
}

static int keep_bad_value(struct chk *c, const struct col *col)
{
	for (size_t i = 0; i < c->n_bad_values; i++)
		if (strlen(c->bad_values[i]) == col->len &&
		    memcmp(c->bad_values[i], col->v, col->len) == 0)
			return 0;
	if (c->n_bad_values == MAX_BAD_VALUES)
		return 0;
	if (!(c->bad_values[c->n_bad_values] = strndup(col->v, col->len > 64 ? 64 : col->len)))
		return -ENOMEM;
	c->n_bad_values++;
	return 0;
}

/* A non-null value of a range, timestamps or allowed check: 0 good, 1 bad,
 * 2 a timestamp after FUTURE. */
static int judge(const struct chk *c, const struct col *v, int64_t future)
{
	const struct cfg_check *k = c->cfg;
	switch (k->type) {
	case CHECK_RANGE:
		return !v->num_ok || v->num < k->min || v->num > k->max;
	case CHECK_TIMESTAMPS:
		return !v->ts_ok ? 1 : v->ts > future ? 2 : 0;
	default:
		return !vset_has(&c->set, v->v, v->len);
	}
}

static int eval(struct run *R, struct chk *c, const struct csv_row *row)
{
	const struct cfg_check *k = c->cfg;
	int64_t future = R->exec_end + (int64_t)(k->future_slack_ms / 1000);
	bool bad = false;

	switch (k->type) {
	case CHECK_NULLS:
		for (size_t i = 0; i < c->n_acc; i++)
			if (c->acc[i].c->idx >= 0 && c->acc[i].c->null) {
				c->acc[i].nulls++;
				bad = true;
			}
		break;
	case CHECK_RANGE:
	case CHECK_TIMESTAMPS:
	case CHECK_ALLOWED:
		for (size_t i = 0; i < c->n_acc; i++) {
			struct acc *a = &c->acc[i];
			int v;
			if (a->c->null)
				continue;
			a->total++;
			if ((v = judge(c, a->c, future)) == 0)
				continue;
			bad = true;
			if (v == 2) {
				a->future++;
				continue;
			}
			a->bad++;
			if (k->type == CHECK_ALLOWED && keep_bad_value(c, a->c) < 0)
				return -ENOMEM;
		}
		break;
	case CHECK_COORDINATES: {
		const struct col *la = c->lat, *lo = c->lon;
		if (la->null || lo->null || (k->zero_is_null && la->num_ok && lo->num_ok &&
		                             la->num == 0 && lo->num == 0)) {
			c->missing++;
			break;
		}
		c->total++;
		if (!la->num_ok || !lo->num_ok) {
			c->unparsed++;
			bad = true;
		} else if (in_box(k, la->num, lo->num)) {
			break;
		} else if (in_box(k, lo->num, la->num)) {
			c->swapped++;
			bad = true;
		} else {
			c->outside++;
			bad = true;
		}
		break;
	}
	case CHECK_FRESHNESS:
		if (c->ev && c->ev->ts_ok && (!c->have_newest || c->ev->ts > c->newest)) {
			c->newest = c->ev->ts;
			c->have_newest = true;
		}
		break;
	default:
		break;
	}
	if (bad)
		offend(c->res, row->line);
	return 0;
}

/* The normalized key of ROW into BUF (its length), or -1 when every part
 * is null.  Integer parts are compared as numbers ("20148031043.0" is
 * 20148031043), others as their trimmed text; a null part of a composite
 * key is a value of its own (most 311 rows have no address). */
static ssize_t key_norm(struct run *R, struct col *const *key, const int *idx,
                        const struct csv_row *row, char *buf, size_t cap)
{
	size_t n = 0;
	bool any = false;
	for (size_t i = 0; i < R->n_key; i++) {
		const char *p = "";
		size_t len = 0;
		int64_t v;
		if (idx[i] >= 0 && (uint32_t)idx[i] < row->n_fields) {
			p = row->fields[idx[i]].p;
			len = row->fields[idx[i]].len;
			value_trim(&p, &len);
		}
		any |= len > 0;
		if (n + 11 > cap)
			break;                  /* a key longer than KEY_MAX is cut */
		if (n + len + 10 > cap)
			len = cap - n - 10;
		if (i)
			buf[n++] = KEY_SEP;
		if (!len) {
			buf[n++] = 'n';
		} else if (key[i]->type == COL_INT && value_int(p, len, &v)) {
			buf[n++] = 'i';
			memcpy(buf + n, &v, sizeof v);
			n += sizeof v;
		} else {
			buf[n++] = 's';
			memcpy(buf + n, p, len);
			n += len;
		}
	}
	return any ? (ssize_t)n : -1;
}

/* The row's values joined by ',' (unquoted, unescaped): what a plain row's
 * raw bytes are, so the content hash does not depend on how the file
 * quotes.  (A comma moving across a field boundary between two versions of
 * a row would go unseen; the city's changes are not of that kind.) */
static const char *canon_row(struct run *R, const struct csv_row *row, size_t *len)
{
	size_t need = row->n_fields + 1;
	char *o;
	for (uint32_t i = 0; i < row->n_fields; i++)
		need += row->fields[i].len;
	if (need > R->canon_cap) {
		char *p = realloc(R->canon, need);
		if (!p)
			return NULL;
		R->canon = p;
		R->canon_cap = need;
	}
	o = R->canon;
	for (uint32_t i = 0; i < row->n_fields; i++) {
		if (i)
			*o++ = ',';
		memcpy(o, row->fields[i].p, row->fields[i].len);
		o += row->fields[i].len;
	}
	*len = (size_t)(o - R->canon);
	return R->canon;
}

static int index_row(struct run *R, const struct csv_row *row, uint64_t n)
{
	const char *text;
	size_t tlen;
	ssize_t klen = key_norm(R, R->key, R->key_idx, row, R->keybuf, sizeof R->keybuf);

	if (klen < 0) {
		R->rep->null_keys++;
		return 0;
	}
	if (row->plain) {
		text = row->raw;
		tlen = row->raw_len;
	} else if (!(text = canon_row(R, row, &tlen))) {
		return -ENOMEM;
	}
	return keyidx_add(R->ki, XXH3_64bits(R->keybuf, (size_t)klen),
	                  (uint32_t)XXH3_64bits(text, tlen), n);
}

static int on_row(void *ud, const struct csv_row *row)
{
	struct run *R = ud;
	uint64_t n;
	int rc;

	if (row->index == 0)
		return (R->rc = on_header(R, row));
	n = R->rows++;
	if ((n & 4095) == 0) {
		if (R->in->cancel && atomic_load_explicit(R->in->cancel, memory_order_relaxed))
			return (R->rc = -ECANCELED);
		if (R->in->progress)
			atomic_store_explicit(R->in->progress, row->offset, memory_order_relaxed);
	}
	if (n % DQ_CHECKPOINT_ROWS == 0 && R->ki &&
	    (rc = keyidx_mark(R->ki, n, row->offset, row->line)) < 0)
		return (R->rc = rc);
	for (size_t i = 0; i < R->n_used; i++)
		type_col(R->used[i], row);
	for (size_t i = 0; i < R->ds->n_checks; i++)
		if ((rc = eval(R, &R->chks[i], row)) < 0)
			return (R->rc = rc);
	if (R->ki && !R->key_absent && (rc = index_row(R, row, n)) < 0) {
		if (rc == -EOVERFLOW && asprintf(&R->err, "more than 2^32 rows: too many to index") < 0)
			R->err = NULL;
		return (R->rc = rc);
	}
	return 0;
}

/* ---- reading rows back (example keys, duplicate verification) ---- */

struct want {
	uint32_t row;
	bool found;
	uint64_t line;
	char *text;                    /* key values joined by '|' */
	char norm[KEY_MAX];            /* normalized key, for comparisons */
	ssize_t norm_len;
};

struct rb {
	struct run *R;
	int idx[CONFIG_MAX_LIST];      /* key column indexes in that file */
	bool header;                   /* mapping the header */
	uint64_t skip;                 /* rows to pass before the wanted one */
	struct want *w;
};

static int rb_row(void *ud, const struct csv_row *row)
{
	struct rb *b = ud;
	struct run *R = b->R;
	char canon[256];

	if (b->header) {
		for (size_t i = 0; i < R->n_key; i++) {
			const struct col *k = R->key[i];
			b->idx[i] = -1;
			for (int pass = 0; pass < 2 && b->idx[i] < 0; pass++)
				for (uint32_t j = 0; j < row->n_fields && b->idx[i] < 0; j++) {
					canon_name(row->fields[j].p, row->fields[j].len, canon, sizeof canon);
					if (pass == 0 ? same_name(k->name, canon)
					              : k->cfg && name_in(&k->cfg->aliases, canon))
						b->idx[i] = (int)j;
				}
		}
		return 1;
	}
	if (row->index < b->skip)
		return 0;
	{
		struct buf t;

		text_init(&t);
		for (size_t i = 0; i < R->n_key; i++) {
			const char *p = "";
			size_t len = 0;
			if (b->idx[i] >= 0 && (uint32_t)b->idx[i] < row->n_fields) {
				p = row->fields[b->idx[i]].p;
				len = row->fields[b->idx[i]].len;
				value_trim(&p, &len);
			}
			buf_printf(&t, "%s%.*s", i ? "|" : "", (int)(len > 200 ? 200 : len), p);
		}
		b->w->text = text_take(&t);
		b->w->norm_len = key_norm(R, R->key, b->idx, row, b->w->norm, sizeof b->w->norm);
		b->w->line = row->line;
		b->w->found = b->w->text != NULL;
	}
	return 1;
}

/* Find rows W[0..n) of PATH through its checkpoints P.  Rows that cannot
 * be read back stay !found. */
static void read_back(struct run *R, const char *path, const struct keyidx_points *p,
                      struct want *w, size_t n)
{
	struct csv_opts o = { .block = READBACK_BLOCK };
	struct csv_stats st;
	struct rb b = { .R = R, .header = true };
	int fd;

	if (!n || !path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (csv_scan_fd(fd, &o, rb_row, &b, &st) != 1)
		goto out;
	b.header = false;
	for (size_t i = 0; i < n; i++) {
		size_t cp = w[i].row / p->every;
		if (cp >= p->n || lseek(fd, (off_t)p->cp[cp].offset, SEEK_SET) < 0)
			continue;
		o.no_header = true;
		o.start_offset = p->cp[cp].offset;
		o.start_line = p->cp[cp].line;
		b.skip = w[i].row % p->every;
		b.w = &w[i];
		csv_scan_fd(fd, &o, rb_row, &b, &st);
	}
out:
	close(fd);
}

static void free_wants(struct want *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i].text);
}

static int examples(struct run *R, const char *path, const struct keyidx_points *p,
                    const uint32_t *rows, size_t n, struct strlist *out)
{
	struct want *w;
	int rc = 0;

	if (n > DQ_MAX_EXAMPLES)
		n = DQ_MAX_EXAMPLES;
	if (!n)
		return 0;
	if (!(w = calloc(n, sizeof *w)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		w[i].row = rows[i];
	read_back(R, path, p, w, n);
	out->items = calloc(n + 1, sizeof *out->items);
	if (!out->items) {
		rc = -ENOMEM;
		goto out;
	}
	out->n = n;
	for (size_t i = 0; i < n; i++) {
		out->items[i] = w[i].text;      /* NULL when not found */
		w[i].text = NULL;
	}
out:
	free_wants(w, n);
	free(w);
	return rc;
}

/* ---- results ---- */

static void verdict(struct dq_result *r, bool bad)
{
	r->outcome = !bad ? DQ_PASS : r->severity == SEV_FAIL ? DQ_FAIL : DQ_WARN;
}

/* Columns of C that are not in the file: optional ones are skipped, others
 * make the check bad.  Returns false when nothing is left to check. */
static bool absent_cols(struct chk *c, struct buf *d)
{
	size_t left = 0;
	if (!c->n_acc) {
		buf_printf(d, "no columns to check; ");
		c->broken = true;
	}
	for (size_t i = 0; i < c->n_acc; i++) {
		const struct col *col = c->acc[i].c;
		if (col->idx >= 0) {
			left++;
			continue;
		}
		if (col->cfg && !col->cfg->required) {
			buf_printf(d, "%s absent (optional), skipped; ", col->name);
		} else {
			buf_printf(d, "column %s is not in the file; ", col->name);
			c->broken = true;
		}
	}
	return left > 0;
}

static void finish_share_check(struct run *R, struct chk *c, struct buf *d)
{
	const struct cfg_check *k = c->cfg;
	struct dq_result *r = c->res;
	char pct[FMT_PERCENT_MAX], lim[FMT_PERCENT_MAX];
	double worst = 0;
	bool bad, any = absent_cols(c, d), future = false;

	for (size_t i = 0; i < c->n_acc; i++) {
		struct acc *a = &c->acc[i];
		double f;
		if (a->c->idx < 0)
			continue;
		f = k->type == CHECK_NULLS ? share(a->nulls, R->rows) : share(a->bad, a->total);
		if (f > worst)
			worst = f;
		fmt_percent(pct, sizeof pct, f);
		switch (k->type) {
		case CHECK_NULLS:
			buf_printf(d, "%s %s null (%llu); ", a->c->name, pct, (unsigned long long)a->nulls);
			break;
		case CHECK_TIMESTAMPS:
			buf_printf(d, "%s %s unparsed (%llu of %llu), %llu in the future; ", a->c->name, pct,
			       (unsigned long long)a->bad, (unsigned long long)a->total,
			       (unsigned long long)a->future);
			future |= a->future > 0;
			break;
		default:
			buf_printf(d, "%s %s bad (%llu of %llu); ", a->c->name, pct,
			       (unsigned long long)a->bad, (unsigned long long)a->total);
			break;
		}
	}
	if (k->type == CHECK_ALLOWED && c->n_bad_values) {
		buf_printf(d, "unexpected:");
		for (size_t i = 0; i < c->n_bad_values; i++)
			buf_printf(d, " '%s'", c->bad_values[i]);
		buf_printf(d, "; ");
	}
	r->observed = any ? worst : NAN;
	fmt_percent(lim, sizeof lim, k->max_fraction);
	if (k->type == CHECK_TIMESTAMPS) {
		char slack[FMT_DURATION_MAX];
		fmt_duration(slack, sizeof slack, k->future_slack_ms);
		r->threshold = NULL;
		if (asprintf(&r->threshold, "unparsed <= %s, none after %s + %s", lim,
		             R->in->exec_date, slack) < 0)
			r->threshold = NULL;
	} else if (k->type == CHECK_RANGE) {
		if (asprintf(&r->threshold, "[%g, %g], bad <= %s", k->min, k->max, lim) < 0)
			r->threshold = NULL;
	} else {
		if (asprintf(&r->threshold, "%s <= %s", k->type == CHECK_NULLS ? "null" : "bad",
		             lim) < 0)
			r->threshold = NULL;
	}
	bad = c->broken || (any && worst > k->max_fraction) || future;
	verdict(r, bad);
}

static void finish_coordinates(struct run *R, struct chk *c, struct buf *d)
{
	const struct cfg_check *k = c->cfg;
	struct dq_result *r = c->res;
	uint64_t bad = c->swapped + c->outside + c->unparsed;
	char pct[FMT_PERCENT_MAX], lim[FMT_PERCENT_MAX];

	fmt_percent(lim, sizeof lim, k->max_fraction);
	if (asprintf(&r->threshold, "lat [%g, %g], lon [%g, %g], bad <= %s", k->min_lat,
	             k->max_lat, k->min_lon, k->max_lon, lim) < 0)
		r->threshold = NULL;
	if (c->lat->idx < 0 || c->lon->idx < 0) {
		buf_printf(d, "column %s is not in the file", c->lat->idx < 0 ? c->lat->name : c->lon->name);
		r->observed = NAN;
		verdict(r, true);
		return;
	}
	r->observed = share(bad, c->total);
	fmt_percent(pct, sizeof pct, r->observed);
	buf_printf(d, "%s bad: %llu swapped lat/lon, %llu outside the box, %llu not numbers; "
	       "%llu of %llu rows missing", pct, (unsigned long long)c->swapped,
	       (unsigned long long)c->outside, (unsigned long long)c->unparsed,
	       (unsigned long long)c->missing, (unsigned long long)R->rows);
	verdict(r, r->observed > k->max_fraction);
}

static void finish_freshness(struct run *R, struct chk *c, struct buf *d)
{
	const struct cfg_check *k = c->cfg;
	struct dq_result *r = c->res;
	char lim[FMT_DURATION_MAX], when[32];

	fmt_duration(lim, sizeof lim, k->max_age_ms);
	if (asprintf(&r->threshold, "newest %s within %s of the end of %s",
	             c->ev ? c->ev->name : "event time", lim, R->in->exec_date) < 0)
		r->threshold = NULL;
	if (!c->ev) {
		buf_printf(d, "the schema has no event_time column");
	} else if (c->ev->idx < 0) {
		buf_printf(d, "column %s is not in the file", c->ev->name);
	} else if (!c->have_newest) {
		buf_printf(d, "no %s value parses", c->ev->name);
	}
	if (!c->have_newest) {
		r->observed = NAN;
		verdict(r, true);
		return;
	}
	r->observed = (double)(R->exec_end - c->newest);
	fmt_civil(when, sizeof when, c->newest);
	buf_printf(d, "newest %s %s, %.1f days before the end of %s", c->ev->name, when,
	       r->observed / 86400, R->in->exec_date);
	verdict(r, r->observed * 1000 > (double)k->max_age_ms);
}

static void finish_row_count(struct run *R, struct chk *c, struct buf *d)
{
	const struct cfg_check *k = c->cfg;
	struct dq_result *r = c->res;
	struct buf t;
	char pct[FMT_PERCENT_MAX];
	bool bad = R->rows < k->min_rows || (k->max_rows && R->rows > k->max_rows);

	text_init(&t);
	r->observed = (double)R->rows;
	buf_printf(&t, ">= %llu", (unsigned long long)k->min_rows);
	if (k->max_rows)
		buf_printf(&t, ", <= %llu", (unsigned long long)k->max_rows);
	if (k->max_change >= 0) {
		fmt_percent(pct, sizeof pct, k->max_change);
		buf_printf(&t, ", change <= %s", pct);
	}
	r->threshold = text_take(&t);
	buf_printf(d, "%llu rows", (unsigned long long)R->rows);
	if (R->in->prev_rows >= 0) {
		double ch = R->in->prev_rows ? ((double)R->rows - (double)R->in->prev_rows) /
		                               (double)R->in->prev_rows : 0;
		buf_printf(d, "; previous %lld (%+.1f%%)", (long long)R->in->prev_rows, ch * 100);
		if (k->max_change >= 0 && R->in->prev_rows > 0 && fabs(ch) > k->max_change)
			bad = true;
	}
	verdict(r, bad);
}

static void finish_columns(struct run *R, struct chk *c, struct buf *d)
{
	const struct dq_drift *dr = &R->rep->drift;
	struct dq_result *r = c->res;
	size_t missing = 0;

	for (size_t i = 0; i < R->ds->schema.n_columns; i++) {
		const struct col *col = &R->cols[i];
		if (col->idx < 0 && col->cfg->required)
			buf_printf(d, "%s%s", missing++ ? ", " : "missing required: ", col->name);
	}
	if (missing)
		buf_printf(d, "; ");
	for (size_t i = 0; i < dr->removed.n; i++)
		buf_printf(d, "%s%s", i ? ", " : "absent: ", dr->removed.items[i]);
	if (dr->removed.n)
		buf_printf(d, "; ");
	for (size_t i = 0; i < dr->added.n; i++)
		buf_printf(d, "%s%s", i ? ", " : "added: ", dr->added.items[i]);
	if (dr->added.n)
		buf_printf(d, "; ");
	for (size_t i = 0; i < dr->n_renamed; i++)
		buf_printf(d, "%s%s -> %s", i ? ", " : "renamed: ", dr->renamed[i].from, dr->renamed[i].to);
	if (!R->header_seen)
		buf_printf(d, "the file has no header row");
	r->observed = (double)missing;
	r->threshold = strdup("0 required missing");
	if (missing)
		offend(r, 1);
	verdict(r, missing > 0);
}

static int finish_unique(struct run *R, struct chk *c, const struct keyidx_result *kr,
                         struct buf *d)
{
	struct dq_result *r = c->res;
	struct keyidx_points pts;
	struct want *w;
	uint64_t dups = kr->duplicates;
	size_t n = kr->n_dup;

	r->threshold = strdup("0 duplicate keys");
	if (!R->n_key || R->key_absent) {
		buf_printf(d, !R->n_key ? "the schema has no key" : "a key column is not in the file");
		r->observed = NAN;
		verdict(r, true);
		return 0;
	}
	/* Read the first duplicates back: real ones give their lines and key,
	 * hash collisions are not counted. */
	keyidx_points(R->ki, &pts);
	if (!(w = calloc(2 * n + 1, sizeof *w)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		w[2 * i].row = kr->dup_first[i];
		w[2 * i + 1].row = kr->dup_row[i];
	}
	read_back(R, R->in->path, &pts, w, 2 * n);
	for (size_t i = 0; i < n; i++) {
		const struct want *a = &w[2 * i], *b = &w[2 * i + 1];
		if (a->found && b->found && (a->norm_len != b->norm_len ||
		                             memcmp(a->norm, b->norm, (size_t)a->norm_len) != 0)) {
			dups--;
			continue;
		}
		if (b->found) {
			offend(r, b->line);
			if (i < 3)
				buf_printf(d, "key %s on lines %llu and %llu; ", b->text,
				       (unsigned long long)a->line, (unsigned long long)b->line);
		}
	}
	free_wants(w, 2 * n);
	free(w);
	r->observed = (double)dups;
	buf_printf(d, "%llu duplicate keys in %llu keyed rows; %llu rows with no key value",
	       (unsigned long long)dups, (unsigned long long)kr->entries,
	       (unsigned long long)R->rep->null_keys);
	verdict(r, dups > 0);
	return 0;
}

static int diff_result(struct run *R, const struct keyidx_result *kr)
{
	struct dq_diff *df = &R->rep->diff;
	struct keyidx_points pts;
	int rc;

	if (kr->diff_error && !(df->error = strdup(kr->diff_error)))
		return -ENOMEM;
	if (!kr->diffed)
		return 0;
	df->done = true;
	df->prev_rows = kr->prev_entries;
	df->added = kr->added;
	df->removed = kr->removed;
	df->changed = kr->changed;
	df->unchanged = kr->unchanged;
	keyidx_points(R->ki, &pts);
	if ((rc = examples(R, R->in->path, &pts, kr->ex_added, kr->n_added, &df->ex_added)) < 0 ||
	    (rc = examples(R, R->in->path, &pts, kr->ex_changed, kr->n_changed, &df->ex_changed)) < 0 ||
	    (rc = examples(R, kr->prev.file, &kr->prev, kr->ex_removed, kr->n_removed,
	                   &df->ex_removed)) < 0)
		return rc;
	return 0;
}

static int drift_removed(struct run *R)
{
	for (size_t i = 0; i < R->ds->schema.n_columns; i++)
		if (R->cols[i].idx < 0 && add_str(&R->rep->drift.removed, R->cols[i].name,
		                                  strlen(R->cols[i].name)) < 0)
			return -ENOMEM;
	return 0;
}

static int finish_results(struct run *R, const struct keyidx_result *kr)
{
	for (size_t i = 0; i < R->ds->n_checks; i++) {
		struct chk *c = &R->chks[i];
		struct dq_result *r = c->res;
		struct buf d;
		int rc = 0;

		text_init(&d);
		switch (c->cfg->type) {
		case CHECK_COLUMNS:     finish_columns(R, c, &d); break;
		case CHECK_ROW_COUNT:   finish_row_count(R, c, &d); break;
		case CHECK_UNIQUE:      rc = finish_unique(R, c, kr, &d); break;
		case CHECK_COORDINATES: finish_coordinates(R, c, &d); break;
		case CHECK_FRESHNESS:   finish_freshness(R, c, &d); break;
		default:                finish_share_check(R, c, &d); break;
		}
		while (d.len >= 2 && d.p[d.len - 2] == ';' && !d.cut)
			d.p[d.len -= 2] = 0;
		r->detail = text_take(&d);
		if (rc < 0 || !r->detail || !r->threshold)
			return rc < 0 ? rc : -ENOMEM;
		if (r->outcome > R->rep->outcome)
			R->rep->outcome = r->outcome;
	}
	return 0;
}

/* ---- the run ---- */

static void run_fini(struct run *R)
{
	for (size_t i = 0; i < R->n_cols; i++) {
		free(R->cols[i].fmts);
		free(R->cols[i].null_len);
	}
	if (R->chks)
		for (size_t i = 0; i < R->ds->n_checks; i++) {
			free(R->chks[i].acc);
			free(R->chks[i].set.slot);
			for (size_t j = 0; j < R->chks[i].set.n; j++)
				free(R->chks[i].set.items[j].p);
			free(R->chks[i].set.items);
			for (size_t j = 0; j < R->chks[i].n_bad_values; j++)
				free(R->chks[i].bad_values[j]);
		}
	free(R->cols);
	free(R->used);
	free(R->chks);
	free(R->key);
	free(R->key_idx);
	free(R->canon);
	keyidx_free(R->ki);
}

static int fail(char **err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char **err, int rc, const char *fmt, ...)
{
	va_list ap;
	if (*err)
		return rc;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return rc;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool wants_index(const struct dq_input *in)
{
	if (in->keys_out || in->prev_keys)
		return true;
	for (size_t i = 0; i < in->dataset->n_checks; i++)
		if (in->dataset->checks[i].type == CHECK_UNIQUE)
			return true;
	return false;
}

int dq_run(const struct dq_input *in, struct dq_report **out, char **err)
{
	struct run R = { .in = in, .ds = in->dataset };
	struct keyidx_result kr = { 0 };
	struct dq_report *rep;
	const char *name;
	double t0 = now_s();
	int64_t days;
	int fd = -1, rc;

	*out = NULL;
	*err = NULL;
	if (!in->exec_date || execdate_parse(in->exec_date, &days) < 0)
		return fail(err, -EINVAL, "bad exec date '%s' (want YYYY-MM-DD)",
		            in->exec_date ? in->exec_date : "");
	R.exec_end = (days + 1) * 86400;
	rep = R.rep = calloc(1, sizeof *rep);
	if (!rep || !(rep->results = calloc(in->dataset->n_checks + 1, sizeof *rep->results)))
		goto nomem;
	rep->n_results = in->dataset->n_checks;
	rep->outcome = DQ_PASS;
	if (!(rep->dataset = strdup(in->dataset->name)) || !(rep->exec_date = strdup(in->exec_date)) ||
	    !(rep->path = strdup(in->path)))
		goto nomem;
	for (size_t i = 0; i < rep->n_results; i++) {
		const struct cfg_check *k = &in->dataset->checks[i];
		rep->results[i].type = k->type;
		rep->results[i].severity = k->severity;
		if (!(rep->results[i].name = strdup(k->name)))
			goto nomem;
	}
	if (init_cols(&R) < 0 || plan(&R) < 0)
		goto nomem;
	if (wants_index(in) && R.n_key && (rc = keyidx_new(&R.ki)) < 0)
		goto nomem;

	fd = open(in->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = fail(err, -errno, "%s: %s", in->path, strerror(errno));
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = csv_scan_fd(fd, NULL, on_row, &R, &rep->csv);
	close(fd);
	if (rc < 0) {
		if (R.err) {
			*err = R.err;
			R.err = NULL;
		}
		rc = fail(err, rc, "%s: %s", in->path,
		          rc == -ECANCELED ? "check cancelled" : strerror(-rc));
		goto out;
	}
	if (in->progress)
		atomic_store_explicit(in->progress, rep->csv.bytes, memory_order_relaxed);
	rep->bytes = rep->csv.bytes;
	rep->rows = R.rows;
	rep->encoding = csv_encoding_name(rep->csv.encoding);
	rep->line_ending = csv_line_ending(&rep->csv);
	if (!R.header_seen)
		R.key_absent = R.n_key > 0;
	if (drift_removed(&R) < 0)
		goto nomem;

	if (R.ki && !R.key_absent) {
		name = strrchr(in->path, '/');
		name = name ? name + 1 : in->path;
		rc = keyidx_finish(R.ki, R.key_def, R.rows, name, in->prev_keys, in->keys_out, &kr, err);
		if (rc < 0) {
			fail(err, rc, "key index: %s", strerror(-rc));
			goto out;
		}
		if ((rc = diff_result(&R, &kr)) < 0)
			goto nomem;
	} else {
		/* No index for this snapshot: do not leave an older one in place. */
		if (in->keys_out)
			unlink(in->keys_out);
		if (in->prev_keys && asprintf(&rep->diff.error, "%s", !R.n_key
		                              ? "the schema has no key"
		                              : "a key column is not in the file") < 0)
			goto nomem;
	}
	if ((rc = finish_results(&R, &kr)) < 0)
		goto nomem;
	rep->seconds = now_s() - t0;
	*out = rep;
	rep = NULL;
	rc = 0;
	goto out;
nomem:
	rc = fail(err, -ENOMEM, "out of memory");
out:
	keyidx_result_fini(&kr);
	free(R.err);
	run_fini(&R);
	dq_report_free(rep);
	return rc;
}
