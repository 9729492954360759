/* test_lineage.c - OpenLineage events: the JSON of each state, the run
 * IDs, the file transport, and the HTTP queue (its cap drops the oldest
 * waiting event) against a loopback server on the test's loop. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "base/denverd.h"
#include "config/config.h"
#include "loophttp.h"
#include "notify/lineage.h"
#include "notify/lineage_int.h"
#include "tmpstore.h"

#define DATASET_YAML \
	"datasets:\n  crime:\n    url: https://example.org/data/crime-{year}.csv?f=csv\n" \
	"    schedule: \"15 6 * * *\"\n    schema:\n      columns:\n" \
	"        - {name: id, type: int}\n        - {name: reported, type: timestamp}\n" \
	"      key: [id]\n    checks:\n      ids:\n        type: nulls\n" \
	"        columns: [id]\n      enough:\n        type: row_count\n        min: 1\n"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		fail_msg("not JSON (%s): %s", e.text, text);
	return j;
}

static const char *str_at(json_t *j, const char *path)
{
	char buf[256], *save = NULL;
	snprintf(buf, sizeof buf, "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, (size_t)atoi(k)) : json_object_get(j, k);
	return json_string_value(j);
}

static json_t *at(json_t *j, const char *path)
{
	char buf[256], *save = NULL;
	snprintf(buf, sizeof buf, "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, (size_t)atoi(k)) : json_object_get(j, k);
	return j;
}

static struct config *load(const char *yaml)
{
	struct config *c = NULL;
	char *err = NULL;
	if (config_parse("t.yaml", yaml, strlen(yaml), &c, &err) < 0)
		fail_msg("config: %s", err ? err : "?");
	return c;
}

static void test_types(void **state)
{
	assert_int_equal(lineage_type_of(RUN_RUNNING, true), LT_START);
	assert_int_equal(lineage_type_of(RUN_RUNNING, false), LT_RUNNING);
	assert_int_equal(lineage_type_of(RUN_SUCCEEDED, true), LT_COMPLETE);
	assert_int_equal(lineage_type_of(RUN_UNCHANGED, true), LT_COMPLETE);
	assert_int_equal(lineage_type_of(RUN_FAILED, true), LT_FAIL);
	assert_int_equal(lineage_type_of(RUN_CANCELLED, true), LT_ABORT);
	assert_int_equal(lineage_type_of(RUN_QUEUED, true), -1);
	assert_int_equal(lineage_type_of(RUN_SKIPPED, true), -1);
	assert_string_equal(lineage_type_to_string(LT_ABORT), "ABORT");
	assert_null(lineage_type_to_string(_LT_MAX));
}

static void test_uuid_stable(void **state)
{
	char a[37], b[37], c[37], d[37], e[37];

	lineage_run_uuid("/var/lib/denverd", 42, "fetch", a);
	lineage_run_uuid("/var/lib/denverd", 42, "fetch", b);
	lineage_run_uuid("/var/lib/denverd", 42, "check", c);
	lineage_run_uuid("/var/lib/other", 42, "fetch", d);
	lineage_run_uuid("/var/lib/denverd", 42, NULL, e);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	assert_string_not_equal(a, e);
	/* 8-4-4-4-12 hex, version 8, variant 10 */
	assert_int_equal(strlen(a), 36);
	for (int i = 0; i < 36; i++)
		assert_true(i == 8 || i == 13 || i == 18 || i == 23 ? a[i] == '-'
		            : strchr("0123456789abcdef", a[i]) != NULL);
	assert_int_equal(a[14], '8');
	assert_non_null(strchr("89ab", a[19]));
	/* run id 1 and task "2" must not meet run id 12 and task "" */
	lineage_run_uuid("/s", 1, "2", b);
	lineage_run_uuid("/s", 12, "", c);
	assert_string_not_equal(b, c);
}

static void test_event_json_each_state(void **state)
{
	struct config *cfg = load("state_dir: /srv/d\n" DATASET_YAML);
	const struct cfg_dataset *ds = config_dataset(cfg, "crime");
	struct store_snapshot_ref snap = {
		.id = 1, .path = "/srv/d/staging/crime/exec_date=2026-03-08/crime-2026.csv",
		.state = "published", .hash = "00ff", .url = "https://u:p@example.org/data/crime-2026.csv?f=csv",
		.bytes = 1234, .rows = 100,
	};
	struct store_dq_result dq[] = {
		{ .name = "ids", .type = "nulls", .severity = "fail", .outcome = "pass",
		  .observed = 0.05, .threshold = "<= 0%" },
		{ .name = "enough", .type = "row_count", .severity = "fail", .outcome = "fail",
		  .observed = NAN },
	};
	json_t *manifest = parse("{\"version\":1,\"rows_read\":100,\"rows_written\":97,"
	                         "\"rows_rejected\":{\"bad_time\":3},"
	                         "\"partitions\":[\"year=2026/month=3\"]}");
	struct lineage_facts f = {
		.namespace = "denverd", .state_dir = "/srv/d", .ds = ds, .target = "crime",
		.task = "fetch", .run_id = 7, .exec_date = "2026-03-08", .ts = 1772956740123,
		.type = LT_START, .source_url = "https://example.org/data/crime-2026.csv?f=csv",
	};
	char *text, id[37];
	json_t *j;

	/* fetch START: the source, expanded, and the snapshots it will write */
	assert_int_equal(lineage_event_json(&f, &text), 0);
	j = parse(text);
	assert_string_equal(str_at(j, "eventType"), "START");
	assert_string_equal(str_at(j, "eventTime"), "2026-03-08T07:59:00.123Z");
	assert_string_equal(str_at(j, "schemaURL"), LINEAGE_SCHEMA_URL);
	assert_string_equal(str_at(j, "job.name"), "crime.fetch");
	assert_string_equal(str_at(j, "job.namespace"), "denverd");
	lineage_run_uuid("/srv/d", 7, "fetch", id);
	assert_string_equal(str_at(j, "run.runId"), id);
	lineage_run_uuid("/srv/d", 7, NULL, id);
	assert_string_equal(str_at(j, "run.facets.parent.run.runId"), id);
	assert_string_equal(str_at(j, "run.facets.parent.job.name"), "crime");
	assert_string_equal(str_at(j, "inputs.0.namespace"), "https://example.org");
	assert_string_equal(str_at(j, "inputs.0.name"), "/data/crime-2026.csv?f=csv");
	assert_string_equal(str_at(j, "inputs.0.facets.schema.fields.1.name"), "reported");
	assert_string_equal(str_at(j, "outputs.0.name"), "/srv/d/staging/crime");
	assert_null(at(j, "outputs.0.facets.denverd_snapshot"));
	assert_null(at(j, "run.facets.errorMessage"));
	json_decref(j);
	free(text);

	/* fetch COMPLETE: the snapshot's facts; userinfo never named */
	f.type = LT_COMPLETE;
	f.snap = &snap;
	assert_int_equal(lineage_event_json(&f, &text), 0);
	assert_null(strstr(text, "u:p@"));
	j = parse(text);
	assert_string_equal(str_at(j, "eventType"), "COMPLETE");
	assert_string_equal(str_at(j, "inputs.0.namespace"), "https://example.org");
	assert_string_equal(str_at(j, "outputs.0.facets.denverd_snapshot.hash"), "00ff");
	assert_int_equal(json_integer_value(at(j, "outputs.0.facets.denverd_snapshot.rows")), 100);
	assert_non_null(str_at(j, "outputs.0.facets.denverd_snapshot._schemaURL"));
	json_decref(j);
	free(text);

	/* check FAIL: metrics and one assertion per check */
	f.task = "check";
	f.type = LT_FAIL;
	f.dq = dq;
	f.n_dq = 2;
	f.message = "check enough failed";
	assert_int_equal(lineage_event_json(&f, &text), 0);
	j = parse(text);
	assert_string_equal(str_at(j, "eventType"), "FAIL");
	assert_int_equal(json_array_size(at(j, "outputs")), 0);
	assert_int_equal(json_integer_value(at(j, "inputs.0.inputFacets.dataQualityMetrics.rowCount")), 100);
	assert_int_equal(json_integer_value(at(j, "inputs.0.inputFacets.dataQualityMetrics."
	                                       "columnMetrics.id.nullCount")), 5);
	assert_string_equal(str_at(j, "inputs.0.inputFacets.dataQualityAssertions.assertions.0.column"), "id");
	assert_true(json_is_true(at(j, "inputs.0.inputFacets.dataQualityAssertions.assertions.0.success")));
	assert_true(json_is_false(at(j, "inputs.0.inputFacets.dataQualityAssertions.assertions.1.success")));
	assert_string_equal(str_at(j, "run.facets.errorMessage.message"), "check enough failed");
	json_decref(j);
	free(text);

	/* convert COMPLETE: the datastore, its months, rejects by reason */
	f.task = "convert";
	f.type = LT_COMPLETE;
	f.message = NULL;
	f.manifest = manifest;
	assert_int_equal(lineage_event_json(&f, &text), 0);
	j = parse(text);
	assert_string_equal(str_at(j, "inputs.0.name"), "/srv/d/staging/crime");
	assert_string_equal(str_at(j, "outputs.0.name"), "/srv/d/datastore/crime");
	assert_string_equal(str_at(j, "outputs.0.facets.denverd_convert.months.0"), "year=2026/month=3");
	assert_int_equal(json_integer_value(at(j, "outputs.0.facets.denverd_convert.rowsRejected.bad_time")), 3);
	assert_int_equal(json_integer_value(at(j, "outputs.0.outputFacets.outputStatistics.rowCount")), 97);
	json_decref(j);
	free(text);

	/* a job's ABORT: no datasets */
	struct lineage_facts jf = {
		.namespace = "ns", .state_dir = "/srv/d", .target = "report", .task = "report",
		.run_id = 8, .exec_date = "2026-03-08", .ts = 0, .type = LT_ABORT,
		.message = "cancelled by the operator",
	};
	assert_int_equal(lineage_event_json(&jf, &text), 0);
	j = parse(text);
	assert_string_equal(str_at(j, "eventType"), "ABORT");
	assert_string_equal(str_at(j, "job.name"), "report");
	assert_string_equal(str_at(j, "eventTime"), "1970-01-01T00:00:00.000Z");
	assert_int_equal(json_array_size(at(j, "inputs")), 0);
	json_decref(j);
	free(text);
	json_decref(manifest);
	config_free(cfg);
}

/* ---- the transports, through lineage_task_state ---- */

struct rig {
	uv_loop_t loop;
	struct tmpstore ts;
	struct denverd d;
	struct srv srv;
	char file[128];
};

static void rig_start(struct rig *r, const char *lineage_yaml)
{
	char yaml[4096];

	memset(r, 0, sizeof *r);
	assert_int_equal(uv_loop_init(&r->loop), 0);
	assert_int_equal(tmpstore_open(&r->ts), 0);
	snprintf(r->file, sizeof r->file, "%s/lineage.ndjson", r->ts.dir);
	snprintf(yaml, sizeof yaml, "state_dir: %s\n%s", r->ts.dir, lineage_yaml);
	r->d.loop = &r->loop;
	r->d.store = r->ts.st;
	r->d.cfg = load(yaml);
	assert_int_equal(lineage_init(&r->d), 0);
}

static void rig_stop(struct rig *r)
{
	lineage_fini(&r->d);
	uv_walk(&r->loop, loophttp_close_walk, NULL);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&r->loop), 0);
	config_free(r->d.cfg);
	tmpstore_close(&r->ts);
}

static void job_event(struct rig *r, int64_t run_id, enum run_state s)
{
	const struct lineage_task_event ev = {
		.ts = 1000, .job = "report", .task = "report", .run_id = run_id,
		.exec_date = "2026-03-08", .state = s, .message = "m",
	};
	lineage_task_state(r->d.lineage, &ev);
}

static void test_file_transport(void **state)
{
	struct rig r;
	char yaml[256], line[8192];
	struct lineage_counts c;
	FILE *f;
	int n = 0;

	snprintf(yaml, sizeof yaml, "lineage:\n  file: /tmp/denverd-lineage-unit-%d.ndjson\n",
	         (int)getpid());
	rig_start(&r, yaml);
	job_event(&r, 1, RUN_QUEUED);          /* no event */
	job_event(&r, 1, RUN_RUNNING);
	job_event(&r, 1, RUN_SUCCEEDED);
	lineage_counts(r.d.lineage, &c);
	assert_int_equal(c.emitted, 2);
	assert_int_equal(c.file_errors, 0);
	assert_non_null(f = fopen(r.d.cfg->lineage.file, "r"));
	while (fgets(line, sizeof line, f)) {
		json_t *j = parse(line);
		assert_string_equal(str_at(j, "eventType"), n == 0 ? "START" : "COMPLETE");
		json_decref(j);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 2);
	unlink(r.d.cfg->lineage.file);
	rig_stop(&r);

	/* a file that cannot be written: counted, and the events go on */
	rig_start(&r, "lineage:\n  file: /nonexistent/dir/lineage.ndjson\n");
	job_event(&r, 1, RUN_RUNNING);
	job_event(&r, 1, RUN_FAILED);
	lineage_counts(r.d.lineage, &c);
	assert_int_equal(c.emitted, 2);
	assert_int_equal(c.file_errors, 2);
	rig_stop(&r);
}

/* The dataset events of the file transport in TS's state_dir with STORAGE
 * (a storage: section, or ""): fetch START and convert START, parsed, in
 * OUT[0] and OUT[1] (caller decrefs). */
static void dataset_events(const char *storage, json_t *out[2])
{
	struct rig r;
	char yaml[2048], line[16384];
	const char *tasks[] = { "fetch", "convert" };
	FILE *f;

	snprintf(yaml, sizeof yaml, "%slineage:\n  file: /tmp/denverd-lineage-s3-%d.ndjson\n"
	         DATASET_YAML, storage, (int)getpid());
	rig_start(&r, yaml);
	for (int i = 0; i < 2; i++) {
		const struct lineage_task_event ev = {
			.ts = 1000, .dataset = "crime", .task = tasks[i], .run_id = 3,
			.exec_date = "2026-03-08", .state = RUN_RUNNING,
		};
		lineage_task_state(r.d.lineage, &ev);
	}
	assert_non_null(f = fopen(r.d.cfg->lineage.file, "r"));
	for (int i = 0; i < 2; i++) {
		assert_non_null(fgets(line, sizeof line, f));
		out[i] = parse(line);
	}
	assert_null(fgets(line, sizeof line, f));
	fclose(f);
	unlink(r.d.cfg->lineage.file);
	rig_stop(&r);
}

/* storage: s3 names the snapshots and the datastore as S3 objects
 * (OpenLineage naming: namespace s3://<bucket>, name the key path), with
 * the prefix and without; local storage names files under state_dir. */
static void test_dataset_names_by_storage(void **state)
{
	json_t *j[2];

	dataset_events("storage:\n  type: s3\n  endpoint: http://127.0.0.1:8333\n"
	               "  bucket: denver-data\n  prefix: prod/denverd\n", j);
	assert_string_equal(str_at(j[0], "outputs.0.namespace"), "s3://denver-data");
	assert_string_equal(str_at(j[0], "outputs.0.name"), "prod/denverd/staging/crime");
	assert_string_equal(str_at(j[0], "inputs.0.namespace"), "https://example.org");
	assert_string_equal(str_at(j[1], "inputs.0.namespace"), "s3://denver-data");
	assert_string_equal(str_at(j[1], "inputs.0.name"), "prod/denverd/staging/crime");
	assert_string_equal(str_at(j[1], "outputs.0.namespace"), "s3://denver-data");
	assert_string_equal(str_at(j[1], "outputs.0.name"), "prod/denverd/datastore/crime");
	json_decref(j[0]);
	json_decref(j[1]);

	dataset_events("storage:\n  type: s3\n  endpoint: http://127.0.0.1:8333\n"
	               "  bucket: denver-data\n", j);
	assert_string_equal(str_at(j[0], "outputs.0.name"), "staging/crime");
	assert_string_equal(str_at(j[1], "outputs.0.name"), "datastore/crime");
	json_decref(j[0]);
	json_decref(j[1]);

	dataset_events("", j);
	assert_string_equal(str_at(j[1], "outputs.0.namespace"), "file");
	assert_non_null(strstr(str_at(j[1], "outputs.0.name"), "/datastore/crime"));
	assert_string_equal(str_at(j[1], "inputs.0.namespace"), "file");
	json_decref(j[0]);
	json_decref(j[1]);
}

/* The rig with a loopback server answering SCRIPT on its loop, and
 * lineage.url pointing at it; MORE is more of the lineage section. */
static void rig_with_server(struct rig *r, const int *script, int n, const char *more)
{
	char yaml[1024];

	rig_start(r, "");
	assert_int_equal(srv_start(&r->loop, &r->srv, script, n), 0);
	config_free(r->d.cfg);
	snprintf(yaml, sizeof yaml, "state_dir: %s\nlineage:\n%s  url: http://127.0.0.1:%d"
	         "/api/v1/lineage\n", r->ts.dir, more, r->srv.port);
	r->d.cfg = load(yaml);
}

static void run_until(uv_loop_t *loop, const int *requests, int n)
{
	uint64_t until = uv_now(loop) + 10000;
	while (*requests < n && uv_now(loop) < until)
		uv_run(loop, UV_RUN_ONCE);
}

static void test_queue_drops_the_oldest(void **state)
{
	static const int script[] = { 200, 200, 200, 200 };
	struct rig r;
	struct lineage_counts c;

	rig_with_server(&r, script, 4, "  queue: 2\n  header: \"Authorization: Bearer T0K\"\n");

	/* run 1 is taken for sending at once; 2 and 3 wait; 4 and 5 push them out */
	for (int run = 1; run <= 5; run++)
		job_event(&r, run, RUN_RUNNING);
	lineage_counts(r.d.lineage, &c);
	assert_int_equal(c.emitted, 5);
	assert_int_equal(c.dropped, 2);
	assert_int_equal(c.queued, 3);
	run_until(&r.loop, &r.srv.requests, 3);
	assert_int_equal(r.srv.requests, 3);
	for (int i = 0; i < 10; i++)
		uv_run(&r.loop, UV_RUN_NOWAIT);
	lineage_counts(r.d.lineage, &c);
	assert_int_equal(c.delivered, 3);
	assert_int_equal(c.queued, 0);
	const int64_t want[] = { 1, 4, 5 };
	for (int i = 0; i < 3; i++) {
		char id[37];
		lineage_run_uuid(r.ts.dir, want[i], "report", id);
		assert_non_null(strstr(r.srv.body[i], id));
		assert_non_null(strstr(r.srv.head[i], "Authorization: Bearer T0K"));
		assert_non_null(strstr(r.srv.head[i], "POST /api/v1/lineage"));
	}
	uv_close((uv_handle_t *)&r.srv.tcp, NULL);
	rig_stop(&r);
}

/* A receiver that never answers: events wait, none is lost to it but the
 * overflow, and stopping does not wait. */
static void test_stalled_receiver(void **state)
{
	static const int script[] = { 0 };
	struct rig r;
	struct lineage_counts c;

	rig_with_server(&r, script, 1, "  queue: 3\n  timeout: 10m\n");
	for (int run = 1; run <= 10; run++)
		job_event(&r, run, RUN_RUNNING);
	run_until(&r.loop, &r.srv.requests, 1);
	lineage_counts(r.d.lineage, &c);
	assert_int_equal(c.queued, 4);            /* one in flight, three waiting */
	assert_int_equal(c.dropped, 6);
	uv_close((uv_handle_t *)&r.srv.tcp, NULL);
	rig_stop(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_uuid_stable),
		cmocka_unit_test(test_event_json_each_state),
		cmocka_unit_test(test_file_transport),
		cmocka_unit_test(test_dataset_names_by_storage),
		cmocka_unit_test(test_queue_drops_the_oldest),
		cmocka_unit_test(test_stalled_receiver),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
