/*
 * dq_report.c - a check report's JSON form and its destructor (dq.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "quality/dq.h"
#include "base/utf8.h"
#include "domain/tz.h"

const char *dq_outcome_name(enum dq_outcome o)
{
	switch (o) {
	case DQ_PASS: return "pass";
	case DQ_WARN: return "warn";
	default:      return "fail";
	}
}

static void strlist_fini(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

void dq_report_free(struct dq_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->results && i < r->n_results; i++) {
		free(r->results[i].name);
		free(r->results[i].threshold);
		free(r->results[i].detail);
	}
	free(r->results);
	strlist_fini(&r->drift.added);
	strlist_fini(&r->drift.removed);
	for (size_t i = 0; i < r->drift.n_renamed; i++) {
		free(r->drift.renamed[i].from);
		free(r->drift.renamed[i].to);
	}
	free(r->drift.renamed);
	free(r->diff.error);
	strlist_fini(&r->diff.ex_added);
	strlist_fini(&r->diff.ex_removed);
	strlist_fini(&r->diff.ex_changed);
	strlist_fini(&r->diff.ex_aged_out);
	strlist_fini(&r->diff.ex_withdrawn);
	free(r->dataset);
	free(r->exec_date);
	free(r->path);
	free(r);
}

/* Strings from files may be anything: jansson refuses invalid UTF-8, so
 * such a string goes out with its bad bytes as '?'. */
static json_t *text(const char *s)
{
	json_t *j;
	char *copy;
	if (!s)
		return json_null();
	if ((j = json_string(s)))
		return j;
	if (!(copy = strdup(s)))
		return json_null();
	utf8_sanitize(copy, strlen(copy));
	j = json_string(copy);
	free(copy);
	return j ? j : json_null();
}

static json_t *strlist_json(const struct strlist *l)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < l->n; i++)
		json_array_append_new(a, text(l->items[i]));
	return a;
}

static json_t *number(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *count_or_null(bool known, uint64_t n)
{
	return known ? json_integer((json_int_t)n) : json_null();
}

/* Civil seconds as local ISO text "YYYY-MM-DDTHH:MM:SS". */
static json_t *civil_json(bool known, int64_t secs)
{
	struct civil c;
	char t[40];

	if (!known)
		return json_null();
	tz_civil_wall(secs, &c);
	snprintf(t, sizeof t, "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month, c.day, c.hour,
	         c.minute, c.second);
	return json_string(t);
}

json_t *dq_diff_json(const struct dq_diff *d)
{
	const struct dq_window *w = &d->window;

	return json_pack("{s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o,"
	                 " s:{s:o, s:o, s:o, s:o, s:o}}",
	                 "done", d->done,
	                 "error", text(d->error),
	                 "prev_rows", (json_int_t)d->prev_rows,
	                 "added", (json_int_t)d->added,
	                 "removed", (json_int_t)d->removed,
	                 "changed", (json_int_t)d->changed,
	                 "unchanged", (json_int_t)d->unchanged,
	                 "aged_out", count_or_null(d->split, d->aged_out),
	                 "withdrawn", count_or_null(d->split, d->withdrawn),
	                 "window_start", civil_json(w->known, w->start),
	                 "window_from", !w->known ? json_null()
	                                : json_string(w->configured ? "window" : "earliest_event"),
	                 "examples",
	                 "added", strlist_json(&d->ex_added),
	                 "removed", strlist_json(&d->ex_removed),
	                 "changed", strlist_json(&d->ex_changed),
	                 "aged_out", strlist_json(&d->ex_aged_out),
	                 "withdrawn", strlist_json(&d->ex_withdrawn));
}

static json_t *csv_json(const struct csv_stats *st)
{
	json_t *issues = json_object();
	for (int i = 0; issues && i < CSV_I_N; i++) {
		const struct csv_issue_stat *s = &st->issue[i];
		json_t *at;
		if (!s->count)
			continue;
		at = json_array();
		for (unsigned k = 0; at && k < s->n_at; k++)
			json_array_append_new(at, json_pack("{s:I, s:I}",
			                      "line", (json_int_t)s->at[k].line,
			                      "offset", (json_int_t)s->at[k].offset));
		json_object_set_new(issues, csv_issue_name((enum csv_issue)i),
		                    json_pack("{s:I, s:o}", "count", (json_int_t)s->count,
		                              "at", at ? at : json_array()));
	}
	return json_pack("{s:I, s:I, s:I, s:b, s:{s:I, s:I, s:I}, s:o}",
	                 "rows", (json_int_t)st->rows,
	                 "lines", (json_int_t)st->lines,
	                 "header_fields", (json_int_t)st->header_fields,
	                 "bom", st->bom,
	                 "eol", "crlf", (json_int_t)st->eol_crlf, "lf", (json_int_t)st->eol_lf,
	                 "cr", (json_int_t)st->eol_cr,
	                 "issues", issues ? issues : json_object());
}

json_t *dq_report_json(const struct dq_report *r)
{
	json_t *checks = json_array(), *renamed = json_array();

	for (size_t i = 0; checks && i < r->n_results; i++) {
		const struct dq_result *c = &r->results[i];
		json_t *lines = json_array();
		for (size_t k = 0; lines && k < c->n_lines; k++)
			json_array_append_new(lines, json_integer((json_int_t)c->lines[k]));
		json_array_append_new(checks, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}",
		        "name", c->name,
		        "type", config_check_type_name(c->type),
		        "severity", config_severity_name(c->severity),
		        "outcome", dq_outcome_name(c->outcome),
		        "observed", number(c->observed),
		        "threshold", text(c->threshold),
		        "detail", text(c->detail),
		        "lines", lines ? lines : json_array()));
	}
	for (size_t i = 0; renamed && i < r->drift.n_renamed; i++)
		json_array_append_new(renamed, json_pack("{s:o, s:o}",
		                      "from", text(r->drift.renamed[i].from),
		                      "to", text(r->drift.renamed[i].to)));
	return json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:s, s:s, s:s, s:f,"
	                 " s:o, s:{s:o, s:o, s:o}, s:o, s:o}",
	                 "dataset", r->dataset,
	                 "exec_date", r->exec_date,
	                 "path", text(r->path),
	                 "bytes", (json_int_t)r->bytes,
	                 "rows", (json_int_t)r->rows,
	                 "null_keys", (json_int_t)r->null_keys,
	                 "encoding", r->encoding,
	                 "line_ending", r->line_ending,
	                 "outcome", dq_outcome_name(r->outcome),
	                 "seconds", r->seconds,
	                 "checks", checks ? checks : json_array(),
	                 "drift",
	                 "added", strlist_json(&r->drift.added),
	                 "removed", strlist_json(&r->drift.removed),
	                 "renamed", renamed ? renamed : json_array(),
	                 "diff", dq_diff_json(&r->diff),
	                 "csv", csv_json(&r->csv));
}

/* ---- comparing two reports ---- */

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_list(const struct strlist *a, const struct strlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!same_str(a->items[i], b->items[i]))
			return false;
	return true;
}

static bool same_csv(const struct csv_stats *a, const struct csv_stats *b)
{
	if (a->bytes != b->bytes || a->rows != b->rows || a->lines != b->lines ||
	    a->header_fields != b->header_fields || a->max_fields != b->max_fields ||
	    a->eol_crlf != b->eol_crlf || a->eol_lf != b->eol_lf || a->eol_cr != b->eol_cr ||
	    a->non_ascii != b->non_ascii || a->bom != b->bom || a->encoding != b->encoding ||
	    a->first_eol != b->first_eol)
		return false;
	for (int k = 0; k < CSV_I_N; k++) {
		const struct csv_issue_stat *x = &a->issue[k], *y = &b->issue[k];
		if (x->count != y->count || x->n_at != y->n_at)
			return false;
		for (unsigned i = 0; i < x->n_at; i++)
			if (x->at[i].line != y->at[i].line || x->at[i].offset != y->at[i].offset)
				return false;
	}
	return true;
}

static bool same_double(double a, double b)
{
	return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

const char *dq_report_diff(const struct dq_report *a, const struct dq_report *b)
{
	if (!same_str(a->dataset, b->dataset) || !same_str(a->exec_date, b->exec_date) ||
	    !same_str(a->path, b->path))
		return "dataset, exec_date or path";
	if (a->bytes != b->bytes || a->rows != b->rows || a->null_keys != b->null_keys)
		return "bytes, rows or null_keys";
	if (!same_str(a->encoding, b->encoding) || !same_str(a->line_ending, b->line_ending))
		return "encoding or line_ending";
	if (!same_csv(&a->csv, &b->csv))
		return "csv";
	if (!same_list(&a->drift.added, &b->drift.added) ||
	    !same_list(&a->drift.removed, &b->drift.removed) ||
	    a->drift.n_renamed != b->drift.n_renamed)
		return "drift";
	for (size_t i = 0; i < a->drift.n_renamed; i++)
		if (!same_str(a->drift.renamed[i].from, b->drift.renamed[i].from) ||
		    !same_str(a->drift.renamed[i].to, b->drift.renamed[i].to))
			return "drift.renamed";
	if (a->n_results != b->n_results)
		return "n_results";
	for (size_t i = 0; i < a->n_results; i++) {
		const struct dq_result *x = &a->results[i], *y = &b->results[i];
		if (!same_str(x->name, y->name) || x->type != y->type || x->severity != y->severity ||
		    x->outcome != y->outcome || !same_double(x->observed, y->observed) ||
		    !same_str(x->threshold, y->threshold) || !same_str(x->detail, y->detail) ||
		    x->n_lines != y->n_lines ||
		    memcmp(x->lines, y->lines, x->n_lines * sizeof *x->lines) != 0)
			return "a result";
	}
	if (a->diff.done != b->diff.done || !same_str(a->diff.error, b->diff.error) ||
	    a->diff.prev_rows != b->diff.prev_rows || a->diff.added != b->diff.added ||
	    a->diff.removed != b->diff.removed || a->diff.changed != b->diff.changed ||
	    a->diff.unchanged != b->diff.unchanged || a->diff.split != b->diff.split ||
	    a->diff.aged_out != b->diff.aged_out || a->diff.withdrawn != b->diff.withdrawn ||
	    a->diff.window.known != b->diff.window.known ||
	    a->diff.window.start != b->diff.window.start ||
	    !same_list(&a->diff.ex_aged_out, &b->diff.ex_aged_out) ||
	    !same_list(&a->diff.ex_withdrawn, &b->diff.ex_withdrawn) ||
	    !same_list(&a->diff.ex_added, &b->diff.ex_added) ||
	    !same_list(&a->diff.ex_removed, &b->diff.ex_removed) ||
	    !same_list(&a->diff.ex_changed, &b->diff.ex_changed))
		return "diff";
	if (a->outcome != b->outcome)
		return "outcome";
	return NULL;
}
