/*
 * denverctl.c - the command-line client of denverd's control socket.
 *
 * One table of commands (`commands` below).  Each entry builds the request's
 * args from argv and prints the reply's result for humans; `--json` prints
 * the raw reply line instead, for scripts.  The protocol is described in
 * include/denverd/protocol.h and denverd(8).
 *
 * Exit status: 0 success, 1 the daemon answered with an error, 2 usage,
 * 3 cannot reach the daemon, 4 protocol error (a reply we cannot read),
 * 5 trigger --wait: the run ended without success.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/fmt.h"
#include "ctl.h"
#include "denverd/protocol.h"
#include "version.h"


const char *prog = "denverctl";

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	exit(EXIT_USAGE);
}

/* ---- connection ---- */

int ctl_connect(struct ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(c->socket) >= sizeof sa.sun_path) {
		fprintf(stderr, "%s: socket path too long: %s\n", prog, c->socket);
		return EXIT_CONNECT;
	}
	strcpy(sa.sun_path, c->socket);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		fprintf(stderr, "%s: cannot connect to %s: %s%s\n", prog, c->socket,
		        strerror(e), e == ENOENT || e == ECONNREFUSED
		        ? " (is denverd running? set -s or $" PROTOCOL_SOCKET_ENV ")" : "");
		return EXIT_CONNECT;
	}
	c->in = fdopen(dup(c->fd), "r");
	return c->in ? 0 : EXIT_CONNECT;
}

int ctl_send(struct ctl *c, const char *cmd, json_t *args)
{
	json_t *req = json_pack("{s:i, s:I, s:s, s:O}", "v", PROTOCOL_VERSION,
	                        "id", ++c->next_id, "cmd", cmd, "args", args);
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int rc = 0;
	json_decref(req);
	if (!text)
		return EXIT_PROTOCOL;
	size_t n = strlen(text), off = 0;
	text[n++] = '\n';       /* json_dumps left room: replace the NUL */
	while (off < n) {
		ssize_t w = write(c->fd, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "%s: write to %s: %s\n", prog, c->socket, strerror(errno));
			rc = EXIT_CONNECT;
			break;
		}
		off += (size_t)w;
	}
	free(text);
	return rc;
}

/* Read one line into a new string (*line, caller frees).  0, or an exit code. */
static int ctl_read_line(struct ctl *c, char **line)
{
	size_t cap = 0;
	ssize_t n;

	*line = NULL;
	errno = 0;
	n = getline(line, &cap, c->in);
	if (n <= 0) {
		fprintf(stderr, "%s: %s closed the connection%s%s\n", prog, c->socket,
		        errno ? ": " : "", errno ? strerror(errno) : "");
		free(*line);
		*line = NULL;
		return EXIT_CONNECT;
	}
	if ((size_t)n > PROTOCOL_MAX_REPLY) {
		fprintf(stderr, "%s: reply longer than %u bytes\n", prog, PROTOCOL_MAX_REPLY);
		free(*line);
		*line = NULL;
		return EXIT_PROTOCOL;
	}
	return 0;
}

/* Send CMD and wait for its reply.  On success *result is a new reference
 * (and the raw line was printed if --json).  Returns 0 or an exit code. */
int ctl_call(struct ctl *c, const char *cmd, json_t *args, json_t **result)
{
	char *line;
	json_error_t jerr;
	json_t *reply;
	int rc;

	*result = NULL;
	if ((rc = ctl_send(c, cmd, args)) || (rc = ctl_read_line(c, &line)))
		return rc;
	reply = json_loads(line, 0, &jerr);
	if (!json_is_object(reply)) {
		fprintf(stderr, "%s: unreadable reply: %s\n", prog, jerr.text);
		free(line);
		json_decref(reply);
		return EXIT_PROTOCOL;
	}
	if (c->json)
		fputs(line, stdout);
	free(line);
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");
		if (!c->json)
			fprintf(stderr, "%s: %s: %s\n", prog,
			        json_string_value(json_object_get(e, "code")) ?: "?",
			        json_string_value(json_object_get(e, "message")) ?: "error");
		json_decref(reply);
		return EXIT_REMOTE;
	}
	*result = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	return 0;
}

/* ---- output helpers ---- */

const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "-";
}

/* Unix ms to local "YYYY-MM-DD HH:MM:SS TZ"; "-" for absent. */
void fmt_time(json_t *v, char *buf, size_t n)
{
	if (!json_is_integer(v)) {
		snprintf(buf, n, "-");
		return;
	}
	time_t t = (time_t)(json_integer_value(v) / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

/* ---- commands ---- */

static int build_none(int argc, char **argv, json_t *args)
{
	if (argc > 1) {
		fprintf(stderr, "%s: %s takes no arguments\n", prog, argv[0]);
		return -1;
	}
	return 0;
}

static void print_status(json_t *r)
{
	char up[FMT_DURATION_MAX], when[64];
	json_t *ds = json_object_get(r, "datasets"), *d;
	size_t i;

	json_int_t uptime_s = json_integer_value(json_object_get(r, "uptime_s"));

	fmt_duration(up, sizeof up, uptime_s > 0 ? (uint64_t)uptime_s * 1000 : 0);
	printf("denverd %s, pid %" JSON_INTEGER_FORMAT ", up %s\n", str(r, "version"),
	       json_integer_value(json_object_get(r, "pid")), up);
	printf("config:    %s\n", str(r, "config"));
	printf("state:     %s\n", str(r, "state_dir"));
	printf("timezone:  %s\n", str(r, "timezone"));
	if (json_object_get(r, "queued"))
		printf("queue:     %" JSON_INTEGER_FORMAT " waiting, %" JSON_INTEGER_FORMAT
		       " running\n", json_integer_value(json_object_get(r, "queued")),
		       json_integer_value(json_object_get(r, "running_count")));
	printf("\n%-24s %-14s %-26s %s\n", "DATASET", "SCHEDULE", "NEXT RUN", "LAST RUN");
	json_array_foreach(ds, i, d) {
		fmt_time(json_object_get(d, "next_fire"), when, sizeof when);
		json_t *last = json_object_get(d, "last_run");
		char lastbuf[96] = "-";
		if (json_is_object(last))
			snprintf(lastbuf, sizeof lastbuf, "%s %s", str(last, "exec_date"),
			         str(last, "state"));
		printf("%-24s %-14s %-26s %s%s\n", str(d, "name"), str(d, "schedule"), when,
		       lastbuf, json_is_true(json_object_get(d, "paused")) ? " (paused)" : "");
	}
	json_t *running = json_object_get(r, "running");
	if (json_array_size(running)) {
		printf("\n%-8s %-24s %-12s %-10s %s\n", "RUN", "TARGET", "EXEC DATE", "TASK",
		       "PROGRESS");
		json_array_foreach(running, i, d) {
			char prog_buf[64] = "";
			json_t *done = json_object_get(d, "bytes_done");
			if (json_is_integer(done)) {
				json_int_t tot = json_integer_value(json_object_get(d, "bytes_total"));
				if (tot > 0)
					snprintf(prog_buf, sizeof prog_buf, "%.1f%% of %.1f MB",
					         100.0 * (double)json_integer_value(done) / (double)tot,
					         (double)tot / 1e6);
				else
					snprintf(prog_buf, sizeof prog_buf, "%.1f MB",
					         (double)json_integer_value(done) / 1e6);
			}
			printf("%-8" JSON_INTEGER_FORMAT " %-24s %-12s %-10s %s\n",
			       json_integer_value(json_object_get(d, "run_id")), str(d, "target"),
			       str(d, "exec_date"), str(d, "task"), prog_buf);
		}
	}
}

static void print_version(json_t *r)
{
	printf("denverd %s (protocol %" JSON_INTEGER_FORMAT "), denverctl %s\n",
	       str(r, "version"), json_integer_value(json_object_get(r, "protocol")),
	       DENVERD_VERSION);
}

static void print_reload(json_t *r)
{
	printf("reloaded %s\n", str(r, "config"));
}

/* Print one event line for humans: "TIME TYPE dataset exec_date run task state message". */
void print_event(json_t *ev)
{
	char when[64];
	fmt_time(json_object_get(ev, "ts"), when, sizeof when);
	printf("%s %-14s", when, str(ev, "type"));
	static const char *const keys[] = { "dataset", "exec_date", "task", "state" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (json_string_value(json_object_get(ev, keys[i])))
			printf(" %s", str(ev, keys[i]));
	if (json_is_integer(json_object_get(ev, "run_id")))
		printf(" run=%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(ev, "run_id")));
	if (json_string_value(json_object_get(ev, "message")))
		printf(": %s", str(ev, "message"));
	putchar('\n');
	fflush(stdout);
}

static int run_watch(struct ctl *c, const struct ctl_cmd *cmd, json_t *args)
{
	json_t *result;
	char *line;
	int rc = ctl_call(c, "watch", args, &result);
	if (rc)
		return rc;
	json_decref(result);
	if (!c->json) {
		printf("watching %s (Ctrl-C to stop)\n", c->socket);
		fflush(stdout);
	}
	while ((rc = ctl_read_line(c, &line)) == 0) {
		json_t *msg = json_loads(line, 0, NULL);
		if (c->json) {
			fputs(line, stdout);
			fflush(stdout);
		} else if (json_is_object(json_object_get(msg, "event"))) {
			print_event(json_object_get(msg, "event"));
		}
		json_decref(msg);
		free(line);
	}
	return rc;
}

static const struct ctl_cmd commands[] = {
	{ "status", "", "daemon, datasets, next scheduled runs, running tasks",
	  build_none, print_status, NULL },
	{ "version", "", "versions of the daemon, the protocol and denverctl",
	  build_none, print_version, NULL },
	{ "reload", "", "re-read the configuration (kept as is if the new one is invalid)",
	  build_none, print_reload, NULL },
	{ "watch", "", "stream events as they happen until interrupted",
	  build_none, NULL, run_watch },
	{ "metrics", "[-o FILE]", "Prometheus text: runs, fetches, checks, alerts",
	  ops_build_metrics, ops_print_metrics, NULL },
	{ "alerts", "[--dataset D] [--limit N]", "alerts firing now and the latest sent",
	  ops_build_alerts, ops_print_alerts, NULL },
	/* the scheduler's (cmd_sched.c) */
	{ "runs", "[--dataset D] [--state S] [--limit N]", "recent runs, newest first",
	  sched_build_runs, sched_print_runs, NULL },
	{ "show", "RUN", "a run: tasks, attempts, errors, output tail, events",
	  sched_build_run_id, sched_print_show, NULL },
	{ "trigger", "DATASET [--date D] [--force] [--wait]", "queue a run now (--wait: follow it)",
	  sched_build_trigger, NULL, sched_run_trigger },
	{ "backfill", "DATASET --from D1 --to D2", "queue one run per date",
	  sched_build_backfill, sched_print_backfill, NULL },
	{ "retry", "RUN", "queue a failed or cancelled run again",
	  sched_build_run_id, sched_print_retry, NULL },
	{ "cancel", "RUN", "cancel a queued or running run",
	  sched_build_run_id, sched_print_cancel, NULL },
	{ "pause", "DATASET", "start nothing of DATASET until resumed",
	  sched_build_dataset, sched_print_pause, NULL },
	{ "resume", "DATASET", "undo pause",
	  sched_build_dataset, sched_print_pause, NULL },
	{ "schedule", "[DATASET] [--next N]", "the next fire times and their exec dates",
	  sched_build_schedule, sched_print_schedule, NULL },
	/* data quality (cmd_dq.c) */
	{ "dq", "DATASET [--runs N]", "each check's observed values over the last runs",
	  dq_build_dq, dq_print_dq, NULL },
	{ "diff", "DATASET [--date D]", "rows added, removed, changed since the last snapshot",
	  dq_build_diff, dq_print_diff, NULL },
	{ "promote", "RUN [--reason TEXT]", "accept a quarantined snapshot: back to staging",
	  dq_build_promote, dq_print_promote, NULL },
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [-s SOCKET] [--json] COMMAND [ARGS]\n\n"
	        "Talks to denverd over its control socket (default $%s or %s).\n\n"
	        "Commands:\n", prog, PROTOCOL_SOCKET_ENV, PROTOCOL_DEFAULT_SOCKET);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %-28s %s\n", commands[i].name, commands[i].usage,
		        commands[i].help);
	fprintf(f, "\nOptions:\n"
	        "  -s, --socket PATH  control socket\n"
	        "  -j, --json         print the raw JSON replies\n"
	        "  -V, --version      print denverctl's version\n"
	        "  -h, --help         this text\n"
	        "\nExit status: 0 ok, 1 the daemon refused, 2 usage, 3 daemon not "
	        "reachable, 4 protocol error, 5 trigger --wait: the run did not succeed.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ctl c = { .fd = -1 };
	const struct ctl_cmd *cmd = NULL;
	json_t *args, *result = NULL;
	int opt, rc;

	c.socket = getenv(PROTOCOL_SOCKET_ENV);
	if (!c.socket || !*c.socket)
		c.socket = PROTOCOL_DEFAULT_SOCKET;
	/* '+': stop at the command, its options are its own. */
	while ((opt = getopt_long(argc, argv, "+s:jVh", opts, NULL)) != -1) {
		switch (opt) {
		case 's': c.socket = optarg; break;
		case 'j': c.json = true; break;
		case 'V': printf("denverctl %s\n", DENVERD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		die_usage("no command given");
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd)
		die_usage("unknown command '%s'", argv[optind]);

	args = json_object();
	/* The command's own options follow it: reset getopt for build().
	 * optind = 0, not 1: glibc then also forgets the '+' above, so a
	 * command's options may come after its operands (dq DATASET --runs 5). */
	optind = optind + 1;
	int sub_argc = argc - optind + 1;
	char **sub_argv = argv + optind - 1;
	optind = 0;
	if (cmd->build(sub_argc, sub_argv, args) < 0) {
		json_decref(args);
		fprintf(stderr, "usage: %s %s %s\n", prog, cmd->name, cmd->usage);
		return EXIT_USAGE;
	}
	if ((rc = ctl_connect(&c)) != 0)
		goto out;
	if (cmd->run) {
		rc = cmd->run(&c, cmd, args);
	} else if ((rc = ctl_call(&c, cmd->name, args, &result)) == 0 && !c.json) {
		cmd->print(result);
	}
out:
	json_decref(result);
	json_decref(args);
	if (c.in)
		fclose(c.in);
	if (c.fd >= 0)
		close(c.fd);
	return rc;
}
