/*
 * cmd_ops.c - denverctl's operations commands: status, version, reload,
 * watch (events until interrupted), metrics (with an atomic --output for
 * node_exporter's textfile collector) and alerts.  Requests and replies are
 * described in denverd(8), sections CONTROL PROTOCOL, METRICS and ALERTS.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fmt.h"
#include "ctl/ctl.h"
#include "version.h"

/* ---- status ---- */

/* Per dataset: schedule, next fire, last run. */
static void print_datasets(json_t *ds)
{
	char when[64];
	json_t *d;
	size_t i;

	printf("\n%-24s %-14s %-26s %s\n", "DATASET", "SCHEDULE", "NEXT RUN", "LAST RUN");
	json_array_foreach(ds, i, d) {
		ctl_fmt_time(json_object_get(d, "next_fire"), when, sizeof when);
		json_t *last = json_object_get(d, "last_run");
		char lastbuf[96] = "-";
		if (json_is_object(last))
			snprintf(lastbuf, sizeof lastbuf, "%s %s", ctl_str(last, "exec_date"),
			         ctl_str(last, "state"));
		printf("%-24s %-14s %-26s %s%s\n", ctl_str(d, "name"), ctl_str(d, "schedule"), when,
		       lastbuf, json_is_true(json_object_get(d, "paused")) ? " (paused)" : "");
	}
}

/* The tasks running now, with a download's progress. */
static void print_running(json_t *running)
{
	json_t *d;
	size_t i;

	if (!json_array_size(running))
		return;
	printf("\n%-8s %-24s %-12s %-10s %s\n", "RUN", "TARGET", "EXEC DATE", "TASK", "PROGRESS");
	json_array_foreach(running, i, d) {
		char prog_buf[96] = "";
		json_t *done = json_object_get(d, "bytes_done");
		if (json_is_integer(json_object_get(d, "pages"))) {
			ctl_fmt_paging(d, prog_buf, sizeof prog_buf);
		} else if (ctl_fmt_hub(d, prog_buf, sizeof prog_buf)) {
			/* polling the Hub: no bytes yet */
		} else if (json_is_integer(done)) {
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
		       json_integer_value(json_object_get(d, "run_id")), ctl_str(d, "target"),
		       ctl_str(d, "exec_date"), ctl_str(d, "task"), prog_buf);
	}
}

/* "spark: managed sc://127.0.0.1:15002 ready, pid 123, up 2h, 1 restart". */
static void print_spark(json_t *sp)
{
	json_t *up = json_object_get(sp, "uptime_ms"), *pid = json_object_get(sp, "pid");
	json_int_t restarts = json_integer_value(json_object_get(sp, "restarts"));
	const char *err = json_string_value(json_object_get(sp, "last_error"));
	const char *s3a = json_string_value(json_object_get(sp, "s3a"));
	char upbuf[FMT_DURATION_MAX];

	if (!json_is_object(sp))
		return;
	if (!json_object_get(sp, "state")) {
		printf("spark:     %s (spark-submit per job)\n", ctl_str(sp, "mode"));
		if (s3a)
			printf("           s3a settings: %s\n", s3a);
		return;
	}
	printf("spark:     %s %s %s", ctl_str(sp, "mode"), ctl_str(sp, "url"), ctl_str(sp, "state"));
	if (json_is_integer(pid))
		printf(", pid %" JSON_INTEGER_FORMAT, json_integer_value(pid));
	if (json_is_integer(up)) {
		fmt_duration(upbuf, sizeof upbuf, (uint64_t)json_integer_value(up));
		printf(", up %s", upbuf);
	}
	if (restarts)
		printf(", %" JSON_INTEGER_FORMAT " restart%s", restarts, restarts == 1 ? "" : "s");
	if (json_is_true(json_object_get(sp, "restart_pending")))
		printf(", restart pending (reload)");
	printf("\n");
	if (s3a)
		printf("           s3a settings: %s\n", s3a);
	if (err)
		printf("           last error: %s\n", err);
}

static void print_status(json_t *r)
{
	json_int_t uptime_s = json_integer_value(json_object_get(r, "uptime_s"));
	char up[FMT_DURATION_MAX];

	fmt_duration(up, sizeof up, uptime_s > 0 ? (uint64_t)uptime_s * 1000 : 0);
	printf("denverd %s, pid %" JSON_INTEGER_FORMAT ", up %s\n", ctl_str(r, "version"),
	       json_integer_value(json_object_get(r, "pid")), up);
	printf("config:    %s\n", ctl_str(r, "config"));
	printf("state:     %s\n", ctl_str(r, "state_dir"));
	printf("timezone:  %s\n", ctl_str(r, "timezone"));
	if (json_object_get(r, "queued"))
		printf("queue:     %" JSON_INTEGER_FORMAT " waiting, %" JSON_INTEGER_FORMAT
		       " running\n", json_integer_value(json_object_get(r, "queued")),
		       json_integer_value(json_object_get(r, "running_count")));
	print_spark(json_object_get(r, "spark"));
	print_datasets(json_object_get(r, "datasets"));
	print_running(json_object_get(r, "running"));
}

const struct ctl_cmd cmd_status = {
	.name = "status", .help = "daemon, datasets, next scheduled runs, running tasks",
	.print = print_status,
};

/* ---- version, reload ---- */

static void print_version(json_t *r)
{
	printf("denverd %s (protocol %" JSON_INTEGER_FORMAT "), denverctl %s\n",
	       ctl_str(r, "version"), json_integer_value(json_object_get(r, "protocol")),
	       DENVERD_VERSION);
}

const struct ctl_cmd cmd_version = {
	.name = "version", .help = "versions of the daemon, the protocol and denverctl",
	.print = print_version,
};

static void print_reload(json_t *r)
{
	printf("reloaded %s\n", ctl_str(r, "config"));
}

const struct ctl_cmd cmd_reload = {
	.name = "reload", .help = "re-read the configuration (kept as is if the new one is invalid)",
	.print = print_reload,
};

/* ---- watch ---- */

/* One event line for humans: "TIME TYPE dataset exec_date task state
 * run=N: message". */
static void print_event(json_t *ev)
{
	static const char *const keys[] = { "dataset", "exec_date", "task", "state" };
	char when[64];

	ctl_fmt_time(json_object_get(ev, "ts"), when, sizeof when);
	printf("%s %-14s", when, ctl_str(ev, "type"));
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (json_string_value(json_object_get(ev, keys[i])))
			printf(" %s", ctl_str(ev, keys[i]));
	if (json_is_integer(json_object_get(ev, "run_id")))
		printf(" run=%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(ev, "run_id")));
	if (json_string_value(json_object_get(ev, "message")))
		printf(": %s", ctl_str(ev, "message"));
	putchar('\n');
	fflush(stdout);
}

/* Until the daemon closes the connection (or we are interrupted). */
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

const struct ctl_cmd cmd_watch = {
	.name = "watch", .help = "stream events as they happen until interrupted",
	.run = run_watch,
};

/* ---- metrics [-o FILE] ----
 *
 * The daemon already rendered Prometheus text; print it as is, or replace
 * FILE with it atomically (a temporary file in the same directory, renamed
 * over FILE) so that node_exporter's textfile collector never reads half
 * of it.  The temporary file's name is unique (two `metrics -o` at once do
 * not write into one) and FILE ends up 0644 whatever the umask: the
 * collector runs as another user. */

static const struct ctl_opt metrics_opts[] = {
	{ .name = "output", .shrt = 'o', .kind = CTL_STRING, .meta = "FILE", .key = "output",
	  .local = true, .help = "replace FILE atomically instead of printing" },
	{ 0 },
};

static int write_atomically(const char *path, const char *text)
{
	char *tmp = NULL;
	size_t len = strlen(text);
	int fd = -1, rc = -1;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		goto out;
	}
	if ((fd = mkstemp(tmp)) < 0)
		goto out;
	if (fchmod(fd, 0644) < 0)
		goto out;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto out;
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	rc = rename(tmp, path);
out:
	if (rc < 0) {
		fprintf(stderr, "%s: cannot write %s: %s\n", ctl_prog, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		if (tmp)
			unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* A file that cannot be written exits 1, as an error of the daemon would. */
static int run_metrics(struct ctl *c, const struct ctl_cmd *cmd, json_t *args)
{
	const char *output = json_string_value(json_object_get(c->opts, "output"));
	json_t *r;
	int rc = ctl_call(c, cmd->name, args, &r);

	if (rc == 0 && !c->json && !output)
		fputs(ctl_str(r, "text"), stdout);
	else if (rc == 0 && !c->json && write_atomically(output, ctl_str(r, "text")) < 0)
		rc = EXIT_REMOTE;
	json_decref(r);
	return rc;
}

const struct ctl_cmd cmd_metrics = {
	.name = "metrics", .help = "Prometheus text: runs, fetches, checks, alerts",
	.opts = metrics_opts, .run = run_metrics,
};

/* ---- alerts [--dataset D] [--limit N]: what fires now, then the newest rows ---- */

static const struct ctl_opt alerts_opts[] = {
	{ .name = "dataset", .alias = 'd', .kind = CTL_STRING, .meta = "D", .key = "dataset",
	  .help = "only the alerts of dataset (or job) D" },
	{ .name = "limit", .alias = 'n', .kind = CTL_INT, .meta = "N", .key = "limit",
	  .min = 1, .max = 1000, .help = "the newest N alerts, default 20" },
	{ 0 },
};

static void print_alerts(json_t *r)
{
	json_t *firing = json_object_get(r, "firing"), *rows = json_object_get(r, "alerts"), *a;
	char when[64], sent[64];
	size_t i;

	if (json_array_size(firing)) {
		printf("firing now:");
		json_array_foreach(firing, i, a)
			printf("%s %s %s%s", i ? "," : "", ctl_str(a, "dataset"), ctl_str(a, "reason"),
			       json_is_true(json_object_get(a, "notified")) ? "" : " (held back)");
		printf("\n\n");
	}
	if (!json_array_size(rows)) {
		printf("no alerts\n");
		return;
	}
	printf("%-6s %-24s %-24s %-13s %-9s %-24s %5s  %s\n", "ID", "TIME", "DATASET",
	       "REASON", "STATE", "DELIVERED", "HELD", "MESSAGE");
	json_array_foreach(rows, i, a) {
		ctl_fmt_time(json_object_get(a, "ts"), when, sizeof when);
		ctl_fmt_time(json_object_get(a, "delivered"), sent, sizeof sent);
		printf("%-6" JSON_INTEGER_FORMAT " %-24s %-24s %-13s %-9s %-24s %5" JSON_INTEGER_FORMAT
		       "  %s\n", json_integer_value(json_object_get(a, "id")), when,
		       ctl_str(a, "dataset"), ctl_str(a, "reason"), ctl_str(a, "state"), sent,
		       json_integer_value(json_object_get(a, "suppressed")), ctl_str(a, "message"));
	}
}

const struct ctl_cmd cmd_alerts = {
	.name = "alerts", .help = "alerts firing now and the latest sent",
	.opts = alerts_opts, .print = print_alerts,
};
