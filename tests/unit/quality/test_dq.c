/* test_dq.c - the check engine: each check type passing, warning and
 * failing with its exact observed value and offending lines; schema drift;
 * swapped coordinates; the timestamp formats; uniqueness; the diff between
 * two snapshots through their key indexes; the real 2014 sample. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"
#include "quality/dq.h"
#include "quality/keyidx.h"
#include "quality/value.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[64];

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/denverd-dq-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct config *load(const char *yaml)
{
	struct config *cfg = NULL;
	char *errs = NULL;
	int rc = config_parse("test.yaml", yaml, strlen(yaml), &cfg, &errs);
	if (rc != 0)
		fail_msg("config: %s", errs ? errs : "?");
	return cfg;
}

/* Write CONTENT to tmpdir/NAME (directories created); returns a new path. */
static char *put_file(const char *name, const char *content, size_t len)
{
	char *path, *slash;
	FILE *f;
	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	for (slash = strchr(path + strlen(tmpdir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	fclose(f);
	return path;
}

static struct dq_report *check(const struct config *cfg, const char *file,
                               const char *exec_date, int64_t prev_rows,
                               const char *prev_keys, const char *keys_out)
{
	struct dq_input in = {
		.path = file, .dataset = &cfg->datasets[0], .exec_date = exec_date,
		.prev_rows = prev_rows, .prev_keys = prev_keys, .keys_out = keys_out,
	};
	struct dq_report *r = NULL;
	char *err = NULL;
	int rc = dq_run(&in, &r, &err);
	if (rc != 0)
		fail_msg("dq_run: %d %s", rc, err ? err : "");
	return r;
}

static const struct dq_result *result(const struct dq_report *r, const char *name)
{
	for (size_t i = 0; i < r->n_results; i++)
		if (strcmp(r->results[i].name, name) == 0)
			return &r->results[i];
	fail_msg("no result %s", name);
	return NULL;
}

static void expect(const struct dq_report *rep, const char *name, enum dq_outcome outcome,
                   double observed, const uint64_t *lines, size_t n_lines)
{
	const struct dq_result *r = result(rep, name);
	if (r->outcome != outcome)
		fail_msg("%s: outcome %s, want %s (%s)", name, dq_outcome_name(r->outcome),
		         dq_outcome_name(outcome), r->detail);
	if (isnan(observed) ? !isnan(r->observed) : fabs(r->observed - observed) > 1e-9)
		fail_msg("%s: observed %.17g, want %.17g (%s)", name, r->observed, observed, r->detail);
	if (r->n_lines != n_lines)
		fail_msg("%s: %zu lines, want %zu", name, r->n_lines, n_lines);
	for (size_t i = 0; i < n_lines; i++)
		if (r->lines[i] != lines[i])
			fail_msg("%s: line[%zu] %llu, want %llu", name, i,
			         (unsigned long long)r->lines[i], (unsigned long long)lines[i]);
	assert_non_null(r->threshold);
	assert_non_null(r->detail);
}

#define LINES(...) (const uint64_t[]){ __VA_ARGS__ }, N(((const uint64_t[]){ __VA_ARGS__ }))
#define NO_LINES NULL, 0

#define DS "datasets:\n  d:\n    url: https://example.org/d.csv\n    schedule: \"0 6 * * *\"\n"

static const char checks_yaml[] = DS
	"    schema:\n"
	"      key: [id]\n"
	"      event_time: ts\n"
	"      timestamp_formats: [\"%Y-%m-%d %H:%M:%S\", \"%m/%d/%Y %I:%M:%S %p\"]\n"
	"      columns:\n"
	"        - {name: id, type: int}\n"
	"        - {name: ts, type: timestamp}\n"
	"        - {name: day, type: date, formats: [\"%m/%d/%Y\"]}\n"
	"        - {name: lat, type: float, nulls: [\"0\"]}\n"
	"        - {name: lon, type: float, nulls: [\"0\"]}\n"
	"        - {name: n, type: int, required: false}\n"
	"        - {name: cond, type: string}\n"
	"    checks:\n"
	"      header: {type: columns}\n"
	"      rows: {type: row_count, min: 5, max: 100, max_change: 50%}\n"
	"      uniq: {type: unique}\n"
	"      idnull: {type: nulls, columns: [id], max_null: 0%}\n"
	"      daynull: {type: nulls, columns: [day], max_null: 20%, severity: warn}\n"
	"      ts_ok: {type: timestamps, columns: [ts], max_unparsed: 20%, future_slack: 1d,"
	" severity: warn}\n"
	"      days: {type: timestamps, columns: [day], max_unparsed: 0%, severity: warn}\n"
	"      box: {type: coordinates, lat: lat, lon: lon, min_lat: 39.6, max_lat: 39.92,"
	" min_lon: -105.11, max_lon: -104.6, max_bad: 10%, severity: warn}\n"
	"      nrange: {type: range, columns: [n], min: 0, max: 50, max_bad: 0%, severity: warn}\n"
	"      fresh: {type: freshness, max_age: 2d, severity: warn}\n"
	"      cond: {type: allowed, columns: [cond], values: [Dry, Wet, Icy], max_bad: 10%,"
	" severity: warn}\n";

static const char checks_csv[] =
	"id,ts,day,lat,lon,n,cond\n"                                      /* 1 */
	"1,2026-03-01 10:00:00,03/01/2026,39.7,-104.9,1,Dry\n"            /* 2 */
	"2,3/2/2026 4:16:00 PM,3/2/2026,39.8,-105.0,2,wet\n"              /* 3 */
	"3,2026-03-03 11:00:00,03/03/2026,-104.9,39.7,3, DRY\n"           /* 4: swapped */
	"4,not a date,03/04/2026,40.5,-104.9,60,Snow\n"                   /* 5: bad ts, outside, n, cond */
	"5,2026-03-12 00:00:01,03/05/2026,0,0,,Wet\n"                     /* 6: future, missing */
	",2026-03-06 09:00:00,03/06/2026,39.7,-104.9,1,Dry\n"             /* 7: null id */
	"2,2026-03-07 09:00:00,03/07/2026,39.7,-104.9,1,Icy\n"            /* 8: duplicate */
	"2.0,2026-03-08 09:00:00,,39.7,-104.9,1,Dry\n"                    /* 9: duplicate, null day */
	"6,2026-03-09 23:59:59,03/09/2026,39.7,abc,1,Dry\n";              /* 10: lon not a number */

static void test_each_check(void **state)
{
	struct config *cfg = load(checks_yaml);
	char *file = put_file("checks.csv", checks_csv, sizeof checks_csv - 1);
	struct dq_report *r = check(cfg, file, "2026-03-10", 8, NULL, NULL);

	assert_int_equal(r->rows, 9);
	assert_int_equal(r->null_keys, 1);
	assert_string_equal(r->encoding, "utf-8");
	assert_string_equal(r->line_ending, "lf");
	expect(r, "header", DQ_PASS, 0, NO_LINES);
	expect(r, "rows", DQ_PASS, 9, NO_LINES);
	expect(r, "uniq", DQ_FAIL, 2, LINES(8, 9));
	expect(r, "idnull", DQ_FAIL, 1.0 / 9, LINES(7));
	expect(r, "daynull", DQ_PASS, 1.0 / 9, LINES(9));
	expect(r, "ts_ok", DQ_WARN, 1.0 / 9, LINES(5, 6));
	expect(r, "days", DQ_PASS, 0, NO_LINES);
	expect(r, "box", DQ_WARN, 3.0 / 8, LINES(4, 5, 10));
	expect(r, "nrange", DQ_WARN, 1.0 / 8, LINES(5));
	/* the newest event time is in the future: fresh (the timestamps check
	 * is the one that objects) */
	expect(r, "fresh", DQ_PASS, -86401, NO_LINES);
	expect(r, "cond", DQ_WARN, 1.0 / 9, LINES(5));
	assert_int_equal(r->outcome, DQ_FAIL);
	assert_non_null(strstr(result(r, "box")->detail,
	                       "1 swapped lat/lon, 1 outside the box, 1 not numbers; 1 of 9 rows missing"));
	assert_non_null(strstr(result(r, "cond")->detail, "unexpected: 'Snow'"));
	assert_non_null(strstr(result(r, "uniq")->detail, "key 2 on lines 3 and 8"));
	assert_non_null(strstr(result(r, "uniq")->detail, "1 rows with no key value"));
	assert_non_null(strstr(result(r, "rows")->detail, "previous 8 (+12.5%)"));
	assert_non_null(strstr(result(r, "ts_ok")->detail, "ts 11.1% unparsed (1 of 9), 1 in the future"));
	dq_report_free(r);

	/* row count out of its change band, and below its minimum */
	r = check(cfg, file, "2026-03-10", 4, NULL, NULL);
	expect(r, "rows", DQ_FAIL, 9, NO_LINES);
	dq_report_free(r);
	free(file);
	file = put_file("short.csv", checks_csv, 200);   /* header + 3 rows and a bit */
	r = check(cfg, file, "2026-03-10", -1, NULL, NULL);
	expect(r, "rows", DQ_FAIL, 4, NO_LINES);
	dq_report_free(r);

	/* freshness: the newest event time is older than max_age */
	r = check(cfg, file, "2026-03-20", -1, NULL, NULL);
	expect(r, "fresh", DQ_WARN, (double)(17 * 86400 + 13 * 3600), NO_LINES);
	dq_report_free(r);
	free(file);
	config_free(cfg);
}

static void test_drift(void **state)
{
	struct config *cfg = load(DS
		"    schema:\n"
		"      columns:\n"
		"        - {name: incident_id, type: int}\n"
		"        - {name: offense_id, type: int}\n"
		"        - {name: geo_lon, type: float, aliases: [longitude]}\n"
		"        - {name: geo_lat, type: float, aliases: [latitude]}\n"
		"        - {name: reported_date, type: timestamp}\n"
		"        - {name: bicycle_ind, type: int, required: false}\n"
		"    checks:\n      header: {type: columns}\n");
	static const char csv[] = "INCIDENT_ID,Longitude,latitude,Extra Col, Reported Date \n"
	                          "1,-104.9,39.7,x,2026-03-01 10:00:00\n";
	static const char csv2[] = "incident_id,offense_id,longitude,GEO_LON,geo_lat,"
	                           "reported_date,Bicycle_Ind\n1,2,3,4,5,6,7\n";
	char *file = put_file("drift.csv", csv, sizeof csv - 1);
	struct dq_report *r = check(cfg, file, "2026-03-10", -1, NULL, NULL);

	expect(r, "header", DQ_FAIL, 1, LINES(1));
	assert_int_equal(r->drift.added.n, 1);
	assert_string_equal(r->drift.added.items[0], "Extra Col");
	assert_int_equal(r->drift.removed.n, 2);
	assert_string_equal(r->drift.removed.items[0], "offense_id");
	assert_string_equal(r->drift.removed.items[1], "bicycle_ind");
	assert_int_equal(r->drift.n_renamed, 2);
	assert_string_equal(r->drift.renamed[0].from, "Longitude");
	assert_string_equal(r->drift.renamed[0].to, "geo_lon");
	assert_string_equal(r->drift.renamed[1].from, "latitude");
	assert_string_equal(r->drift.renamed[1].to, "geo_lat");
	assert_string_equal(result(r, "header")->detail,
	                    "missing required: offense_id; absent: offense_id, bicycle_ind; "
	                    "added: Extra Col; renamed: Longitude -> geo_lon, latitude -> geo_lat");
	dq_report_free(r);
	free(file);

	/* The exact name wins over an alias wherever it stands. */
	file = put_file("drift2.csv", csv2, sizeof csv2 - 1);
	r = check(cfg, file, "2026-03-10", -1, NULL, NULL);
	expect(r, "header", DQ_PASS, 0, NO_LINES);
	assert_int_equal(r->drift.added.n, 1);
	assert_string_equal(r->drift.added.items[0], "longitude");
	assert_int_equal(r->drift.n_renamed, 0);
	assert_int_equal(r->drift.removed.n, 0);
	dq_report_free(r);
	free(file);

	/* An empty file has no header: every required column is missing. */
	file = put_file("empty.csv", "", 0);
	r = check(cfg, file, "2026-03-10", -1, NULL, NULL);
	expect(r, "header", DQ_FAIL, 5, LINES(1));
	assert_int_equal(r->rows, 0);
	assert_non_null(strstr(result(r, "header")->detail, "the file has no header row"));
	dq_report_free(r);
	free(file);
	config_free(cfg);
}

/* Latitude in the longitude column (311): outside the box, not swapped;
 * both swapped: counted apart; zero_is_null off: 0,0 is outside. */
static void test_coordinates(void **state)
{
	struct config *cfg = load(DS
		"    schema:\n"
		"      columns:\n"
		"        - {name: longitude, type: float}\n"
		"        - {name: latitude, type: float}\n"
		"    checks:\n"
		"      c: {type: coordinates, lat: latitude, lon: longitude, min_lat: 39.6,"
		" max_lat: 39.92, min_lon: -105.11, max_lon: -104.6, max_bad: 50%}\n"
		"      z: {type: coordinates, lat: latitude, lon: longitude, min_lat: 39.6,"
		" max_lat: 39.92, min_lon: -105.11, max_lon: -104.6, zero_is_null: false,"
		" max_bad: 50%}\n");
	static const char csv[] = "Longitude,Latitude\n"
	                          "-104.98,39.74\n"      /* 2 ok */
	                          "39.74,39.74\n"        /* 3 latitude in longitude */
	                          "39.74,-104.98\n"      /* 4 swapped */
	                          "0,0\n"                /* 5 missing, or outside */
	                          ",39.7\n"              /* 6 missing */
	                          "-104.7,39.9\n";       /* 7 ok */
	char *file = put_file("coords.csv", csv, sizeof csv - 1);
	struct dq_report *r = check(cfg, file, "2026-03-10", -1, NULL, NULL);

	expect(r, "c", DQ_PASS, 2.0 / 4, LINES(3, 4));
	assert_non_null(strstr(result(r, "c")->detail,
	                       "1 swapped lat/lon, 1 outside the box, 0 not numbers; 2 of 6 rows missing"));
	expect(r, "z", DQ_FAIL, 3.0 / 5, LINES(3, 4, 5));
	dq_report_free(r);
	free(file);
	config_free(cfg);
}

static const struct {
	const char *fmt, *in;
	bool ok;
	const char *want;       /* YYYY-MM-DD HH:MM:SS */
} ts_cases[] = {
	{ "%Y-%m-%d %H:%M:%S", "2014-01-07 14:19:59", true, "2014-01-07 14:19:59" },
	{ "%Y-%m-%d %H:%M:%S", "2014-1-7 4:19:59", true, "2014-01-07 04:19:59" },
	{ "%Y-%m-%d %H:%M:%S", "2014-01-07 14:19", false, NULL },
	{ "%Y-%m-%d %H:%M:%S", "2014-01-07 24:00:00", false, NULL },
	{ "%Y-%m-%d %H:%M:%S", "2014-01-07 14:19:59 ", false, NULL },
	{ "%Y-%m-%d %H:%M:%S", "2014-02-29 00:00:00", false, NULL },
	{ "%Y-%m-%d %H:%M:%S", "2016-02-29 00:00:00", true, "2016-02-29 00:00:00" },
	{ "%Y-%m-%d %H:%M:%S", "2014-01-07 14:9:59", false, NULL },      /* %M: 2 digits */
	{ "%Y-%m-%d %H:%M:%S.%f", "2020-01-21 12:40:00.000001", true, "2020-01-21 12:40:00" },
	{ "%Y-%m-%d %H:%M:%S.%f", "2020-01-21 12:40:00.5", true, "2020-01-21 12:40:00" },
	{ "%Y-%m-%d %H:%M:%S.%f", "2020-01-21 12:40:00.", false, NULL },
	{ "%Y-%m-%d %H:%M:%S.%f", "2020-01-21 12:40:00.1234567890", false, NULL },
	/* %z: the offset is checked, the wall-clock time kept (the pager's form) */
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00-07:00", true, "2018-11-11 15:44:00" },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-07-04T09:00:00-06:00", true, "2018-07-04 09:00:00" },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00Z", true, "2018-11-11 15:44:00" },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00+0530", true, "2018-11-11 15:44:00" },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00", false, NULL },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00-7:00", false, NULL },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00+15:00", false, NULL },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00-07:00 ", false, NULL },
	{ "%m/%d/%Y %I:%M:%S %p", "8/2/2025 4:16:00 PM", true, "2025-08-02 16:16:00" },
	{ "%m/%d/%Y %I:%M:%S %p", "12/31/2015 06:51:06 PM", true, "2015-12-31 18:51:06" },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 9:51:11 am", true, "2019-01-01 09:51:11" },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 12:05:00 AM", true, "2019-01-01 00:05:00" },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 12:05:00 PM", true, "2019-01-01 12:05:00" },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 13:05:00 PM", false, NULL },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 0:05:00 PM", false, NULL },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 1:05:00", false, NULL },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 1:05:00 XM", false, NULL },
	{ "%m/%d/%Y", "01/29/2016", true, "2016-01-29 00:00:00" },
	{ "%m/%d/%Y", "01/29/2016 09:36:08 PM", false, NULL },
	{ "%m/%d/%Y", "13/01/2016", false, NULL },
	{ "%m/%d/%Y", "8/2/25", false, NULL },
	{ "%m/%d/%Y", "123/1/2016", false, NULL },
	{ "%d.%m.%Y %%", "02.08.2025 %", true, "2025-08-02 00:00:00" },
	{ "%Y-%m-%d", "", false, NULL },
	{ "%Y-%m-%d", "1969-12-31", true, "1969-12-31 00:00:00" },
};

static void test_timestamp_formats(void **state)
{
	struct tsfmt f;
	for (size_t i = 0; i < N(ts_cases); i++) {
		int64_t secs = 0;
		bool ok;
		assert_int_equal(tsfmt_compile(ts_cases[i].fmt, &f), 0);
		ok = tsfmt_match(&f, ts_cases[i].in, strlen(ts_cases[i].in), &secs);
		if (ok != ts_cases[i].ok)
			fail_msg("%s on '%s': %d", ts_cases[i].fmt, ts_cases[i].in, ok);
		if (ok) {
			char buf[32];
			time_t t = (time_t)secs;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
			assert_string_equal(buf, ts_cases[i].want);
		}
	}
	assert_int_equal(tsfmt_compile("%H:%M:%S", &f), -EINVAL);      /* no date */
	assert_int_equal(tsfmt_compile("%Y-%m-%d %Q", &f), -EINVAL);
	assert_int_equal(tsfmt_compile("%Y-%m-%d %", &f), -EINVAL);
	assert_int_equal(tsfmt_compile("%Y-%m-%d.................................", &f), -EINVAL);
}

static void test_values(void **state)
{
	static const struct { const char *in; bool ok; double v; } dbl[] = {
		{ "39.7522287", true, 39.7522287 }, { "-104.7575669", true, -104.7575669 },
		{ "3150708.0", true, 3150708.0 }, { "0", true, 0 }, { "-0.5", true, -0.5 },
		{ ".5", true, 0.5 }, { "5.", true, 5 }, { "+7", true, 7 }, { "1e3", true, 1000 },
		{ "3.05e6", true, 3.05e6 }, { "1E-2", true, 0.01 }, { "00012.5000", true, 12.5 },
		{ "0.000000000000000000000000001", true, 1e-27 },
		{ "12345678901234567890123", true, 12345678901234567890123.0 },
		{ "", false, 0 }, { ".", false, 0 }, { "-", false, 0 }, { "1e", false, 0 },
		{ "abc", false, 0 }, { "1.2.3", false, 0 }, { "0x10", false, 0 }, { "nan", false, 0 },
		{ "inf", false, 0 }, { "1e999", false, 0 }, { " 1", false, 0 },
	};
	static const struct { const char *in; bool ok; int64_t v; } ints[] = {
		{ "20148031043.0", true, 20148031043 }, { "42", true, 42 }, { "-7", true, -7 },
		{ "5.000", true, 5 }, { "5.", true, 5 }, { "9223372036854775807", true, INT64_MAX },
		{ "-9223372036854775808", true, INT64_MIN }, { "9223372036854775808", false, 0 },
		{ "5.5", false, 0 }, { "", false, 0 }, { "x", false, 0 }, { "1e3", false, 0 },
	};
	static const struct { const char *in; bool ok, v; } bools[] = {
		{ "Y", true, true }, { "yes", true, true }, { "TRUE", true, true }, { "t", true, true },
		{ "1", true, true }, { "n", true, false }, { "No", true, false }, { "false", true, false },
		{ "F", true, false }, { "0", true, false }, { "2", false, false }, { "", false, false },
	};
	for (size_t i = 0; i < N(dbl); i++) {
		double v = -1;
		bool ok = value_double(dbl[i].in, strlen(dbl[i].in), &v);
		if (ok != dbl[i].ok || (ok && v != dbl[i].v))
			fail_msg("value_double('%s'): %d %.17g", dbl[i].in, ok, v);
	}
	for (size_t i = 0; i < N(ints); i++) {
		int64_t v = -1;
		bool ok = value_int(ints[i].in, strlen(ints[i].in), &v);
		if (ok != ints[i].ok || (ok && v != ints[i].v))
			fail_msg("value_int('%s'): %d %lld", ints[i].in, ok, (long long)v);
	}
	for (size_t i = 0; i < N(bools); i++) {
		bool v = false, ok = value_bool(bools[i].in, strlen(bools[i].in), &v);
		assert_int_equal(ok, bools[i].ok);
		if (ok)
			assert_int_equal(v, bools[i].v);
	}
	{
		const char *p = " \t 2     \r";
		size_t len = strlen(p);
		value_trim(&p, &len);
		assert_int_equal(len, 1);
		assert_int_equal(*p, '2');
		p = "   ";
		len = 3;
		value_trim(&p, &len);
		assert_int_equal(len, 0);
	}
}

static const char diff_yaml[] = DS
	"    schema:\n"
	"      key: [id]\n"
	"      columns:\n"
	"        - {name: id, type: int}\n"
	"        - {name: val, type: string}\n"
	"    checks:\n      u: {type: unique}\n";

static bool has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i] && strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

static void test_diff(void **state)
{
	struct config *cfg = load(diff_yaml);
	static const char prev_csv[] = "id,val\n1,a\n2,b\n3,c\n4,d\n";
	/* row 1 quoted: unchanged; id 4 as an integral float: the same key,
	 * changed text */
	static const char cur_csv[] = "\"id\",\"val\"\r\n\"1\",\"a\"\r\n2,B\r\n4.0,d\r\n5,e\r\n6,f\r\n";
	char *prev = put_file("staging/d/exec_date=2026-03-09/d.csv", prev_csv, sizeof prev_csv - 1);
	char *cur = put_file("staging/d/exec_date=2026-03-10/d.csv", cur_csv, sizeof cur_csv - 1);
	char *prev_keys, *cur_keys;
	struct dq_report *r;
	struct stat sb;

	assert_true(asprintf(&prev_keys, "%s/staging/d/exec_date=2026-03-09/.keys", tmpdir) > 0);
	assert_true(asprintf(&cur_keys, "%s/staging/d/exec_date=2026-03-10/.keys", tmpdir) > 0);
	r = check(cfg, prev, "2026-03-09", -1, NULL, prev_keys);
	assert_false(r->diff.done);
	assert_null(r->diff.error);
	dq_report_free(r);
	/* 64-byte header, name padded to 8, 4 entries, 1 checkpoint */
	assert_int_equal(stat(prev_keys, &sb), 0);
	assert_int_equal(sb.st_size, 64 + 8 + 4 * 16 + 16);

	r = check(cfg, cur, "2026-03-10", 4, prev_keys, cur_keys);
	assert_true(r->diff.done);
	assert_null(r->diff.error);
	assert_int_equal(r->diff.prev_rows, 4);
	assert_int_equal(r->diff.added, 2);
	assert_int_equal(r->diff.removed, 1);
	assert_int_equal(r->diff.changed, 2);
	assert_int_equal(r->diff.unchanged, 1);
	assert_int_equal(r->diff.ex_added.n, 2);
	assert_true(has(&r->diff.ex_added, "5") && has(&r->diff.ex_added, "6"));
	assert_int_equal(r->diff.ex_removed.n, 1);
	assert_string_equal(r->diff.ex_removed.items[0], "3");
	assert_int_equal(r->diff.ex_changed.n, 2);
	assert_true(has(&r->diff.ex_changed, "2") && has(&r->diff.ex_changed, "4.0"));
	expect(r, "u", DQ_PASS, 0, NO_LINES);
	{
		json_t *j = dq_report_json(r), *d = json_object_get(j, "diff");
		assert_non_null(j);
		assert_int_equal(json_integer_value(json_object_get(d, "changed")), 2);
		assert_string_equal(json_string_value(json_array_get(json_object_get(
		        json_object_get(d, "examples"), "removed"), 0)), "3");
		assert_string_equal(json_string_value(json_object_get(j, "line_ending")), "crlf");
		json_decref(j);
	}
	dq_report_free(r);

	/* The previous snapshot file is gone: counts stay, removed examples
	 * cannot be read back. */
	assert_int_equal(unlink(prev), 0);
	r = check(cfg, cur, "2026-03-10", 4, prev_keys, NULL);
	assert_true(r->diff.done);
	assert_int_equal(r->diff.removed, 1);
	assert_int_equal(r->diff.ex_removed.n, 1);
	assert_null(r->diff.ex_removed.items[0]);
	dq_report_free(r);

	/* A truncated index is refused with a reason, and is not an error. */
	assert_int_equal(truncate(prev_keys, 100), 0);
	r = check(cfg, cur, "2026-03-10", 4, prev_keys, NULL);
	assert_false(r->diff.done);
	assert_non_null(strstr(r->diff.error, "truncated or corrupt"));
	dq_report_free(r);
	r = check(cfg, cur, "2026-03-10", 4, "/nonexistent/.keys", NULL);
	assert_false(r->diff.done);
	assert_non_null(strstr(r->diff.error, "No such file"));
	dq_report_free(r);
	config_free(cfg);

	/* A key of another type is another key: no diff across it. */
	cfg = load(DS "    schema:\n      key: [id]\n      columns:\n"
	           "        - {name: id, type: string}\n        - {name: val, type: string}\n"
	           "    checks:\n      u: {type: unique}\n");
	r = check(cfg, cur, "2026-03-10", 4, cur_keys, NULL);
	assert_false(r->diff.done);
	assert_non_null(strstr(r->diff.error, "the key's definition has changed"));
	dq_report_free(r);
	config_free(cfg);
	free(prev);
	free(cur);
	free(prev_keys);
	free(cur_keys);
}

/* Many rows across several index chunks and checkpoints: every duplicate
 * found, example keys read back from deep in the file. */
static void test_unique_large(void **state)
{
	struct config *cfg = load(diff_yaml);
	size_t n = 300000, cap = n * 16 + 64, len = 0;
	char *csv = malloc(cap), *file, *keys;
	struct dq_report *r;

	if (!csv)
		abort();
	len += (size_t)sprintf(csv, "id,val\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(csv + len, "%zu,v%zu\n", i % 299990, i);   /* 10 repeats */
	file = put_file("large.csv", csv, len);
	assert_true(asprintf(&keys, "%s/large.keys", tmpdir) > 0);
	r = check(cfg, file, "2026-03-10", -1, NULL, keys);
	assert_int_equal(r->rows, n);
	expect(r, "u", DQ_FAIL, 10, LINES(299992, 299993, 299994, 299995, 299996, 299997,
	                                  299998, 299999, 300000, 300001));
	assert_non_null(strstr(result(r, "u")->detail, "key 0 on lines 2 and 299992"));
	dq_report_free(r);

	/* Against itself: nothing added, removed or changed. */
	r = check(cfg, file, "2026-03-10", (int64_t)n, keys, NULL);
	assert_true(r->diff.done);
	assert_int_equal(r->diff.unchanged, n);
	assert_int_equal(r->diff.added + r->diff.removed + r->diff.changed, 0);
	dq_report_free(r);
	free(csv);
	free(file);
	free(keys);
	config_free(cfg);
}

/* A composite key: a null part is a value (311 rows mostly lack an
 * address); only a key null in every part leaves the row unkeyed. */
static void test_composite_key(void **state)
{
	struct config *cfg = load(DS "    schema:\n      key: [t, addr]\n      columns:\n"
	                          "        - {name: t, type: string}\n"
	                          "        - {name: addr, type: string}\n"
	                          "    checks:\n      u: {type: unique}\n");
	static const char csv[] = "t,addr\n1,x\n1,\n1, \n,\n2,\n,x\n";
	char *file = put_file("composite.csv", csv, sizeof csv - 1);
	struct dq_report *r = check(cfg, file, "2026-03-10", -1, NULL, NULL);

	expect(r, "u", DQ_FAIL, 1, LINES(4));
	assert_int_equal(r->null_keys, 1);
	assert_non_null(strstr(result(r, "u")->detail, "key 1| on lines 3 and 4"));
	dq_report_free(r);
	free(file);
	config_free(cfg);
}

static void test_errors(void **state)
{
	struct config *cfg = load(diff_yaml);
	char *file = put_file("e.csv", "id,val\n1,a\n", 11);
	struct dq_input in = { .path = file, .dataset = &cfg->datasets[0],
	                       .exec_date = "2026-02-30", .prev_rows = -1 };
	struct dq_report *r = NULL;
	char *err = NULL;
	atomic_int cancel = 1;

	assert_int_equal(dq_run(&in, &r, &err), -EINVAL);
	assert_null(r);
	assert_non_null(strstr(err, "bad exec date"));
	free(err);
	in.exec_date = "2026-03-10";
	in.path = "/nonexistent/file.csv";
	assert_int_equal(dq_run(&in, &r, &err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/file.csv"));
	free(err);
	in.path = file;
	in.cancel = &cancel;
	assert_int_equal(dq_run(&in, &r, &err), -ECANCELED);
	free(err);
	in.cancel = NULL;
	in.keys_out = "/nonexistent/dir/.keys";
	assert_int_equal(dq_run(&in, &r, &err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/dir/.keys"));
	free(err);
	free(file);
	config_free(cfg);
}

/* Thresholds print durations in the one style (common/fmt.h): the largest
 * unit and at most one more. */
static void test_threshold_text(void **state)
{
	struct config *cfg = load(DS
		"    schema:\n"
		"      event_time: ts\n"
		"      columns:\n"
		"        - {name: ts, type: timestamp}\n"
		"    checks:\n"
		"      slack: {type: timestamps, max_unparsed: 1%, future_slack: 36h}\n"
		"      day: {type: timestamps, max_unparsed: 0%, future_slack: 1d}\n"
		"      none: {type: timestamps, max_unparsed: 0%}\n"
		"      fresh: {type: freshness, max_age: 90m}\n"
		"      week: {type: freshness, max_age: 7d}\n"
		"      rows: {type: row_count, min: 1, max: 10, max_change: 12.5%}\n");
	static const char csv[] = "ts\n2026-03-10 12:00:00\n";
	char *file = put_file("thresholds.csv", csv, sizeof csv - 1);
	struct dq_report *r = check(cfg, file, "2026-03-10", -1, NULL, NULL);

	assert_string_equal(result(r, "slack")->threshold,
	                    "unparsed <= 1%, none after 2026-03-10 + 1d12h");
	assert_string_equal(result(r, "day")->threshold,
	                    "unparsed <= 0%, none after 2026-03-10 + 1d");
	assert_string_equal(result(r, "none")->threshold,
	                    "unparsed <= 0%, none after 2026-03-10 + 0s");
	assert_string_equal(result(r, "fresh")->threshold,
	                    "newest ts within 1h30m of the end of 2026-03-10");
	assert_string_equal(result(r, "week")->threshold,
	                    "newest ts within 7d of the end of 2026-03-10");
	assert_string_equal(result(r, "rows")->threshold, ">= 1, <= 10, change <= 12.5%");
	dq_report_free(r);
	free(file);
	config_free(cfg);
}

/* A detail longer than 2048 bytes is cut there and ends with "...". */
static void test_long_detail_is_cut(void **state)
{
	char yaml[8192], header[4096], full[4096] = "", want[2049];
	size_t y, h = 0;
	int l;
	struct config *cfg;
	struct dq_report *r;
	char *file, *row;

	y = (size_t)snprintf(yaml, sizeof yaml, DS "    schema:\n      columns:\n");
	for (int i = 0; i < 60; i++) {
		y += (size_t)snprintf(yaml + y, sizeof yaml - y,
		                      "        - {name: column_with_a_long_name_%02d, type: string}\n", i);
		h += (size_t)snprintf(header + h, sizeof header - h, "%scolumn_with_a_long_name_%02d",
		                      i ? "," : "", i);
		snprintf(full + strlen(full), sizeof full - strlen(full),
		         "column_with_a_long_name_%02d 100%% null (1); ", i);
	}
	l = snprintf(yaml + y, sizeof yaml - y, "    checks:\n      n: {type: nulls, max_null: 100%%,"
	             " columns: [%s]}\n", header);
	assert_true(l > 0 && (size_t)l < sizeof yaml - y);
	cfg = load(yaml);
	assert_true(asprintf(&row, "%s\n%59s\n", header, "") > 0);
	memset(row + h + 1, ',', 59);                 /* one row of 60 empty fields */
	file = put_file("wide.csv", row, strlen(row));
	r = check(cfg, file, "2026-03-10", -1, NULL, NULL);

	assert_true(strlen(full) > 2048);
	snprintf(want, sizeof want, "%.2045s...", full);
	expect(r, "n", DQ_PASS, 1, LINES(2));
	assert_string_equal(result(r, "n")->detail, want);
	dq_report_free(r);
	free(row);
	free(file);
	config_free(cfg);
}

static const char sample_yaml[] = DS
	"    schema:\n"
	"      key: [incident_id]\n"
	"      event_time: reported_date\n"
	"      timestamp_formats: [\"%Y-%m-%d %H:%M:%S\"]\n"
	"      columns:\n"
	"        - {name: incident_id, type: int}\n"
	"        - {name: offense_id, type: int}\n"
	"        - {name: first_occurrence_date, type: timestamp}\n"
	"        - {name: last_occurrence_date, type: timestamp}\n"
	"        - {name: reported_date, type: timestamp}\n"
	"        - {name: incident_address, type: string}\n"
	"        - {name: geo_x, type: float}\n"
	"        - {name: geo_lon, type: float, aliases: [longitude]}\n"
	"        - {name: geo_lat, type: float, aliases: [latitude]}\n"
	"        - {name: neighborhood_id, type: string}\n"
	"        - {name: bicycle_ind, type: int, required: false}\n"
	"    checks:\n"
	"      header: {type: columns}\n"
	"      rows: {type: row_count, min: 1000}\n"
	"      unique: {type: unique, severity: warn}\n"
	"      address: {type: nulls, columns: [incident_address], max_null: 10%}\n"
	"      location: {type: coordinates, lat: geo_lat, lon: geo_lon, min_lat: 39.6,"
	" max_lat: 39.92, min_lon: -105.11, max_lon: -104.6, max_bad: 1%, severity: warn}\n"
	"      x: {type: range, columns: [geo_x], min: 3.05e6, max: 3.3e6, max_bad: 0%,"
	" severity: warn}\n"
	"      dates: {type: timestamps, max_unparsed: 0%}\n"
	"      fresh: {type: freshness, max_age: 7d}\n";

/* The real 2014 sample: 4,171 rows; incident_id repeats 8 times (one crash,
 * several offenses); 472 rows without an address; one point west of town. */
static void test_sample(void **state)
{
	struct config *cfg = load(sample_yaml);
	struct dq_report *r = check(cfg, SOURCE_ROOT "/data/traffic_accidents.2014-05.sample.csv",
	                            "2014-05-08", -1, NULL, NULL);

	assert_int_equal(r->rows, 4171);
	assert_int_equal(r->bytes, 832967);
	assert_string_equal(r->encoding, "utf-8");
	assert_string_equal(r->line_ending, "crlf");
	assert_int_equal(r->csv.issue[CSV_I_NO_FINAL_EOL].count, 1);
	expect(r, "header", DQ_PASS, 0, NO_LINES);
	assert_int_equal(r->drift.n_renamed, 2);
	assert_int_equal(r->drift.added.n, 7);       /* offense_code ... precinct_id */
	expect(r, "rows", DQ_PASS, 4171, NO_LINES);
	expect(r, "unique", DQ_WARN, 8, LINES(712, 1186, 1270, 1767, 2063, 2089, 2341, 2728));
	assert_non_null(strstr(result(r, "unique")->detail, "key 201430514.0 on lines 547 and 712"));
	expect(r, "address", DQ_FAIL, 472.0 / 4171, LINES(7, 8, 27, 35, 37, 43, 53, 66, 71, 97));
	expect(r, "location", DQ_PASS, 1.0 / 4171, LINES(3779));
	expect(r, "x", DQ_WARN, 1.0 / 4171, LINES(3779));
	expect(r, "dates", DQ_PASS, 0, NO_LINES);
	assert_non_null(strstr(result(r, "dates")->detail, "last_occurrence_date 0% unparsed (0 of 29)"));
	/* newest report 2014-05-04 18:43:00: 4 days 5h17m before 2014-05-09 */
	expect(r, "fresh", DQ_PASS, 4 * 86400 + 5 * 3600 + 17 * 60, NO_LINES);
	assert_int_equal(r->outcome, DQ_FAIL);
	dq_report_free(r);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_check),
		cmocka_unit_test(test_drift),
		cmocka_unit_test(test_coordinates),
		cmocka_unit_test(test_timestamp_formats),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_unique_large),
		cmocka_unit_test(test_composite_key),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_threshold_text),
		cmocka_unit_test(test_long_detail_is_cut),
		cmocka_unit_test(test_sample),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
