/* test_jobspec.c - what the daemon tells its jobs about where the data is
 * (engine/tasks/jobspec.h), in both storage modes: the datastore root, the
 * snapshot as read, the spec's storage object, spark-submit's --conf list
 * (the operator's entries winning over the derived s3a ones), and a job's
 * spec file; never a secret in any of it. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"
#include "engine/tasks/jobspec.h"
#include "io/job.h"

#define S3_YAML "storage: {type: s3, endpoint: \"http://127.0.0.1:8333\", bucket: denver, " \
	"prefix: prod/dd, region: us-west-2}\n"

static struct config *parse(const char *dir, const char *more)
{
	char text[2048];
	char *errors = NULL;
	struct config *cfg = NULL;
	int n = snprintf(text, sizeof text,
	                 "state_dir: %s\nsocket: %s/s.sock\n%s"
	                 "datasets:\n  a:\n    url: http://127.0.0.1:9/a.csv\n"
	                 "    schedule: \"15 6 * * *\"\n", dir, dir, more);
	if (config_parse("t.yaml", text, (size_t)n, &cfg, &errors) < 0) {
		fprintf(stderr, "%s", errors);
		fail();
	}
	return cfg;
}

static void test_local(void **state)
{
	struct config *cfg = parse("/var/lib/denverd", "spark: {conf: {spark.ui.enabled: \"false\"}}\n");
	struct argv_buf a = { 0 };
	char out[PATH_MAX], *in;
	json_t *st;

	assert_int_equal(jobspec_datastore(cfg, "a", out, sizeof out), 0);
	assert_string_equal(out, "/var/lib/denverd/datastore/a");
	assert_int_equal(jobspec_datastore(cfg, NULL, out, sizeof out), 0);
	assert_string_equal(out, "/var/lib/denverd/datastore");
	assert_int_equal(jobspec_datastore(cfg, "a", out, 10), -ENAMETOOLONG);
	assert_int_equal(jobspec_input("/var/lib/denverd/staging/a/x.csv", &in), 0);
	assert_string_equal(in, "/var/lib/denverd/staging/a/x.csv");
	free(in);
	assert_true(json_is_null(st = jobspec_storage(cfg)));
	json_decref(st);
	/* local: spark.conf only */
	jobspec_push_conf(cfg, &a);
	assert_false(a.failed);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.v[0], "--conf");
	assert_string_equal(a.v[1], "spark.ui.enabled=false");
	job_strv_free(a.v);
	config_free(cfg);
}

static void test_s3(void **state)
{
	struct config *cfg = parse("/var/lib/denverd", S3_YAML
	        "spark:\n  conf:\n    spark.ui.enabled: \"false\"\n"
	        "    spark.hadoop.fs.s3a.endpoint: \"http://s3.internal:8333\"\n"
	        "  s3a_classpath: [/bin/sh, /bin/ls]\n");
	struct argv_buf a = { 0 };
	char out[PATH_MAX], *in, *text;
	json_t *st;

	assert_int_equal(jobspec_datastore(cfg, "a", out, sizeof out), 0);
	assert_string_equal(out, "s3a://denver/prod/dd/datastore/a");
	assert_int_equal(jobspec_datastore(cfg, NULL, out, sizeof out), 0);
	assert_string_equal(out, "s3a://denver/prod/dd/datastore");
	assert_int_equal(jobspec_input("s3://denver/prod/dd/staging/a/exec_date=2026-11-24/a.csv",
	                               &in), 0);
	assert_string_equal(in, "s3a://denver/prod/dd/staging/a/exec_date=2026-11-24/a.csv");
	free(in);
	st = jobspec_storage(cfg);
	text = json_dumps(st, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"endpoint\":\"http://127.0.0.1:8333\",\"path_style\":true,"
	                    "\"region\":\"us-west-2\",\"type\":\"s3\"}");
	free(text);
	json_decref(st);

	/* spark.conf first, then the derived settings it does not set */
	jobspec_push_conf(cfg, &a);
	assert_false(a.failed);
	const char *want[] = {
		"spark.ui.enabled=false",
		"spark.hadoop.fs.s3a.endpoint=http://s3.internal:8333",
		"spark.hadoop.fs.s3a.endpoint.region=us-west-2",
		"spark.hadoop.fs.s3a.path.style.access=true",
		"spark.hadoop.fs.s3a.connection.ssl.enabled=false",
		"spark.hadoop.fs.s3a.aws.credentials.provider="
		"com.amazonaws.auth.EnvironmentVariableCredentialsProvider",
		"spark.hadoop.fs.s3a.change.detection.mode=none",
		"spark.hadoop.fs.s3a.directory.marker.retention=delete",
		"spark.driver.extraClassPath=/bin/sh:/bin/ls",
		"spark.executor.extraClassPath=/bin/sh:/bin/ls",
	};
	assert_int_equal(a.n, 2 * (sizeof want / sizeof want[0]));
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_string_equal(a.v[2 * i], "--conf");
		assert_string_equal(a.v[2 * i + 1], want[i]);
	}
	job_strv_free(a.v);
	config_free(cfg);
}

/* A configured job's spec file: where the datastore is, never a key. */
static void test_job_spec(void **state)
{
	char dir[] = "/tmp/jobspec-XXXXXX", spec[PATH_MAX], err[256] = "", cmd[PATH_MAX + 64];
	assert_non_null(mkdtemp(dir));
	struct config *cfg = parse(dir, S3_YAML);
	struct task_info ti = { .cfg = cfg, .target = "report", .exec_date = "2026-11-24",
	                        .run_id = 42 };
	json_error_t jerr;
	json_t *j;

	assert_int_equal(jobspec_job(&ti, "s3a://denver/prod/dd/datastore", spec, err, sizeof err), 0);
	snprintf(cmd, sizeof cmd, "%s/work/run-42/spec.json", dir);
	assert_string_equal(spec, cmd);
	assert_non_null(j = json_load_file(spec, 0, &jerr));
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
	assert_string_equal(json_string_value(json_object_get(j, "job")), "report");
	assert_string_equal(json_string_value(json_object_get(j, "exec_date")), "2026-11-24");
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), 42);
	assert_string_equal(json_string_value(json_object_get(j, "datastore")),
	                    "s3a://denver/prod/dd/datastore");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "storage"),
	                                                      "endpoint")), "http://127.0.0.1:8333");
	json_decref(j);
	config_free(cfg);
	/* local: storage null */
	cfg = parse(dir, "");
	ti.cfg = cfg;
	assert_int_equal(jobspec_job(&ti, "/x/datastore", spec, err, sizeof err), 0);
	assert_non_null(j = json_load_file(spec, 0, &jerr));
	assert_true(json_is_null(json_object_get(j, "storage")));
	json_decref(j);
	config_free(cfg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_s3),
		cmocka_unit_test(test_job_spec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
