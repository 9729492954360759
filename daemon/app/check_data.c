/*
 * check_data.c - `denverd --check-data DATASET FILE -c CONFIG [--date D]
 * [--json]`: the check task's checks on a local file, without a daemon or a
 * store (no previous snapshot, so no row-count change and no diff).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app/check_data.h"
#include "base/clock.h"
#include "common/fmt.h"
#include "quality/dq.h"
#include "domain/tz.h"

/* Observed values in their check's unit. */
static void fmt_observed(char *buf, size_t n, const struct dq_result *r)
{
	if (isnan(r->observed)) {
		snprintf(buf, n, "-");
		return;
	}
	switch (r->type) {
	case CHECK_COLUMNS:
	case CHECK_ROW_COUNT:
	case CHECK_UNIQUE:
		snprintf(buf, n, "%.0f", r->observed);
		break;
	case CHECK_FRESHNESS:
		snprintf(buf, n, "%.1fd", r->observed / 86400);
		break;
	default:
		fmt_percent(buf, n, r->observed);
		break;
	}
}

static void print_lines(FILE *out, const struct dq_result *r)
{
	if (!r->n_lines)
		return;
	fprintf(out, " (line%s", r->n_lines > 1 ? "s" : "");
	for (size_t i = 0; i < r->n_lines; i++)
		fprintf(out, "%s %llu", i ? "," : "", (unsigned long long)r->lines[i]);
	fprintf(out, "%s)", r->n_lines == DQ_MAX_LINES ? ", ..." : "");
}

static void print_table(FILE *out, const struct dq_report *r)
{
	static const char *const upper[] = { "pass", "WARN", "FAIL" };

	fprintf(out, "%s %s %s\n", r->dataset, r->exec_date, r->path);
	fprintf(out, "%llu bytes, %llu rows, %s, %s, %.3f s (%.0f MB/s)\n\n",
	        (unsigned long long)r->bytes, (unsigned long long)r->rows, r->encoding,
	        r->line_ending, r->seconds, r->seconds > 0 ? r->bytes / r->seconds / 1e6 : 0);
	fprintf(out, "%-20s %-12s %-8s %-7s %-10s %s\n", "CHECK", "TYPE", "SEVERITY", "OUTCOME",
	        "OBSERVED", "THRESHOLD");
	for (size_t i = 0; i < r->n_results; i++) {
		const struct dq_result *x = &r->results[i];
		char obs[32];
		fmt_observed(obs, sizeof obs, x);
		fprintf(out, "%-20s %-12s %-8s %-7s %-10s %s\n", x->name,
		        config_check_type_name(x->type), config_severity_name(x->severity),
		        upper[x->outcome], obs, x->threshold);
		if (x->detail[0] || x->n_lines) {
			fprintf(out, "    %s", x->detail);
			print_lines(out, x);
			fputc('\n', out);
		}
	}
	if (r->drift.added.n || r->drift.removed.n || r->drift.n_renamed)
		fprintf(out, "\ncolumns: %zu added, %zu absent, %zu renamed (see the columns check)\n",
		        r->drift.added.n, r->drift.removed.n, r->drift.n_renamed);
	fprintf(out, "\nCSV deviations:\n");
	for (int k = 0; k < CSV_I_N; k++) {
		const struct csv_issue_stat *s = &r->csv.issue[k];
		if (!s->count)
			continue;
		fprintf(out, "    %-20s %llu, first on line %llu (byte %llu)\n",
		        csv_issue_name((enum csv_issue)k), (unsigned long long)s->count,
		        (unsigned long long)s->at[0].line, (unsigned long long)s->at[0].offset);
	}
	fprintf(out, "\nresult: %s\n", dq_outcome_name(r->outcome));
}

/* Today in the configured time zone. */
static int today(const struct config *cfg, char out[11])
{
	struct tz *tz;
	int rc = tz_load(cfg->timezone ? cfg->timezone : "America/Denver", &tz);
	if (rc < 0)
		return rc;
	tz_date(tz, clock_now_ms() / 1000, out);
	tz_free(tz);
	return 0;
}

int checkdata_main(const struct config *cfg, const char *dataset, const char *file,
                   const char *exec_date, bool json)
{
	const struct cfg_dataset *ds = config_dataset(cfg, dataset);
	struct dq_input in = { .path = file, .dataset = ds, .prev_rows = -1,
	                       .threads = cfg->limits.check_threads };
	struct dq_report *r = NULL;
	char day[11], *err = NULL;
	int rc;

	if (!ds) {
		fprintf(stderr, "denverd: no dataset named '%s' in %s\n", dataset,
		        cfg->path ? cfg->path : "the configuration");
		return CHECKDATA_ERROR;
	}
	if (!exec_date) {
		if ((rc = today(cfg, day)) < 0) {
			fprintf(stderr, "denverd: time zone %s: %s\n", cfg->timezone, strerror(-rc));
			return CHECKDATA_ERROR;
		}
		exec_date = day;
	}
	in.exec_date = exec_date;
	if ((rc = dq_run(&in, &r, &err)) < 0) {
		fprintf(stderr, "denverd: %s\n", err ? err : strerror(-rc));
		free(err);
		return CHECKDATA_ERROR;
	}
	if (json) {
		json_t *j = dq_report_json(r);
		rc = j ? json_dumpf(j, stdout, JSON_INDENT(2)) : -1;
		json_decref(j);
		if (rc < 0) {
			fprintf(stderr, "denverd: out of memory\n");
			dq_report_free(r);
			return CHECKDATA_ERROR;
		}
		fputc('\n', stdout);
	} else {
		print_table(stdout, r);
	}
	rc = r->outcome == DQ_FAIL ? CHECKDATA_FAIL : CHECKDATA_OK;
	dq_report_free(r);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "denverd: writing the report: %s\n", strerror(errno));
		return CHECKDATA_ERROR;
	}
	return rc;
}
