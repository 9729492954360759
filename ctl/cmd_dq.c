/*
 * cmd_dq.c - denverctl's data-quality commands: dq (each check's observed
 * values over the last runs, one column per run, so a slow drift shows),
 * diff (what changed by key against the previous snapshot) and promote
 * (accept a quarantined snapshot).  Requests and replies are described in
 * daemon/api/cmd_dq.c (above struct history and struct diff_reply).
 */
#include <string.h>

#include "common/fmt.h"
#include "ctl/ctl.h"

#define DQ_MAX_RUNS 1000         /* the daemon's cap (STORE_DQ_MAX_RUNS) */
#define CELL_MIN 14              /* a run's column: "1234567 FAIL", "0.00123% WARN" */
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define FRESHNESS_MAX_S 1e15     /* beyond it (no real age), print the number */

/* ---- dq DATASET [--runs N] ---- */

static const struct ctl_opt dq_opts[] = {
	{ .name = "runs", .alias = 'n', .kind = CTL_INT, .meta = "N", .key = "runs",
	  .min = 1, .max = DQ_MAX_RUNS, .help = "the last N runs with check results, default 10" },
	{ 0 },
};

static bool type_is(const char *type, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(type, *names) == 0)
			return true;
	return false;
}

/* OBSERVED of a check of TYPE, in the unit daemon/quality/dq.h gives it: a count,
 * a share (shown as a percentage) or an age in seconds (as a duration; "0s"
 * when negative, a file newer than its exec date). */
static void fmt_observed(const char *type, json_t *observed, char *buf, size_t n)
{
	static const char *const counts[] = { "columns", "row_count", "unique", NULL };
	static const char *const shares[] = { "nulls", "range", "allowed", "coordinates",
	                                      "timestamps", NULL };
	double x = json_number_value(observed);

	if (!json_is_number(observed))
		snprintf(buf, n, "-");
	else if (type_is(type, counts))
		snprintf(buf, n, "%.0f", x);
	else if (type_is(type, shares))
		fmt_percent(buf, n, x);
	else if (strcmp(type, "freshness") == 0 && x < FRESHNESS_MAX_S)
		fmt_duration(buf, n, x > 0 ? (uint64_t)(x * 1000) : 0);
	else
		snprintf(buf, n, "%g", x);
}

static const char *mark(json_t *value)
{
	const char *o = ctl_str(value, "outcome");
	return !strcmp(o, "pass") ? "ok" : !strcmp(o, "warn") ? "WARN"
	       : !strcmp(o, "fail") ? "FAIL" : o;
}

/* One cell of the table: VALUE (of check C) as "observed mark". */
static void fmt_cell(json_t *c, json_t *value, char *buf, size_t n)
{
	char observed[64];

	fmt_observed(ctl_str(c, "type"), json_object_get(value, "observed"), observed,
	             sizeof observed);
	snprintf(buf, n, "%s %s", observed, mark(value));
}

static void run_label(json_t *run, char *buf, size_t n)
{
	snprintf(buf, n, "#%" JSON_INTEGER_FORMAT " %s",
	         json_integer_value(json_object_get(run, "run_id")), ctl_str(run, "exec_date"));
}

/* The checks of the newest run that did not pass, with their details. */
static void print_newest_details(json_t *run, json_t *checks, int name_w)
{
	json_int_t id = json_integer_value(json_object_get(run, "run_id"));
	json_t *c, *v, *lines, *line;
	size_t i, k;
	bool any = false;

	json_array_foreach(checks, i, c) {
		v = json_array_get(json_object_get(c, "values"), 0);
		if (json_integer_value(json_object_get(v, "run_id")) != id ||
		    !strcmp(ctl_str(v, "outcome"), "pass"))
			continue;
		if (!any)
			printf("\nrun %" JSON_INTEGER_FORMAT " (%s, %s), checks that did not pass:\n",
			       id, ctl_str(run, "exec_date"), ctl_str(run, "state"));
		any = true;
		printf("  %-*s  %-4s  %s", name_w, ctl_str(c, "name"), mark(v), ctl_str(v, "detail"));
		lines = json_object_get(v, "lines");
		json_array_foreach(lines, k, line)
			printf("%s%" JSON_INTEGER_FORMAT, k ? ", " : "; first lines: ",
			       json_integer_value(line));
		putchar('\n');
	}
}

static void print_dq(json_t *r)
{
	json_t *runs = json_object_get(r, "runs"), *checks = json_object_get(r, "checks");
	json_t *run, *c;
	size_t i, k;
	int name_w = 5, cell_w = CELL_MIN;
	char cell[128];

	if (!json_array_size(runs)) {
		printf("%s: no check results yet\n", ctl_str(r, "dataset"));
		return;
	}
	json_array_foreach(runs, i, run) {
		run_label(run, cell, sizeof cell);
		cell_w = MAX(cell_w, (int)strlen(cell));
	}
	json_array_foreach(checks, i, c) {
		json_t *v;
		name_w = MAX(name_w, (int)strlen(ctl_str(c, "name")));
		json_array_foreach(json_object_get(c, "values"), k, v) {
			fmt_cell(c, v, cell, sizeof cell);
			cell_w = MAX(cell_w, (int)strlen(cell));
		}
	}
	printf("%s: %zu run%s, newest first (leftmost); each cell is the observed value "
	       "and ok, WARN or FAIL\n\n", ctl_str(r, "dataset"), json_array_size(runs),
	       json_array_size(runs) == 1 ? "" : "s");
	printf("%-*s  %-4s", name_w, "CHECK", "SEV");
	json_array_foreach(runs, i, run) {
		run_label(run, cell, sizeof cell);
		printf("  %-*s", cell_w, cell);
	}
	printf("  PASSES WHEN\n");
	json_array_foreach(checks, i, c) {
		/* values and runs are both newest first: walk them together; a
		 * run without this check (added to the configuration later)
		 * gets "-". */
		json_t *values = json_object_get(c, "values"), *v;
		size_t next = 0;
		printf("%-*s  %-4s", name_w, ctl_str(c, "name"), ctl_str(c, "severity"));
		json_array_foreach(runs, k, run) {
			v = json_array_get(values, next);
			if (v && json_integer_value(json_object_get(v, "run_id")) ==
			         json_integer_value(json_object_get(run, "run_id"))) {
				fmt_cell(c, v, cell, sizeof cell);
				next++;
			} else {
				snprintf(cell, sizeof cell, "-");
			}
			printf("  %-*s", cell_w, cell);
		}
		printf("  %s\n", ctl_str(json_array_get(values, 0), "threshold"));
	}
	print_newest_details(json_array_get(runs, 0), checks, name_w);
}

const struct ctl_cmd cmd_dq = {
	.name = "dq", .help = "each check's observed values over the last runs",
	.operand = &ctl_operand_dataset, .opts = dq_opts, .print = print_dq,
};

/* ---- diff DATASET [--date D] ---- */

static const struct ctl_opt diff_opts[] = {
	{ .name = "date", .alias = 'd', .kind = CTL_DATE, .meta = "D", .key = "date",
	  .help = "the newest run for exec date D, not the newest of all" },
	{ 0 },
};

/* "added  2" (LABEL, indented by INDENT) and below it the example keys
 * the daemon kept for KIND. */
static void print_diff_kind(json_t *r, const char *kind, const char *label, int indent)
{
	json_t *examples = json_object_get(json_object_get(r, "examples"), kind), *key;
	json_int_t count = json_integer_value(json_object_get(r, kind));
	size_t i;

	printf("%*s%-*s %8" JSON_INTEGER_FORMAT "\n", indent, "", 12 - indent, label, count);
	json_array_foreach(examples, i, key)
		printf("    %*s%s\n", indent, "", json_is_string(key) ? json_string_value(key)
		                                              : "(example row unreadable)");
	if (count > (json_int_t)json_array_size(examples) && json_array_size(examples))
		printf("    ... and %" JSON_INTEGER_FORMAT " more\n",
		       count - (json_int_t)json_array_size(examples));
}

static void print_diff(json_t *r)
{
	json_t *unchanged = json_object_get(r, "unchanged");

	printf("%s: %s (run %" JSON_INTEGER_FORMAT ") against ", ctl_str(r, "dataset"),
	       ctl_str(r, "exec_date"), json_integer_value(json_object_get(r, "run_id")));
	if (json_is_integer(json_object_get(r, "prev_run_id")))
		printf("%s (run %" JSON_INTEGER_FORMAT "), by key\n\n", ctl_str(r, "prev_exec_date"),
		       json_integer_value(json_object_get(r, "prev_run_id")));
	else
		printf("the previous snapshot, by key\n\n");
	print_diff_kind(r, "added", "added", 0);
	if (json_is_integer(json_object_get(r, "aged_out"))) {
		/* split: the two parts carry the examples */
		printf("%-12s %8" JSON_INTEGER_FORMAT "\n", "removed",
		       json_integer_value(json_object_get(r, "removed")));
		print_diff_kind(r, "aged_out", "aged out", 2);
		print_diff_kind(r, "withdrawn", "withdrawn", 2);
		printf("    (aged out: event time before %s, the window's start)\n",
		       ctl_str(r, "window_start"));
	} else {
		print_diff_kind(r, "removed", "removed", 0);
	}
	print_diff_kind(r, "changed", "changed", 0);
	if (json_is_integer(unchanged))
		printf("%-12s %8" JSON_INTEGER_FORMAT "\n", "unchanged",
		       json_integer_value(unchanged));
}

const struct ctl_cmd cmd_diff = {
	.name = "diff", .help = "rows added, removed, changed since the last snapshot",
	.operand = &ctl_operand_dataset, .opts = diff_opts, .print = print_diff,
};

/* ---- promote RUN [--reason TEXT] ---- */

static const struct ctl_opt promote_opts[] = {
	{ .name = "reason", .alias = 'r', .kind = CTL_STRING, .meta = "TEXT", .key = "reason",
	  .help = "why, recorded in the run's events" },
	{ 0 },
};

static void print_promote(json_t *r)
{
	printf("run %" JSON_INTEGER_FORMAT ": the quarantined snapshot of %s %s is %s, "
	       "back in staging:\n  %s\n", json_integer_value(json_object_get(r, "run_id")),
	       ctl_str(r, "dataset"), ctl_str(r, "exec_date"), ctl_str(r, "state"), ctl_str(r, "path"));
}

const struct ctl_cmd cmd_promote = {
	.name = "promote", .help = "accept a quarantined snapshot: back to staging",
	.operand = &ctl_operand_run, .opts = promote_opts, .print = print_promote,
};
