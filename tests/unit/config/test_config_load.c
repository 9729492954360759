/* test_config_load.c - what a valid configuration holds: the defaults of
 * every section, values as written, lookups, which changes a reload
 * refuses, the rows of the key tables, reading files, the shipped file and
 * the man page's example. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"
#include "config_fixture.h"

/* ---- defaults ---------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct config *c = parse_ok(DS);
	const struct cfg_dataset *d = &c->datasets[0];

	assert_string_equal(c->path, "t.yaml");
	assert_string_equal(c->timezone, "America/Denver");
	assert_string_equal(c->state_dir, "/var/lib/denverd");
	assert_string_equal(c->socket, "/run/denverd/denverd.sock");
	assert_int_equal(c->socket_mode, 0660);
	assert_int_equal(c->log_level, LOG_INFO);
	assert_false(c->allow_file_urls);
	assert_int_equal(c->limits.fetches, 2);
	assert_int_equal(c->limits.jobs, 1);
	assert_int_equal(c->limits.checks, 2);
	assert_int_equal(c->limits.clients, 64);
	assert_int_equal(c->limits.request_size, 64 * 1024);
	assert_int_equal(c->limits.output_tail, 16 * 1024);
	assert_string_equal(c->spark.submit, "spark-submit");
	assert_string_equal(c->spark.master, "local[2]");
	assert_int_equal(c->spark.driver_memory, 2ull << 30);
	assert_null(c->spark.python);
	assert_non_null(c->spark.jobs_dir);
	assert_int_equal(c->spark.jobs_dir[0], '/');
	assert_int_equal(c->spark.n_conf, 0);
	assert_int_equal(c->alerts.command.n, 0);
	assert_null(c->alerts.webhook);
	assert_int_equal(c->alerts.min_interval_ms, 3600000);
	assert_int_equal(c->alerts.retries, 5);
	assert_true(c->alerts.on_warn);
	assert_int_equal(c->n_jobs, 0);

	assert_int_equal(c->n_datasets, 1);
	assert_string_equal(d->name, "d");
	assert_int_equal(d->line, 2);
	assert_string_equal(d->url, "https://example.org/d.csv");
	assert_string_equal(d->file_name, "d.csv");      /* from the URL */
	assert_string_equal(d->schedule, "0 6 * * *");
	assert_int_equal(d->missed, MISSED_LATEST);
	assert_int_equal(d->max_catchup, 3);
	assert_int_equal(d->keep_snapshots, 14);
	assert_int_equal(d->max_age_ms, 36 * 3600000ull);
	assert_true(d->convert);
	assert_int_equal(d->convert_timeout_ms, 2 * 3600000ull);
	assert_int_equal(d->retry.retries, 3);
	assert_int_equal(d->retry.delay_ms, 60000);
	assert_int_equal(d->retry.max_delay_ms, 3600000);
	assert_int_equal(d->fetch.connect_timeout_ms, 30000);
	assert_int_equal(d->fetch.low_speed_limit, 1024);
	assert_int_equal(d->fetch.low_speed_time_ms, 60000);
	assert_int_equal(d->fetch.timeout_ms, 6 * 3600000ull);
	assert_int_equal(d->fetch.max_redirects, 5);
	assert_int_equal(d->source, SOURCE_HTTP);
	assert_string_equal(d->arcgis.where, "1=1");
	assert_int_equal(d->arcgis.page_size, 0);
	assert_null(d->arcgis.date_zone);                 /* http: not needed */
	assert_false(d->arcgis.allow_http);
	assert_int_equal(d->schema.n_columns, 0);
	assert_int_equal(d->schema.key.n, 0);
	assert_null(d->schema.event_time);
	assert_int_equal(d->schema.timestamp_formats.n, 3);
	assert_string_equal(d->schema.timestamp_formats.items[0], "%Y-%m-%d %H:%M:%S");
	assert_null(d->schema.timestamp_formats.items[3]);
	assert_int_equal(d->n_checks, 0);
	config_free(c);

	/* a column and a check with nothing but what they need */
	c = parse_ok(DS "    schema:\n      columns: [{name: c}]\n"
	             "    checks: {n: {type: nulls, columns: [c]}}\n");
	d = &c->datasets[0];
	assert_int_equal(d->schema.columns[0].type, COL_STRING);
	assert_true(d->schema.columns[0].required);
	assert_int_equal(d->schema.columns[0].formats.n, 0);
	assert_int_equal(d->checks[0].severity, SEV_FAIL);
	assert_true(d->checks[0].max_fraction == 0);
	assert_true(d->checks[0].max_change < 0);              /* off */
	assert_true(isinf(d->checks[0].min) && d->checks[0].min < 0);
	assert_true(isinf(d->checks[0].max) && d->checks[0].max > 0);
	assert_true(d->checks[0].zero_is_null);
	assert_int_equal(d->checks[0].future_slack_ms, 0);
	config_free(c);
}

/* An arcgis source: its file name and date zone come from elsewhere. */
static void test_arcgis_source(void **state)
{
	struct config *c = parse_ok("timezone: UTC\n"
		DS_URL("https://h.example/arcgis/rest/services/ODC_X/FeatureServer/66")
		"    source: arcgis\n");
	const struct cfg_dataset *d = &c->datasets[0];

	assert_int_equal(d->source, SOURCE_ARCGIS);
	assert_string_equal(d->file_name, "d.csv");
	assert_string_equal(d->arcgis.date_zone, "UTC");     /* the timezone setting */
	assert_string_equal(d->arcgis.where, "1=1");
	config_free(c);

	c = parse_ok(DS_URL("http://127.0.0.1:1/s/FeatureServer/0")
	             "    source: arcgis\n    file_name: t_{exec_date}.csv\n"
	             "    arcgis:\n      where: \"reported_date > DATE '2020-01-01'\"\n"
	             "      page_size: 250\n      date_zone: Etc/UTC\n      allow_http: true\n");
	d = &c->datasets[0];
	assert_string_equal(d->file_name, "t_{exec_date}.csv");
	assert_string_equal(d->arcgis.where, "reported_date > DATE '2020-01-01'");
	assert_int_equal(d->arcgis.page_size, 250);
	assert_string_equal(d->arcgis.date_zone, "Etc/UTC");
	assert_true(d->arcgis.allow_http);
	assert_string_equal(config_source_name(d->source), "arcgis");
	config_free(c);
}

/* An arcgis_hub source: <dataset>.csv, the hub mapping's defaults. */
static void test_arcgis_hub_source(void **state)
{
	struct config *c = parse_ok(DS_URL("https://h.example/api/download/v1/items/"
	                                   "ff6c84d8881647ca97b439971ad20a72/csv?layers=0")
	                            "    source: arcgis_hub\n");
	const struct cfg_dataset *d = &c->datasets[0];

	assert_int_equal(d->source, SOURCE_ARCGIS_HUB);
	assert_string_equal(config_source_name(d->source), "arcgis_hub");
	assert_string_equal(d->file_name, "d.csv");
	assert_int_equal(d->hub.poll_interval_ms, 3000);
	assert_int_equal(d->hub.deadline_ms, 30 * 60 * 1000);
	assert_false(d->hub.allow_http);
	config_free(c);

	c = parse_ok(DS_URL("http://127.0.0.1:1/api/download/v1/items/ab/csv?layers=3&where=1%3D1")
	             "    source: arcgis_hub\n    file_name: y.csv\n"
	             "    hub: {poll_interval: 250ms, deadline: 2h, allow_http: true}\n");
	d = &c->datasets[0];
	assert_string_equal(d->file_name, "y.csv");
	assert_int_equal(d->hub.poll_interval_ms, 250);
	assert_int_equal(d->hub.deadline_ms, 2 * 3600 * 1000);
	assert_true(d->hub.allow_http);
	config_free(c);
}

static void test_values_and_check_defaults(void **state)
{
	struct config *c = parse_ok(
		"socket_mode: \"0600\"\nlog_level: debug\nallow_file_urls: true\n"
		"spark: {conf: {spark.b: 2, spark.a: x=1}, python: /opt/py}\n"
		DS "    max_age: 1h30m\n    file_name: f_{year}.csv\n"
		"    schema:\n      event_time: t\n      key: [id]\n      columns:\n"
		"        - {name: id, type: int}\n"
		"        - {name: t, type: timestamp, formats: [\"%m/%d/%Y %I:%M:%S %p\"]}\n"
		"        - {name: x, type: float, aliases: [Lon, \"X Coord\"], nulls: [\"0\"], required: false}\n"
		"        - {name: y, type: float}\n"
		"    checks:\n"
		"      n: {type: nulls, columns: [id, x], max_null: 0.5%}\n"
		"      r: {type: range, columns: [x], min: -3.5e2}\n"
		"      rc: {type: row_count, max_change: 25%}\n"
		"      co: {type: coordinates, lat: y, lon: x, min_lat: 39.6, max_lat: 39.92, min_lon: -105.11, max_lon: -104.6}\n"
		"      a: {type: allowed, columns: [x], values: [Dry, \"Closed - Spam\"], severity: warn}\n");
	const struct cfg_dataset *d = &c->datasets[0];
	const struct cfg_column *x = config_column(&d->schema, "x");
	const struct cfg_check *ck = d->checks;

	assert_int_equal(c->socket_mode, 0600);
	assert_int_equal(c->log_level, LOG_DEBUG);
	assert_true(c->allow_file_urls);
	assert_int_equal(c->spark.n_conf, 2);
	assert_string_equal(c->spark.conf_keys[0], "spark.b");   /* file order */
	assert_string_equal(c->spark.conf_values[0], "2");
	assert_string_equal(c->spark.conf_values[1], "x=1");
	assert_string_equal(c->spark.python, "/opt/py");
	assert_int_equal(d->max_age_ms, 5400000);
	assert_string_equal(d->file_name, "f_{year}.csv");
	assert_string_equal(d->schema.event_time, "t");
	assert_int_equal(d->schema.n_columns, 4);
	assert_non_null(x);
	assert_int_equal(x->type, COL_FLOAT);
	assert_false(x->required);
	assert_int_equal(x->aliases.n, 2);
	assert_string_equal(x->aliases.items[1], "X Coord");
	assert_string_equal(x->nulls.items[0], "0");
	assert_true(config_column(&d->schema, "id")->required);
	assert_int_equal(config_column(&d->schema, "id")->type, COL_INT);
	assert_string_equal(config_column(&d->schema, "t")->formats.items[0], "%m/%d/%Y %I:%M:%S %p");
	assert_null(config_column(&d->schema, "X Coord"));

	assert_int_equal(d->n_checks, 5);
	assert_string_equal(ck[0].name, "n");
	assert_int_equal(ck[0].type, CHECK_NULLS);
	assert_int_equal(ck[0].severity, SEV_FAIL);
	assert_true(fabs(ck[0].max_fraction - 0.005) < 1e-12);
	assert_int_equal(ck[0].columns.n, 2);
	assert_int_equal(ck[1].type, CHECK_RANGE);
	assert_true(ck[1].min == -350.0);
	assert_true(isinf(ck[1].max) && ck[1].max > 0);
	assert_true(ck[1].max_fraction == 0);
	assert_int_equal(ck[2].type, CHECK_ROW_COUNT);
	assert_int_equal(ck[2].min_rows, 0);
	assert_int_equal(ck[2].max_rows, 0);
	assert_true(fabs(ck[2].max_change - 0.25) < 1e-12);
	assert_int_equal(ck[3].type, CHECK_COORDINATES);
	assert_string_equal(ck[3].lat, "y");
	assert_string_equal(ck[3].lon, "x");
	assert_true(ck[3].min_lon == -105.11 && ck[3].max_lat == 39.92);
	assert_true(ck[3].zero_is_null);
	assert_int_equal(ck[4].severity, SEV_WARN);
	assert_string_equal(ck[4].values.items[1], "Closed - Spam");
	config_free(c);
}

static void test_lookups(void **state)
{
	struct config *c = parse_ok(DS "jobs:\n  r: {after: [d], command: [x]}\n");
	assert_non_null(config_dataset(c, "d"));
	assert_null(config_dataset(c, "e"));
	assert_non_null(config_job(c, "r"));
	assert_int_equal(config_job(c, "r")->line, 6);
	assert_int_equal(config_job(c, "r")->timeout_ms, 3600000);
	assert_int_equal(config_job(c, "r")->kill_grace_ms, 10000);
	assert_null(config_job(c, "d"));
	config_free(c);
	config_free(NULL);
}

/* ---- reload ------------------------------------------------------------ */

/* The restart-only key config_restart_diff() names between DS and DS
 * plus EXTRA (NULL: none). */
static void expect_restart_diff(const char *extra, const char *want)
{
	char text[1024];
	struct config *a = parse_ok(DS), *b;
	const char *got;

	snprintf(text, sizeof text, "%s%s", extra, DS);
	b = parse_ok(text);
	got = config_restart_diff(a, b);
	if (want ? !got || strcmp(got, want) != 0 : got != NULL)
		fail_msg("'%s': got %s, want %s", extra, got ? got : "NULL", want ? want : "NULL");
	assert_null(config_restart_diff(b, b));
	config_free(a);
	config_free(b);
}

static void test_restart_diff(void **state)
{
	expect_restart_diff("timezone: UTC\n", "timezone");
	expect_restart_diff("state_dir: /srv/denverd\n", "state_dir");
	expect_restart_diff("socket: /run/other.sock\n", "socket");
	expect_restart_diff("socket_mode: \"0600\"\n", "socket_mode");
	expect_restart_diff("limits: {fetches: 3}\n", "limits.fetches");
	expect_restart_diff("limits: {checks: 3}\n", "limits.checks");
	expect_restart_diff("limits: {clients: 8}\n", "limits.clients");
	expect_restart_diff("limits: {request_size: 1MiB}\n", "limits.request_size");
	/* the first in the order of the tables */
	expect_restart_diff("limits: {clients: 8}\nsocket: /run/other.sock\n", "socket");
	/* the rest is applied by a reload */
	expect_restart_diff("", NULL);
	expect_restart_diff("log_level: debug\nallow_file_urls: true\n"
	                    "limits: {jobs: 4, output_tail: 1MiB}\n"
	                    "spark: {master: \"local[4]\"}\nalerts: {retries: 1}\n", NULL);
	expect_restart_diff("timezone: America/Denver\nlimits: {fetches: 2}\n", NULL);
}

/* ---- the key tables ---------------------------------------------------- */

/* A default is in its row's range and parses as its type; required keys
 * have none; restart-only keys hold a value a reload can compare. */
static int check_row(void *arg, const struct config_key *k)
{
	uint64_t v = 0;
	double f;
	int rc = 0;

	(*(size_t *)arg)++;
	if (k->required && (k->dflt || k->dflt_list))
		fail_msg("%s.%s: required, yet has a default", k->table, k->name);
	if (k->restart && (!k->type || strcmp(k->type, "mapping") == 0))
		fail_msg("%s.%s: restart-only but not comparable", k->table, k->name);
	if (!k->dflt || !k->type)
		return 0;
	if (strcmp(k->type, "duration") == 0)
		rc = config_parse_duration(k->dflt, &v);
	else if (strcmp(k->type, "size") == 0)
		rc = config_parse_size(k->dflt, &v);
	else if (strcmp(k->type, "integer") == 0)
		v = strtoull(k->dflt, NULL, 10);
	else if (strcmp(k->type, "percentage") == 0 && strcmp(k->dflt, "off") != 0)
		rc = config_parse_percent(k->dflt, &f), v = (uint64_t)(f * 100);
	else
		return 0;
	if (rc < 0 || v < k->lo || v > k->hi)
		fail_msg("%s.%s: default '%s' is outside %llu..%llu", k->table, k->name, k->dflt,
		         (unsigned long long)k->lo, (unsigned long long)k->hi);
	return 0;
}

static int stop_at_third(void *arg, const struct config_key *k)
{
	return ++*(int *)arg == 3 ? -42 : 0;
}

static void test_key_rows(void **state)
{
	size_t rows = 0;
	int calls = 0;

	assert_int_equal(config_keys_foreach(check_row, &rows), 0);
	assert_true(rows > 80);
	assert_int_equal(config_keys_foreach(stop_at_third, &calls), -42);
	assert_int_equal(calls, 3);
}

/* ---- files ------------------------------------------------------------- */

static void test_load_errors(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct config *cfg;
	char *errors;
	int fd;
	FILE *f;

	assert_int_equal(config_load("/nonexistent/denverd.yaml", &cfg, &errors), -ENOENT);
	assert_null(cfg);
	assert_string_equal(errors, "/nonexistent/denverd.yaml: cannot read: No such file or "
	                            "directory\n");
	free(errors);
	assert_int_equal(config_load("/", &cfg, &errors), -EISDIR);
	free(errors);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	for (size_t i = 0; i < CONFIG_MAX_FILE_SIZE / 16 + 1; i++)
		fputs("# 4 MiB of this\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &cfg, &errors), -EFBIG);
	assert_null(cfg);
	assert_non_null(strstr(errors, ": the file is larger than 4194304 bytes\n"));
	free(errors);

	assert_non_null(f = fopen(path, "w"));
	fputs("datasets:\n  d:\n    url: https://x.org/a.csv\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &cfg, &errors), -EINVAL);
	assert_non_null(strstr(errors, ":2:3: missing key 'schedule' in dataset 'd'\n"));
	assert_int_equal(strncmp(errors, path, strlen(path)), 0);
	free(errors);

	assert_non_null(f = fopen(path, "w"));
	fputs(DS, f);
	fclose(f);
	assert_int_equal(config_load(path, &cfg, &errors), 0);
	assert_null(errors);
	assert_string_equal(cfg->path, path);
	config_free(cfg);
	unlink(path);
}

static const struct cfg_check *check_named(const struct cfg_dataset *d, const char *name)
{
	for (size_t i = 0; i < d->n_checks; i++)
		if (strcmp(d->checks[i].name, name) == 0)
			return &d->checks[i];
	fail_msg("no check %s", name);
	return NULL;
}

static bool list_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

/* The shipped Denver configuration loads, and says what issue 2 asks. */
static void test_shipped_config(void **state)
{
	struct config *c;
	char *errors = NULL;
	int rc = config_load(SOURCE_ROOT "/etc/denverd.yaml", &c, &errors);
	const struct cfg_dataset *t, *s;
	const struct cfg_column *col;
	const struct cfg_check *ck;
	const struct cfg_job *job;

	if (rc != 0)
		fail_msg("rc %d:\n%s", rc, errors ? errors : "");
	assert_string_equal(c->timezone, "America/Denver");
	assert_string_equal(c->state_dir, "/var/lib/denverd");
	assert_string_equal(c->socket, "/run/denverd/denverd.sock");
	assert_false(c->allow_file_urls);
	assert_string_equal(c->spark.jobs_dir, "/usr/share/denverd/jobs");
	assert_string_equal(c->spark.conf_keys[0], "spark.sql.session.timeZone");
	assert_string_equal(c->spark.conf_values[0], "America/Denver");
	assert_null(c->alerts.webhook);
	assert_int_equal(c->alerts.command.n, 0);
	assert_int_equal(c->n_datasets, 2);

	t = config_dataset(c, "traffic_accidents");
	assert_non_null(t);
	assert_int_equal(t->source, SOURCE_ARCGIS);
	assert_string_equal(t->url, "https://services1.arcgis.com/zdB7qR0BtYrg0Xpl/arcgis/rest/"
	                            "services/ODC_CRIME_TRAFFICACCIDENTS5YR_P/FeatureServer/325");
	assert_string_equal(t->arcgis.where, "1=1");
	assert_string_equal(t->arcgis.date_zone, "America/Denver");
	assert_string_equal(t->schedule, "15 6 * * *");
	assert_string_equal(t->file_name, "traffic_accidents.csv");
	assert_int_equal(t->schema.n_columns, 51);   /* 47, 2 of 2014-2017, x and y */
	assert_string_equal(t->schema.event_time, "reported_date");
	assert_int_equal(t->schema.key.n, 1);
	assert_non_null(col = config_column(&t->schema, "geo_lon"));
	assert_string_equal(col->aliases.items[0], "longitude");
	assert_true(list_has(&col->nulls, "0"));
	assert_non_null(col = config_column(&t->schema, "harmful_event_seq_3"));
	assert_string_equal(col->aliases.items[0], "harmful_event_seq_most");
	assert_int_equal(config_column(&t->schema, "reported_date")->type, COL_TIMESTAMP);
	assert_int_equal(config_column(&t->schema, "incident_id")->type, COL_STRING);  /* DP... */
	assert_string_equal(t->schema.timestamp_formats.items[0], "%Y-%m-%dT%H:%M:%S%z");
	assert_false(config_column(&t->schema, "offense_type_id")->required);
	assert_true(list_has(&t->schema.timestamp_formats, "%m/%d/%Y %I:%M:%S %p"));
	ck = check_named(t, "location");
	assert_int_equal(ck->type, CHECK_COORDINATES);
	assert_true(ck->min_lat == 39.6 && ck->max_lon == -104.6);
	assert_int_equal(check_named(t, "key_unique")->severity, SEV_FAIL);
	ck = check_named(t, "road_conditions");
	assert_true(list_has(&ck->values, "Dry"));
	assert_true(list_has(&ck->values, "Dry W/Visible Icy Road Treatment"));
	assert_true(list_has(&check_named(t, "light_conditions")->values, "DAY LIGHT"));

	s = config_dataset(c, "service_requests_311");
	assert_non_null(s);
	assert_int_equal(s->source, SOURCE_ARCGIS);
	assert_string_equal(s->url, "https://services1.arcgis.com/zdB7qR0BtYrg0Xpl/arcgis/rest/"
	                            "services/ODC_service_requests_311/FeatureServer/66");
	assert_string_equal(s->schedule, "45 6 * * *");
	assert_string_equal(s->file_name, "service_requests_311.csv");
	assert_string_equal(s->arcgis.date_zone, "America/Denver");     /* the timezone */
	assert_int_equal(s->schema.n_columns, 25);   /* 24 + objectid */
	assert_int_equal(s->schema.key.n, 6);
	assert_string_equal(s->schema.key.items[0], "case_created_dttm");
	assert_string_equal(s->schema.event_time, "case_created_dttm");
	assert_true(list_has(&config_column(&s->schema, "incident_zip_code")->nulls, "00000"));
	assert_int_equal(config_column(&s->schema, "case_created_date")->formats.n, 2);
	ck = check_named(s, "status");
	assert_int_equal(ck->type, CHECK_ALLOWED);
	assert_true(list_has(&ck->values, "Closed - Transfered to External Agency"));
	assert_true(list_has(&ck->values, "Spam"));
	assert_int_equal(check_named(s, "key_unique")->severity, SEV_WARN);

	assert_int_equal(c->n_jobs, 1);
	job = config_job(c, "report");
	assert_non_null(job);
	assert_int_equal(job->after.n, 2);
	assert_string_equal(job->command.items[0], "spark-submit");
	assert_true(list_has(&job->command, "/usr/share/denverd/jobs/report.py"));
	assert_true(list_has(&job->command, "{state_dir}/reports/exec_date={exec_date}"));
	assert_int_equal(job->retry.retries, 1);
	config_free(c);
}

/* The commented Hub example of the shipped file, uncommented, is a valid
 * dataset: its lines from "  # service_requests_311_2023:" on, as long as
 * they are comments indented by two, lose their "# ". */
static void test_shipped_hub_example(void **state)
{
	static const char head[] = "timezone: America/Denver\ndatasets:\n";
	static char file[64 * 1024], text[8192];
	FILE *f = fopen(SOURCE_ROOT "/etc/denverd.yaml", "r");
	size_t n, off = 0;
	char *line, *errors = NULL;
	struct config *c;
	const struct cfg_dataset *d;

	assert_non_null(f);
	n = fread(file, 1, sizeof file - 1, f);
	fclose(f);
	file[n] = '\0';
	assert_non_null(line = strstr(file, "\n  # service_requests_311_2023:\n"));
	memcpy(text, head, sizeof head - 1);
	off = sizeof head - 1;
	for (line++; strncmp(line, "  #", 3) == 0; ) {
		char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		size_t skip = strncmp(line, "  # ", 4) == 0 ? 4 : 3;
		assert_true(off + len + 1 < sizeof text);
		memcpy(text + off, "  ", 2);
		memcpy(text + off + 2, line + skip, len - skip);
		off += 2 + len - skip;
		text[off++] = '\n';
		if (!end)
			break;
		line = end + 1;
	}
	text[off] = '\0';
	if (config_parse("example", text, off, &c, &errors) != 0)
		fail_msg("%s\n%s", errors, text);
	assert_int_equal(c->n_datasets, 1);
	d = config_dataset(c, "service_requests_311_2023");
	assert_non_null(d);
	assert_int_equal(d->source, SOURCE_ARCGIS_HUB);
	assert_string_equal(d->url, "https://opendata-geospatialdenver.hub.arcgis.com/api/"
	                            "download/v1/items/ff6c84d8881647ca97b439971ad20a72/csv?layers=0");
	assert_string_equal(d->file_name, "service_requests_311_2023.csv");
	assert_int_equal(d->hub.poll_interval_ms, 3000);
	assert_int_equal(d->n_checks, 1);
	config_free(c);
}

/* The EXAMPLE of denverd.yaml(5) is a valid configuration. */
static void test_man_page_example(void **state)
{
	FILE *f = fopen(SOURCE_ROOT "/man/denverd.yaml.5.scd", "r");
	static char page[64 * 1024];
	size_t n;
	char *start, *end, *errors = NULL;
	struct config *c;

	assert_non_null(f);
	n = fread(page, 1, sizeof page - 1, f);
	fclose(f);
	page[n] = '\0';
	assert_non_null(start = strstr(page, "\n# EXAMPLE\n"));
	assert_non_null(start = strstr(start, "```\n"));
	start += 4;
	assert_non_null(end = strstr(start, "\n```"));
	end[1] = '\0';
	if (config_parse("example", start, strlen(start), &c, &errors) != 0)
		fail_msg("%s", errors);
	assert_int_equal(c->n_datasets, 2);
	assert_int_equal(config_dataset(c, "traffic_accidents")->n_checks, 6);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_arcgis_source),
		cmocka_unit_test(test_arcgis_hub_source),
		cmocka_unit_test(test_values_and_check_defaults),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_restart_diff),
		cmocka_unit_test(test_key_rows),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_shipped_config),
		cmocka_unit_test(test_shipped_hub_example),
		cmocka_unit_test(test_man_page_example),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
