/*
 * dq_results.c - after the scan, each check's counters become its result
 * (dq_int.h): the observed value in the check's unit (dq.h), the threshold
 * and detail as text for humans, and the outcome by severity; plus the
 * diff's counts and example keys.
 *
 * Texts are struct buf capped at DETAIL_MAX (cut with "..."); shares print
 * with fmt_percent and durations with fmt_duration (common/fmt.h), as
 * everywhere else in denverd and denverctl.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fmt.h"
#include "domain/tz.h"
#include "quality/dq_int.h"

/* ---- small helpers ---- */

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

static void verdict(struct dq_result *r, bool bad)
{
	r->outcome = !bad ? DQ_PASS : r->severity == SEV_FAIL ? DQ_FAIL : DQ_WARN;
}

/* ---- nulls, range, timestamps, allowed: a share per column ---- */

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

/* One column's share F, in words. */
static void share_text(const struct cfg_check *k, const struct acc *a, double f,
                       struct buf *d)
{
	char pct[FMT_PERCENT_MAX];

	fmt_percent(pct, sizeof pct, f);
	switch (k->type) {
	case CHECK_NULLS:
		buf_printf(d, "%s %s null (%llu); ", a->c->name, pct, (unsigned long long)a->nulls);
		break;
	case CHECK_TIMESTAMPS:
		buf_printf(d, "%s %s unparsed (%llu of %llu), %llu in the future; ", a->c->name, pct,
		           (unsigned long long)a->bad, (unsigned long long)a->total,
		           (unsigned long long)a->future);
		break;
	default:
		buf_printf(d, "%s %s bad (%llu of %llu); ", a->c->name, pct,
		           (unsigned long long)a->bad, (unsigned long long)a->total);
		break;
	}
}

/* What passes, as text (caller frees; NULL when out of memory). */
static char *share_threshold(const struct run *R, const struct cfg_check *k)
{
	char lim[FMT_PERCENT_MAX], slack[FMT_DURATION_MAX];
	char *t = NULL;
	int n;

	fmt_percent(lim, sizeof lim, k->max_fraction);
	if (k->type == CHECK_TIMESTAMPS)
		n = asprintf(&t, "unparsed <= %s, none after %s + %s", lim, R->in->exec_date,
		             fmt_duration(slack, sizeof slack, k->future_slack_ms));
	else if (k->type == CHECK_RANGE)
		n = asprintf(&t, "[%g, %g], bad <= %s", k->min, k->max, lim);
	else
		n = asprintf(&t, "%s <= %s", k->type == CHECK_NULLS ? "null" : "bad", lim);
	return n < 0 ? NULL : t;
}

static void finish_share_check(const struct run *R, struct chk *c, struct buf *d)
{
	const struct cfg_check *k = c->cfg;
	struct dq_result *r = c->res;
	double worst = 0;
	bool any = absent_cols(c, d), future = false;

	for (size_t i = 0; i < c->n_acc; i++) {
		const struct acc *a = &c->acc[i];
		double f;
		if (a->c->idx < 0)
			continue;
		f = k->type == CHECK_NULLS ? share(a->nulls, R->rows) : share(a->bad, a->total);
		if (f > worst)
			worst = f;
		share_text(k, a, f, d);
		future |= k->type == CHECK_TIMESTAMPS && a->future > 0;
	}
	if (k->type == CHECK_ALLOWED && c->n_bad_values) {
		buf_printf(d, "unexpected:");
		for (size_t i = 0; i < c->n_bad_values; i++)
			buf_printf(d, " '%s'", c->bad_values[i]);
		buf_printf(d, "; ");
	}
	r->observed = any ? worst : NAN;
	r->threshold = share_threshold(R, k);
	verdict(r, c->broken || (any && worst > k->max_fraction) || future);
}

/* ---- the other checks ---- */

static void finish_coordinates(const struct run *R, struct chk *c, struct buf *d)
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
		buf_printf(d, "column %s is not in the file",
		           c->lat->idx < 0 ? c->lat->name : c->lon->name);
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

static void finish_freshness(const struct run *R, struct chk *c, struct buf *d)
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

static void finish_row_count(const struct run *R, struct chk *c, struct buf *d)
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
	if (k->max_change >= 0)
		buf_printf(&t, ", change <= %s", fmt_percent(pct, sizeof pct, k->max_change));
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

/* "LABEL: a, b, c; " for a non-empty list. */
static void name_list(struct buf *d, const char *label, const struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		buf_printf(d, "%s%s", i ? ", " : label, l->items[i]);
	if (l->n)
		buf_printf(d, "; ");
}

static void finish_columns(const struct run *R, struct chk *c, struct buf *d)
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
	name_list(d, "absent: ", &dr->removed);
	name_list(d, "added: ", &dr->added);
	for (size_t i = 0; i < dr->n_renamed; i++)
		buf_printf(d, "%s%s -> %s", i ? ", " : "renamed: ", dr->renamed[i].from,
		           dr->renamed[i].to);
	if (!R->header_seen)
		buf_printf(d, "the file has no header row");
	r->observed = (double)missing;
	r->threshold = strdup("0 required missing");
	if (missing)
		offend(r, 1);
	verdict(r, missing > 0);
}

/* Read the first duplicates back: real ones give the result's offending
 * lines and the detail's keys (D), hash collisions are taken off *DUPS. */
static int verify_dups(const struct run *R, const struct keyidx_result *kr,
                       struct dq_result *r, struct buf *d, uint64_t *dups)
{
	struct keyidx_points pts;
	size_t n = kr->n_dup;
	struct want *w = calloc(2 * n + 1, sizeof *w);

	if (!w)
		return -ENOMEM;
	keyidx_points(R->ki, &pts);
	for (size_t i = 0; i < n; i++) {
		w[2 * i].row = kr->dup_first[i];
		w[2 * i + 1].row = kr->dup_row[i];
	}
	dq_read_back(R, R->in->path, &pts, w, 2 * n);
	for (size_t i = 0; i < n; i++) {
		const struct want *a = &w[2 * i], *b = &w[2 * i + 1];
		if (a->found && b->found && (a->norm_len != b->norm_len ||
		                             memcmp(a->norm, b->norm, (size_t)a->norm_len) != 0)) {
			--*dups;
			continue;
		}
		if (b->found) {
			offend(r, b->line);
			if (i < 3)
				buf_printf(d, "key %s on lines %llu and %llu; ", b->text,
				           (unsigned long long)a->line, (unsigned long long)b->line);
		}
	}
	dq_free_wants(w, 2 * n);
	free(w);
	return 0;
}

static int finish_unique(const struct run *R, struct chk *c, const struct keyidx_result *kr,
                         struct buf *d)
{
	struct dq_result *r = c->res;
	uint64_t dups = kr->duplicates;

	r->threshold = strdup("0 duplicate keys");
	if (!R->n_key || R->key_absent) {
		buf_printf(d, !R->n_key ? "the schema has no key" : "a key column is not in the file");
		r->observed = NAN;
		verdict(r, true);
		return 0;
	}
	if (verify_dups(R, kr, r, d, &dups) < 0)
		return -ENOMEM;
	r->observed = (double)dups;
	buf_printf(d, "%llu duplicate keys in %llu keyed rows; %llu rows with no key value",
	           (unsigned long long)dups, (unsigned long long)kr->entries,
	           (unsigned long long)R->rep->null_keys);
	verdict(r, dups > 0);
	return 0;
}

/* Why there is no aged-out/withdrawn split this run. */
static const char *no_split_reason(const struct run *R)
{
	const struct dq_diff *df = &R->rep->diff;

	if (!df->done)
		return df->error ? df->error : "no previous snapshot to compare with";
	if (!R->rep->diff.window.known)
		return "no event time parses in this snapshot: the window is unknown";
	return "the previous key index kept no event times (written before denverd split "
	       "removed keys)";
}

/* Withdrawn keys as a share of the previous snapshot's keys that had not
 * aged out (a botched republish withdraws a large share at once). */
static void finish_withdrawn(const struct run *R, struct chk *c, struct buf *d)
{
	const struct cfg_check *k = c->cfg;
	const struct dq_diff *df = &R->rep->diff;
	const struct dq_window *w = &R->rep->diff.window;
	struct dq_result *r = c->res;
	char pct[FMT_PERCENT_MAX], lim[FMT_PERCENT_MAX], when[32];
	uint64_t inside;

	fmt_percent(lim, sizeof lim, k->max_fraction);
	if (asprintf(&r->threshold, "withdrawn <= %s of the window", lim) < 0)
		r->threshold = NULL;
	if (!df->split) {
		buf_printf(d, "not split: %s", no_split_reason(R));
		r->observed = NAN;
		verdict(r, false);
		return;
	}
	inside = df->prev_rows - df->aged_out;
	r->observed = share(df->withdrawn, inside);
	fmt_percent(pct, sizeof pct, r->observed);
	fmt_civil(when, sizeof when, w->start);
	buf_printf(d, "%s withdrawn (%llu of %llu previous keys inside the window); %llu aged "
	           "out; window from %s (%s)", pct, (unsigned long long)df->withdrawn,
	           (unsigned long long)inside, (unsigned long long)df->aged_out, when,
	           w->configured ? "window:" : "earliest event time");
	verdict(r, r->observed > k->max_fraction);
}

/* ---- the report ---- */

int dq_diff_result(struct run *R, const struct keyidx_result *kr)
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
	df->split = kr->split;
	df->aged_out = kr->aged_out;
	df->withdrawn = kr->withdrawn;
	keyidx_points(R->ki, &pts);
	if ((rc = dq_examples(R, R->in->path, &pts, kr->ex_added, kr->n_added,
	                      &df->ex_added)) < 0 ||
	    (rc = dq_examples(R, R->in->path, &pts, kr->ex_changed, kr->n_changed,
	                      &df->ex_changed)) < 0 ||
	    (rc = dq_examples(R, kr->prev.file, &kr->prev, kr->ex_removed, kr->n_removed,
	                      &df->ex_removed)) < 0 ||
	    (rc = dq_examples(R, kr->prev.file, &kr->prev, kr->ex_aged, kr->n_aged,
	                      &df->ex_aged_out)) < 0 ||
	    (rc = dq_examples(R, kr->prev.file, &kr->prev, kr->ex_withdrawn, kr->n_withdrawn,
	                      &df->ex_withdrawn)) < 0)
		return rc;
	return 0;
}

/* Check C's result, its detail text into D. */
static int finish_one(const struct run *R, struct chk *c, const struct keyidx_result *kr,
                      struct buf *d)
{
	switch (c->cfg->type) {
	case CHECK_COLUMNS:     finish_columns(R, c, d); return 0;
	case CHECK_ROW_COUNT:   finish_row_count(R, c, d); return 0;
	case CHECK_UNIQUE:      return finish_unique(R, c, kr, d);
	case CHECK_COORDINATES: finish_coordinates(R, c, d); return 0;
	case CHECK_FRESHNESS:   finish_freshness(R, c, d); return 0;
	case CHECK_WITHDRAWN:   finish_withdrawn(R, c, d); return 0;
	default:                finish_share_check(R, c, d); return 0;
	}
}

int dq_finish_results(struct run *R, const struct keyidx_result *kr)
{
	for (size_t i = 0; i < R->ds->n_checks; i++) {
		struct chk *c = &R->chks[i];
		struct dq_result *r = c->res;
		struct buf d;
		int rc;

		text_init(&d);
		rc = finish_one(R, c, kr, &d);
		/* Pieces end in "; ": drop the trailing ones (a cut text ends in "..."). */
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
