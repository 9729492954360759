/*
 * fuzz_dq.c - libFuzzer harness for the check engine (dq*.c, keyidx.c,
 * value.c) over the scanner.
 *
 * The input is a snapshot of a dataset shaped like the 2014 traffic file,
 * with every check type configured.  It is checked once writing a key
 * index, then its first part is checked against that index (diff, example
 * keys read back from both files), and both reports are rendered as JSON.
 * Crashes, leaks, undefined behaviour and broken invariants abort.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"
#include "quality/dq.h"

static const char yaml[] =
	"datasets:\n"
	"  t:\n"
	"    url: https://example.org/t.csv\n"
	"    schedule: \"0 6 * * *\"\n"
	"    schema:\n"
	"      key: [incident_id, district_id]\n"
	"      event_time: reported_date\n"
	"      timestamp_formats: [\"%Y-%m-%d %H:%M:%S\", \"%Y-%m-%d %H:%M:%S.%f\","
	" \"%m/%d/%Y %I:%M:%S %p\"]\n"
	"      columns:\n"
	"        - {name: incident_id, type: int}\n"
	"        - {name: district_id, type: string}\n"
	"        - {name: first_occurrence_date, type: timestamp}\n"
	"        - {name: reported_date, type: timestamp}\n"
	"        - {name: day, type: date, formats: [\"%m/%d/%Y\"], required: false}\n"
	"        - {name: geo_x, type: float, nulls: [\"0\"]}\n"
	"        - {name: geo_lon, type: float, aliases: [longitude], nulls: [\"0\", \"0.0\"]}\n"
	"        - {name: geo_lat, type: float, aliases: [latitude]}\n"
	"        - {name: neighborhood_id, type: string}\n"
	"        - {name: flag, type: bool, required: false}\n"
	"    checks:\n"
	"      header: {type: columns}\n"
	"      rows: {type: row_count, min: 2, max: 100, max_change: 10%}\n"
	"      unique: {type: unique, severity: warn}\n"
	"      nulls: {type: nulls, columns: [incident_id, geo_x], max_null: 1%}\n"
	"      more_nulls: {type: nulls, columns: [district_id, neighborhood_id, day], max_null: 50%,"
	" severity: warn}\n"
	"      x: {type: range, columns: [geo_x], min: 3.05e6, max: 3.3e6, max_bad: 5%}\n"
	"      box: {type: coordinates, lat: geo_lat, lon: geo_lon, min_lat: 39.6, max_lat: 39.92,"
	" min_lon: -105.11, max_lon: -104.6, max_bad: 5%}\n"
	"      dates: {type: timestamps, max_unparsed: 1%, future_slack: 1d}\n"
	"      fresh: {type: freshness, max_age: 7d, severity: warn}\n"
	"      hood: {type: allowed, columns: [neighborhood_id], values: [baker, \" Auraria \","
	" DIA], max_bad: 2%}\n";

static struct config *cfg;
static char dir[64];

static void put(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

static struct dq_report *check(const char *path, const char *prev, const char *out,
                               int64_t prev_rows)
{
	struct dq_input in = { .path = path, .dataset = &cfg->datasets[0],
	                       .exec_date = "2014-05-08", .prev_rows = prev_rows,
	                       .prev_keys = prev, .keys_out = out };
	struct dq_report *r = NULL;
	char *err = NULL;
	json_t *j;
	char *text;

	if (dq_run(&in, &r, &err) < 0)
		abort();        /* the files are there: nothing may fail */
	if (r->rows + (r->csv.rows > 0) != r->csv.rows || r->n_results != cfg->datasets[0].n_checks)
		abort();
	for (size_t i = 0; i < r->n_results; i++)
		if (!r->results[i].threshold || !r->results[i].detail ||
		    r->results[i].n_lines > DQ_MAX_LINES)
			abort();
	if (!(j = dq_report_json(r)) || !(text = json_dumps(j, 0)))
		abort();
	free(text);
	json_decref(j);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char a[96], b[96], ka[96];
	struct dq_report *r;
	int64_t rows;

	if (!cfg) {
		char *errs = NULL;
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		if (config_parse("fuzz.yaml", yaml, sizeof yaml - 1, &cfg, &errs) < 0) {
			fprintf(stderr, "%s", errs);
			abort();
		}
		snprintf(dir, sizeof dir, "%s/fuzz_dq.XXXXXX", base);
		if (!mkdtemp(dir))
			abort();
	}
	snprintf(a, sizeof a, "%s/a.csv", dir);
	snprintf(b, sizeof b, "%s/b.csv", dir);
	snprintf(ka, sizeof ka, "%s/a.keys", dir);
	put(a, data, size);
	put(b, data, size - size / 3);
	r = check(a, NULL, ka, -1);
	rows = (int64_t)r->rows;
	dq_report_free(r);
	r = check(b, ka, NULL, rows);
	if (r->diff.done && r->diff.added + r->diff.changed + r->diff.unchanged >
	                    r->rows - r->null_keys)
		abort();
	dq_report_free(r);
	unlink(a);
	unlink(b);
	unlink(ka);
	return 0;
}
