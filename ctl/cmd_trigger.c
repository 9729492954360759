/*
 * cmd_trigger.c - denverctl trigger DATASET [--date D] [--force] [--wait]:
 * queue a run now and, with --wait, follow it to its end.
 *
 * --wait follows the run on a second connection in watch mode, opened
 * before the trigger so no event is missed; it also asks `show` every few
 * seconds in case events were lost (a watcher that falls behind is
 * disconnected by the daemon).  On a terminal it draws a progress bar for
 * downloads; otherwise it prints plain lines.  The exit status is 0 when
 * the run succeeded or was unchanged, EXIT_RUN otherwise.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl.h"

#define WAIT_POLL_MS 1000        /* wake at least this often */
#define WAIT_SHOW_EVERY_MS 5000  /* ask `show` this often in any case */
#define PLAIN_PROGRESS_MS 10000  /* plain progress lines at most this often */
#define LINE_MAX_BYTES (1024 * 1024)

static const struct ctl_opt trigger_opts[] = {
	{ .name = "date", .alias = 'd', .kind = CTL_DATE, .meta = "D", .key = "date",
	  .help = "the exec date, default today in the daemon's time zone" },
	{ .name = "force", .alias = 'f', .kind = CTL_FLAG, .key = "force",
	  .help = "run even when a run for that date exists or succeeded" },
	{ .name = "wait", .alias = 'w', .kind = CTL_FLAG, .key = "wait", .local = true,
	  .help = "follow the run to its end; exit 5 unless it succeeded" },
	{ 0 },
};

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

/* A bar of 30 for DONE of TOTAL; TOTAL <= 0: a dot moving while unknown. */
static void draw_bar(double done, double total)
{
	char bar[31];
	int fillw = total > 0 ? (int)(30 * done / total) : 0;

	for (int i = 0; i < 30; i++)
		bar[i] = total <= 0 ? (i == (int)(now_ms() / 200 % 30) ? '#' : '.') :
		         i < fillw ? '#' : '.';
	bar[30] = '\0';
	printf("[%s] ", bar);
}

/* An ArcGIS fetch: rows of the layer's count rather than bytes. */
static void paging_progress(struct follow *f, json_t *ev)
{
	double rows = (double)json_integer_value(json_object_get(ev, "rows_done"));
	json_t *tot = json_object_get(ev, "rows_total");
	double total = json_is_integer(tot) ? (double)json_integer_value(tot) : 0;
	char text[96];

	ctl_fmt_paging(ev, text, sizeof text);
	if (f->tty) {
		printf("\r\033[K%-8s ", ctl_str(ev, "task"));
		draw_bar(rows, total);
		if (total > 0)
			printf("%3.0f%%  ", 100 * rows / total);
		printf("%s", text);
		f->bar_drawn = true;
	} else if (now_ms() - f->last_plain >= PLAIN_PROGRESS_MS) {
		f->last_plain = now_ms();
		printf("%s: %s\n", ctl_str(ev, "task"), text);
	}
	fflush(stdout);
}

static void progress(struct follow *f, json_t *ev)
{
	double done = (double)json_integer_value(json_object_get(ev, "bytes_done"));
	json_t *tot = json_object_get(ev, "bytes_total");
	double total = json_is_integer(tot) ? (double)json_integer_value(tot) : 0;
	double rate = (double)json_integer_value(json_object_get(ev, "rate"));

	char hub[96];

	if (json_is_integer(json_object_get(ev, "pages"))) {
		paging_progress(f, ev);
		return;
	}
	if (ctl_fmt_hub(ev, hub, sizeof hub)) {
		if (f->tty) {
			printf("\r\033[K%-8s %s", ctl_str(ev, "task"), hub);
			f->bar_drawn = true;
		} else if (now_ms() - f->last_plain >= PLAIN_PROGRESS_MS) {
			f->last_plain = now_ms();
			printf("%s: %s\n", ctl_str(ev, "task"), hub);
		}
		fflush(stdout);
		return;
	}
	if (f->tty) {
		printf("\r\033[K%-8s ", ctl_str(ev, "task"));
		draw_bar(done, total);
		if (total > 0)
			printf("%3.0f%%  %.1f / %.1f MB", 100 * done / total, done / 1e6, total / 1e6);
		else
			printf("%.1f MB", done / 1e6);
		printf("  %.1f MB/s", rate / 1e6);
		f->bar_drawn = true;
	} else if (now_ms() - f->last_plain >= PLAIN_PROGRESS_MS) {
		f->last_plain = now_ms();
		if (total > 0)
			printf("%s: %.1f of %.1f MB (%.0f%%), %.1f MB/s\n", ctl_str(ev, "task"), done / 1e6,
			       total / 1e6, 100 * done / total, rate / 1e6);
		else
			printf("%s: %.1f MB, %.1f MB/s\n", ctl_str(ev, "task"), done / 1e6, rate / 1e6);
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
		ctl_fmt_time(json_object_get(ev, "ts"), when, sizeof when);
		printf("%s %s\n", when, ctl_str(ev, "message"));
	}
	if (!strcmp(type, "run.state") && final_state(ctl_str(ev, "state"))) {
		snprintf(f->state, sizeof f->state, "%s", ctl_str(ev, "state"));
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
	snprintf(f->state, sizeof f->state, "%s", ctl_str(json_object_get(r, "run"), "state"));
	f->done = final_state(f->state);
	if (show)
		*show = r;
	else
		json_decref(r);
	return 0;
}

/* "run 7 queued for demo 2026-11-24" and SUFFIX, of the trigger reply R. */
static void print_queued(json_t *r, const char *suffix)
{
	printf("run %" JSON_INTEGER_FORMAT " %s for %s %s%s\n",
	       json_integer_value(json_object_get(r, "run_id")),
	       json_is_true(json_object_get(r, "created")) ? "queued" : "already active",
	       ctl_str(r, "target"), ctl_str(r, "exec_date"), suffix);
}

/* Without --wait: one request. */
static int trigger_once(struct ctl *c, json_t *args)
{
	json_t *r;
	int rc = ctl_call(c, "trigger", args, &r);

	if (rc == 0 && !c->json)
		print_queued(r, "");
	json_decref(r);
	return rc;
}

/* Connect W in watch mode, reading through LINES, up to the reply to watch. */
static int open_watch(struct ctl *w, struct lines *lines)
{
	json_t *empty = json_object();
	char *line;
	int rc = ctl_connect(w);

	if (rc == 0)
		rc = ctl_send(w, "watch", empty);
	json_decref(empty);
	if (rc)
		return rc;
	lines->fd = w->fd;
	while (!(line = next_line(lines))) {
		if (!fill(lines, WAIT_POLL_MS * 5)) {
			fprintf(stderr, "%s: the daemon closed the watch connection\n", ctl_prog);
			return EXIT_CONNECT;
		}
	}
	free(line);              /* the reply to watch */
	return 0;
}

/* Events (and a `show` now and then) until the run is in a final state. */
static int follow(struct follow *f, struct lines *lines)
{
	int64_t last_show = now_ms();
	char *line;
	int rc;

	while (!f->done) {
		while (!f->done && (line = next_line(lines))) {
			on_event_line(f, line);
			free(line);
		}
		if (f->done)
			break;
		if (!fill(lines, WAIT_POLL_MS) && lines->eof) {
			/* No more events: poll instead. */
			struct timespec ts = { WAIT_POLL_MS / 1000, 0 };
			nanosleep(&ts, NULL);
		}
		if (lines->eof || now_ms() - last_show >= WAIT_SHOW_EVERY_MS) {
			if ((rc = poll_show(f, NULL)))
				return rc;
			last_show = now_ms();
		}
	}
	return 0;
}

/* The last line ("run 7 failed: why") and the exit status. */
static int finish(struct follow *f)
{
	json_t *show = NULL;
	int rc;

	clear_bar(f);
	if ((rc = poll_show(f, &show)))
		return rc;
	if (!f->c->json) {
		const char *err = json_string_value(json_object_get(json_object_get(show, "run"),
		                                                    "error"));
		printf("run %" JSON_INTEGER_FORMAT " %s%s%s\n", f->run_id, f->state,
		       err ? ": " : "", err ? err : "");
	}
	json_decref(show);
	return !strcmp(f->state, "succeeded") || !strcmp(f->state, "unchanged") ? 0 : EXIT_RUN;
}

static int trigger_and_follow(struct ctl *c, json_t *args)
{
	struct ctl w = { .socket = c->socket, .fd = -1, .json = true };
	struct lines lines = { .fd = -1 };
	struct follow f = { .c = c, .tty = isatty(STDOUT_FILENO) && !c->json };
	json_t *r = NULL;
	int rc;

	/* Watch first, so the run's first events are not missed. */
	if ((rc = open_watch(&w, &lines)) || (rc = ctl_call(c, "trigger", args, &r)))
		goto out;
	f.run_id = json_integer_value(json_object_get(r, "run_id"));
	if (!c->json)
		print_queued(r, "; following it");
	fflush(stdout);
	if ((rc = poll_show(&f, NULL)) == 0 && (rc = follow(&f, &lines)) == 0)
		rc = finish(&f);
out:
	fflush(stdout);
	json_decref(r);
	free(lines.buf);
	ctl_close(&w);
	return rc;
}

static int run_trigger(struct ctl *c, const struct ctl_cmd *cmd, json_t *args)
{
	if (json_is_true(json_object_get(c->opts, "wait")))
		return trigger_and_follow(c, args);
	return trigger_once(c, args);
}

const struct ctl_cmd cmd_trigger = {
	.name = "trigger", .help = "queue a run now (--wait: follow it)",
	.operand = &ctl_operand_dataset, .opts = trigger_opts, .run = run_trigger,
};
