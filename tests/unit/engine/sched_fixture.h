/*
 * sched_fixture.h - what the tests of the run engine share (test_sched.c,
 * test_sched_schedules.c): a real loop, a real store file in a fresh
 * directory, the configuration parsed from YAML with "@DIR@" replaced by
 * that directory, the engine started and stopped, the store read on a
 * second connection, and the loop run until a run reaches a state.  One
 * test at a time (H is the current one's harness: setup/teardown).
 */
#ifndef DENVERD_TEST_SCHED_FIXTURE_H
#define DENVERD_TEST_SCHED_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <sqlite3.h>

#include "base/clock.h"
#include "config/config.h"
#include "base/denverd.h"
#include "domain/execdate.h"
#include "io/procgroup.h"
#include "engine/engine_int.h"
#include "store/store.h"

struct h {
	char dir[64], db[128];
	uv_loop_t loop;
	struct denverd d;
	uv_timer_t guard;
};

static struct h *H;

static inline void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

/* Parse YAML (with "@DIR@" replaced by the test directory) into d.cfg. */
static inline void load_config(const char *yaml)
{
	char text[8192], *errors = NULL;
	const char *at;
	size_t n = 0;

	n += (size_t)snprintf(text, sizeof text, "state_dir: %s\nlog_level: debug\n", H->dir);
	for (const char *p = yaml; *p; ) {
		if ((at = strstr(p, "@DIR@")) == p) {
			n += (size_t)snprintf(text + n, sizeof text - n, "%s", H->dir);
			p += 5;
		} else {
			text[n++] = *p++;
		}
		assert_true(n < sizeof text - 1);
	}
	text[n] = '\0';
	int rc = config_parse("test.yaml", text, n, &H->d.cfg, &errors);
	if (rc < 0)
		fprintf(stderr, "config:\n%s\n%s", text, errors);
	assert_int_equal(rc, 0);
	free(errors);
}

static inline void open_store(void)
{
	char *err = NULL;
	assert_int_equal(store_open(H->db, &H->d.store, &err), 0);
}

static inline int setup(void **state)
{
	H = calloc(1, sizeof *H);
	strcpy(H->dir, "/tmp/denverd-sched-XXXXXX");
	if (!mkdtemp(H->dir))
		return -1;
	snprintf(H->db, sizeof H->db, "%s/state.db", H->dir);
	uv_loop_init(&H->loop);
	uv_timer_init(&H->loop, &H->guard);
	H->d.loop = &H->loop;
	open_store();
	unsetenv("DENVERD_NOW");
	clock_init();
	*state = H;
	return 0;
}

static inline void start(void)
{
	assert_int_equal(sched_init(&H->d), 0);
	assert_int_equal(engine_subscribe(H->d.sched, engine_journal, NULL), 0);
	assert_int_equal(sched_start(&H->d), 0);
}

static inline void stop(void)
{
	sched_fini(&H->d);
	assert_null(H->d.sched);
}

static inline void on_close(uv_handle_t *h)
{
}

static inline int teardown(void **state)
{
	if (H->d.sched)
		stop();
	config_free(H->d.cfg);
	store_close(H->d.store);
	uv_close((uv_handle_t *)&H->guard, on_close);
	uv_run(&H->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&H->loop), 0);
	sh("rm -rf %s", H->dir);
	unsetenv("DENVERD_NOW");
	clock_init();
	free(H);
	return 0;
}

/* ---- reading the store on a second connection ---- */

static inline long long q_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline long long q_int(const char *fmt, ...)
{
	char sql[1024];
	sqlite3 *db;
	sqlite3_stmt *s;
	long long v = -9999;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	assert_int_equal(sqlite3_open(H->db, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
		fail();
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static inline char *q_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *q_text(const char *fmt, ...)
{
	static char out[4][2048];
	static int slot;
	char sql[1024];
	sqlite3 *db;
	sqlite3_stmt *s;
	char *r = out[slot++ % 4];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	strcpy(r, "(none)");
	assert_int_equal(sqlite3_open(H->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(r, sizeof out[0], "%s",
		         sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : "(null)");
	sqlite3_finalize(s);
	sqlite3_close(db);
	return r;
}

static inline void on_guard(uv_timer_t *t)
{
}

/* Run the loop until COND (a SQL count > 0, or the engine predicate) holds,
 * at most MS milliseconds. */
static inline bool run_until_sql(int ms, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool run_until_sql(int ms, const char *fmt, ...)
{
	char sql[1024];
	va_list ap;
	int64_t end = clock_mono_ms() + ms;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	uv_timer_start(&H->guard, on_guard, 10, 10);
	while (clock_mono_ms() < end) {
		if (q_int("%s", sql) > 0) {
			uv_timer_stop(&H->guard);
			return true;
		}
		uv_run(&H->loop, UV_RUN_ONCE);
	}
	uv_timer_stop(&H->guard);
	return false;
}

/* Run the loop until run ID is in STATE (at most MS ms); fail otherwise. */
static inline void wait_run(int64_t id, const char *state, int ms)
{
	if (!run_until_sql(ms, "SELECT count(*) FROM runs WHERE id=%lld AND state='%s'",
	                   (long long)id, state)) {
		fprintf(stderr, "run %lld is %s, not %s\n", (long long)id,
		        q_text("SELECT state FROM runs WHERE id=%lld", (long long)id), state);
		fail();
	}
}

static inline void run_for(int ms)
{
	int64_t end = clock_mono_ms() + ms;
	uv_timer_start(&H->guard, on_guard, 10, 10);
	while (clock_mono_ms() < end)
		uv_run(&H->loop, UV_RUN_ONCE);
	uv_timer_stop(&H->guard);
}

static inline int64_t trigger(const char *target, const char *date)
{
	struct sched *s = H->d.sched;
	struct target *t = sched_target(s, target);
	int64_t id = 0;
	bool created;
	assert_non_null(t);
	assert_int_equal(sched_trigger(s, t, date, "manual", false, &id, &created), 0);
	assert_true(created);
	return id;
}

#define DS_YAML "allow_file_urls: true\ndatasets:\n  d:\n    url: file://@DIR@/nothing.csv\n" \
                "    schedule: \"15 6 * * *\"\n    retries: 0\n    convert: false\n"

/* Configure job j (after: [d]) with JOB's keys, start, and trigger it for
 * 2026-11-24; returns the run id. */
static inline int64_t start_job(const char *job)
{
	char yaml[2048];
	snprintf(yaml, sizeof yaml, "%sjobs:\n  j:\n    after: [d]\n%s", DS_YAML, job);
	load_config(yaml);
	start();
	return trigger("j", "2026-11-24");
}

/* One test of the engine, with the harness's setup and teardown. */
#define SCHED_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* Run TESTS (N of them, SCHED_TEST each) with libcurl initialised for the
 * fetches the engine starts; returns cmocka's result. */
static inline int sched_run_tests(const struct CMUnitTest *tests, size_t n)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = _cmocka_run_group_tests("sched", tests, n, NULL, NULL);
	curl_global_cleanup();
	return rc;
}

#endif
