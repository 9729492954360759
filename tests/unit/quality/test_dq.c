/* test_dq.c - the check engine: each check type passing, warning and
 * failing with its exact observed value and offending lines; schema drift;
 * swapped coordinates; bad input; the detail texts; the real 2014 sample.
 * Uniqueness and the diff between snapshots are test_dq_diff.c's.  The
 * datasets are tables of dq_fixture.h, built as config_parse() builds the
 * YAML they replace (this file at 47bdbdc); the value parsers are
 * test_value.c's; the harness is dq_harness.h (every test at 1, 2, 3 and
 * 7 threads). */
#include "dq_harness.h"

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
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_threshold_text),
		cmocka_unit_test(test_long_detail_is_cut),
		cmocka_unit_test(test_sample),
	};

	return run_at_thread_counts(tests, N(tests));
}
