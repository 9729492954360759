/*
 * cmd_purge.c - `denverctl purge DATASET --before D [--yes]`: the snapshot
 * partitions of DATASET older than D in staging/ and quarantine/, listed
 * (a dry run, the default) or removed (--yes), and those that stay with
 * the daemon's reason.  Exit 1 when a removal failed; --json prints the
 * reply as it came.  The reply is described in denverd(8), CONTROL
 * PROTOCOL, `purge`.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/fmt.h"
#include "ctl/ctl.h"

static const struct ctl_opt purge_opts[] = {
	{ .name = "before", .alias = 'b', .kind = CTL_DATE, .meta = "D", .key = "before",
	  .required = true, .help = "purge the snapshots of exec dates before D" },
	{ .name = "yes", .alias = 'y', .kind = CTL_FLAG, .key = "yes",
	  .help = "remove them; without it, only list what would go" },
	{ 0 },
};

/* BYTES as "498 B" or "1.2MiB" into BUF (FMT_SIZE_MAX bytes). */
static const char *size_text(char *buf, json_t *bytes)
{
	uint64_t n = (uint64_t)json_integer_value(bytes);

	if (n < 1024) {
		snprintf(buf, FMT_SIZE_MAX, "%u B", (unsigned)n);
		return buf;
	}
	return fmt_size(buf, FMT_SIZE_MAX, n);
}

/* "staging     2026-11-01  2 files  1.2MiB  snapshots 3,4  PATH". */
static void print_part(json_t *x, const char *tail)
{
	json_t *ids = json_object_get(x, "snapshots"), *id;
	char size[FMT_SIZE_MAX], list[96] = "-";
	size_t i, used = 0;

	json_array_foreach(ids, i, id) {
		int n = snprintf(list + used, sizeof list - used, "%s%" JSON_INTEGER_FORMAT,
		                 i ? "," : "", json_integer_value(id));
		if (n < 0 || (size_t)n >= sizeof list - used)
			break;
		used += (size_t)n;
	}
	size_text(size, json_object_get(x, "bytes"));
	printf("  %-10s  %-10s  %3" JSON_INTEGER_FORMAT " files  %9s  snapshots %-12s  %s%s\n",
	       ctl_str(x, "area"), ctl_str(x, "exec_date"),
	       json_integer_value(json_object_get(x, "files")), size, list, ctl_str(x, "path"),
	       tail);
}

static void print_purge(json_t *r)
{
	bool dry = json_is_true(json_object_get(r, "dry_run"));
	json_t *parts = json_object_get(r, "partitions"), *kept = json_object_get(r, "kept");
	json_t *missing = json_object_get(r, "missing"), *x;
	char size[FMT_SIZE_MAX], tail[300];
	size_t i;

	printf("purge %s before %s%s\n", ctl_str(r, "dataset"), ctl_str(r, "before"),
	       dry ? ": dry run, nothing removed" : "");
	if (json_array_size(parts))
		printf("%s:\n", dry ? "would remove (run again with --yes)" : "removed");
	json_array_foreach(parts, i, x) {
		snprintf(tail, sizeof tail, "%s%s", json_is_string(json_object_get(x, "error")) ?
		         "  FAILED: " : "", json_is_string(json_object_get(x, "error")) ?
		         ctl_str(x, "error") : "");
		print_part(x, tail);
	}
	if (json_array_size(kept))
		printf("kept:\n");
	json_array_foreach(kept, i, x) {
		snprintf(tail, sizeof tail, "\n      because: %s", ctl_str(x, "reason"));
		print_part(x, tail);
	}
	if (json_array_size(missing))
		printf("%zu snapshot rows before %s have no files any more%s\n",
		       json_array_size(missing), ctl_str(r, "before"),
		       dry ? " (--yes marks them removed)" : ": marked removed");
	size_text(size, json_object_get(r, "bytes"));
	if (dry)
		printf("%zu partitions (%s) would be removed", json_array_size(parts), size);
	else
		printf("%" JSON_INTEGER_FORMAT " of %zu partitions removed (%s listed), %"
		       JSON_INTEGER_FORMAT " failed", json_integer_value(json_object_get(r, "removed")),
		       json_array_size(parts), size, json_integer_value(json_object_get(r, "failed")));
	printf("; %zu kept\n", json_array_size(kept));
	if (json_is_string(json_object_get(r, "error")))
		printf("error: %s\n", ctl_str(r, "error"));
}

/* One request; exit 1 when a removal failed, as for an error reply. */
static int run_purge(struct ctl *c, const struct ctl_cmd *cmd, json_t *args)
{
	json_t *r = NULL;
	int rc = ctl_call(c, cmd->name, args, &r);

	if (rc)
		return rc;
	if (!c->json)
		print_purge(r);
	if (json_integer_value(json_object_get(r, "failed")) > 0 ||
	    json_is_string(json_object_get(r, "error"))) {
		fprintf(stderr, "%s: purge: not everything could be removed\n", ctl_prog);
		rc = EXIT_REMOTE;
	}
	json_decref(r);
	return rc;
}

const struct ctl_cmd cmd_purge = {
	.name = "purge", .help = "remove snapshots older than a date (dry run without --yes)",
	.operand = &ctl_operand_dataset, .opts = purge_opts, .print = print_purge,
	.run = run_purge,
};
