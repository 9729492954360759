/* test_dq.c - the check engine: each check type passing, warning and
 * failing with its exact observed value and offending lines; schema drift;
 * swapped coordinates; uniqueness; the diff between two snapshots through
 * their key indexes; the real 2014 sample.  The datasets are tables of
 * dq_fixture.h, built as config_parse() builds the YAML they replace (this
 * file at 47bdbdc); the value parsers are test_value.c's. */
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
#include <unistd.h>
#include <cmocka.h>

#include "quality/dq.h"
#include "quality/keyidx.h"

#include "dq_fixture.h"

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

/* The thread count the tests run at (main).  Above 1, check() runs the
 * single-threaded check too, then the parallel one with the file cut into
 * THREADS even chunks plus one at byte 1, and requires the two reports
 * (dq_report_diff) and .keys files to be identical. */
static unsigned threads = 1;

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static struct dq_report *check_at(const struct cfg_dataset *ds, const char *file,
                                  const char *exec_date, int64_t prev_rows,
                                  const char *prev_keys, const char *keys_out,
                                  unsigned n_threads, const uint64_t *cuts, size_t n_cuts)
{
	struct dq_input in = {
		.path = file, .dataset = ds, .exec_date = exec_date,
		.prev_rows = prev_rows, .prev_keys = prev_keys, .keys_out = keys_out,
		.threads = n_threads, .cuts = cuts, .n_cuts = n_cuts,
	};
	struct dq_report *r = NULL;
	char *err = NULL;
	int rc = dq_run(&in, &r, &err);
	if (rc != 0)
		fail_msg("dq_run: %d %s", rc, err ? err : "");
	return r;
}

static struct dq_report *check(const struct cfg_dataset *ds, const char *file,
                               const char *exec_date, int64_t prev_rows,
                               const char *prev_keys, const char *keys_out)
{
	struct dq_report *one, *par;
	uint64_t cuts[9];
	size_t n = 0, la = 0, lb = 0;
	char *serial_keys = NULL, *a, *b;
	struct stat sb;
	const char *why;

	if (threads == 1)
		return check_at(ds, file, exec_date, prev_rows, prev_keys, keys_out, 1, NULL, 0);
	if (keys_out)
		assert_true(asprintf(&serial_keys, "%s.serial", keys_out) > 0);
	one = check_at(ds, file, exec_date, prev_rows, prev_keys, serial_keys, 1, NULL, 0);
	assert_int_equal(stat(file, &sb), 0);
	cuts[n++] = 1;
	for (unsigned k = 1; k < threads; k++)
		cuts[n++] = (uint64_t)sb.st_size * k / threads;
	par = check_at(ds, file, exec_date, prev_rows, prev_keys, keys_out, threads, cuts, n);
	if ((why = dq_report_diff(one, par)))
		fail_msg("%s at %u threads: the reports differ in %s", file, threads, why);
	if (keys_out) {
		a = slurp(serial_keys, &la);
		b = slurp(keys_out, &lb);
		assert_true((a == NULL) == (b == NULL));
		if (a) {
			assert_int_equal(la, lb);
			assert_memory_equal(a, b, la);
		}
		unlink(serial_keys);
		free(a);
		free(b);
		free(serial_keys);
	}
	dq_report_free(one);
	return par;
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

/* The box around Denver of the coordinates checks. */
#define DENVER .min_lat = 39.6, .max_lat = 39.92, .min_lon = -105.11, .max_lon = -104.6

/* One check of each type. */
static const struct fx_dataset checks_fixture = {
	.key = LIST("id"),
	.event_time = "ts",
	.timestamp_formats = LIST("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %I:%M:%S %p"),
	COLUMNS(COLUMN("id", COL_INT),
	        COLUMN("ts", COL_TIMESTAMP),
	        COLUMN("day", COL_DATE, .formats = LIST("%m/%d/%Y")),
	        COLUMN("lat", COL_FLOAT, .nulls = LIST("0")),
	        COLUMN("lon", COL_FLOAT, .nulls = LIST("0")),
	        COLUMN("n", COL_INT, .required = VAL(false)),
	        COLUMN("cond", COL_STRING)),
	CHECKS(CHECK("header", CHECK_COLUMNS),
	       CHECK("rows", CHECK_ROW_COUNT, .min_rows = 5, .max_rows = 100,
	             .max_change = VAL(PCT(50))),
	       CHECK("uniq", CHECK_UNIQUE),
	       CHECK("idnull", CHECK_NULLS, .columns = LIST("id"), .max_null = PCT(0)),
	       CHECK("daynull", CHECK_NULLS, .columns = LIST("day"), .max_null = PCT(20),
	             .severity = SEV_WARN),
	       CHECK("ts_ok", CHECK_TIMESTAMPS, .columns = LIST("ts"), .max_unparsed = PCT(20),
	             .future_slack_ms = DAYS(1), .severity = SEV_WARN),
	       CHECK("days", CHECK_TIMESTAMPS, .columns = LIST("day"), .max_unparsed = PCT(0),
	             .severity = SEV_WARN),
	       CHECK("box", CHECK_COORDINATES, .lat = "lat", .lon = "lon", DENVER,
	             .max_bad = PCT(10), .severity = SEV_WARN),
	       CHECK("nrange", CHECK_RANGE, .columns = LIST("n"), .min = VAL(0), .max = VAL(50),
	             .max_bad = PCT(0), .severity = SEV_WARN),
	       CHECK("fresh", CHECK_FRESHNESS, .max_age_ms = DAYS(2), .severity = SEV_WARN),
	       CHECK("cond", CHECK_ALLOWED, .columns = LIST("cond"),
	             .values = LIST("Dry", "Wet", "Icy"), .max_bad = PCT(10),
	             .severity = SEV_WARN)),
};

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
	struct cfg_dataset *ds = fixture(&checks_fixture);
	char *file = put_file("checks.csv", checks_csv, sizeof checks_csv - 1);
	struct dq_report *r = check(ds, file, "2026-03-10", 8, NULL, NULL);

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
	r = check(ds, file, "2026-03-10", 4, NULL, NULL);
	expect(r, "rows", DQ_FAIL, 9, NO_LINES);
	dq_report_free(r);
	free(file);
	file = put_file("short.csv", checks_csv, 200);   /* header + 3 rows and a bit */
	r = check(ds, file, "2026-03-10", -1, NULL, NULL);
	expect(r, "rows", DQ_FAIL, 4, NO_LINES);
	dq_report_free(r);

	/* freshness: the newest event time is older than max_age */
	r = check(ds, file, "2026-03-20", -1, NULL, NULL);
	expect(r, "fresh", DQ_WARN, (double)(17 * 86400 + 13 * 3600), NO_LINES);
	dq_report_free(r);
	free(file);
	fixture_free(ds);
}

static void test_drift(void **state)
{
	struct cfg_dataset *ds = fixture(&(struct fx_dataset){
		COLUMNS(COLUMN("incident_id", COL_INT),
		        COLUMN("offense_id", COL_INT),
		        COLUMN("geo_lon", COL_FLOAT, .aliases = LIST("longitude")),
		        COLUMN("geo_lat", COL_FLOAT, .aliases = LIST("latitude")),
		        COLUMN("reported_date", COL_TIMESTAMP),
		        COLUMN("bicycle_ind", COL_INT, .required = VAL(false))),
		CHECKS(CHECK("header", CHECK_COLUMNS)),
	});
	static const char csv[] = "INCIDENT_ID,Longitude,latitude,Extra Col, Reported Date \n"
	                          "1,-104.9,39.7,x,2026-03-01 10:00:00\n";
	static const char csv2[] = "incident_id,offense_id,longitude,GEO_LON,geo_lat,"
	                           "reported_date,Bicycle_Ind\n1,2,3,4,5,6,7\n";
	char *file = put_file("drift.csv", csv, sizeof csv - 1);
	struct dq_report *r = check(ds, file, "2026-03-10", -1, NULL, NULL);

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
	r = check(ds, file, "2026-03-10", -1, NULL, NULL);
	expect(r, "header", DQ_PASS, 0, NO_LINES);
	assert_int_equal(r->drift.added.n, 1);
	assert_string_equal(r->drift.added.items[0], "longitude");
	assert_int_equal(r->drift.n_renamed, 0);
	assert_int_equal(r->drift.removed.n, 0);
	dq_report_free(r);
	free(file);

	/* An empty file has no header: every required column is missing. */
	file = put_file("empty.csv", "", 0);
	r = check(ds, file, "2026-03-10", -1, NULL, NULL);
	expect(r, "header", DQ_FAIL, 5, LINES(1));
	assert_int_equal(r->rows, 0);
	assert_non_null(strstr(result(r, "header")->detail, "the file has no header row"));
	dq_report_free(r);
	free(file);
	fixture_free(ds);
}

/* Latitude in the longitude column (311): outside the box, not swapped;
 * both swapped: counted apart; zero_is_null off: 0,0 is outside. */
static void test_coordinates(void **state)
{
	struct cfg_dataset *ds = fixture(&(struct fx_dataset){
		COLUMNS(COLUMN("longitude", COL_FLOAT),
		        COLUMN("latitude", COL_FLOAT)),
		CHECKS(CHECK("c", CHECK_COORDINATES, .lat = "latitude", .lon = "longitude", DENVER,
		             .max_bad = PCT(50)),
		       CHECK("z", CHECK_COORDINATES, .lat = "latitude", .lon = "longitude", DENVER,
		             .zero_is_null = VAL(false), .max_bad = PCT(50))),
	});
	static const char csv[] = "Longitude,Latitude\n"
	                          "-104.98,39.74\n"      /* 2 ok */
	                          "39.74,39.74\n"        /* 3 latitude in longitude */
	                          "39.74,-104.98\n"      /* 4 swapped */
	                          "0,0\n"                /* 5 missing, or outside */
	                          ",39.7\n"              /* 6 missing */
	                          "-104.7,39.9\n";       /* 7 ok */
	char *file = put_file("coords.csv", csv, sizeof csv - 1);
	struct dq_report *r = check(ds, file, "2026-03-10", -1, NULL, NULL);

	expect(r, "c", DQ_PASS, 2.0 / 4, LINES(3, 4));
	assert_non_null(strstr(result(r, "c")->detail,
	                       "1 swapped lat/lon, 1 outside the box, 0 not numbers; 2 of 6 rows missing"));
	expect(r, "z", DQ_FAIL, 3.0 / 5, LINES(3, 4, 5));
	dq_report_free(r);
	free(file);
	fixture_free(ds);
}

static const struct fx_dataset diff_fixture = {
	.key = LIST("id"),
	COLUMNS(COLUMN("id", COL_INT), COLUMN("val", COL_STRING)),
	CHECKS(CHECK("u", CHECK_UNIQUE)),
};

static bool has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i] && strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

static void test_diff(void **state)
{
	struct cfg_dataset *ds = fixture(&diff_fixture);
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
	r = check(ds, prev, "2026-03-09", -1, NULL, prev_keys);
	assert_false(r->diff.done);
	assert_null(r->diff.error);
	dq_report_free(r);
	/* 64-byte header, name padded to 8, 4 entries, 1 checkpoint */
	assert_int_equal(stat(prev_keys, &sb), 0);
	assert_int_equal(sb.st_size, 64 + 8 + 4 * 16 + 16);

	r = check(ds, cur, "2026-03-10", 4, prev_keys, cur_keys);
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
	r = check(ds, cur, "2026-03-10", 4, prev_keys, NULL);
	assert_true(r->diff.done);
	assert_int_equal(r->diff.removed, 1);
	assert_int_equal(r->diff.ex_removed.n, 1);
	assert_null(r->diff.ex_removed.items[0]);
	dq_report_free(r);

	/* A truncated index is refused with a reason, and is not an error. */
	assert_int_equal(truncate(prev_keys, 100), 0);
	r = check(ds, cur, "2026-03-10", 4, prev_keys, NULL);
	assert_false(r->diff.done);
	assert_non_null(strstr(r->diff.error, "truncated or corrupt"));
	dq_report_free(r);
	r = check(ds, cur, "2026-03-10", 4, "/nonexistent/.keys", NULL);
	assert_false(r->diff.done);
	assert_non_null(strstr(r->diff.error, "No such file"));
	dq_report_free(r);
	fixture_free(ds);

	/* A key of another type is another key: no diff across it. */
	ds = fixture(&(struct fx_dataset){
		.key = LIST("id"),
		COLUMNS(COLUMN("id", COL_STRING), COLUMN("val", COL_STRING)),
		CHECKS(CHECK("u", CHECK_UNIQUE)),
	});
	r = check(ds, cur, "2026-03-10", 4, cur_keys, NULL);
	assert_false(r->diff.done);
	assert_non_null(strstr(r->diff.error, "the key's definition has changed"));
	dq_report_free(r);
	fixture_free(ds);
	free(prev);
	free(cur);
	free(prev_keys);
	free(cur_keys);
}

/* Many rows across several index chunks and checkpoints: every duplicate
 * found, example keys read back from deep in the file. */
/* Removed keys split by the previous snapshot's event times against the
 * new window: from the earliest event of the new snapshot, or from
 * `window:`; the withdrawn check on the share. */
static void test_removal_split(void **state)
{
	struct fx_dataset fx = {
		.key = LIST("id"), .event_time = "ts",
		COLUMNS(COLUMN("id", COL_INT), COLUMN("ts", COL_TIMESTAMP)),
		CHECKS(CHECK("wd", CHECK_WITHDRAWN, .max_withdrawn = PCT(30), .severity = SEV_WARN)),
	};
	static const char prev_csv[] = "id,ts\n1,2026-03-01 08:00:00\n2,2026-03-02 08:00:00\n"
	        "3,2026-03-03 08:00:00\n4,2026-03-05 08:00:00\n5,2026-03-06 08:00:00\n6,never\n";
	static const char cur_csv[] = "id,ts\n3,2026-03-03 08:00:00\n5,2026-03-06 08:00:00\n"
	        "7,2026-03-09 08:00:00\n";
	static const char blind_csv[] = "id,ts\n3,x\n5,y\n";
	char *prev = put_file("staging/w/exec_date=2026-03-09/w.csv", prev_csv, sizeof prev_csv - 1);
	char *cur = put_file("staging/w/exec_date=2026-03-10/w.csv", cur_csv, sizeof cur_csv - 1);
	char *blind = put_file("staging/w/exec_date=2026-03-11/w.csv", blind_csv,
	                       sizeof blind_csv - 1);
	struct cfg_dataset *ds = fixture(&fx);
	char *prev_keys;
	struct dq_report *r;
	struct stat sb;
	json_t *j, *d;

	assert_true(asprintf(&prev_keys, "%s/staging/w/exec_date=2026-03-09/.keys", tmpdir) > 0);
	r = check(ds, prev, "2026-03-09", -1, NULL, prev_keys);
	expect(r, "wd", DQ_PASS, NAN, NO_LINES);
	assert_non_null(strstr(r->results[0].detail, "not split: no previous snapshot"));
	dq_report_free(r);
	/* 6 entries, 1 checkpoint, 6 event times */
	assert_int_equal(stat(prev_keys, &sb), 0);
	assert_int_equal(sb.st_size, 64 + 8 + 6 * 16 + 16 + 6 * 4);

	/* The window from the earliest event (03-03 08:00): 1 and 2 aged out,
	 * 4 and 6 (no event time) withdrawn, 2 of the 4 keys inside. */
	r = check(ds, cur, "2026-03-10", 6, prev_keys, NULL);
	assert_true(r->diff.split);
	assert_int_equal(r->diff.removed, 4);
	assert_int_equal(r->diff.aged_out, 2);
	assert_int_equal(r->diff.withdrawn, 2);
	assert_true(has(&r->diff.ex_aged_out, "1") && has(&r->diff.ex_aged_out, "2"));
	assert_true(has(&r->diff.ex_withdrawn, "4") && has(&r->diff.ex_withdrawn, "6"));
	expect(r, "wd", DQ_WARN, 0.5, NO_LINES);
	assert_string_equal(r->results[0].threshold, "withdrawn <= 30% of the window");
	assert_non_null(strstr(r->results[0].detail, "2 of 4 previous keys inside the window"));
	j = dq_report_json(r);
	d = json_object_get(j, "diff");
	assert_int_equal(json_integer_value(json_object_get(d, "aged_out")), 2);
	assert_string_equal(json_string_value(json_object_get(d, "window_start")),
	                    "2026-03-03T08:00:00");
	assert_string_equal(json_string_value(json_object_get(d, "window_from")), "earliest_event");
	json_decref(j);
	dq_report_free(r);
	fixture_free(ds);

	/* window: 8d, from 2026-03-02 00:00: only 1 aged out; 3 of 5 withdrawn. */
	fx.window_ms = DAYS(8);
	ds = fixture(&fx);
	r = check(ds, cur, "2026-03-10", 6, prev_keys, NULL);
	assert_int_equal(r->diff.aged_out, 1);
	assert_int_equal(r->diff.withdrawn, 3);
	expect(r, "wd", DQ_WARN, 0.6, NO_LINES);
	assert_non_null(strstr(r->results[0].detail, "window from 2026-03-02 00:00:00 (window:)"));
	dq_report_free(r);
	fixture_free(ds);

	/* No window: nothing parses in the new snapshot; diffed, not split. */
	fx.window_ms = 0;
	ds = fixture(&fx);
	r = check(ds, blind, "2026-03-11", 6, prev_keys, NULL);
	assert_true(r->diff.done);
	assert_false(r->diff.split);
	assert_int_equal(r->diff.removed, 4);
	expect(r, "wd", DQ_PASS, NAN, NO_LINES);
	assert_non_null(strstr(r->results[0].detail, "the window is unknown"));
	j = dq_report_json(r);
	assert_true(json_is_null(json_object_get(json_object_get(j, "diff"), "withdrawn")));
	json_decref(j);
	dq_report_free(r);
	fixture_free(ds);
	free(prev);
	free(cur);
	free(blind);
	free(prev_keys);
}

static void test_unique_large(void **state)
{
	struct cfg_dataset *ds = fixture(&diff_fixture);
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
	r = check(ds, file, "2026-03-10", -1, NULL, keys);
	assert_int_equal(r->rows, n);
	expect(r, "u", DQ_FAIL, 10, LINES(299992, 299993, 299994, 299995, 299996, 299997,
	                                  299998, 299999, 300000, 300001));
	assert_non_null(strstr(result(r, "u")->detail, "key 0 on lines 2 and 299992"));
	dq_report_free(r);

	/* Against itself: nothing added, removed or changed. */
	r = check(ds, file, "2026-03-10", (int64_t)n, keys, NULL);
	assert_true(r->diff.done);
	assert_int_equal(r->diff.unchanged, n);
	assert_int_equal(r->diff.added + r->diff.removed + r->diff.changed, 0);
	dq_report_free(r);
	free(csv);
	free(file);
	free(keys);
	fixture_free(ds);
}

/* A composite key: a null part is a value (311 rows mostly lack an
 * address); only a key null in every part leaves the row unkeyed. */
static void test_composite_key(void **state)
{
	struct cfg_dataset *ds = fixture(&(struct fx_dataset){
		.key = LIST("t", "addr"),
		COLUMNS(COLUMN("t", COL_STRING), COLUMN("addr", COL_STRING)),
		CHECKS(CHECK("u", CHECK_UNIQUE)),
	});
	static const char csv[] = "t,addr\n1,x\n1,\n1, \n,\n2,\n,x\n";
	char *file = put_file("composite.csv", csv, sizeof csv - 1);
	struct dq_report *r = check(ds, file, "2026-03-10", -1, NULL, NULL);

	expect(r, "u", DQ_FAIL, 1, LINES(4));
	assert_int_equal(r->null_keys, 1);
	assert_non_null(strstr(result(r, "u")->detail, "key 1| on lines 3 and 4"));
	dq_report_free(r);
	free(file);
	fixture_free(ds);
}

static void test_errors(void **state)
{
	struct cfg_dataset *ds = fixture(&diff_fixture);
	char *file = put_file("e.csv", "id,val\n1,a\n", 11);
	struct dq_input in = { .path = file, .dataset = ds,
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
	fixture_free(ds);
}

/* Thresholds print durations in the one style (common/fmt.h): the largest
 * unit and at most one more. */
static void test_threshold_text(void **state)
{
	struct cfg_dataset *ds = fixture(&(struct fx_dataset){
		.event_time = "ts",
		COLUMNS(COLUMN("ts", COL_TIMESTAMP)),
		CHECKS(CHECK("slack", CHECK_TIMESTAMPS, .max_unparsed = PCT(1),
		             .future_slack_ms = HOURS(36)),
		       CHECK("day", CHECK_TIMESTAMPS, .max_unparsed = PCT(0),
		             .future_slack_ms = DAYS(1)),
		       CHECK("none", CHECK_TIMESTAMPS, .max_unparsed = PCT(0)),
		       CHECK("fresh", CHECK_FRESHNESS, .max_age_ms = MINUTES(90)),
		       CHECK("week", CHECK_FRESHNESS, .max_age_ms = DAYS(7)),
		       CHECK("rows", CHECK_ROW_COUNT, .min_rows = 1, .max_rows = 10,
		             .max_change = VAL(PCT(12.5)))),
	});
	static const char csv[] = "ts\n2026-03-10 12:00:00\n";
	char *file = put_file("thresholds.csv", csv, sizeof csv - 1);
	struct dq_report *r = check(ds, file, "2026-03-10", -1, NULL, NULL);

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
	fixture_free(ds);
}

/* A detail longer than 2048 bytes is cut there and ends with "...". */
static void test_long_detail_is_cut(void **state)
{
	char names[60][32], header[4096], full[4096] = "", want[2049];
	struct fx_column columns[61] = { { .name = NULL } };
	const char *listed[61] = { NULL };
	size_t h = 0;
	struct cfg_dataset *ds;
	struct dq_report *r;
	char *file, *row;

	/* 60 string columns, one nulls check over them all */
	for (int i = 0; i < 60; i++) {
		snprintf(names[i], sizeof names[i], "column_with_a_long_name_%02d", i);
		columns[i] = (struct fx_column)COLUMN(names[i], COL_STRING);
		listed[i] = names[i];
		h += (size_t)snprintf(header + h, sizeof header - h, "%s%s", i ? "," : "", names[i]);
		snprintf(full + strlen(full), sizeof full - strlen(full),
		         "%s 100%% null (1); ", names[i]);
	}
	ds = fixture(&(struct fx_dataset){
		.columns = columns,
		CHECKS(CHECK("n", CHECK_NULLS, .max_null = PCT(100), .columns = listed)),
	});
	assert_true(asprintf(&row, "%s\n%59s\n", header, "") > 0);
	memset(row + h + 1, ',', 59);                 /* one row of 60 empty fields */
	file = put_file("wide.csv", row, strlen(row));
	r = check(ds, file, "2026-03-10", -1, NULL, NULL);

	assert_true(strlen(full) > 2048);
	snprintf(want, sizeof want, "%.2045s...", full);
	expect(r, "n", DQ_PASS, 1, LINES(2));
	assert_string_equal(result(r, "n")->detail, want);
	dq_report_free(r);
	free(row);
	free(file);
	fixture_free(ds);
}

static const struct fx_dataset sample_fixture = {
	.key = LIST("incident_id"),
	.event_time = "reported_date",
	.timestamp_formats = LIST("%Y-%m-%d %H:%M:%S"),
	COLUMNS(COLUMN("incident_id", COL_INT),
	        COLUMN("offense_id", COL_INT),
	        COLUMN("first_occurrence_date", COL_TIMESTAMP),
	        COLUMN("last_occurrence_date", COL_TIMESTAMP),
	        COLUMN("reported_date", COL_TIMESTAMP),
	        COLUMN("incident_address", COL_STRING),
	        COLUMN("geo_x", COL_FLOAT),
	        COLUMN("geo_lon", COL_FLOAT, .aliases = LIST("longitude")),
	        COLUMN("geo_lat", COL_FLOAT, .aliases = LIST("latitude")),
	        COLUMN("neighborhood_id", COL_STRING),
	        COLUMN("bicycle_ind", COL_INT, .required = VAL(false))),
	CHECKS(CHECK("header", CHECK_COLUMNS),
	       CHECK("rows", CHECK_ROW_COUNT, .min_rows = 1000),
	       CHECK("unique", CHECK_UNIQUE, .severity = SEV_WARN),
	       CHECK("address", CHECK_NULLS, .columns = LIST("incident_address"),
	             .max_null = PCT(10)),
	       CHECK("location", CHECK_COORDINATES, .lat = "geo_lat", .lon = "geo_lon", DENVER,
	             .max_bad = PCT(1), .severity = SEV_WARN),
	       CHECK("x", CHECK_RANGE, .columns = LIST("geo_x"), .min = VAL(3.05e6),
	             .max = VAL(3.3e6), .max_bad = PCT(0), .severity = SEV_WARN),
	       CHECK("dates", CHECK_TIMESTAMPS, .max_unparsed = PCT(0)),
	       CHECK("fresh", CHECK_FRESHNESS, .max_age_ms = DAYS(7))),
};

/* The real 2014 sample: 4,171 rows; incident_id repeats 8 times (one crash,
 * several offenses); 472 rows without an address; one point west of town. */
static void test_sample(void **state)
{
	struct cfg_dataset *ds = fixture(&sample_fixture);
	struct dq_report *r = check(ds, SOURCE_ROOT "/data/traffic_accidents.2014-05.sample.csv",
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
	fixture_free(ds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_check),
		cmocka_unit_test(test_drift),
		cmocka_unit_test(test_coordinates),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_removal_split),
		cmocka_unit_test(test_unique_large),
		cmocka_unit_test(test_composite_key),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_threshold_text),
		cmocka_unit_test(test_long_detail_is_cut),
		cmocka_unit_test(test_sample),
	};
	static const unsigned counts[] = { 1, 2, 3, 7 };
	static const char *const names[] = { "1 thread", "2 threads", "3 threads", "7 threads" };
	int rc = 0;

	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		threads = counts[i];
		rc |= _cmocka_run_group_tests(names[i], tests, sizeof tests / sizeof tests[0],
		                              setup, teardown);
	}
	return rc;
}
