/* test_alerts.c - alerts end to end inside one process: a configuration
 * parsed by config.c, a real store file, finished runs written as the
 * scheduler writes them, webhook POSTs received by a real HTTP server on
 * loopback, alerts.command run as a real child, and the events announced
 * to a subscriber.  (The `alerts` command: tests/unit/api/test_cmd_alerts.c.) */
#include <errno.h>
#include <fcntl.h>
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
#include <curl/curl.h>
#include <jansson.h>

#include "notify/alerts.h"
#include "base/clock.h"
#include "config/config.h"
#include "base/denverd.h"
#include "base/log.h"
#include "loophttp.h"
#include "tmpstore.h"

/* An announced alert, copied. */
struct seen {
	char dataset[64], reason[32], state[16], exec_date[11];
	int64_t alert_id, run_id;
	bool has_exec_date;
};

struct fix {
	struct tmpstore t;
	uv_loop_t loop;
	struct srv srv;
	struct denverd d;
	int posts_seen;          /* POSTs already checked by the test */
	struct seen events[16];  /* what the subscriber heard */
	int n_events;
};

static void on_alert(void *arg, const struct alert_event *ev)
{
	struct fix *f = arg;
	struct seen *e;

	if (f->n_events == (int)(sizeof f->events / sizeof f->events[0]))
		return;
	e = &f->events[f->n_events++];
	snprintf(e->dataset, sizeof e->dataset, "%s", ev->dataset);
	snprintf(e->reason, sizeof e->reason, "%s", ev->reason);
	snprintf(e->state, sizeof e->state, "%s", ev->state);
	snprintf(e->exec_date, sizeof e->exec_date, "%s", ev->exec_date ? ev->exec_date : "");
	e->has_exec_date = ev->exec_date != NULL;
	e->alert_id = ev->alert_id;
	e->run_id = ev->run_id;
}

static const int always_ok[] = { 200 };

/* Start the loop, the web server, the configuration (YAML in which @PORT@
 * stands for the webhook server's port) and alerts with F's subscriber, on
 * the store F->t already opened (so a test can fill it first). */
static void start_on(struct fix *f, const int *script, int n, const char *yaml_tmpl)
{
	char yaml[4096], *errors = NULL;
	const char *at = strstr(yaml_tmpl, "@PORT@");

	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(srv_start(&f->loop, &f->srv, script, n), 0);
	assert_non_null(at);
	snprintf(yaml, sizeof yaml, "state_dir: %s\n%.*s%d%s", f->t.dir,
	         (int)(at - yaml_tmpl), yaml_tmpl, f->srv.port, at + strlen("@PORT@"));
	if (config_parse("test.yaml", yaml, strlen(yaml), &f->d.cfg, &errors) < 0)
		fail_msg("config: %s\n%s", errors, yaml);
	f->d.loop = &f->loop;
	f->d.store = f->t.st;
	f->d.started_ms = clock_now_ms();
	assert_int_equal(alerts_init(&f->d), 0);
	assert_int_equal(alerts_subscribe(f->d.alerts, on_alert, f), 0);
}

static void start(struct fix *f, const int *script, int n, const char *yaml_tmpl)
{
	assert_int_equal(tmpstore_open(&f->t), 0);
	start_on(f, script, n, yaml_tmpl);
}

static void stop(struct fix *f)
{
	alerts_fini(&f->d);
	uv_walk(&f->loop, loophttp_close_walk, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	config_free(f->d.cfg);
	tmpstore_close(&f->t);
}

/* Turn the loop for MS milliseconds, or until the server has seen WANT
 * requests (WANT < 0: the whole time). */
static void run_for(struct fix *f, int ms, int want)
{
	uint64_t until = uv_now(&f->loop) + (uint64_t)ms;
	while (uv_now(&f->loop) < until && (want < 0 || f->srv.requests < want)) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(2000);
		uv_update_time(&f->loop);
	}
}

static void sql(struct fix *f, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	assert_int_equal(tmpstore_sql(&f->t, text), 0);
}

/* A run that has just ended, as the scheduler records it. */
static void finish_run(struct fix *f, int64_t id, const char *target, const char *kind,
                       const char *state, const char *error)
{
	sql(f, "INSERT INTO runs(id, target, kind, exec_date, trigger, state, created,"
	       " started, ended, error) VALUES (%lld, '%s', '%s', '2026-11-24', 'schedule',"
	       " '%s', 1, 1, %lld, %s%s%s)", (long long)id, target, kind, state,
	       (long long)clock_now_ms(), error ? "'" : "", error ? error : "NULL",
	       error ? "'" : "");
}

/* The next POST the server received, parsed (the caller decrefs). */
static json_t *next_post(struct fix *f)
{
	run_for(f, 5000, f->posts_seen + 1);
	if (f->srv.requests <= f->posts_seen)
		fail_msg("no POST number %d arrived", f->posts_seen + 1);
	json_t *j = json_loads(f->srv.body[f->posts_seen], 0, NULL);
	if (!j)
		fail_msg("POST %d is not JSON: %s", f->posts_seen, f->srv.body[f->posts_seen]);
	f->posts_seen++;
	return j;
}

static void expect_post(struct fix *f, const char *dataset, const char *reason,
                        const char *state, const char *phrase)
{
	json_t *j = next_post(f);
	const char *msg = json_string_value(json_object_get(j, "message"));
	if (strcmp(json_string_value(json_object_get(j, "dataset")), dataset) ||
	    strcmp(json_string_value(json_object_get(j, "reason")), reason) ||
	    strcmp(json_string_value(json_object_get(j, "state")), state) ||
	    !msg || !strstr(msg, phrase))
		fail_msg("POST %d: %s, want %s %s %s \"%s\"", f->posts_seen,
		         f->srv.body[f->posts_seen - 1], dataset, reason, state, phrase);
	assert_non_null(strstr(json_string_value(json_object_get(j, "text")), msg));
	json_decref(j);
}

static void expect_no_post(struct fix *f, int ms)
{
	run_for(f, ms, f->posts_seen + 1);
	if (f->srv.requests > f->posts_seen)
		fail_msg("unexpected POST: %s", f->srv.body[f->posts_seen]);
}

/* Alert rows of the store, copied. */
struct rows {
	struct { int64_t id, suppressed, delivered; char state[16]; } v[8];
	int n;
};

static int keep_row(void *arg, const struct store_alert *row)
{
	struct rows *r = arg;
	if (r->n == 8)
		return -1;
	r->v[r->n].id = row->id;
	r->v[r->n].suppressed = row->suppressed;
	r->v[r->n].delivered = row->delivered;
	snprintf(r->v[r->n].state, sizeof r->v[r->n].state, "%s", row->state);
	r->n++;
	return 0;
}

/* Firing alerts, copied. */
struct firing {
	char reason[8][32];
	bool notified[8];
	int n;
};

static int keep_firing(void *arg, const struct alert_firing *a)
{
	struct firing *f = arg;
	if (f->n == 8)
		return -1;
	snprintf(f->reason[f->n], sizeof f->reason[0], "%s", a->reason);
	f->notified[f->n++] = a->notified;
	return 0;
}

static const char base_yaml[] =
	"alerts:\n"
	"  webhook: http://127.0.0.1:@PORT@/hook/S3CRET?token=T0KEN\n"
	"  command: [touch, \"{state_dir}/cmd.{dataset}.{reason}.{run_id}\"]\n"
	"  min_interval: 1h\n"
	"  retries: 1\n"
	"datasets:\n"
	"  traffic_accidents: {url: \"https://x.org/t.csv\", schedule: \"15 6 * * *\", max_age: 0}\n"
	"jobs:\n"
	"  report: {after: [traffic_accidents], command: [\"true\"]}\n";

static void test_failures_rate_limit_and_recovery(void **state)
{
	static struct fix f;
	char path[256];
	struct stat st;

	memset(&f, 0, sizeof f);
	start(&f, always_ok, 1, base_yaml);

	finish_run(&f, 1, "traffic_accidents", "dataset", "failed", "fetch: HTTP 503");
	alerts_run_finished(&f.d, 1);
	json_t *j = next_post(&f);
	assert_string_equal(json_string_value(json_object_get(j, "reason")), "run_failed");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "firing");
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), 1);
	assert_string_equal(json_string_value(json_object_get(j, "exec_date")), "2026-11-24");
	assert_non_null(strstr(json_string_value(json_object_get(j, "message")),
	                       "run 1 of traffic_accidents for 2026-11-24 failed: fetch: HTTP 503"));
	json_decref(j);
	assert_non_null(strstr(f.srv.head[0], "POST /hook/S3CRET?token=T0KEN "));
	/* The command ran with the placeholders filled in. */
	snprintf(path, sizeof path, "%s/cmd.traffic_accidents.run_failed.1", f.t.dir);
	for (int i = 0; i < 200 && stat(path, &st) < 0; i++)
		run_for(&f, 10, -1);
	assert_int_equal(stat(path, &st), 0);

	/* Failing again within min_interval: counted, not sent. */
	finish_run(&f, 2, "traffic_accidents", "dataset", "failed", "fetch: HTTP 503");
	alerts_run_finished(&f.d, 2);
	expect_no_post(&f, 200);

	/* A job of the same name space is its own key. */
	finish_run(&f, 3, "report", "job", "failed", "exit code 1");
	alerts_run_finished(&f.d, 3);
	expect_post(&f, "report", "run_failed", "firing", "run 3 of report");

	/* Recovery: exactly once. */
	finish_run(&f, 4, "traffic_accidents", "dataset", "succeeded", NULL);
	alerts_run_finished(&f.d, 4);
	expect_post(&f, "traffic_accidents", "run_failed", "recovered", "run 4 of traffic_accidents");
	finish_run(&f, 5, "traffic_accidents", "dataset", "unchanged", NULL);
	alerts_run_finished(&f.d, 5);
	expect_no_post(&f, 150);

	/* Flapping right after the recovery stays quiet (held back). */
	finish_run(&f, 6, "traffic_accidents", "dataset", "failed", "convert: exit code 1");
	alerts_run_finished(&f.d, 6);
	expect_no_post(&f, 150);

	/* The store and alerts_firing_each() tell the story (the `alerts`
	 * command shows the same). */
	struct rows rows = { 0 };
	assert_int_equal(store_alerts_list(f.t.st, "traffic_accidents", 20, keep_row, &rows), 0);
	assert_int_equal(rows.n, 2);
	assert_string_equal(rows.v[0].state, "recovered");
	assert_int_equal(rows.v[0].suppressed, 1);
	assert_string_equal(rows.v[1].state, "firing");
	assert_int_equal(rows.v[1].suppressed, 1);
	assert_true(rows.v[1].delivered > 0);
	struct firing fired = { 0 };
	assert_int_equal(alerts_firing_each(f.d.alerts, "traffic_accidents", keep_firing, &fired), 0);
	assert_int_equal(fired.n, 1);
	assert_string_equal(fired.reason[0], "run_failed");
	assert_false(fired.notified[0]);
	memset(&fired, 0, sizeof fired);
	assert_int_equal(alerts_firing_each(f.d.alerts, NULL, keep_firing, &fired), 0);
	assert_int_equal(fired.n, 2);              /* report's run_failed too */
	/* Every notification sent was announced, with its row and run. */
	assert_int_equal(f.n_events, 3);
	assert_string_equal(f.events[0].dataset, "traffic_accidents");
	assert_string_equal(f.events[0].reason, "run_failed");
	assert_string_equal(f.events[0].state, "firing");
	assert_int_equal(f.events[0].run_id, 1);
	assert_string_equal(f.events[0].exec_date, "2026-11-24");
	assert_int_equal(f.events[0].alert_id, rows.v[1].id);
	assert_string_equal(f.events[1].dataset, "report");
	assert_string_equal(f.events[2].state, "recovered");
	assert_int_equal(f.events[2].alert_id, rows.v[0].id);
	stop(&f);
}

static void test_checks_and_quarantine(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof f);
	start(&f, always_ok, 1, base_yaml);
	finish_run(&f, 1, "traffic_accidents", "dataset", "failed", "check: 2 checks failed");
	sql(&f, "INSERT INTO dq_results(run_id, check_name, check_type, severity, outcome) VALUES"
	        " (1, 'rows', 'row_count', 'fail', 'fail'), (1, 'key_unique', 'unique', 'fail', 'fail'),"
	        " (1, 'location', 'coordinates', 'warn', 'warn'), (1, 'ids', 'nulls', 'fail', 'pass');"
	        "INSERT INTO snapshots(run_id, dataset, exec_date, path, bytes, hash, state, published)"
	        " VALUES (1, 'traffic_accidents', '2026-11-24', 'q', 1, 'h', 'quarantined', 1)");
	alerts_run_finished(&f.d, 1);
	/* One of run_failed/check_failed/quarantined, the most specific, and the warning. */
	expect_post(&f, "traffic_accidents", "quarantined", "firing",
	            "snapshot quarantined after 2 failed checks: key_unique, rows");
	expect_post(&f, "traffic_accidents", "check_warned", "firing", "1 check warned: location");
	expect_no_post(&f, 150);

	/* Checks fail without a quarantine (say the move itself failed). */
	finish_run(&f, 2, "traffic_accidents", "dataset", "failed", "check failed");
	sql(&f, "INSERT INTO dq_results(run_id, check_name, check_type, severity, outcome) VALUES"
	        " (2, 'rows', 'row_count', 'fail', 'fail'), (2, 'location', 'coordinates', 'warn', 'warn')");
	alerts_run_finished(&f.d, 2);
	expect_post(&f, "traffic_accidents", "check_failed", "firing", "1 check failed: rows");
	expect_no_post(&f, 150);            /* the warning repeats within the hour */

	/* A clean run recovers all three. */
	finish_run(&f, 3, "traffic_accidents", "dataset", "succeeded", NULL);
	sql(&f, "INSERT INTO dq_results(run_id, check_name, check_type, severity, outcome) VALUES"
	        " (3, 'rows', 'row_count', 'fail', 'pass'), (3, 'location', 'coordinates', 'warn', 'pass')");
	alerts_run_finished(&f.d, 3);
	expect_post(&f, "traffic_accidents", "check_failed", "recovered", "run 3 of traffic_accidents for 2026-11-24: no check failed");
	expect_post(&f, "traffic_accidents", "check_warned", "recovered", "no check warned");
	expect_post(&f, "traffic_accidents", "quarantined", "recovered", "a new snapshot passed its checks");
	expect_no_post(&f, 150);
	stop(&f);
}

static void test_promotion_ends_a_quarantine(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof f);
	start(&f, always_ok, 1, base_yaml);
	finish_run(&f, 1, "traffic_accidents", "dataset", "failed", "check: 1 check failed");
	sql(&f, "INSERT INTO dq_results(run_id, check_name, check_type, severity, outcome) VALUES"
	        " (1, 'rows', 'row_count', 'fail', 'fail');"
	        "INSERT INTO snapshots(run_id, dataset, exec_date, path, bytes, hash, state, published)"
	        " VALUES (1, 'traffic_accidents', '2026-11-24', 'q', 1, 'h', 'quarantined', 1)");
	alerts_run_finished(&f.d, 1);
	expect_post(&f, "traffic_accidents", "quarantined", "firing", "1 failed check: rows");
	sql(&f, "UPDATE snapshots SET state = 'promoted' WHERE run_id = 1");
	alerts_promoted(&f.d, 1);
	expect_post(&f, "traffic_accidents", "quarantined", "recovered",
	            "run 1 of traffic_accidents for 2026-11-24: the quarantined snapshot was "
	            "promoted by the operator");
	expect_no_post(&f, 150);             /* nothing else recovers */
	alerts_promoted(&f.d, 1);            /* twice: quiet */
	alerts_promoted(&f.d, 99);           /* no such run: logged */
	expect_no_post(&f, 100);
	stop(&f);
}

static const char fresh_yaml[] =
	"alerts:\n"
	"  webhook: http://127.0.0.1:@PORT@/hook\n"
	"  min_interval: 300ms\n"
	"  retries: 0\n"
	"datasets:\n"
	"  traffic_accidents: {url: \"https://x.org/t.csv\", schedule: \"15 6 * * *\", max_age: 1s}\n"
	"  service_requests_311: {url: \"https://x.org/s.csv\", schedule: \"45 6 * * *\", max_age: 0}\n";

static void test_freshness_on_a_timer(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof f);
	assert_int_equal(tmpstore_open(&f.t), 0);
	/* Known for a while, and the last good run ended five seconds ago. */
	sql(&f, "INSERT INTO datasets(name, first_configured) VALUES"
	        " ('traffic_accidents', 1), ('service_requests_311', 1);"
	        "INSERT INTO runs(id, target, kind, exec_date, trigger, state, created, ended)"
	        " VALUES (1, 'traffic_accidents', 'dataset', '2026-11-23', 'schedule',"
	        " 'succeeded', 1, %lld)", (long long)clock_now_ms() - 5000);
	start_on(&f, always_ok, 1, fresh_yaml);

	/* Already past its deadline: the timer fires at once, not on a tick. */
	expect_post(&f, "traffic_accidents", "stale", "firing",
	            "traffic_accidents has had no succeeded or unchanged run for");
	expect_no_post(&f, 200);          /* once per episode, and max_age 0 is off */
	assert_int_equal(f.n_events, 1);
	assert_string_equal(f.events[0].reason, "stale");
	assert_int_equal(f.events[0].run_id, 0);
	assert_false(f.events[0].has_exec_date);

	/* A good run ends the episode... */
	finish_run(&f, 2, "traffic_accidents", "dataset", "succeeded", NULL);
	uint64_t t_ok = uv_now(&f.loop);
	alerts_run_finished(&f.d, 2);
	expect_post(&f, "traffic_accidents", "stale", "recovered", "fresh again: run 2");
	/* ...and a second of silence starts the next one, from the timer. */
	expect_post(&f, "traffic_accidents", "stale", "firing", "no succeeded or unchanged run for");
	assert_true(uv_now(&f.loop) - t_ok >= 950);

	/* A failure right after a recovery is held back, then sent once the
	 * rate limit allows, with no run in between. */
	finish_run(&f, 3, "traffic_accidents", "dataset", "failed", "fetch: HTTP 500");
	alerts_run_finished(&f.d, 3);
	expect_post(&f, "traffic_accidents", "run_failed", "firing", "fetch: HTTP 500");
	finish_run(&f, 4, "traffic_accidents", "dataset", "unchanged", NULL);
	alerts_run_finished(&f.d, 4);
	expect_post(&f, "traffic_accidents", "run_failed", "recovered", "run 4");
	expect_post(&f, "traffic_accidents", "stale", "recovered", "run 4");
	uint64_t t_rec = uv_now(&f.loop);
	finish_run(&f, 5, "traffic_accidents", "dataset", "failed", "fetch: HTTP 502");
	alerts_run_finished(&f.d, 5);
	expect_post(&f, "traffic_accidents", "run_failed", "firing", "fetch: HTTP 502");
	assert_true(uv_now(&f.loop) - t_rec >= 250);
	stop(&f);
}

static const char late_yaml[] =
	"alerts:\n"
	"  webhook: http://127.0.0.1:@PORT@/hook\n"
	"  min_interval: 300ms\n"
	"  retries: 0\n"
	"datasets:\n"
	"  traffic_accidents: {url: \"https://x.org/t.csv\", schedule: \"15 6 * * *\","
	" max_age: 0, cadence_margin: 6h}\n"
	"  quiet_one: {url: \"https://x.org/q.csv\", schedule: \"15 6 * * *\", max_age: 0,"
	" cadence_alert: false}\n"
	"  new_one: {url: \"https://x.org/n.csv\", schedule: \"15 6 * * *\", max_age: 0}\n";

/* A recorded history (daily at 06:00 Denver time, over the spring-forward
 * night) with the clock set by DENVERD_NOW one second before the source
 * is late: p95 gap 1d + margin 6h after the last change, 2026-03-12 06:00
 * MDT.  The timer sends `late`; a run that records a change ends it. */
static void test_late_against_its_cadence(void **state)
{
	static const char *const days[] = { "02", "03", "04", "05", "06", "07" };
	static struct fix f;
	int64_t at;

	memset(&f, 0, sizeof f);
	setenv("DENVERD_NOW", "2026-03-13T11:59:59-06:00", 1);
	assert_int_equal(clock_init(), 0);
	assert_int_equal(tmpstore_open(&f.t), 0);
	for (size_t i = 0; i < 11; i++) {
		char iso[40];
		snprintf(iso, sizeof iso, "2026-03-%s%s", i < 6 ? days[i] : "",
		         "T06:00:00-07:00");
		if (i >= 6)
			snprintf(iso, sizeof iso, "2026-03-%02zuT06:00:00-06:00", i + 2);
		assert_int_equal(clock_parse_iso(iso, &at), 0);
		sql(&f, "INSERT INTO source_changes(dataset, observed_at, kind, value)"
		        " VALUES ('traffic_accidents', %lld, 'bytes', 'h%zu'),"
		        " ('quiet_one', %lld, 'bytes', 'h%zu')", (long long)at, i,
		        (long long)at, i);
		if (i < 4)
			sql(&f, "INSERT INTO source_changes(dataset, observed_at, kind) VALUES"
			        " ('new_one', %lld, 'validator')", (long long)at);
	}
	start_on(&f, always_ok, 1, late_yaml);

	/* Not yet (a second to go), then from the timer, once. */
	expect_no_post(&f, 500);
	expect_post(&f, "traffic_accidents", "late", "firing",
	            "traffic_accidents has not changed for 1d6h, later than its usual 1d"
	            " (p95 gap of 11 changes) + 6h margin; the last change was seen"
	            " 2026-03-12T12:00:00Z");
	expect_no_post(&f, 500);      /* cadence_alert false; four changes say nothing */
	assert_int_equal(f.n_events, 1);
	assert_int_equal(f.events[0].run_id, 0);

	/* A run records a change: the episode ends. */
	sql(&f, "INSERT INTO source_changes(dataset, observed_at, kind, value, run_id)"
	        " VALUES ('traffic_accidents', %lld, 'validator', '\"v2\"', 2)",
	        (long long)clock_now_ms());
	finish_run(&f, 2, "traffic_accidents", "dataset", "unchanged", NULL);
	alerts_run_finished(&f.d, 2);
	expect_post(&f, "traffic_accidents", "late", "recovered",
	            "traffic_accidents changed again (seen 2026-03-13T18:0");
	expect_no_post(&f, 300);
	stop(&f);
	unsetenv("DENVERD_NOW");
	assert_int_equal(clock_init(), 0);
}

static void test_webhook_failure_is_logged_without_the_secret(void **state)
{
	static const int broken[] = { 500 };
	static struct fix f;
	char log_path[] = "/tmp/alerts-log-XXXXXX", buf[4096] = "";
	int fd = mkstemp(log_path), saved = dup(2);

	memset(&f, 0, sizeof f);
	start(&f, broken, 1, base_yaml);
	fflush(stderr);
	dup2(fd, 2);
	finish_run(&f, 1, "traffic_accidents", "dataset", "failed", "fetch: HTTP 503");
	alerts_run_finished(&f.d, 1);
	run_for(&f, 3000, 2);               /* the first attempt and one retry */
	run_for(&f, 300, -1);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(f.srv.requests, 2);
	assert_true(pread(fd, buf, sizeof buf - 1, 0) > 0);
	close(fd);
	unlink(log_path);
	assert_non_null(strstr(buf, "webhook http://127.0.0.1:"));
	assert_non_null(strstr(buf, "/<redacted> not delivered after 2 attempts: HTTP status 500"));
	assert_null(strstr(buf, "S3CRET"));
	assert_null(strstr(buf, "T0KEN"));
	stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failures_rate_limit_and_recovery),
		cmocka_unit_test(test_checks_and_quarantine),
		cmocka_unit_test(test_promotion_ends_a_quarantine),
		cmocka_unit_test(test_freshness_on_a_timer),
		cmocka_unit_test(test_late_against_its_cadence),
		cmocka_unit_test(test_webhook_failure_is_logged_without_the_secret),
	};
	int rc;
	setenv("DENVERD_LOG", "stderr", 1);
	log_init("test_alerts");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
