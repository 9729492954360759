/* test_watch.c - the event lines `watch` clients read (api/watch.c): every
 * shape of engine and alert event, byte for byte as the protocol has always
 * sent them (denverd(8), Events), and their broadcast to a real watcher. */
#include <errno.h>
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
#include <jansson.h>

#include "api/control.h"
#include "api/watch.h"
#include "base/denverd.h"
#include "config/config.h"
#include "ctlcall.h"
#include "engine/engine.h"
#include "notify/alerts.h"

#define TS 1795531500123

/* EV as the text a watcher gets inside {"v":1,"event":...}. */
static void expect_engine(const struct engine_event *ev, const char *want)
{
	json_t *o = watch_engine_json(ev);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

	if (!text || strcmp(text, want) != 0)
		fail_msg("got  %s\nwant %s", text ? text : "(null)", want);
	free(text);
	json_decref(o);
}

static void test_run_and_task_events(void **state)
{
	struct engine_event ev = {
		.kind = ENGINE_EV_RUN_STATE, .type = "run.state", .ts = TS, .priority = LOG_INFO,
		.dataset = "traffic_accidents", .run_id = 42, .exec_date = "2026-11-24",
		.state = RUN_QUEUED, .message = "run 42 of traffic_accidents for 2026-11-24 queued",
	};

	expect_engine(&ev, "{\"ts\":1795531500123,\"type\":\"run.state\",\"level\":\"info\","
	              "\"message\":\"run 42 of traffic_accidents for 2026-11-24 queued\","
	              "\"dataset\":\"traffic_accidents\",\"run_id\":42,"
	              "\"exec_date\":\"2026-11-24\",\"state\":\"queued\"}");
	ev.kind = ENGINE_EV_TASK_STATE;
	ev.type = "task.state";
	ev.priority = LOG_WARNING;
	ev.task = "fetch";
	ev.state = RUN_QUEUED;
	ev.message = "fetch attempt 1 failed: HTTP 503; retry 1 of 3 in 1s";
	expect_engine(&ev, "{\"ts\":1795531500123,\"type\":\"task.state\",\"level\":\"warning\","
	              "\"message\":\"fetch attempt 1 failed: HTTP 503; retry 1 of 3 in 1s\","
	              "\"dataset\":\"traffic_accidents\",\"task\":\"fetch\",\"run_id\":42,"
	              "\"exec_date\":\"2026-11-24\",\"state\":\"queued\"}");
	/* A job's run names the job, and its one task after it. */
	ev = (struct engine_event){
		.kind = ENGINE_EV_RUN_STATE, .type = "run.state", .ts = TS, .priority = LOG_ERR,
		.job = "report", .task = "report", .run_id = 7, .exec_date = "2026-11-24",
		.state = RUN_FAILED, .message = "run 7 failed: report: exit code 1",
	};
	expect_engine(&ev, "{\"ts\":1795531500123,\"type\":\"run.state\",\"level\":\"error\","
	              "\"message\":\"run 7 failed: report: exit code 1\",\"job\":\"report\","
	              "\"task\":\"report\",\"run_id\":7,\"exec_date\":\"2026-11-24\","
	              "\"state\":\"failed\"}");
}

static void test_target_events(void **state)
{
	struct engine_event ev = {
		.kind = ENGINE_EV_DATASET_PAUSED, .type = "dataset.paused", .ts = TS,
		.priority = LOG_INFO, .dataset = "d",
		.message = "d paused: nothing of it starts until resumed",
	};

	/* No run: no run_id, exec_date or state. */
	expect_engine(&ev, "{\"ts\":1795531500123,\"type\":\"dataset.paused\",\"level\":\"info\","
	              "\"message\":\"d paused: nothing of it starts until resumed\","
	              "\"dataset\":\"d\"}");
	ev.kind = ENGINE_EV_BACKFILL;
	ev.type = "backfill";
	ev.job = "report";
	ev.dataset = NULL;
	ev.task = "report";
	ev.message = "report: backfill of 3 dates queued";
	expect_engine(&ev, "{\"ts\":1795531500123,\"type\":\"backfill\",\"level\":\"info\","
	              "\"message\":\"report: backfill of 3 dates queued\",\"job\":\"report\","
	              "\"task\":\"report\"}");
}

static void test_progress_event(void **state)
{
	json_t *fields = json_pack("{s:i, s:n, s:i, s:i}", "bytes_done", 1000, "bytes_total",
	                           "rate", 500, "resumed_from", 0);
	struct engine_event ev = {
		.kind = ENGINE_EV_PROGRESS, .type = "fetch.progress", .ts = TS, .priority = LOG_INFO,
		.dataset = "d", .task = "fetch", .run_id = 42, .exec_date = "2026-11-24",
		.state = RUN_RUNNING, .fields = fields,
	};

	/* The kind's figures first; no level, message or state. */
	expect_engine(&ev, "{\"bytes_done\":1000,\"bytes_total\":null,\"rate\":500,"
	              "\"resumed_from\":0,\"ts\":1795531500123,\"type\":\"fetch.progress\","
	              "\"dataset\":\"d\",\"run_id\":42,\"exec_date\":\"2026-11-24\","
	              "\"task\":\"fetch\"}");
	/* The fields are borrowed, not changed. */
	assert_int_equal(json_object_size(fields), 4);
	json_decref(fields);
}

static void test_alert_events(void **state)
{
	struct alert_event ev = {
		.ts = TS, .alert_id = 3, .dataset = "d", .reason = "stale", .state = "firing",
		.message = "d has had no succeeded or unchanged run for 1d12h (max_age 1d)",
	};
	json_t *o = watch_alert_json(&ev);
	char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);

	assert_string_equal(text, "{\"ts\":1795531500123,\"type\":\"alert\",\"dataset\":\"d\","
	                    "\"reason\":\"stale\",\"state\":\"firing\",\"message\":\"d has had no "
	                    "succeeded or unchanged run for 1d12h (max_age 1d)\",\"alert_id\":3}");
	free(text);
	json_decref(o);
	ev.run_id = 9;
	ev.exec_date = "2026-11-24";
	ev.reason = "run_failed";
	ev.state = "recovered";
	ev.message = "run 9 of d for 2026-11-24 succeeded";
	o = watch_alert_json(&ev);
	text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	assert_string_equal(text, "{\"ts\":1795531500123,\"type\":\"alert\",\"dataset\":\"d\","
	                    "\"reason\":\"run_failed\",\"state\":\"recovered\",\"message\":\"run 9 "
	                    "of d for 2026-11-24 succeeded\",\"alert_id\":3,\"run_id\":9,"
	                    "\"exec_date\":\"2026-11-24\"}");
	free(text);
	json_decref(o);
}

/* The next line a watcher reads on FD is WANT. */
static void expect_line(uv_loop_t *loop, int fd, const char *want)
{
	char *line = ctlcall_read_line(loop, fd);

	assert_non_null(line);
	assert_string_equal(line, want);
	free(line);
}

/* The subscribers broadcast to watchers, and do nothing without control. */
static void test_broadcast_to_a_watcher(void **state)
{
	char dir[] = "/tmp/denverd-watch-XXXXXX", yaml[512], sock[64], *errors = NULL, *line;
	struct denverd d = { 0 };
	uv_loop_t loop;
	int fd;
	struct engine_event ev = {
		.kind = ENGINE_EV_SCHEDULE, .type = "schedule", .ts = TS, .priority = LOG_INFO,
		.dataset = "d", .message = "d: fire for 2026-11-24 skipped: paused",
	};
	struct alert_event alert = {
		.ts = TS, .alert_id = 1, .dataset = "d", .reason = "stale", .state = "firing",
		.message = "m",
	};

	watch_engine_event(&d, &ev);             /* no control: nothing, no crash */
	watch_alert_event(&d, &alert);
	assert_non_null(mkdtemp(dir));
	snprintf(yaml, sizeof yaml, "state_dir: %s\nsocket: %s/s.sock\n", dir, dir);
	assert_int_equal(config_parse("t.yaml", yaml, strlen(yaml), &d.cfg, &errors), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	d.loop = &loop;
	assert_int_equal(control_init(&d), 0);
	snprintf(sock, sizeof sock, "%s/s.sock", dir);
	assert_true((fd = ctlcall_connect(sock, "{\"cmd\":\"watch\"}")) >= 0);
	assert_non_null(line = ctlcall_read_line(&loop, fd));
	assert_non_null(strstr(line, "\"watching\":true"));
	free(line);

	watch_engine_event(&d, &ev);
	expect_line(&loop, fd, "{\"v\":1,\"event\":{\"ts\":1795531500123,\"type\":\"schedule\","
	            "\"level\":\"info\",\"message\":\"d: fire for 2026-11-24 skipped: "
	            "paused\",\"dataset\":\"d\"}}");
	watch_alert_event(&d, &alert);
	expect_line(&loop, fd, "{\"v\":1,\"event\":{\"ts\":1795531500123,\"type\":\"alert\","
	            "\"dataset\":\"d\",\"reason\":\"stale\",\"state\":\"firing\","
	            "\"message\":\"m\",\"alert_id\":1}}");
	close(fd);
	control_fini(&d);
	assert_int_equal(ctlcall_loop_close(&loop), 0);
	config_free(d.cfg);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_and_task_events),
		cmocka_unit_test(test_target_events),
		cmocka_unit_test(test_progress_event),
		cmocka_unit_test(test_alert_events),
		cmocka_unit_test(test_broadcast_to_a_watcher),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
