/*
 * cmd_sched.c - denverctl's scheduler commands: runs, show, trigger (with
 * --wait), backfill, retry, cancel, pause, resume, schedule.  Requests and
 * replies are described in daemon/engine/sched_control.c and denverd(8).
 *
 * trigger --wait follows the run on a second connection in watch mode,
 * opened before the trigger so no event is missed; it also asks `show`
 * every few seconds in case events were lost (a watcher that falls behind
 * is disconnected by the daemon).  On a terminal it draws a progress bar
 * for downloads; otherwise it prints plain lines.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fmt.h"
#include "ctl.h"

#define WAIT_POLL_MS 1000        /* wake at least this often */
#define WAIT_SHOW_EVERY_MS 5000  /* ask `show` this often in any case */
#define PLAIN_PROGRESS_MS 10000  /* plain progress lines at most this often */
#define LINE_MAX_BYTES (1024 * 1024)
#define TAIL_LINES 20

/* ---- argument helpers (shared through ctl.h) ---- */

int want_positional(int argc, char **argv, const char *what, json_t *args,
                           const char *key)
{
	if (optind >= argc) {
		fprintf(stderr, "%s: %s: missing %s\n", prog, argv[0], what);
		return -1;
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "%s: %s: unexpected argument '%s'\n", prog, argv[0],
		        argv[optind + 1]);
		return -1;
	}
	json_object_set_new(args, key, json_string(argv[optind]));
	return 0;
}

int parse_int(const char *cmd, const char *opt, const char *s, long min, long max,
                     long *out)
{
	char *end;
	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || *end || !*s || *out < min || *out > max) {
		fprintf(stderr, "%s: %s: %s wants a number from %ld to %ld, not '%s'\n", prog, cmd,
		        opt, min, max, s);
		return -1;
	}
	return 0;
}

/* ---- runs ---- */

int sched_build_runs(int argc, char **argv, json_t *args)
{
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, 'd' },
		{ "state", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ 0 },
	};
	long n;
	int opt;

	while ((opt = getopt_long(argc, argv, "d:s:n:", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			json_object_set_new(args, "dataset", json_string(optarg));
			break;
		case 's':
			json_object_set_new(args, "state", json_string(optarg));
			break;
		case 'n':
			if (parse_int(argv[0], "--limit", optarg, 1, 1000, &n) < 0)
				return -1;
			json_object_set_new(args, "limit", json_integer(n));
			break;
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: runs: unexpected argument '%s'\n", prog, argv[optind]);
		return -1;
	}
	return 0;
}

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

void sched_print_runs(json_t *r)
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
		fmt_time(json_object_get(x, "created_ms"), when, sizeof when);
		took(x, span, sizeof span);
		printf("%-7" JSON_INTEGER_FORMAT " %-24s %-10s %-9s %-10s %-24s %-9s %.60s\n",
		       json_integer_value(json_object_get(x, "id")), str(x, "target"),
		       str(x, "exec_date"), str(x, "trigger"), str(x, "state"), when, span,
		       err ? err : "");
	}
}

/* ---- show, retry, cancel: one RUN argument ---- */

int want_run_id(int argc, char **argv, json_t *args)
{
	long id;

	if (optind + 1 != argc) {
		fprintf(stderr, "%s: %s: want exactly one run id\n", prog, argv[0]);
		return -1;
	}
	if (parse_int(argv[0], "RUN", argv[optind], 1, LONG_MAX, &id) < 0)
		return -1;
	json_object_set_new(args, "run", json_integer(id));
	return 0;
}

int sched_build_run_id(int argc, char **argv, json_t *args)
{
	if (getopt_long(argc, argv, "", (const struct option[]){ { 0 } }, NULL) != -1)
		return -1;
	return want_run_id(argc, argv, args);
}

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
		fmt_time(json_object_get(a, "started_ms"), when, sizeof when);
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

void sched_print_show(json_t *r)
{
	json_t *run = json_object_get(r, "run"), *tasks = json_object_get(r, "tasks");
	json_t *events = json_object_get(r, "events"), *t;
	char created[64], started[64], ended[64], span[FMT_DURATION_MAX];
	size_t i;

	fmt_time(json_object_get(run, "created_ms"), created, sizeof created);
	fmt_time(json_object_get(run, "started_ms"), started, sizeof started);
	fmt_time(json_object_get(run, "ended_ms"), ended, sizeof ended);
	took(run, span, sizeof span);
	printf("run %" JSON_INTEGER_FORMAT ": %s %s for %s, %s%s, %s\n",
	       json_integer_value(json_object_get(run, "id")), str(run, "kind"),
	       str(run, "target"), str(run, "exec_date"), str(run, "trigger"),
	       json_is_true(json_object_get(run, "force")) ? " (forced)" : "", str(run, "state"));
	printf("created %s, started %s, ended %s (took %s)\n", created, started, ended, span);
	if (json_string_value(json_object_get(run, "error")))
		printf("error: %s\n", str(run, "error"));
	printf("\n");
	json_array_foreach(tasks, i, t) {
		json_t *p = json_object_get(t, "progress");
		printf("  %-12s %-10s retries used %" JSON_INTEGER_FORMAT "%s%s\n", str(t, "name"),
		       str(t, "state"), json_integer_value(json_object_get(t, "retries_used")),
		       json_is_integer(json_object_get(t, "not_before_ms")) ? ", waiting to retry" : "",
		       json_is_integer(json_object_get(p, "bytes_done")) ? ", in progress" : "");
		print_attempts(json_object_get(t, "attempts"));
	}
	if (json_array_size(events)) {
		printf("\nevents:\n");
		json_array_foreach(events, i, t) {
			char when[64];
			fmt_time(json_object_get(t, "ts"), when, sizeof when);
			printf("  %s %-7s %-10s %s\n", when, str(t, "level"), str(t, "type"),
			       str(t, "message"));
		}
	}
}

void sched_print_retry(json_t *r)
{
	printf("run %" JSON_INTEGER_FORMAT " queued again\n",
	       json_integer_value(json_object_get(r, "run_id")));
}

void sched_print_cancel(json_t *r)
{
	printf("run %" JSON_INTEGER_FORMAT " %s\n", json_integer_value(json_object_get(r, "run_id")),
	       str(r, "state"));
}

/* ---- pause, resume ---- */

int sched_build_dataset(int argc, char **argv, json_t *args)
{
	if (getopt_long(argc, argv, "", (const struct option[]){ { 0 } }, NULL) != -1)
		return -1;
	return want_positional(argc, argv, "DATASET", args, "dataset");
}

void sched_print_pause(json_t *r)
{
	printf("%s %s\n", str(r, "dataset"),
	       json_is_true(json_object_get(r, "paused")) ? "paused" : "resumed");
}

/* ---- backfill ---- */

int sched_build_backfill(int argc, char **argv, json_t *args)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "f:t:", opts, NULL)) != -1) {
		if (opt != 'f' && opt != 't')
			return -1;
		json_object_set_new(args, opt == 'f' ? "from" : "to", json_string(optarg));
	}
	if (!json_object_get(args, "from") || !json_object_get(args, "to")) {
		fprintf(stderr, "%s: backfill: --from and --to are required\n", prog);
		return -1;
	}
	return want_positional(argc, argv, "DATASET", args, "dataset");
}

void sched_print_backfill(json_t *r)
{
	json_int_t created = json_integer_value(json_object_get(r, "created"));

	printf("%s: %" JSON_INTEGER_FORMAT " runs queued", str(r, "target"), created);
	if (created)
		printf(" (runs %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT ")",
		       json_integer_value(json_object_get(r, "first_run_id")),
		       json_integer_value(json_object_get(r, "last_run_id")));
	printf(", %" JSON_INTEGER_FORMAT " dates skipped (a run is already active)\n",
	       json_integer_value(json_object_get(r, "skipped")));
}

/* ---- schedule ---- */

int sched_build_schedule(int argc, char **argv, json_t *args)
{
	static const struct option opts[] = {
		{ "next", required_argument, NULL, 'n' },
		{ 0 },
	};
	long n;
	int opt;

	while ((opt = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		if (opt != 'n' || parse_int(argv[0], "--next", optarg, 1, 100, &n) < 0)
			return -1;
		json_object_set_new(args, "next", json_integer(n));
	}
	if (optind < argc)
		return want_positional(argc, argv, "DATASET", args, "dataset");
	return 0;
}

void sched_print_schedule(json_t *r)
{
	json_t *list = json_object_get(r, "datasets"), *d, *f;
	size_t i, k;

	printf("times in %s\n", str(r, "timezone"));
	json_array_foreach(list, i, d) {
		printf("\n%s  \"%s\"  missed: %s%s\n", str(d, "name"), str(d, "schedule"),
		       str(d, "missed"), json_is_true(json_object_get(d, "paused")) ? "  (paused)" : "");
		json_array_foreach(json_object_get(d, "fires"), k, f)
			printf("  %s  exec date %s\n", str(f, "at"), str(f, "exec_date"));
	}
}

/* ---- trigger [--wait] ---- */

static bool trigger_wait;

int sched_build_trigger(int argc, char **argv, json_t *args)
{
	static const struct option opts[] = {
		{ "date", required_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ "wait", no_argument, NULL, 'w' },
		{ 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "d:fw", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			json_object_set_new(args, "date", json_string(optarg));
			break;
		case 'f':
			json_object_set_new(args, "force", json_true());
			break;
		case 'w':
			trigger_wait = true;
			break;
		default:
			return -1;
		}
	}
	return want_positional(argc, argv, "DATASET", args, "dataset");
}

/* A line reader over a raw socket (the watcher), with poll() timeouts. */
struct lines {
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;
};

/* The next complete line (caller frees), or NULL when none is buffered. */
static char *next_line(struct lines *l)
{
	char *nl = l->len ? memchr(l->buf, '\n', l->len) : NULL, *line;
	size_t n;

	if (!nl)
		return NULL;
	n = (size_t)(nl - l->buf);
	line = strndup(l->buf, n);
	memmove(l->buf, nl + 1, l->len - n - 1);
	l->len -= n + 1;
	return line;
}

/* Wait up to MS for bytes; false at EOF or on error. */
static bool fill(struct lines *l, int ms)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };
	ssize_t n;

	if (l->eof)
		return false;
	if (poll(&p, 1, ms) <= 0)
		return true;
	if (l->cap - l->len < 4096) {
		size_t cap = l->cap ? l->cap * 2 : 65536;
		char *b;
		if (cap > LINE_MAX_BYTES) {
			l->len = 0;          /* a line beyond the cap is dropped */
			cap = l->cap;
		}
		if (!(b = realloc(l->buf, cap)))
			return false;
		l->buf = b;
		l->cap = cap;
	}
	n = read(l->fd, l->buf + l->len, l->cap - l->len);
	if (n <= 0) {
		l->eof = true;
		return false;
	}
	l->len += (size_t)n;
	return true;
}

struct follow {
	struct ctl *c;
	json_int_t run_id;
	bool tty, bar_drawn;
	int64_t last_plain;
	char state[16];
	bool done;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool final_state(const char *s)
{
	static const char *const finals[] = { "succeeded", "failed", "unchanged", "skipped",
	                                      "cancelled" };
	for (size_t i = 0; i < sizeof finals / sizeof finals[0]; i++)
		if (!strcmp(s, finals[i]))
			return true;
	return false;
}

static void clear_bar(struct follow *f)
{
	if (f->bar_drawn) {
		printf("\r\033[K");
		f->bar_drawn = false;
	}
}

static void progress(struct follow *f, json_t *ev)
{
	double done = (double)json_integer_value(json_object_get(ev, "bytes_done"));
	json_t *tot = json_object_get(ev, "bytes_total");
	double total = json_is_integer(tot) ? (double)json_integer_value(tot) : 0;
	double rate = (double)json_integer_value(json_object_get(ev, "rate"));

	if (f->tty) {
		char bar[31];
		int fillw = total > 0 ? (int)(30 * done / total) : 0;
		for (int i = 0; i < 30; i++)
			bar[i] = total <= 0 ? (i == (int)(now_ms() / 200 % 30) ? '#' : '.') :
			         i < fillw ? '#' : '.';
		bar[30] = '\0';
		printf("\r\033[K%-8s [%s] ", str(ev, "task"), bar);
		if (total > 0)
			printf("%3.0f%%  %.1f / %.1f MB", 100 * done / total, done / 1e6, total / 1e6);
		else
			printf("%.1f MB", done / 1e6);
		printf("  %.1f MB/s", rate / 1e6);
		f->bar_drawn = true;
	} else if (now_ms() - f->last_plain >= PLAIN_PROGRESS_MS) {
		f->last_plain = now_ms();
		if (total > 0)
			printf("%s: %.1f of %.1f MB (%.0f%%), %.1f MB/s\n", str(ev, "task"), done / 1e6,
			       total / 1e6, 100 * done / total, rate / 1e6);
		else
			printf("%s: %.1f MB, %.1f MB/s\n", str(ev, "task"), done / 1e6, rate / 1e6);
	}
	fflush(stdout);
}

/* One line from the watcher. */
static void on_event_line(struct follow *f, const char *line)
{
	json_t *msg = json_loads(line, 0, NULL), *ev = json_object_get(msg, "event");
	const char *type = json_string_value(json_object_get(ev, "type"));

	if (!type || json_integer_value(json_object_get(ev, "run_id")) != f->run_id) {
		json_decref(msg);
		return;
	}
	if (f->c->json) {
		puts(line);
	} else if (!strcmp(type, "fetch.progress")) {
		progress(f, ev);
	} else {
		char when[64];
		clear_bar(f);
		fmt_time(json_object_get(ev, "ts"), when, sizeof when);
		printf("%s %s\n", when, str(ev, "message"));
	}
	if (!strcmp(type, "run.state") && final_state(str(ev, "state"))) {
		snprintf(f->state, sizeof f->state, "%s", str(ev, "state"));
		f->done = true;
	}
	fflush(stdout);
	json_decref(msg);
}

/* Ask the daemon for the run's state (events may have been missed). */
static int poll_show(struct follow *f, json_t **show)
{
	json_t *args = json_pack("{s:I}", "run", f->run_id), *r = NULL;
	bool json = f->c->json;
	int rc;

	f->c->json = false;      /* polls are not part of --json output */
	rc = ctl_call(f->c, "show", args, &r);
	f->c->json = json;
	json_decref(args);
	if (rc)
		return rc;
	snprintf(f->state, sizeof f->state, "%s", str(json_object_get(r, "run"), "state"));
	f->done = final_state(f->state);
	if (show)
		*show = r;
	else
		json_decref(r);
	return 0;
}

int sched_run_trigger(struct ctl *c, const struct ctl_cmd *cmd, json_t *args)
{
	struct ctl w = { .socket = c->socket, .fd = -1, .json = true };
	struct lines lines = { .fd = -1 };
	struct follow f = { .c = c, .tty = isatty(STDOUT_FILENO) && !c->json };
	json_t *r = NULL, *empty = json_object(), *show = NULL;
	int64_t last_show;
	char *line;
	int rc;

	if (!trigger_wait) {
		if ((rc = ctl_call(c, "trigger", args, &r)) == 0 && !c->json)
			printf("run %" JSON_INTEGER_FORMAT " %s for %s %s\n",
			       json_integer_value(json_object_get(r, "run_id")),
			       json_is_true(json_object_get(r, "created")) ? "queued" : "already active",
			       str(r, "target"), str(r, "exec_date"));
		goto out;
	}
	/* Watch first, so the run's first events are not missed. */
	if ((rc = ctl_connect(&w)) || (rc = ctl_send(&w, "watch", empty)))
		goto out;
	lines.fd = w.fd;
	while (!(line = next_line(&lines))) {
		if (!fill(&lines, WAIT_POLL_MS * 5)) {
			fprintf(stderr, "%s: the daemon closed the watch connection\n", prog);
			rc = EXIT_CONNECT;
			goto out;
		}
	}
	free(line);              /* the reply to watch */
	if ((rc = ctl_call(c, "trigger", args, &r)))
		goto out;
	f.run_id = json_integer_value(json_object_get(r, "run_id"));
	if (!c->json)
		printf("run %" JSON_INTEGER_FORMAT " %s for %s %s; following it\n", f.run_id,
		       json_is_true(json_object_get(r, "created")) ? "queued" : "already active",
		       str(r, "target"), str(r, "exec_date"));
	fflush(stdout);
	if ((rc = poll_show(&f, NULL)))
		goto out;
	last_show = now_ms();
	while (!f.done) {
		while (!f.done && (line = next_line(&lines))) {
			on_event_line(&f, line);
			free(line);
		}
		if (f.done)
			break;
		if (!fill(&lines, WAIT_POLL_MS) && lines.eof) {
			/* No more events: poll instead. */
			struct timespec ts = { WAIT_POLL_MS / 1000, 0 };
			nanosleep(&ts, NULL);
		}
		if (lines.eof || now_ms() - last_show >= WAIT_SHOW_EVERY_MS) {
			if ((rc = poll_show(&f, NULL)))
				goto out;
			last_show = now_ms();
		}
	}
	clear_bar(&f);
	if ((rc = poll_show(&f, &show)))
		goto out;
	if (!c->json) {
		const char *err = json_string_value(json_object_get(json_object_get(show, "run"),
		                                                    "error"));
		printf("run %" JSON_INTEGER_FORMAT " %s%s%s\n", f.run_id, f.state,
		       err ? ": " : "", err ? err : "");
	}
	rc = !strcmp(f.state, "succeeded") || !strcmp(f.state, "unchanged") ? 0 : EXIT_RUN;
out:
	fflush(stdout);
	json_decref(r);
	json_decref(show);
	json_decref(empty);
	free(lines.buf);
	if (w.in)
		fclose(w.in);
	if (w.fd >= 0)
		close(w.fd);
	return rc;
}
