/*
 * dq.c - the check engine: one pass of the CSV scanner over a snapshot,
 * every configured check evaluated row by row, the key index built on the
 * way (keyidx.c), the results put into a struct dq_report (dq.h).
 *
 * Per row only the columns some check needs are trimmed and typed, each
 * once, whatever the number of checks reading them.  This file makes that
 * plan and drives the run; the pass itself is dq_rows.c, the results
 * dq_results.c (dq_int.h says who does what).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "domain/execdate.h"
#include "quality/dq_int.h"
#include "quality/value.h"

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
		if (!vset_fold(v, len, low, &h) || vset_has(s, v, len))
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

static void vset_fini(struct vset *s)
{
	free(s->slot);
	for (size_t j = 0; j < s->n; j++)
		free(s->items[j].p);
	free(s->items);
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

/* ---- the plan: which columns are typed how on every row ---- */

/* The key's columns, and the hash of its definition (names and types)
 * that a previous index must have been built with. */
static int plan_key(struct run *R)
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
	return 0;
}

static bool is_time_col(const struct cfg_column *col)
{
	return col->type == COL_TIMESTAMP || col->type == COL_DATE;
}

/* The columns check C counts per column, typed as NEED: those it names;
 * naming none (config.c allows that only for these two), every column of
 * the schema for nulls, every timestamp and date column for timestamps. */
static int plan_accs(struct run *R, struct chk *c, unsigned need)
{
	const struct cfg_schema *s = &R->ds->schema;
	const struct strlist *names = &c->cfg->columns;
	bool every = c->cfg->type == CHECK_NULLS;
	size_t n = names->n;

	if (!n)
		for (size_t j = 0; j < s->n_columns; j++)
			n += every || is_time_col(&s->columns[j]);
	c->acc = calloc(n ? n : 1, sizeof *c->acc);
	if (!c->acc)
		return -ENOMEM;
	for (size_t j = 0; j < names->n; j++)
		if (!(c->acc[c->n_acc++].c = use_col(R, names->items[j], need)))
			return -ENOMEM;
	if (names->n)
		return 0;
	for (size_t j = 0; j < s->n_columns; j++)
		if ((every || is_time_col(&s->columns[j])) &&
		    !(c->acc[c->n_acc++].c = use_col(R, s->columns[j].name, need)))
			return -ENOMEM;
	return 0;
}

/* Check I's columns and state. */
static int plan_check(struct run *R, size_t i)
{
	const struct cfg_check *k = &R->ds->checks[i];
	const char *ev = R->ds->schema.event_time;
	struct chk *c = &R->chks[i];

	c->cfg = k;
	c->res = &R->rep->results[i];
	switch (k->type) {
	case CHECK_NULLS:
		return plan_accs(R, c, 0);
	case CHECK_RANGE:
		return plan_accs(R, c, NEED_NUM);
	case CHECK_TIMESTAMPS:
		return plan_accs(R, c, NEED_TIME);
	case CHECK_ALLOWED:
		if (vset_init(&c->set, &k->values) < 0)
			return -ENOMEM;
		return plan_accs(R, c, 0);
	case CHECK_COORDINATES:
		if (!(c->lat = use_col(R, k->lat, NEED_NUM)) || !(c->lon = use_col(R, k->lon, NEED_NUM)))
			return -ENOMEM;
		return 0;
	case CHECK_FRESHNESS:
		if (ev && !(c->ev = use_col(R, ev, NEED_TIME)))
			return -ENOMEM;
		return 0;
	default:
		return 0;
	}
}

/* What typing the used columns takes: compiled timestamp formats, the
 * lengths of their null markers. */
static int plan_typing(struct run *R)
{
	for (size_t i = 0; i < R->n_used; i++) {
		struct col *c = R->used[i];
		if ((c->need & NEED_TIME) && compile_formats(c, &R->ds->schema) < 0)
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

/* The event time for the key index's times and the window start (the
 * aged-out/withdrawn split): typed on every row when there is an index to
 * write or a previous one to diff against. */
static int plan_times(struct run *R)
{
	const char *ev = R->ds->schema.event_time;

	if (!ev || !R->n_key || R->in->no_split || (!R->in->keys_out && !R->in->prev_keys))
		return 0;
	return (R->ev = use_col(R, ev, NEED_TIME)) ? 0 : -ENOMEM;
}

static int plan(struct run *R)
{
	if (plan_key(R) < 0 || plan_times(R) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < R->ds->n_checks; i++)
		if (plan_check(R, i) < 0)
			return -ENOMEM;
	return plan_typing(R);
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
			vset_fini(&R->chks[i].set);
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

/* A report with one result per check, named and typed; NULL when out of
 * memory. */
static struct dq_report *report_new(const struct dq_input *in)
{
	const struct cfg_dataset *ds = in->dataset;
	struct dq_report *rep = calloc(1, sizeof *rep);

	if (!rep || !(rep->results = calloc(ds->n_checks + 1, sizeof *rep->results)))
		goto nomem;
	rep->n_results = ds->n_checks;
	rep->outcome = DQ_PASS;
	if (!(rep->dataset = strdup(ds->name)) || !(rep->exec_date = strdup(in->exec_date)) ||
	    !(rep->path = strdup(in->path)))
		goto nomem;
	for (size_t i = 0; i < rep->n_results; i++) {
		rep->results[i].type = ds->checks[i].type;
		rep->results[i].severity = ds->checks[i].severity;
		if (!(rep->results[i].name = strdup(ds->checks[i].name)))
			goto nomem;
	}
	return rep;
nomem:
	dq_report_free(rep);
	return NULL;
}

/* The one pass over the snapshot, and what the scanner found. */
static int scan(struct run *R, char **err)
{
	const struct dq_input *in = R->in;
	struct dq_report *rep = R->rep;
	int fd = open(in->path, O_RDONLY | O_CLOEXEC), rc;
	unsigned threads;
	struct stat sb;

	if (fd < 0)
		return fail(err, -errno, "%s: %s", in->path, strerror(errno));
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	threads = in->threads ? in->threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (in->n_cuts || (threads > 1 && (uint64_t)sb.st_size >= DQ_PARALLEL_MIN)))
		rc = dq_scan_parallel(R, fd, (uint64_t)sb.st_size, threads);
	else
		rc = csv_scan_fd(fd, NULL, dq_on_row, R, &rep->csv);
	close(fd);
	if (rc < 0) {
		if (R->err) {
			*err = R->err;
			R->err = NULL;
		}
		return fail(err, rc, "%s: %s", in->path,
		            rc == -ECANCELED ? "check cancelled" : strerror(-rc));
	}
	if (in->progress)
		atomic_store_explicit(in->progress, rep->csv.bytes, memory_order_relaxed);
	rep->bytes = rep->csv.bytes;
	rep->rows = R->rows;
	rep->encoding = csv_encoding_name(rep->csv.encoding);
	rep->line_ending = csv_line_ending(&rep->csv);
	if (!R->header_seen)
		R->key_absent = R->n_key > 0;
	return 0;
}

/* The run's window start (dq.h, struct dq_diff): the exec date's 00:00
 * (DAYS since 1970) minus `window:`, else the earliest event time. */
static void window_of(struct run *R, int64_t days)
{
	struct dq_window *w = &R->rep->diff.window;

	if (R->in->no_split)
		return;
	if (R->ds->window_ms) {
		w->known = w->configured = true;
		w->start = days * 86400 - (int64_t)(R->ds->window_ms / 1000);
	} else if (R->have_earliest) {
		w->known = true;
		w->start = R->earliest;
	}
}

/* The key index finished (duplicates, diff, .keys written) into *KR, or
 * the reason there is none. */
static int finish_index(struct run *R, struct keyidx_result *kr, char **err)
{
	const struct dq_input *in = R->in;
	const char *name;
	int rc;

	if (!R->ki || R->key_absent) {
		/* No index for this snapshot: do not leave an older one in place. */
		if (in->keys_out)
			unlink(in->keys_out);
		if (in->prev_keys && asprintf(&R->rep->diff.error, "%s", !R->n_key
		                              ? "the schema has no key"
		                              : "a key column is not in the file") < 0)
			return fail(err, -ENOMEM, "out of memory");
		return 0;
	}
	name = strrchr(in->path, '/');
	name = name ? name + 1 : in->path;
	rc = keyidx_finish(R->ki, R->key_def, R->rows, name, in->prev_keys, in->keys_out,
	                   R->rep->diff.window.known ? R->rep->diff.window.start : KEYIDX_NO_TIME, kr, err);
	if (rc < 0)
		return fail(err, rc, "key index: %s", strerror(-rc));
	if (dq_diff_result(R, kr) < 0)
		return fail(err, -ENOMEM, "out of memory");
	return 0;
}

int dq_run(const struct dq_input *in, struct dq_report **out, char **err)
{
	struct run R = { .in = in, .ds = in->dataset };
	struct keyidx_result kr = { 0 };
	double t0 = now_s();
	int64_t days;
	int rc;

	*out = NULL;
	*err = NULL;
	if (!in->exec_date || execdate_parse(in->exec_date, &days) < 0)
		return fail(err, -EINVAL, "bad exec date '%s' (want YYYY-MM-DD)",
		            in->exec_date ? in->exec_date : "");
	R.exec_end = (days + 1) * 86400;
	if (!(R.rep = report_new(in)) || init_cols(&R) < 0 || plan(&R) < 0)
		goto nomem;
	if (wants_index(in) && R.n_key && keyidx_new(&R.ki) < 0)
		goto nomem;
	if ((rc = scan(&R, err)) < 0)
		goto out;
	if (dq_drift_removed(&R) < 0)
		goto nomem;
	window_of(&R, days);
	if ((rc = finish_index(&R, &kr, err)) < 0)
		goto out;
	if (dq_finish_results(&R, &kr) < 0)
		goto nomem;
	R.rep->seconds = now_s() - t0;
	*out = R.rep;
	R.rep = NULL;
	rc = 0;
	goto out;
nomem:
	rc = fail(err, -ENOMEM, "out of memory");
out:
	keyidx_result_fini(&kr);
	free(R.err);
	run_fini(&R);
	dq_report_free(R.rep);
	return rc;
}
