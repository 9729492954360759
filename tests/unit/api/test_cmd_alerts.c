/* test_cmd_alerts.c - the `alerts` command over a real control socket, on
 * alerts (notify/alerts.c) judging runs written to a real store file as the
 * engine writes them: the history, what fires now, and the arguments. */
#include <errno.h>
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

#include "api/cmd_alerts.h"
#include "api/control.h"
#include "base/clock.h"
#include "base/denverd.h"
#include "config/config.h"
#include "ctlcall.h"
#include "notify/alerts.h"
#include "tmpstore.h"

struct fixture {
	struct tmpstore t;
	struct denverd d;
	uv_loop_t loop;
	char sock[100];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char *yaml = NULL, *errs = NULL;

	if (!f || tmpstore_open(&f->t) < 0)
		return -1;
	snprintf(f->sock, sizeof f->sock, "%s/denverd.sock", f->t.dir);
	if (asprintf(&yaml, "state_dir: %s\nsocket: %s\nalerts:\n  min_interval: 1h\n"
	             "datasets:\n  traffic_accidents: {url: \"https://x.org/t.csv\","
	             " schedule: \"15 6 * * *\"}\n"
	             "jobs:\n  report: {after: [traffic_accidents], command: [\"true\"]}\n",
	             f->t.dir, f->sock) < 0 ||
	    config_parse("test.yaml", yaml, strlen(yaml), &f->d.cfg, &errs) < 0) {
		fprintf(stderr, "config: %s\n", errs ? errs : "?");
		return -1;
	}
	free(yaml);
	f->d.store = f->t.st;
	f->d.started_ms = clock_now_ms();
	if (uv_loop_init(&f->loop) < 0)
		return -1;
	f->d.loop = &f->loop;
	if (control_init(&f->d) < 0 || alerts_init(&f->d) < 0 || cmd_alerts_init(&f->d) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	alerts_fini(&f->d);
	control_fini(&f->d);
	ctlcall_loop_close(&f->loop);
	config_free(f->d.cfg);
	tmpstore_close(&f->t);
	free(f);
	return 0;
}

/* Run ID of TARGET (KIND) failed just now, and the alerts judged it. */
static void failed_run(struct fixture *f, int64_t id, const char *target, const char *kind)
{
	char sql[512];

	snprintf(sql, sizeof sql, "INSERT INTO runs(id, target, kind, exec_date, trigger, state,"
	         " created, started, ended, error) VALUES (%lld, '%s', '%s', '2026-11-24',"
	         " 'schedule', 'failed', 1, 1, %lld, 'fetch: HTTP 503')", (long long)id, target,
	         kind, (long long)clock_now_ms());
	assert_int_equal(tmpstore_sql(&f->t, sql), 0);
	alerts_run_finished(&f->d, id);
}

/* Send REQUEST; the reply's result (ok) or error (not ok) as a new ref. */
static json_t *call(struct fixture *f, const char *request, bool want_ok)
{
	json_t *out = ctlcall_json(&f->loop, f->sock, request, want_ok);

	if (!out)
		fail_msg("%s: no reply, or not ok=%d", request, want_ok);
	return out;
}

/* The number of "alerts" and of "firing" entries REQUEST answers. */
static void expect_counts(struct fixture *f, const char *request, size_t alerts,
                          size_t firing)
{
	json_t *r = call(f, request, true);

	if (json_array_size(json_object_get(r, "alerts")) != alerts ||
	    json_array_size(json_object_get(r, "firing")) != firing)
		fail_msg("%s: want %zu alerts, %zu firing", request, alerts, firing);
	json_decref(r);
}

static void expect_einval(struct fixture *f, const char *request)
{
	json_t *e = call(f, request, false);
	assert_string_equal(json_string_value(json_object_get(e, "code")), "EINVAL");
	json_decref(e);
}

static void test_history_and_firing(void **state)
{
	struct fixture *f = *state;

	failed_run(f, 1, "traffic_accidents", "dataset");
	failed_run(f, 2, "report", "job");
	json_t *r = call(f, "{\"cmd\":\"alerts\",\"args\":{\"dataset\":\"traffic_accidents\"}}",
	                 true);
	json_t *a = json_array_get(json_object_get(r, "alerts"), 0);
	assert_int_equal(json_array_size(json_object_get(r, "alerts")), 1);
	assert_true(json_integer_value(json_object_get(a, "id")) > 0);
	assert_true(json_integer_value(json_object_get(a, "ts")) > 0);
	assert_string_equal(json_string_value(json_object_get(a, "dataset")), "traffic_accidents");
	assert_string_equal(json_string_value(json_object_get(a, "reason")), "run_failed");
	assert_string_equal(json_string_value(json_object_get(a, "state")), "firing");
	assert_non_null(strstr(json_string_value(json_object_get(a, "message")),
	                       "run 1 of traffic_accidents for 2026-11-24 failed"));
	assert_int_equal(json_integer_value(json_object_get(a, "run_id")), 1);
	assert_true(json_is_null(json_object_get(a, "delivered")));   /* nowhere to deliver */
	assert_int_equal(json_integer_value(json_object_get(a, "suppressed")), 0);
	json_t *fire = json_array_get(json_object_get(r, "firing"), 0);
	assert_int_equal(json_array_size(json_object_get(r, "firing")), 1);
	assert_string_equal(json_string_value(json_object_get(fire, "reason")), "run_failed");
	assert_true(json_is_true(json_object_get(fire, "notified")));
	json_decref(r);

	/* Newest first, every target. */
	r = call(f, "{\"cmd\":\"alerts\"}", true);
	assert_string_equal(json_string_value(json_object_get(
	        json_array_get(json_object_get(r, "alerts"), 0), "dataset")), "report");
	json_decref(r);
	expect_counts(f, "{\"cmd\":\"alerts\",\"args\":{}}", 2, 2);
	expect_counts(f, "{\"cmd\":\"alerts\",\"args\":{\"limit\":1}}", 1, 2);
	expect_counts(f, "{\"cmd\":\"alerts\",\"args\":{\"dataset\":\"nothing\"}}", 0, 0);
}

/* args.h's rule: null is "not given"; anything else must be right. */
static void test_arguments(void **state)
{
	struct fixture *f = *state;

	failed_run(f, 1, "traffic_accidents", "dataset");
	expect_counts(f, "{\"cmd\":\"alerts\",\"args\":{\"limit\":null,\"dataset\":null}}", 1, 1);
	expect_einval(f, "{\"cmd\":\"alerts\",\"args\":{\"limit\":0}}");
	expect_einval(f, "{\"cmd\":\"alerts\",\"args\":{\"limit\":1001}}");
	expect_einval(f, "{\"cmd\":\"alerts\",\"args\":{\"limit\":\"5\"}}");
	expect_einval(f, "{\"cmd\":\"alerts\",\"args\":{\"dataset\":5}}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_history_and_firing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arguments, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
