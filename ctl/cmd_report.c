/*
 * cmd_report.c - denverctl report [--date D]: the datastore state a report
 * read (per dataset its commits and fingerprint) and whether the datastore
 * is still in it.  The request and reply are in denverd(8), CONTROL
 * PROTOCOL.
 */
#include <stdbool.h>
#include <stdio.h>

#include "ctl/ctl.h"

static const struct ctl_opt report_opts[] = {
	{ .name = "date", .kind = CTL_DATE, .meta = "D", .key = "date",
	  .help = "the report of that exec date, default the newest" },
	{ 0 },
};

/* The commit records of A, newest first: "  #SEQ run R exec D snapshot H". */
static void print_commits(json_t *a, const char *indent)
{
	json_t *c;
	size_t i = json_array_size(a);

	while (i-- > 0) {
		c = json_array_get(a, i);
		json_t *run = json_object_get(c, "run_id");
		char runbuf[32] = "-";
		if (json_is_integer(run))
			snprintf(runbuf, sizeof runbuf, "%" JSON_INTEGER_FORMAT, json_integer_value(run));
		printf("%s#%-6" JSON_INTEGER_FORMAT " run %-8s exec %-10s snapshot %s (%s)\n", indent,
		       json_integer_value(json_object_get(c, "seq")), runbuf, ctl_str(c, "exec_date"),
		       ctl_str(c, "snapshot_hash"), ctl_str(c, "snapshot"));
	}
}

static void print_report(json_t *r)
{
	json_t *ds, *now;
	size_t i;

	/* a daemon before "now_read" always read it */
	bool now_read = !json_is_false(json_object_get(r, "now_read"));

	printf("report %s (%s)\n", ctl_str(r, "exec_date"), ctl_str(r, "path"));
	if (!json_is_true(json_object_get(r, "state_recorded"))) {
		printf("this report records no datastore state (made before denverd recorded it)\n");
		return;
	}
	if (!now_read)
		printf("the datastore is on S3 (%s): its state now is not read from S3, so whether "
		       "it changed since this report is not known\n", ctl_str(r, "datastore"));
	json_array_foreach(json_object_get(r, "datasets"), i, ds) {
		json_int_t count = json_integer_value(json_object_get(ds, "commit_count"));
		json_int_t shown = (json_int_t)json_array_size(json_object_get(ds, "commits"));
		json_int_t newer = json_integer_value(json_object_get(ds, "newer_commits"));

		now = json_object_get(ds, "now");
		printf("\n%s: %" JSON_INTEGER_FORMAT " commits, %" JSON_INTEGER_FORMAT " files, "
		       "%" JSON_INTEGER_FORMAT " bytes\n", ctl_str(ds, "name"), count,
		       json_integer_value(json_object_get(ds, "files")),
		       json_integer_value(json_object_get(ds, "bytes")));
		printf("  fingerprint %s\n", ctl_str(ds, "fingerprint"));
		print_commits(json_object_get(ds, "commits"), "  ");
		if (shown < count)
			printf("  (and %" JSON_INTEGER_FORMAT " older)\n", count - shown);
		if (!now_read || json_is_null(json_object_get(ds, "changed"))) {
			printf("  state now not read (on S3)\n");
			continue;
		}
		if (!json_is_true(json_object_get(ds, "changed"))) {
			printf("  current\n");
			continue;
		}
		printf("  the datastore has changed since this report (%" JSON_INTEGER_FORMAT
		       " newer commit%s)\n", newer, newer == 1 ? "" : "s");
		printf("  now: fingerprint %s, %" JSON_INTEGER_FORMAT " commits\n",
		       ctl_str(now, "fingerprint"),
		       json_integer_value(json_object_get(now, "commit_count")));
		print_commits(json_object_get(ds, "newer"), "  + ");
	}
}

const struct ctl_cmd cmd_report = {
	.name = "report",
	.help = "the datastore state a report read, and whether it has changed since",
	.opts = report_opts, .print = print_report,
};
