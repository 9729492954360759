/*
 * dq_rows.c - the check engine's pass over the file (dq_int.h): the header
 * mapped onto the known columns, then per row the used columns trimmed and
 * typed once each, every check's counters, and the row's key index entry.
 *
 * This is the hot path: everything called per row is static here or
 * inline in dq_int.h, so the compiler sees it whole.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "quality/dq_int.h"
#include "quality/value.h"

#define KEY_SEP '\x1f'             /* between the parts of a composite key */

/* ---- names ---- */

size_t dq_canon_name(const char *p, size_t len, char *out, size_t cap)
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
	dq_canon_name(a, strlen(a), x, sizeof x);
	dq_canon_name(b, strlen(b), y, sizeof y);
	return strcmp(x, y) == 0;
}

static bool name_in(const struct strlist *l, const char *canon)
{
	for (size_t i = 0; i < l->n; i++)
		if (same_name(l->items[i], canon))
			return true;
	return false;
}

bool dq_col_named(const struct col *c, const char *canon, int pass)
{
	return pass == 0 ? same_name(c->name, canon) : c->cfg && name_in(&c->cfg->aliases, canon);
}

/* ---- the header ---- */

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
 * alias.  A second file column with a name already taken is "added"
 * (on_header). */
static int map_fields(struct run *R, const struct csv_row *row)
{
	char canon[256];

	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t j = 0; j < row->n_fields; j++) {
			if (field_mapped(R, j))
				continue;
			dq_canon_name(row->fields[j].p, row->fields[j].len, canon, sizeof canon);
			for (size_t i = 0; i < R->n_cols; i++) {
				struct col *c = &R->cols[i];
				if (c->idx >= 0 || !dq_col_named(c, canon, pass))
					continue;
				c->idx = (int)j;
				if (pass == 1 && add_rename(&R->rep->drift, row->fields[j].p,
				                            row->fields[j].len, c->name) < 0)
					return -ENOMEM;
				break;
			}
		}
	}
	return 0;
}

/* The header: mapped fields, then the unmapped ones as "added". */
static int on_header(struct run *R, const struct csv_row *row)
{
	R->header_seen = true;
	if (map_fields(R, row) < 0)
		return -ENOMEM;
	for (uint32_t j = 0; j < row->n_fields; j++) {
		const char *p = row->fields[j].p;
		size_t len = row->fields[j].len;
		if (field_mapped(R, j))
			continue;
		value_trim(&p, &len);
		if (add_str(&R->rep->drift.added, p, len) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < R->n_key; i++) {
		R->key_idx[i] = R->key[i]->idx;
		R->key_absent |= R->key[i]->idx < 0;
	}
	return 0;
}

int dq_drift_removed(struct run *R)
{
	for (size_t i = 0; i < R->ds->schema.n_columns; i++)
		if (R->cols[i].idx < 0 && add_str(&R->rep->drift.removed, R->cols[i].name,
		                                  strlen(R->cols[i].name)) < 0)
			return -ENOMEM;
	return 0;
}

/* ---- typing ---- */

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
		/* The first format in order that matches wins, whatever matched
		 * the rows before: a value means the same in every chunk of a
		 * parallel run.  The hint only saves the tries that fail. */
		if (c->n_fmts && tsfmt_match(&c->fmts[c->hint], c->v, c->len, &c->ts)) {
			for (size_t i = 0; i < c->hint; i++)
				if (tsfmt_match(&c->fmts[i], c->v, c->len, &c->ts)) {
					c->hint = i;
					break;
				}
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

/* ---- the checks, per row ---- */

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
	c->bad_len[c->n_bad_values++] = col->len;
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

/* Each eval_* returns whether the row offends the check (or -ENOMEM). */

static bool eval_nulls(struct chk *c)
{
	bool bad = false;

	for (size_t i = 0; i < c->n_acc; i++)
		if (c->acc[i].c->idx >= 0 && c->acc[i].c->null) {
			c->acc[i].nulls++;
			bad = true;
		}
	return bad;
}

/* Range, timestamps and allowed: each non-null value judged. */
static int eval_values(const struct run *R, struct chk *c)
{
	const struct cfg_check *k = c->cfg;
	int64_t future = R->exec_end + (int64_t)(k->future_slack_ms / 1000);
	bool bad = false;

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
	return bad;
}

static bool eval_coordinates(struct chk *c)
{
	const struct cfg_check *k = c->cfg;
	const struct col *la = c->lat, *lo = c->lon;

	if (la->null || lo->null || (k->zero_is_null && la->num_ok && lo->num_ok &&
	                             la->num == 0 && lo->num == 0)) {
		c->missing++;
		return false;
	}
	c->total++;
	if (!la->num_ok || !lo->num_ok)
		c->unparsed++;
	else if (in_box(k, la->num, lo->num))
		return false;
	else if (in_box(k, lo->num, la->num))
		c->swapped++;
	else
		c->outside++;
	return true;
}

static void eval_freshness(struct chk *c)
{
	if (c->ev && c->ev->ts_ok && (!c->have_newest || c->ev->ts > c->newest)) {
		c->newest = c->ev->ts;
		c->have_newest = true;
	}
}

static int eval(const struct run *R, struct chk *c, const struct csv_row *row)
{
	int bad = 0;

	switch (c->cfg->type) {
	case CHECK_NULLS:
		bad = eval_nulls(c);
		break;
	case CHECK_RANGE:
	case CHECK_TIMESTAMPS:
	case CHECK_ALLOWED:
		bad = eval_values(R, c);
		break;
	case CHECK_COORDINATES:
		bad = eval_coordinates(c);
		break;
	case CHECK_FRESHNESS:
		eval_freshness(c);
		break;
	default:
		break;
	}
	if (bad < 0)
		return bad;
	if (bad)
		offend(c->res, row->line);
	return 0;
}

/* ---- a chunk's share of the index (parallel runs) ---- */

static int dq_part_add(struct dq_part *p, uint64_t key, uint32_t hash, uint64_t row)
{
	if (row > UINT32_MAX)
		return -EOVERFLOW;
	if (p->n_e == p->cap_e) {
		size_t cap = p->cap_e ? 2 * p->cap_e : 1024;
		struct keyidx_entry *e = realloc(p->e, cap * sizeof *e);
		if (!e)
			return -ENOMEM;
		p->e = e;
		p->cap_e = cap;
	}
	p->e[p->n_e].key = key;
	p->e[p->n_e].hash = hash;
	p->e[p->n_e].row = (uint32_t)row;
	p->n_e++;
	return 0;
}

static int part_time(struct dq_part *p, int64_t t)
{
	if (p->n_times == p->cap_times) {
		size_t cap = p->cap_times ? 2 * p->cap_times : 1024;
		int64_t *n = realloc(p->times, cap * sizeof *n);
		if (!n)
			return -ENOMEM;
		p->times = n;
		p->cap_times = cap;
	}
	p->times[p->n_times++] = t;
	return 0;
}

/* Row N's event time into the index's times, and the earliest one. */
static int note_time(struct run *R, uint64_t n)
{
	const struct col *ev = R->ev;
	int64_t t = ev->ts_ok && !ev->null ? ev->ts : KEYIDX_NO_TIME;

	if (t != KEYIDX_NO_TIME && (!R->have_earliest || t < R->earliest)) {
		R->earliest = t;
		R->have_earliest = true;
	}
	if (R->part)
		return part_time(R->part, t);
	return R->ki ? keyidx_time(R->ki, n, t) : 0;
}

static int part_mark(struct dq_part *p, uint64_t row, uint64_t offset, uint64_t line)
{
	if (p->n_cp == p->cap_cp) {
		size_t cap = p->cap_cp ? 2 * p->cap_cp : 16;
		struct keyidx_checkpoint *cp = realloc(p->cp, cap * sizeof *cp);
		uint64_t *r;
		if (!cp)
			return -ENOMEM;
		p->cp = cp;
		if (!(r = realloc(p->cp_row, cap * sizeof *r)))
			return -ENOMEM;
		p->cp_row = r;
		p->cap_cp = cap;
	}
	p->cp[p->n_cp].offset = offset;
	p->cp[p->n_cp].line = line;
	p->cp_row[p->n_cp++] = row;
	return 0;
}

/* ---- the key index ---- */

/* Integer parts are compared as numbers ("20148031043.0" is 20148031043),
 * others as their trimmed text; a null part of a composite key is a value
 * of its own (most 311 rows have no address). */
ssize_t dq_key_norm(const struct run *R, const int *idx, const struct csv_row *row,
                    char *buf, size_t cap)
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
		} else if (R->key[i]->type == COL_INT && value_int(p, len, &v)) {
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

/* N bytes from P to O without a call for the short values most fields
 * hold (a 311 row is 24 of them, quoted: every row is canon_row's). */
static inline void copy_field(char *o, const char *p, size_t n)
{
	if (n > 16) {
		memcpy(o, p, n);
	} else if (n >= 8) {
		memcpy(o, p, 8);
		memcpy(o + n - 8, p + n - 8, 8);
	} else if (n >= 4) {
		memcpy(o, p, 4);
		memcpy(o + n - 4, p + n - 4, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			o[i] = p[i];
	}
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
		copy_field(o, row->fields[i].p, row->fields[i].len);
		o += row->fields[i].len;
	}
	*len = (size_t)(o - R->canon);
	return R->canon;
}

static int index_row(struct run *R, const struct csv_row *row, uint64_t n)
{
	const char *text;
	size_t tlen;
	ssize_t klen = dq_key_norm(R, R->key_idx, row, R->keybuf, sizeof R->keybuf);

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
	if (R->part)
		return dq_part_add(R->part, XXH3_64bits(R->keybuf, (size_t)klen),
		                   (uint32_t)XXH3_64bits(text, tlen), n);
	return keyidx_add(R->ki, XXH3_64bits(R->keybuf, (size_t)klen),
	                  (uint32_t)XXH3_64bits(text, tlen), n);
}

/* ---- the row callback ---- */

int dq_on_row(void *ud, const struct csv_row *row)
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
	if (R->part ? (rc = part_mark(R->part, n, row->offset, row->line)) < 0
	    : n % DQ_CHECKPOINT_ROWS == 0 && R->ki &&
	      (rc = keyidx_mark(R->ki, n, row->offset, row->line)) < 0)
		return (R->rc = rc);
	for (size_t i = 0; i < R->n_used; i++)
		type_col(R->used[i], row);
	for (size_t i = 0; i < R->ds->n_checks; i++)
		if ((rc = eval(R, &R->chks[i], row)) < 0)
			return (R->rc = rc);
	if (R->ev && (R->ki || R->part) && (rc = note_time(R, n)) < 0)
		return (R->rc = rc);
	if ((R->ki || R->part) && !R->key_absent && (rc = index_row(R, row, n)) < 0) {
		if (rc == -EOVERFLOW && asprintf(&R->err, "more than 2^32 rows: too many to index") < 0)
			R->err = NULL;
		return (R->rc = rc);
	}
	return 0;
}
