/*
 * dq_diff - one snapshot diff as the check task runs it, for
 * tests/bench/withdrawn_bench: check PREV (writing its .keys), then time
 * the check of CUR against that index (writing CUR's .keys, as the task
 * does), with or without the aged-out/withdrawn split:
 *
 *   dq_diff CONFIG DATASET PREV PREV_DATE CUR CUR_DATE DIR [--no-split] [--threads N]
 *
 * --no-split checks both files with dq_input.no_split (no event times kept,
 * a 16-byte-per-row index as before the split).  Prints one JSON line:
 * {"seconds": the CUR check's dq_run wall time, "cpu": the process's CPU
 *  seconds over it (all its threads), "removed", "aged_out", "withdrawn",
 *  "split", "rows"}.  Exit 0, or 2 on an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "quality/dq.h"

static int one(const struct cfg_dataset *ds, const char *path, const char *date,
               const char *prev, const char *out, bool no_split, unsigned threads,
               struct dq_report **rep)
{
	struct dq_input in = { .path = path, .dataset = ds, .exec_date = date, .prev_rows = -1,
	                       .prev_keys = prev, .keys_out = out, .no_split = no_split,
	                       .threads = threads };
	char *err = NULL;
	int rc = dq_run(&in, rep, &err);

	if (rc < 0)
		fprintf(stderr, "dq_diff: %s: %s\n", path, err ? err : "check failed");
	free(err);
	return rc;
}

int main(int argc, char **argv)
{
	const char *pos[7];
	char prev_keys[4096], cur_keys[4096];
	struct dq_report *r = NULL;
	struct config *cfg;
	char *errors = NULL;
	bool no_split = false;
	unsigned threads = 1;
	struct timespec c0, c1;
	int n = 0, rc = 2;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-split") == 0)
			no_split = true;
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			threads = (unsigned)atoi(argv[++i]);
		else if (n < 7)
			pos[n++] = argv[i];
		else
			n = 8;
	}
	if (n != 7) {
		fprintf(stderr, "usage: dq_diff CONFIG DATASET PREV PREV_DATE CUR CUR_DATE DIR "
		        "[--no-split] [--threads N]\n");
		return 2;
	}
	if (config_load(pos[0], &cfg, &errors) < 0) {
		fprintf(stderr, "%s", errors ? errors : "cannot load the configuration\n");
		free(errors);
		return 2;
	}
	const struct cfg_dataset *ds = config_dataset(cfg, pos[1]);
	if (!ds) {
		fprintf(stderr, "dq_diff: no dataset %s\n", pos[1]);
		goto out;
	}
	snprintf(prev_keys, sizeof prev_keys, "%s/prev.keys", pos[6]);
	snprintf(cur_keys, sizeof cur_keys, "%s/cur.keys", pos[6]);
	if (one(ds, pos[2], pos[3], NULL, prev_keys, no_split, threads, &r) < 0)
		goto out;
	dq_report_free(r);
	r = NULL;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	if (one(ds, pos[4], pos[5], prev_keys, cur_keys, no_split, threads, &r) < 0)
		goto out;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	printf("{\"seconds\": %.6f, \"cpu\": %.6f, \"rows\": %llu, \"removed\": %llu, \"split\": %s, "
	       "\"aged_out\": %llu, \"withdrawn\": %llu}\n", r->seconds,
	       (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9,
	       (unsigned long long)r->rows, (unsigned long long)r->diff.removed,
	       r->diff.split ? "true" : "false", (unsigned long long)r->diff.aged_out,
	       (unsigned long long)r->diff.withdrawn);
	rc = 0;
out:
	dq_report_free(r);
	config_free(cfg);
	return rc;
}
