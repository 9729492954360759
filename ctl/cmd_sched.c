/*
 * cmd_sched.c - denverctl's scheduler commands: runs, show, backfill,
 * retry, cancel, pause, resume, schedule (trigger is in cmd_trigger.c).
 * Requests and replies are described in denverd(8), section CONTROL
 * PROTOCOL, and served by daemon/engine/sched_control.c.
 */
#include <string.h>
#include <time.h>

#include "common/fmt.h"
#include "ctl/ctl.h"

#define TAIL_LINES 20

/* ---- runs [--dataset D] [--state S] [--limit N] ---- */

static const struct ctl_opt runs_opts[] = {
	{ .name = "dataset", .alias = 'd', .kind = CTL_STRING, .meta = "D", .key = "dataset",
	  .help = "only the runs of dataset (or job) D" },
	/* No -s: that is --socket. */
	{ .name = "state", .kind = CTL_STRING, .meta = "S", .key = "state",
	  .help = "only the runs in state S (queued, running, succeeded, failed, ...)" },
	{ .name = "limit", .alias = 'n', .kind = CTL_INT, .meta = "N", .key = "limit",
	  .min = 1, .max = 1000, .help = "the newest N runs, default 20" },
	{ 0 },
};

/* How long O (a run or an attempt) took: ended - started, or now - started
 * while it runs ("12s345ms"); "-" when it never started. */
static void took(json_t *o, char *buf, size_t n)
{
	json_t *s = json_object_get(o, "started_ms"), *e = json_object_get(o, "ended_ms");
	int64_t end;

	if (!json_is_integer(s)) {
		snprintf(buf, n, "-");
		return;
	}
	end = json_is_integer(e) ? json_integer_value(e) : (int64_t)time(NULL) * 1000;
	fmt_span(buf, n, json_integer_value(s), end);
}

static void print_runs(json_t *r)
{
	json_t *runs = json_object_get(r, "runs"), *x;
	char when[64], span[FMT_DURATION_MAX];
	size_t i;

	if (!json_array_size(runs)) {
		printf("no runs\n");
		return;
	}
	printf("%-7s %-24s %-10s %-9s %-10s %-24s %-9s %s\n", "RUN", "TARGET", "EXEC DATE",
	       "TRIGGER", "STATE", "CREATED", "TOOK", "ERROR");
	json_array_foreach(runs, i, x) {
		const char *err = json_string_value(json_object_get(x, "error"));
		ctl_fmt_time(json_object_get(x, "created_ms"), when, sizeof when);
		took(x, span, sizeof span);
		printf("%-7" JSON_INTEGER_FORMAT " %-24s %-10s %-9s %-10s %-24s %-9s %.60s\n",
		       json_integer_value(json_object_get(x, "id")), ctl_str(x, "target"),
		       ctl_str(x, "exec_date"), ctl_str(x, "trigger"), ctl_str(x, "state"), when, span,
		       err ? err : "");
	}
}

const struct ctl_cmd cmd_runs = {
	.name = "runs", .help = "recent runs, newest first",
	.opts = runs_opts, .print = print_runs,
};

/* ---- show RUN, retry RUN, cancel RUN ---- */

/* The last N lines of TEXT, each indented. */
static void print_tail(const char *text, int n)
{
	const char *p = text + strlen(text);
	int lines = 0;

	if (p > text && p[-1] == '\n')
		p--;
	while (p > text && lines <= n) {
		p--;
		if (*p == '\n')
			lines++;
	}
	if (*p == '\n')
		p++;
	printf("      output (last %d lines):\n", n);
	while (*p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		printf("      | %.*s\n", len, p);
		p += len + (nl ? 1 : 0);
	}
}

static void print_attempts(json_t *attempts)
{
	json_t *a;
	size_t i, last = json_array_size(attempts) - 1;

	json_array_foreach(attempts, i, a) {
		char when[64], span[FMT_DURATION_MAX], exitbuf[32] = "";
		const char *err = json_string_value(json_object_get(a, "error"));
		const char *tail = json_string_value(json_object_get(a, "output_tail"));
		ctl_fmt_time(json_object_get(a, "started_ms"), when, sizeof when);
		took(a, span, sizeof span);
		if (json_is_integer(json_object_get(a, "exit_code")))
			snprintf(exitbuf, sizeof exitbuf, " exit %" JSON_INTEGER_FORMAT,
			         json_integer_value(json_object_get(a, "exit_code")));
		else if (json_is_integer(json_object_get(a, "signal")))
			snprintf(exitbuf, sizeof exitbuf, " signal %" JSON_INTEGER_FORMAT,
			         json_integer_value(json_object_get(a, "signal")));
		printf("    #%-3" JSON_INTEGER_FORMAT " %s  %-9s %-11s%s%s%s\n",
		       json_integer_value(json_object_get(a, "n")), when, span,
		       json_string_value(json_object_get(a, "outcome")) ?: "running", exitbuf,
		       err ? "  " : "", err ? err : "");
		/* The output of the last attempt, and of failed ones. */
		if (tail && *tail && (i == last || (err && *err)))
			print_tail(tail, TAIL_LINES);
	}
}

static void print_show(json_t *r)
{
	json_t *run = json_object_get(r, "run"), *tasks = json_object_get(r, "tasks");
	json_t *events = json_object_get(r, "events"), *t;
	char created[64], started[64], ended[64], span[FMT_DURATION_MAX];
	size_t i;

	ctl_fmt_time(json_object_get(run, "created_ms"), created, sizeof created);
	ctl_fmt_time(json_object_get(run, "started_ms"), started, sizeof started);
	ctl_fmt_time(json_object_get(run, "ended_ms"), ended, sizeof ended);
	took(run, span, sizeof span);
	printf("run %" JSON_INTEGER_FORMAT ": %s %s for %s, %s%s, %s\n",
	       json_integer_value(json_object_get(run, "id")), ctl_str(run, "kind"),
	       ctl_str(run, "target"), ctl_str(run, "exec_date"), ctl_str(run, "trigger"),
	       json_is_true(json_object_get(run, "force")) ? " (forced)" : "", ctl_str(run, "state"));
	printf("created %s, started %s, ended %s (took %s)\n", created, started, ended, span);
	if (json_string_value(json_object_get(run, "error")))
		printf("error: %s\n", ctl_str(run, "error"));
	printf("\n");
	json_array_foreach(tasks, i, t) {
		json_t *p = json_object_get(t, "progress");
		char paging[96] = "", line[100] = "";
		if (json_is_integer(json_object_get(p, "pages")))
			ctl_fmt_paging(p, paging, sizeof paging);
		else
			ctl_fmt_hub(p, paging, sizeof paging);
		if (paging[0])
			snprintf(line, sizeof line, ", %s", paging);
		printf("  %-12s %-10s retries used %" JSON_INTEGER_FORMAT "%s%s%s\n",
		       ctl_str(t, "name"), ctl_str(t, "state"),
		       json_integer_value(json_object_get(t, "retries_used")),
		       json_is_integer(json_object_get(t, "not_before_ms")) ? ", waiting to retry" : "",
		       json_is_integer(json_object_get(p, "bytes_done")) ? ", in progress" : "",
		       line);
		print_attempts(json_object_get(t, "attempts"));
	}
	if (json_array_size(events)) {
		printf("\nevents:\n");
		json_array_foreach(events, i, t) {
			char when[64];
			ctl_fmt_time(json_object_get(t, "ts"), when, sizeof when);
			printf("  %s %-7s %-10s %s\n", when, ctl_str(t, "level"), ctl_str(t, "type"),
			       ctl_str(t, "message"));
		}
	}
}

const struct ctl_cmd cmd_show = {
	.name = "show", .help = "a run: tasks, attempts, errors, output tail, events",
	.operand = &ctl_operand_run, .print = print_show,
};

static void print_retry(json_t *r)
{
	printf("run %" JSON_INTEGER_FORMAT " queued again\n",
	       json_integer_value(json_object_get(r, "run_id")));
}

static void print_cancel(json_t *r)
{
	printf("run %" JSON_INTEGER_FORMAT " %s\n", json_integer_value(json_object_get(r, "run_id")),
	       ctl_str(r, "state"));
}

const struct ctl_cmd cmd_retry = {
	.name = "retry", .help = "queue a failed or cancelled run again",
	.operand = &ctl_operand_run, .print = print_retry,
};

const struct ctl_cmd cmd_cancel = {
	.name = "cancel", .help = "cancel a queued or running run",
	.operand = &ctl_operand_run, .print = print_cancel,
};

/* ---- pause DATASET, resume DATASET ---- */

static void print_pause(json_t *r)
{
	printf("%s %s\n", ctl_str(r, "dataset"),
	       json_is_true(json_object_get(r, "paused")) ? "paused" : "resumed");
}

const struct ctl_cmd cmd_pause = {
	.name = "pause", .help = "start nothing of DATASET until resumed",
	.operand = &ctl_operand_dataset, .print = print_pause,
};

const struct ctl_cmd cmd_resume = {
	.name = "resume", .help = "undo pause",
	.operand = &ctl_operand_dataset, .print = print_pause,
};

/* ---- backfill DATASET --from D1 --to D2 ---- */

static const struct ctl_opt backfill_opts[] = {
	{ .name = "from", .alias = 'f', .kind = CTL_DATE, .meta = "D1", .key = "from",
	  .required = true, .help = "the first exec date, YYYY-MM-DD" },
	{ .name = "to", .alias = 't', .kind = CTL_DATE, .meta = "D2", .key = "to",
	  .required = true, .help = "the last exec date, inclusive (not after today)" },
	{ 0 },
};

static void print_backfill(json_t *r)
{
	json_int_t created = json_integer_value(json_object_get(r, "created"));

	printf("%s: %" JSON_INTEGER_FORMAT " runs queued", ctl_str(r, "target"), created);
	if (created)
		printf(" (runs %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT ")",
		       json_integer_value(json_object_get(r, "first_run_id")),
		       json_integer_value(json_object_get(r, "last_run_id")));
	printf(", %" JSON_INTEGER_FORMAT " dates skipped (a run is already active)\n",
	       json_integer_value(json_object_get(r, "skipped")));
}

const struct ctl_cmd cmd_backfill = {
	.name = "backfill", .help = "queue one run per date",
	.operand = &ctl_operand_dataset, .opts = backfill_opts, .print = print_backfill,
};

/* ---- schedule [DATASET] [--next N] ---- */

static const struct ctl_opt schedule_opts[] = {
	{ .name = "next", .alias = 'n', .kind = CTL_INT, .meta = "N", .key = "next",
	  .min = 1, .max = 100, .help = "the next N fire times, default 5" },
	{ 0 },
};

static void print_schedule(json_t *r)
{
	json_t *list = json_object_get(r, "datasets"), *d, *f;
	size_t i, k;

	printf("times in %s\n", ctl_str(r, "timezone"));
	json_array_foreach(list, i, d) {
		printf("\n%s  \"%s\"  missed: %s%s\n", ctl_str(d, "name"), ctl_str(d, "schedule"),
		       ctl_str(d, "missed"), json_is_true(json_object_get(d, "paused")) ? "  (paused)" : "");
		json_array_foreach(json_object_get(d, "fires"), k, f)
			printf("  %s  exec date %s\n", ctl_str(f, "at"), ctl_str(f, "exec_date"));
	}
}

const struct ctl_cmd cmd_schedule = {
	.name = "schedule", .help = "the next fire times and their exec dates",
	.operand = &ctl_operand_dataset_optional, .opts = schedule_opts, .print = print_schedule,
};
