/*
 * cmd_ops.c - denverctl's operations commands: metrics (with an atomic
 * --output for node_exporter's textfile collector) and alerts.  Requests
 * and replies are described in denverd(8), sections METRICS and ALERTS.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"

/* metrics [-o FILE]: the daemon already rendered Prometheus text; print it
 * as is, or replace FILE with it atomically (a temporary file in the same
 * directory, renamed over FILE) so that node_exporter's textfile collector
 * never reads half of it. */
static const char *metrics_output;

int ops_build_metrics(int argc, char **argv, json_t *args)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (opt != 'o')
			return -1;
		metrics_output = optarg;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: metrics: unexpected argument '%s'\n", prog, argv[optind]);
		return -1;
	}
	return 0;
}

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
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		if (tmp)
			unlink(tmp);
	}
	free(tmp);
	return rc;
}

void ops_print_metrics(json_t *r)
{
	if (!metrics_output)
		fputs(str(r, "text"), stdout);
	else if (write_atomically(metrics_output, str(r, "text")) < 0)
		exit(EXIT_REMOTE);
}

/* alerts [--dataset D] [--limit N]: what fires now, then the newest rows. */
int ops_build_alerts(int argc, char **argv, json_t *args)
{
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, 'd' },
		{ "limit", required_argument, NULL, 'n' },
		{ 0 },
	};
	long n;
	int opt;
	while ((opt = getopt_long(argc, argv, "d:n:", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			json_object_set_new(args, "dataset", json_string(optarg));
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
		fprintf(stderr, "%s: alerts: unexpected argument '%s'\n", prog, argv[optind]);
		return -1;
	}
	return 0;
}

void ops_print_alerts(json_t *r)
{
	json_t *firing = json_object_get(r, "firing"), *rows = json_object_get(r, "alerts"), *a;
	char when[64], sent[64];
	size_t i;

	if (json_array_size(firing)) {
		printf("firing now:");
		json_array_foreach(firing, i, a)
			printf("%s %s %s%s", i ? "," : "", str(a, "dataset"), str(a, "reason"),
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
		fmt_time(json_object_get(a, "ts"), when, sizeof when);
		fmt_time(json_object_get(a, "delivered"), sent, sizeof sent);
		printf("%-6" JSON_INTEGER_FORMAT " %-24s %-24s %-13s %-9s %-24s %5" JSON_INTEGER_FORMAT
		       "  %s\n", json_integer_value(json_object_get(a, "id")), when,
		       str(a, "dataset"), str(a, "reason"), str(a, "state"), sent,
		       json_integer_value(json_object_get(a, "suppressed")), str(a, "message"));
	}
}
