/* test_checkdata.c - `denverd --check-data`: the table and the JSON on
 * stdout, and the exit statuses, on the real 2014 sample. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "app/check_data.h"

#define SAMPLE SOURCE_ROOT "/data/traffic_accidents.2014-05.sample.csv"

static const char yaml[] =
	"datasets:\n"
	"  traffic_accidents:\n"
	"    url: https://example.org/t.csv\n"
	"    schedule: \"0 6 * * *\"\n"
	"    schema:\n"
	"      key: [offense_id]\n"
	"      event_time: reported_date\n"
	"      columns:\n"
	"        - {name: offense_id, type: int}\n"
	"        - {name: reported_date, type: timestamp}\n"
	"        - {name: incident_address, type: string}\n"
	"        - {name: geo_lon, type: float, aliases: [longitude]}\n"
	"        - {name: geo_lat, type: float, aliases: [latitude]}\n"
	"    checks:\n"
	"      rows: {type: row_count, min: 4000}\n"
	"      unique: {type: unique}\n"
	"      address: {type: nulls, columns: [incident_address], max_null: 5%%, severity: %s}\n"
	"      location: {type: coordinates, lat: geo_lat, lon: geo_lon, min_lat: 39.6,"
	" max_lat: 39.92, min_lon: -105.11, max_lon: -104.6, max_bad: 1%%, severity: warn}\n"
	"      fresh: {type: freshness, max_age: 7d, severity: warn}\n";

static struct config *load(const char *severity)
{
	struct config *cfg = NULL;
	char *text, *errs = NULL;
	assert_true(asprintf(&text, yaml, severity) > 0);
	if (config_parse("t.yaml", text, strlen(text), &cfg, &errs) < 0)
		fail_msg("%s", errs);
	free(text);
	return cfg;
}

/* Run checkdata_main with stdout going to a string (*OUT, caller frees). */
static int run(const struct config *cfg, const char *ds, const char *file, const char *date,
               bool json, char **out)
{
	char path[] = "/tmp/denverd-checkdata-XXXXXX";
	int fd = mkstemp(path), saved = dup(1), rc;
	FILE *f;
	long n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stdout);
	dup2(fd, 1);
	rc = checkdata_main(cfg, ds, file, date, json);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*out = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	unlink(path);
	return rc;
}

static void test_table(void **state)
{
	struct config *cfg = load("fail");
	char *out;

	assert_int_equal(run(cfg, "traffic_accidents", SAMPLE, "2014-05-08", false, &out),
	                 CHECKDATA_FAIL);
	assert_non_null(strstr(out, "832967 bytes, 4171 rows, utf-8, crlf"));
	assert_non_null(strstr(out, "\naddress              nulls        fail     FAIL    11.3%"
	                            "      null <= 5%\n"));
	assert_non_null(strstr(out, "    incident_address 11.3% null (472) (lines 7, 8, 27, 35, 37,"
	                            " 43, 53, 66, 71, 97, ...)\n"));
	assert_non_null(strstr(out, "\nlocation             coordinates  warn     pass    0.024%"));
	assert_non_null(strstr(out, "\nfresh                freshness    warn     pass    4.2d"));
	assert_non_null(strstr(out, "no_final_newline     1, first on line 4172 (byte 832760)"));
	assert_non_null(strstr(out, "\nresult: fail\n"));
	free(out);
	config_free(cfg);

	cfg = load("warn");
	assert_int_equal(run(cfg, "traffic_accidents", SAMPLE, "2014-05-08", false, &out),
	                 CHECKDATA_OK);
	assert_non_null(strstr(out, "\nresult: warn\n"));
	free(out);
	config_free(cfg);
}

static void test_json(void **state)
{
	struct config *cfg = load("fail");
	json_t *j, *checks;
	char *out;

	assert_int_equal(run(cfg, "traffic_accidents", SAMPLE, "2014-05-08", true, &out),
	                 CHECKDATA_FAIL);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "rows")), 4171);
	assert_string_equal(json_string_value(json_object_get(j, "outcome")), "fail");
	checks = json_object_get(j, "checks");
	assert_int_equal(json_array_size(checks), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(checks, 2), "outcome")),
	                    "fail");
	json_decref(j);
	free(out);
	config_free(cfg);
}

static void test_errors(void **state)
{
	struct config *cfg = load("fail");
	char *out;

	assert_int_equal(run(cfg, "nope", SAMPLE, "2014-05-08", false, &out), CHECKDATA_ERROR);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(run(cfg, "traffic_accidents", "/nonexistent.csv", NULL, false, &out),
	                 CHECKDATA_ERROR);
	free(out);
	assert_int_equal(run(cfg, "traffic_accidents", SAMPLE, "2014-13-01", true, &out),
	                 CHECKDATA_ERROR);
	free(out);
	/* Without a date: today in the configured zone. */
	assert_int_equal(run(cfg, "traffic_accidents", SAMPLE, NULL, false, &out), CHECKDATA_FAIL);
	free(out);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
