/* test_s3a.c - the s3a:// names and the spark.* settings of storage: s3
 * (domain/s3a.h), table-driven. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "domain/s3a.h"

static void test_uri(void **state)
{
	static const struct {
		const char *in, *want;
		int rc;
	} cases[] = {
		{ "s3://b/dd/staging/demo/exec_date=2025-03-01/demo.csv",
		  "s3a://b/dd/staging/demo/exec_date=2025-03-01/demo.csv", 0 },
		{ "s3://bucket", "s3a://bucket", 0 },
		{ "s3://", NULL, -EINVAL },
		{ "/var/lib/denverd/staging/a.csv", NULL, -EINVAL },
		{ "s3a://b/k", NULL, -EINVAL },
		{ NULL, NULL, -EINVAL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out = (char *)1;
		assert_int_equal(s3a_uri(cases[i].in, &out), cases[i].rc);
		if (cases[i].want)
			assert_string_equal(out, cases[i].want);
		else
			assert_null(out);
		free(out);
	}
}

static void test_datastore(void **state)
{
	struct cfg_storage st = { .type = STORAGE_S3, .bucket = "denver", .prefix = "prod/denverd" };
	char *out;

	assert_int_equal(s3a_datastore(&st, "traffic_accidents", &out), 0);
	assert_string_equal(out, "s3a://denver/prod/denverd/datastore/traffic_accidents");
	free(out);
	assert_int_equal(s3a_datastore(&st, NULL, &out), 0);
	assert_string_equal(out, "s3a://denver/prod/denverd/datastore");
	free(out);
	st.prefix = NULL;          /* no prefix: right under the bucket */
	assert_int_equal(s3a_datastore(&st, "x", &out), 0);
	assert_string_equal(out, "s3a://denver/datastore/x");
	free(out);
	st.prefix = "";
	assert_int_equal(s3a_datastore(&st, NULL, &out), 0);
	assert_string_equal(out, "s3a://denver/datastore");
	free(out);
	st.type = STORAGE_LOCAL;
	assert_int_equal(s3a_datastore(&st, "x", &out), -EINVAL);
	assert_null(out);
}

/* VALUE of KEY in C, or NULL when C has no such key. */
static const char *get(const struct s3a_conf *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->keys[i], key) == 0)
			return c->values[i];
	return NULL;
}

static void test_conf(void **state)
{
	char *jars[] = { "/opt/jars/hadoop-aws.jar", "/opt/jars/aws-sdk-bundle.jar", NULL };
	char *okeys[] = { "spark.hadoop.fs.s3a.aws.credentials.provider", "spark.ui.enabled" };
	char *ovals[] = { "com.amazonaws.auth.InstanceProfileCredentialsProvider", "false" };
	struct cfg_storage st = { .type = STORAGE_S3, .endpoint = "http://127.0.0.1:8333",
	                          .region = "eu-west-1", .bucket = "b", .path_style = true };
	struct cfg_spark sp = { 0 };
	struct s3a_conf c;

	assert_int_equal(s3a_conf_build(&st, &sp, &c), 0);
	assert_int_equal(c.n, 7);
	assert_string_equal(c.keys[0], "spark.hadoop.fs.s3a.endpoint");
	assert_string_equal(get(&c, "spark.hadoop.fs.s3a.endpoint"), "http://127.0.0.1:8333");
	assert_string_equal(get(&c, "spark.hadoop.fs.s3a.endpoint.region"), "eu-west-1");
	assert_string_equal(get(&c, "spark.hadoop.fs.s3a.path.style.access"), "true");
	assert_string_equal(get(&c, "spark.hadoop.fs.s3a.connection.ssl.enabled"), "false");
	assert_string_equal(get(&c, "spark.hadoop.fs.s3a.aws.credentials.provider"),
	                    S3A_CREDENTIALS_PROVIDER);
	assert_string_equal(get(&c, "spark.hadoop.fs.s3a.change.detection.mode"), "none");
	assert_string_equal(get(&c, "spark.hadoop.fs.s3a.directory.marker.retention"), "delete");
	assert_null(get(&c, "spark.driver.extraClassPath"));
	for (size_t i = 0; i < c.n; i++)       /* never a key in a setting */
		assert_null(strstr(c.keys[i], "secret"));
	s3a_conf_free(&c);

	/* https, virtual-host style, the class path joined with ':' */
	st.endpoint = "https://s3.us-west-2.amazonaws.com";
	st.path_style = false;
	sp.s3a_classpath = (struct strlist){ .items = jars, .n = 2 };
	assert_int_equal(s3a_conf_build(&st, &sp, &c), 0);
	assert_int_equal(c.n, 9);
	assert_string_equal(get(&c, "spark.hadoop.fs.s3a.connection.ssl.enabled"), "true");
	assert_string_equal(get(&c, "spark.hadoop.fs.s3a.path.style.access"), "false");
	assert_string_equal(get(&c, "spark.driver.extraClassPath"),
	                    "/opt/jars/hadoop-aws.jar:/opt/jars/aws-sdk-bundle.jar");
	assert_string_equal(get(&c, "spark.executor.extraClassPath"),
	                    "/opt/jars/hadoop-aws.jar:/opt/jars/aws-sdk-bundle.jar");
	s3a_conf_free(&c);
	s3a_conf_free(&c);                     /* idempotent */

	/* the operator's entry wins: the derived one is left out */
	sp.conf_keys = okeys;
	sp.conf_values = ovals;
	sp.n_conf = 2;
	assert_true(s3a_operator_sets(&sp, "spark.ui.enabled"));
	assert_false(s3a_operator_sets(&sp, "spark.hadoop.fs.s3a.endpoint"));
	assert_int_equal(s3a_conf_build(&st, &sp, &c), 0);
	assert_int_equal(c.n, 8);
	assert_null(get(&c, "spark.hadoop.fs.s3a.aws.credentials.provider"));
	s3a_conf_free(&c);

	/* local storage: nothing */
	st.type = STORAGE_LOCAL;
	assert_int_equal(s3a_conf_build(&st, &sp, &c), 0);
	assert_int_equal(c.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_datastore),
		cmocka_unit_test(test_conf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
