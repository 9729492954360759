/*
 * dq_report.c - a check report's JSON form and its destructor (dq.h).
 */
#include <math.h>
#include <string.h>
#include <stdlib.h>

#include "quality/dq.h"
#include "base/utf8.h"

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

json_t *dq_diff_json(const struct dq_diff *d)
{
	return json_pack("{s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:{s:o, s:o, s:o}}",
	                 "done", d->done,
	                 "error", text(d->error),
	                 "prev_rows", (json_int_t)d->prev_rows,
	                 "added", (json_int_t)d->added,
	                 "removed", (json_int_t)d->removed,
	                 "changed", (json_int_t)d->changed,
	                 "unchanged", (json_int_t)d->unchanged,
	                 "examples",
	                 "added", strlist_json(&d->ex_added),
	                 "removed", strlist_json(&d->ex_removed),
	                 "changed", strlist_json(&d->ex_changed));
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
