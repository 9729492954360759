/*
 * test_sched.c - the run engine on a real loop, a real store file and real
 * child processes: jobs that succeed, fail and retry, are missing, hang,
 * get cancelled, are stopped and resumed, orphans of a "crashed" daemon,
 * limits and their order, catch-up, schedule fires, backfill, pause,
 * reload.  Time is placed with DENVERD_NOW (clock.h's test hook).
 */
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

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

/* Parse YAML (with "@DIR@" replaced by the test directory) into d.cfg. */
static void load_config(const char *yaml)
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

static void open_store(void)
{
	char *err = NULL;
	assert_int_equal(store_open(H->db, &H->d.store, &err), 0);
}

static int setup(void **state)
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

static void start(void)
{
	assert_int_equal(sched_init(&H->d), 0);
	assert_int_equal(engine_subscribe(H->d.sched, engine_journal, NULL), 0);
	assert_int_equal(sched_start(&H->d), 0);
}

static void stop(void)
{
	sched_fini(&H->d);
	assert_null(H->d.sched);
}

static void on_close(uv_handle_t *h)
{
}

static int teardown(void **state)
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

static long long q_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long q_int(const char *fmt, ...)
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

static char *q_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *q_text(const char *fmt, ...)
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

static void on_guard(uv_timer_t *t)
{
}

/* Run the loop until COND (a SQL count > 0, or the engine predicate) holds,
 * at most MS milliseconds. */
static bool run_until_sql(int ms, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool run_until_sql(int ms, const char *fmt, ...)
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
static void wait_run(int64_t id, const char *state, int ms)
{
	if (!run_until_sql(ms, "SELECT count(*) FROM runs WHERE id=%lld AND state='%s'",
	                   (long long)id, state)) {
		fprintf(stderr, "run %lld is %s, not %s\n", (long long)id,
		        q_text("SELECT state FROM runs WHERE id=%lld", (long long)id), state);
		fail();
	}
}

static void run_for(int ms)
{
	int64_t end = clock_mono_ms() + ms;
	uv_timer_start(&H->guard, on_guard, 10, 10);
	while (clock_mono_ms() < end)
		uv_run(&H->loop, UV_RUN_ONCE);
	uv_timer_stop(&H->guard);
}

static int64_t trigger(const char *target, const char *date)
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
static int64_t start_job(const char *job)
{
	char yaml[2048];
	snprintf(yaml, sizeof yaml, "%sjobs:\n  j:\n    after: [d]\n%s", DS_YAML, job);
	load_config(yaml);
	start();
	return trigger("j", "2026-11-24");
}

/* ---- jobs ---- */

static void test_job_succeeds_with_its_environment(void **state)
{
	int64_t id = start_job("    command: [\"/bin/sh\", \"-c\","
	            " \"echo hello {exec_date} $DENVERD_EXEC_DATE $DENVERD_JOB; echo oops >&2\"]\n");
	wait_run(id, "succeeded", 5000);
	assert_int_equal(q_int("SELECT count(*) FROM attempts a JOIN tasks t ON a.task_id=t.id "
	                       "WHERE t.run_id=%lld", (long long)id), 1);
	assert_int_equal(q_int("SELECT exit_code FROM attempts a JOIN tasks t ON a.task_id=t.id "
	                       "WHERE t.run_id=%lld", (long long)id), 0);
	assert_true(q_int("SELECT pid FROM attempts") > 1);
	assert_true(q_int("SELECT pid_start FROM attempts") > 0);
	assert_string_equal(q_text("SELECT outcome FROM attempts"), "succeeded");
	const char *tail = q_text("SELECT output_tail FROM attempts");
	assert_non_null(strstr(tail, "hello 2026-11-24 2026-11-24 j"));
	assert_non_null(strstr(tail, "oops"));
	assert_string_equal(q_text("SELECT state FROM tasks"), "succeeded");
	/* Each state change left an event: queued, running, task running, task
	 * succeeded, run succeeded. */
	assert_true(q_int("SELECT count(*) FROM events WHERE run_id=%lld", (long long)id) >= 4);
	assert_true(q_int("SELECT started FROM runs") <= q_int("SELECT ended FROM runs"));
}

static void test_failing_job_retries_with_backoff_then_fails(void **state)
{
	int64_t t0 = clock_now_ms();
	int64_t id = start_job("    command: [\"/bin/sh\", \"-c\", \"exit 3\"]\n"
	                       "    retries: 2\n    retry_delay: 50ms\n    retry_max_delay: 80ms\n");
	wait_run(id, "failed", 5000);
	assert_int_equal(q_int("SELECT count(*) FROM attempts WHERE outcome='failed' "
	                       "AND exit_code=3"), 3);
	assert_int_equal(q_int("SELECT attempts FROM tasks"), 3);
	assert_non_null(strstr(q_text("SELECT error FROM runs"), "exit code 3"));
	/* Retries waited at most their caps (full jitter: 0..50, 0..80 ms). */
	assert_true(q_int("SELECT max(started) FROM attempts") - t0 < 2000);
	assert_int_equal(q_int("SELECT count(*) FROM events WHERE type='task.state' AND level="
	                       "'warning' AND message LIKE '%%retry 1 of 2%%'"), 1);
}

static void test_missing_command_fails_at_once(void **state)
{
	int64_t id = start_job("    command: [\"/nonexistent/prog\", \"x\"]\n"
	                       "    retries: 3\n    retry_delay: 10ms\n");
	wait_run(id, "failed", 5000);
	assert_int_equal(q_int("SELECT count(*) FROM attempts"), 1);
	assert_int_equal(q_int("SELECT exit_code FROM attempts"), 127);
	assert_non_null(strstr(q_text("SELECT error FROM attempts"), "/nonexistent/prog"));
}

static void test_hanging_job_times_out(void **state)
{
	int64_t id = start_job("    command: [\"sleep\", \"30\"]\n"
	            "    timeout: 1s\n    kill_grace: 100ms\n    retries: 0\n");
	wait_run(id, "failed", 5000);
	assert_string_equal(q_text("SELECT outcome FROM attempts"), "timeout");
	assert_non_null(strstr(q_text("SELECT error FROM runs"), "timed out"));
	int pid = (int)q_int("SELECT pid FROM attempts");
	assert_int_equal(kill(pid, 0), -1);
}

static void test_job_printing_a_lot_keeps_a_bounded_tail(void **state)
{
	load_config("limits: {output_tail: 4KiB}\n" DS_YAML "jobs:\n  j:\n    after: [d]\n"
	            "    command: [\"/bin/sh\", \"-c\", \"seq 1 200000; echo last-line\"]\n");
	start();
	int64_t id = trigger("j", "2026-11-24");
	wait_run(id, "succeeded", 10000);
	assert_true(q_int("SELECT length(output_tail) FROM attempts") <= 4096);
	assert_non_null(strstr(q_text("SELECT substr(output_tail, -100) FROM attempts"),
	                       "200000\nlast-line"));
}

/* Start job j as `sleep 30` and ask to cancel its run once the child runs;
 * returns the run id. */
static int64_t cancel_sleeping_job(void)
{
	int64_t id = start_job("    command: [\"sleep\", \"30\"]\n"
	            "    kill_grace: 200ms\n");
	assert_true(run_until_sql(5000, "SELECT count(*) FROM attempts WHERE pid > 0"));
	struct srun *r = sched_run(H->d.sched, id);
	assert_non_null(r);
	assert_int_equal(sched_cancel(H->d.sched, r, "cancelled by the operator"), 0);
	return id;
}

static void test_cancel_stops_the_child(void **state)
{
	int64_t id = cancel_sleeping_job();
	wait_run(id, "cancelled", 5000);
	assert_string_equal(q_text("SELECT outcome FROM attempts"), "cancelled");
	assert_string_equal(q_text("SELECT error FROM runs"), "cancelled by the operator");
	assert_null(sched_run(H->d.sched, id));
	assert_int_equal(kill((int)q_int("SELECT pid FROM attempts"), 0), -1);
}

/* SIGTERM path: the attempt is recorded cancelled, the task stays queued,
 * and the next start runs it again. */
static void test_stop_leaves_runs_resumable(void **state)
{
	int64_t id = start_job("    command: [\"/bin/sh\", \"-c\","
	            " \"if [ -e @DIR@/once ]; then exit 0; fi; touch @DIR@/once; exec sleep 30\"]\n"
	            "    kill_grace: 200ms\n");
	char once[128];
	snprintf(once, sizeof once, "%s/once", H->dir);
	for (int i = 0; i < 500 && access(once, F_OK) < 0; i++)
		run_for(10);
	assert_int_equal(access(once, F_OK), 0);
	int pid = (int)q_int("SELECT pid FROM attempts");
	stop();
	assert_int_equal(kill(pid, 0), -1);
	assert_string_equal(q_text("SELECT outcome FROM attempts"), "cancelled");
	assert_non_null(strstr(q_text("SELECT error FROM attempts"), "stopping"));
	assert_string_equal(q_text("SELECT state FROM tasks"), "queued");
	assert_string_equal(q_text("SELECT state FROM runs"), "running");
	assert_int_equal(q_int("SELECT attempts FROM tasks"), 0);
	start();
	wait_run(id, "succeeded", 5000);
	assert_int_equal(q_int("SELECT count(*) FROM attempts"), 2);
	assert_string_equal(q_text("SELECT outcome FROM attempts WHERE n=2"), "succeeded");
}

/* An operator's cancel that is still waiting for its child when SIGTERM
 * comes ends the run cancelled: the next start does not run it again. */
static void test_cancel_then_stop_stays_cancelled(void **state)
{
	int64_t id = cancel_sleeping_job();
	stop();                        /* before the child's exit is seen */
	assert_string_equal(q_text("SELECT state FROM runs WHERE id=%lld", (long long)id),
	                    "cancelled");
	start();
	run_for(300);
	assert_string_equal(q_text("SELECT state FROM runs WHERE id=%lld", (long long)id),
	                    "cancelled");
	assert_int_equal(q_int("SELECT count(*) FROM attempts"), 1);
}

/* `retry` of a failed run refuses while another run of the same target and
 * date is active: two runs of one date would share its files. */
static void test_retry_refuses_while_the_date_is_active(void **state)
{
	int64_t failed = start_job("    command: [\"/bin/sh\", \"-c\","
	            " \"if [ -e @DIR@/once ]; then exec sleep 30; fi; touch @DIR@/once; exit 1\"]\n"
	            "    retries: 0\n    kill_grace: 200ms\n");
	wait_run(failed, "failed", 5000);
	int64_t active = trigger("j", "2026-11-24");
	assert_true(run_until_sql(5000, "SELECT count(*) FROM attempts WHERE pid > 0 AND "
	                          "ended IS NULL"));
	assert_int_equal(sched_retry(H->d.sched, failed), -EBUSY);
	assert_null(sched_run(H->d.sched, failed));
	assert_string_equal(q_text("SELECT state FROM runs WHERE id=%lld", (long long)failed),
	                    "failed");
	assert_non_null(sched_run(H->d.sched, active));
}

/*
 * What a daemon killed with -9 leaves: run 7 running with its task 9
 * running and attempt 1 open, whose child (a real `sleep 30` leading its
 * own group, with attempt 1's marker in its environment) is still alive.
 * The attempt records the child's start time plus SKEW (a skew makes it
 * look like another process that reused the pid).  Returns the child.
 */
static pid_t crashed_daemon_leftovers(long long skew)
{
	char marker[256], sql[1024];
	struct procgroup_stat ps;
	sqlite3 *db;
	pid_t pid;

	load_config(DS_YAML "jobs:\n  j:\n    after: [d]\n    command: [\"true\"]\n");
	assert_int_equal(procgroup_marker(H->d.cfg->state_dir, 1, marker, sizeof marker), 0);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		char *const argv[] = { "sleep", "30", NULL };
		char *const envp[] = { marker, NULL };
		execve("/bin/sleep", argv, envp);
		_exit(127);
	}
	setpgid(pid, pid);
	assert_int_equal(procgroup_stat(pid, &ps), 0);
	snprintf(sql, sizeof sql,
	         "INSERT INTO runs(id, target, kind, exec_date, trigger, state, created, started)"
	         " VALUES (7, 'j', 'job', '2026-11-24', 'manual', 'running', 1, 2);"
	         "INSERT INTO tasks(id, run_id, name, seq, state) VALUES (9, 7, 'j', 0, 'running');"
	         "INSERT INTO attempts(id, task_id, n, started, pid, pid_start)"
	         " VALUES (1, 9, 1, 3, %d, %llu);", (int)pid,
	         (unsigned long long)ps.start_ticks + (unsigned long long)skew);
	assert_int_equal(sqlite3_open(H->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, 0, 0, 0), SQLITE_OK);
	sqlite3_close(db);
	return pid;
}

/* The restart kills the orphan's group (it is provably ours), marks the
 * attempt interrupted and runs the task again. */
static void test_recovery_kills_the_orphan_and_resumes(void **state)
{
	pid_t pid = crashed_daemon_leftovers(0);
	int status;

	start();
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_string_equal(q_text("SELECT outcome FROM attempts WHERE n=1"), "interrupted");
	wait_run(7, "succeeded", 5000);
	assert_string_equal(q_text("SELECT outcome FROM attempts WHERE n=2"), "succeeded");
	/* The interruption did not use up the retry budget. */
	assert_int_equal(q_int("SELECT attempts FROM tasks WHERE id=9"), 0);
}

/* A recorded pid now used by a process with another start time is left
 * alone (the task still runs again). */
static void test_recovery_spares_a_reused_pid(void **state)
{
	pid_t pid = crashed_daemon_leftovers(-5);

	start();
	wait_run(7, "succeeded", 5000);
	assert_int_equal(kill(pid, 0), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* limits.jobs = 1: two job runs never overlap; the second starts after the
 * first ended. */
static void test_job_limit_serialises(void **state)
{
	load_config("limits: {jobs: 1}\n" DS_YAML "jobs:\n"
	            "  a:\n    after: [d]\n    command: [\"sleep\", \"0.3\"]\n"
	            "  b:\n    after: [d]\n    command: [\"sleep\", \"0.3\"]\n");
	start();
	trigger("a", "2026-11-24");
	trigger("b", "2026-11-24");
	assert_true(run_until_sql(5000, "SELECT count(*) = 2 FROM runs WHERE state='succeeded'"));
	long long a_end = q_int("SELECT a.ended FROM attempts a JOIN tasks t ON a.task_id=t.id"
	                        " WHERE t.name='a'");
	long long b_start = q_int("SELECT a.started FROM attempts a JOIN tasks t ON a.task_id=t.id"
	                          " WHERE t.name='b'");
	assert_true(b_start >= a_end);
}

/* ---- typed events ---- */

/* An announced event, copied, with what the store said when it came. */
struct heard {
	enum engine_event_kind kind;
	char type[32], dataset[32], job[32], task[32], state_in_store[16];
	int priority;
	int64_t run_id;
	enum run_state state;
	char message[256];
};

static struct heard heard[32];
static int n_heard;

static void copy_or_dash(char *out, size_t n, const char *v)
{
	snprintf(out, n, "%s", v ? v : "-");
}

static void on_event(void *arg, const struct engine_event *ev)
{
	struct heard *h = &heard[n_heard];

	assert_ptr_equal(arg, H);
	if (n_heard == (int)(sizeof heard / sizeof heard[0]))
		return;
	n_heard++;
	h->kind = ev->kind;
	copy_or_dash(h->type, sizeof h->type, ev->type);
	copy_or_dash(h->dataset, sizeof h->dataset, ev->dataset);
	copy_or_dash(h->job, sizeof h->job, ev->job);
	copy_or_dash(h->task, sizeof h->task, ev->task);
	copy_or_dash(h->message, sizeof h->message, ev->message);
	h->priority = ev->priority;
	h->run_id = ev->run_id;
	h->state = ev->state;
	/* Store first, announce second: the row already says so. */
	snprintf(h->state_in_store, sizeof h->state_in_store, "%s", ev->run_id ?
	         q_text("SELECT state FROM runs WHERE id=%lld", (long long)ev->run_id) : "-");
}

/* Start with on_event subscribed after the journal. */
static void start_heard(void)
{
	n_heard = 0;
	assert_int_equal(sched_init(&H->d), 0);
	assert_int_equal(engine_subscribe(H->d.sched, engine_journal, NULL), 0);
	assert_int_equal(engine_subscribe(H->d.sched, on_event, H), 0);
	assert_int_equal(sched_start(&H->d), 0);
}

static void expect_heard(int i, enum engine_event_kind kind, int priority, const char *task,
                         enum run_state state, const char *phrase)
{
	assert_true(i < n_heard);
	if (heard[i].kind != kind || heard[i].priority != priority ||
	    strcmp(heard[i].task, task) || heard[i].state != state ||
	    !strstr(heard[i].message, phrase))
		fail_msg("event %d: %s %d %s %s \"%s\"", i, heard[i].type, heard[i].priority,
		         heard[i].task, run_state_to_string(heard[i].state), heard[i].message);
	assert_string_equal(heard[i].type, engine_event_kind_to_string(kind));
}

static void test_events_are_typed_and_follow_the_commit(void **state)
{
	load_config(DS_YAML "jobs:\n  j:\n    after: [d]\n    command: [\"true\"]\n");
	start_heard();
	int64_t id = trigger("j", "2026-11-24");
	/* Status shows the new run at once, from its run.state event on. */
	struct sched_target_info ti;
	sched_target_info(sched_target(H->d.sched, "j"), &ti);
	assert_int_equal(ti.last_run_id, id);
	assert_int_equal(ti.last_run_state, RUN_QUEUED);
	wait_run(id, "succeeded", 5000);
	assert_int_equal(n_heard, 4);
	expect_heard(0, ENGINE_EV_RUN_STATE, LOG_INFO, "j", RUN_QUEUED, "queued (manual)");
	expect_heard(1, ENGINE_EV_TASK_STATE, LOG_INFO, "j", RUN_RUNNING, "j started (attempt 1)");
	expect_heard(2, ENGINE_EV_TASK_STATE, LOG_INFO, "j", RUN_SUCCEEDED, "j succeeded");
	expect_heard(3, ENGINE_EV_RUN_STATE, LOG_INFO, "j", RUN_SUCCEEDED, "succeeded");
	for (int i = 0; i < n_heard; i++) {
		/* A job's events name the job, never a dataset. */
		assert_string_equal(heard[i].job, "j");
		assert_string_equal(heard[i].dataset, "-");
		assert_int_equal(heard[i].run_id, id);
	}
	assert_string_equal(heard[0].state_in_store, "queued");
	assert_string_equal(heard[3].state_in_store, "succeeded");
	sched_target_info(sched_target(H->d.sched, "j"), &ti);
	assert_int_equal(ti.last_run_state, RUN_SUCCEEDED);
	assert_string_equal(ti.last_run_date, "2026-11-24");
	/* As many events in the store as were announced. */
	assert_int_equal(q_int("SELECT count(*) FROM events WHERE run_id=%lld", (long long)id), 4);
}

static void test_dataset_events_and_the_subscriber_cap(void **state)
{
	load_config(DS_YAML);
	start_heard();
	int64_t id = trigger("d", "2026-11-24");
	wait_run(id, "failed", 5000);
	/* queued, fetch started, fetch failed, run failed (check skipped: no event) */
	assert_int_equal(n_heard, 4);
	expect_heard(1, ENGINE_EV_TASK_STATE, LOG_INFO, "fetch", RUN_RUNNING, "fetch started");
	expect_heard(2, ENGINE_EV_TASK_STATE, LOG_ERR, "fetch", RUN_FAILED, "fetch failed");
	expect_heard(3, ENGINE_EV_RUN_STATE, LOG_ERR, "-", RUN_FAILED, "failed: fetch: ");
	assert_string_equal(heard[3].dataset, "d");
	assert_string_equal(heard[3].job, "-");
	assert_string_equal(heard[3].state_in_store, "failed");
	/* A target's own events carry no run. */
	assert_int_equal(sched_pause(H->d.sched, sched_target(H->d.sched, "d"), true), 0);
	expect_heard(4, ENGINE_EV_DATASET_PAUSED, LOG_INFO, "-", RUN_QUEUED, "d paused");
	assert_int_equal(heard[4].run_id, 0);
	for (int i = 2; i < ENGINE_MAX_SUBSCRIBERS; i++)
		assert_int_equal(engine_subscribe(H->d.sched, on_event, H), 0);
	assert_int_equal(engine_subscribe(H->d.sched, on_event, H), -ENOSPC);
}

/* ---- schedules, catch-up, backfill ---- */

static void set_now(const char *iso)
{
	setenv("DENVERD_NOW", iso, 1);
	assert_int_equal(clock_init(), 0);
}

static void seed_dataset(const char *name, const char *first, const char *last)
{
	int64_t f, l = 0;
	assert_int_equal(clock_parse_iso(first, &f), 0);
	if (last)
		assert_int_equal(clock_parse_iso(last, &l), 0);
	assert_int_equal(store_dataset_add(H->d.store, name, f), 0);
	if (last)
		assert_int_equal(store_dataset_set_last_fire(H->d.store, name, l), 0);
}

/* Down from the 20th to the 24th 08:00 (Denver, MST): fires of the 21st to
 * the 24th at 06:15 were missed. */
#define CATCHUP_NOW "2026-11-24T08:00:00-07:00"

static void test_catchup_latest_runs_once(void **state)
{
	set_now(CATCHUP_NOW);
	load_config(DS_YAML);
	seed_dataset("d", "2026-11-01T00:00:00-07:00", "2026-11-20T06:15:00-07:00");
	start();
	assert_int_equal(q_int("SELECT count(*) FROM runs"), 1);
	assert_string_equal(q_text("SELECT exec_date FROM runs"), "2026-11-24");
	assert_string_equal(q_text("SELECT trigger FROM runs"), "catchup");
	int64_t want;
	assert_int_equal(clock_parse_iso("2026-11-24T06:15:00-07:00", &want), 0);
	assert_int_equal(q_int("SELECT last_fire FROM datasets"), want);
	/* The next fire is tomorrow's. */
	assert_int_equal(clock_parse_iso("2026-11-25T06:15:00-07:00", &want), 0);
	assert_int_equal(sched_target(H->d.sched, "d")->next_fire, want / 1000);
	/* A restart does not fire again. */
	stop();
	start();
	assert_int_equal(q_int("SELECT count(*) FROM runs"), 1);
}

static void test_catchup_all_capped(void **state)
{
	set_now(CATCHUP_NOW);
	load_config(DS_YAML "    missed: all\n    max_catchup: 2\n");
	seed_dataset("d", "2026-11-01T00:00:00-07:00", "2026-11-20T06:15:00-07:00");
	start();
	assert_int_equal(q_int("SELECT count(*) FROM runs WHERE trigger='catchup'"), 2);
	assert_string_equal(q_text("SELECT group_concat(exec_date) FROM (SELECT exec_date FROM"
	                           " runs ORDER BY id)"), "2026-11-23,2026-11-24");
	assert_int_equal(q_int("SELECT count(*) FROM events WHERE type='schedule' AND message"
	                       " LIKE '%%2 missed fires without a run%%'"), 1);
}

static void test_catchup_none_and_first_configured(void **state)
{
	set_now(CATCHUP_NOW);
	load_config(DS_YAML "    missed: none\n  e:\n    url: file://@DIR@/e.csv\n"
	            "    schedule: \"15 6 * * *\"\n    missed: all\n    max_catchup: 10\n");
	seed_dataset("d", "2026-11-01T00:00:00-07:00", "2026-11-20T06:15:00-07:00");
	/* e was first configured on the 23rd at noon: only the 24th counts. */
	seed_dataset("e", "2026-11-23T12:00:00-07:00", NULL);
	start();
	assert_int_equal(q_int("SELECT count(*) FROM runs WHERE target='d'"), 0);
	int64_t want;
	assert_int_equal(clock_parse_iso("2026-11-24T06:15:00-07:00", &want), 0);
	assert_int_equal(q_int("SELECT last_fire FROM datasets WHERE name='d'"), want);
	assert_int_equal(q_int("SELECT count(*) FROM runs WHERE target='e'"), 1);
	assert_string_equal(q_text("SELECT exec_date FROM runs WHERE target='e'"), "2026-11-24");
}

static void test_new_dataset_never_catches_up(void **state)
{
	set_now(CATCHUP_NOW);
	load_config(DS_YAML "    missed: all\n");
	start();
	assert_int_equal(q_int("SELECT count(*) FROM runs"), 0);
	int64_t now;
	assert_int_equal(clock_parse_iso(CATCHUP_NOW, &now), 0);
	assert_true(llabs(q_int("SELECT first_configured FROM datasets") - now) < 5000);
}

/* The clock is put two seconds before 06:15 in Denver: the timer fires the
 * schedule and the run's exec date is that local date.  (A DST day: the
 * night of 2026-03-08 has no 02:00-03:00, which does not touch 06:15.) */
static void test_schedule_fires_with_local_exec_date(void **state)
{
	set_now("2026-03-08T06:14:58-06:00");
	load_config(DS_YAML);
	start();
	assert_int_equal(q_int("SELECT count(*) FROM runs"), 0);
	assert_true(run_until_sql(6000, "SELECT count(*) FROM runs WHERE trigger='schedule'"));
	assert_string_equal(q_text("SELECT exec_date FROM runs"), "2026-03-08");
	int64_t want;
	assert_int_equal(clock_parse_iso("2026-03-08T06:15:00-06:00", &want), 0);
	assert_int_equal(q_int("SELECT last_fire FROM datasets"), want);
	/* The file:// URL does not exist: the fetch fails, not retryable or
	 * out of retries (retries: 0), and the run says why. */
	assert_true(run_until_sql(5000, "SELECT count(*) FROM runs WHERE state='failed'"));
	assert_non_null(strstr(q_text("SELECT error FROM runs"), "fetch"));
}

static void test_backfill_queues_one_run_per_date(void **state)
{
	set_now(CATCHUP_NOW);
	load_config("limits: {fetches: 1}\n" DS_YAML);
	start();
	struct target *t = sched_target(H->d.sched, "d");
	int64_t from, to, first, last;
	unsigned created, skipped;
	assert_int_equal(execdate_parse("2026-10-01", &from), 0);
	assert_int_equal(execdate_parse("2026-10-10", &to), 0);
	assert_int_equal(sched_pause(H->d.sched, t, true), 0);
	assert_int_equal(sched_backfill(H->d.sched, t, from, to, &created, &skipped, &first,
	                                &last), 0);
	assert_int_equal(created, 10);
	assert_int_equal(skipped, 0);
	assert_int_equal(last - first, 9);
	/* Again: every date has an active run. */
	assert_int_equal(sched_backfill(H->d.sched, t, from, to, &created, &skipped, &first,
	                                &last), 0);
	assert_int_equal(created, 0);
	assert_int_equal(skipped, 10);
	assert_int_equal(sched_backfill(H->d.sched, t, from, from + SCHED_MAX_BACKFILL, &created,
	                                &skipped, &first, &last), -E2BIG);
	assert_int_equal(q_int("SELECT count(*) FROM runs WHERE trigger='backfill'"), 10);
	/* Paused: nothing starts. */
	run_for(200);
	assert_int_equal(q_int("SELECT count(*) FROM attempts"), 0);
	assert_int_equal(q_int("SELECT paused FROM datasets"), 1);
	/* Resumed: they run, oldest date first, one at a time. */
	assert_int_equal(sched_pause(H->d.sched, t, false), 0);
	assert_true(run_until_sql(10000, "SELECT count(*) = 10 FROM runs WHERE state='failed'"));
	assert_string_equal(q_text("SELECT group_concat(exec_date) FROM (SELECT r.exec_date FROM"
	                           " attempts a JOIN tasks k ON a.task_id=k.id JOIN runs r ON"
	                           " k.run_id=r.id ORDER BY a.id LIMIT 3)"),
	                    "2026-10-01,2026-10-02,2026-10-03");
}

/* ---- the after: rule, with real fetches (file://) and checks ---- */

#define TWO_DATASETS "allow_file_urls: true\ndatasets:\n" \
	"  a:\n    url: file://@DIR@/a.csv\n    schedule: \"15 6 * * *\"\n    convert: false\n" \
	"    schema: {columns: [{name: id, type: int}], key: [id]}\n" \
	"  b:\n    url: file://@DIR@/b.csv\n    schedule: \"15 6 * * *\"\n    convert: false\n" \
	"    schema: {columns: [{name: id, type: int}], key: [id]}\n" \
	"jobs:\n  j:\n    after: [a, b]\n    command: [\"true\"]\n"

/* j runs once both a and b have succeeded for the date, right when the
 * second one ends; a later run of a that finds nothing new does not run j
 * again, a forced one that publishes anew does. */
static void test_job_after_two_datasets(void **state)
{
	load_config(TWO_DATASETS);
	sh("printf 'id\\n1\\n2\\n' > %s/a.csv; printf 'id\\n7\\n' > %s/b.csv", H->dir, H->dir);
	start();
	int64_t ra = trigger("a", "2026-11-24");
	wait_run(ra, "succeeded", 5000);
	assert_int_equal(q_int("SELECT count(*) FROM runs WHERE kind='job'"), 0);
	assert_int_equal(q_int("SELECT rows FROM snapshots WHERE run_id=%lld", (long long)ra), 2);
	int64_t rb = trigger("b", "2026-11-24");
	wait_run(rb, "succeeded", 5000);
	assert_true(run_until_sql(5000, "SELECT count(*) FROM runs WHERE kind='job' AND state="
	                          "'succeeded'"));
	assert_string_equal(q_text("SELECT exec_date || ' ' || trigger FROM runs WHERE kind='job'"),
	                    "2026-11-24 after");
	long long lag = q_int("SELECT j.created - b.ended FROM runs j, runs b WHERE j.kind='job'"
	                      " AND b.id=%lld", (long long)rb);
	assert_true(lag >= 0 && lag < 1000);
	/* Same bytes again: unchanged, and no second job run. */
	int64_t ra2 = trigger("a", "2026-11-24");
	wait_run(ra2, "unchanged", 5000);
	assert_string_equal(q_text("SELECT state FROM tasks WHERE run_id=%lld AND name='check'",
	                           (long long)ra2), "skipped");
	run_for(100);
	assert_int_equal(q_int("SELECT count(*) FROM runs WHERE kind='job'"), 1);
	/* New bytes: a succeeds again, and j runs again. */
	sh("printf 'id\\n1\\n2\\n3\\n' > %s/a.csv", H->dir);
	int64_t ra3 = trigger("a", "2026-11-24");
	wait_run(ra3, "succeeded", 5000);
	assert_true(run_until_sql(5000, "SELECT count(*) = 2 FROM runs WHERE kind='job' AND state="
	                          "'succeeded'"));
}

/* A check that fails quarantines the snapshot and fails the run; no job. */
static void test_failed_check_quarantines(void **state)
{
	load_config("allow_file_urls: true\ndatasets:\n"
	            "  a:\n    url: file://@DIR@/a.csv\n    schedule: \"15 6 * * *\"\n"
	            "    convert: false\n    retries: 0\n"
	            "    schema: {columns: [{name: id, type: int}], key: [id]}\n"
	            "    checks: {rows: {type: row_count, min: 10}}\n");
	sh("printf 'id\\n1\\n2\\n' > %s/a.csv", H->dir);
	start();
	int64_t ra = trigger("a", "2026-11-24");
	wait_run(ra, "failed", 5000);
	assert_non_null(strstr(q_text("SELECT error FROM runs"), "quarantined"));
	assert_string_equal(q_text("SELECT state FROM snapshots"), "quarantined");
	char path[256];
	snprintf(path, sizeof path, "%s/quarantine/a/exec_date=2026-11-24/a.csv", H->dir);
	assert_int_equal(access(path, F_OK), 0);
	assert_string_equal(q_text("SELECT path FROM snapshots"), path);
}

/* ---- convert: spec, manifest cross-check, a missing Spark ---- */

#define CONVERT_DS(submit) "allow_file_urls: true\n" \
	"spark: {submit: " submit ", jobs_dir: @DIR@/jobs, master: \"local[1]\", " \
	"driver_memory: 512MiB, conf: {spark.ui.enabled: \"false\"}}\n" \
	"datasets:\n  a:\n    url: file://@DIR@/a.csv\n    schedule: \"15 6 * * *\"\n" \
	"    retries: 0\n    schema: {columns: [{name: id, type: int}], key: [id]}\n"

static void test_convert_without_spark_says_what_to_install(void **state)
{
	load_config(CONVERT_DS("/nonexistent/spark-submit"));
	sh("printf 'id\\n1\\n2\\n' > %s/a.csv; mkdir %s/jobs; touch %s/jobs/convert.py",
	   H->dir, H->dir, H->dir);
	start();
	int64_t id = trigger("a", "2026-11-24");
	wait_run(id, "failed", 5000);
	const char *err = q_text("SELECT error FROM runs");
	assert_non_null(strstr(err, "convert: spark-submit not found"));
	assert_non_null(strstr(err, "scripts/setup"));
	assert_int_equal(q_int("SELECT count(*) FROM attempts a JOIN tasks t ON a.task_id=t.id"
	                       " WHERE t.name='convert'"), 1);
}

/*
 * A stand-in for spark-submit (a real child process; the real Spark runs in
 * the integration tests) that checks its argv and the spec, then writes a
 * manifest claiming 999 rows: the run must fail naming both counts.
 */
static void test_convert_manifest_must_match_the_check(void **state)
{
	load_config(CONVERT_DS("@DIR@/spark-submit"));
	sh("printf 'id\\n1\\n2\\n' > %s/a.csv; mkdir %s/jobs; touch %s/jobs/convert.py", H->dir,
	   H->dir, H->dir);
	sh("cat > %s/spark-submit <<'EOF'\n#!/bin/sh\n"
	   "[ \"$1 $2 $3 $4 $5 $6\" = '--master local[1] --driver-memory 512m --conf "
	   "spark.ui.enabled=false' ] || { echo \"bad argv: $*\"; exit 9; }\n"
	   "spec=$9\n"
	   "grep -q '\"rows_checked\": 2' $spec || { echo 'bad spec'; cat $spec; exit 8; }\n"
	   "m=$(sed -n 's/.*\"manifest\": \"\\(.*\\)\".*/\\1/p' $spec)\n"
	   "echo '{\"version\": 1, \"rows_read\": 999}' > $m.tmp && mv $m.tmp $m\nEOF\n"
	   "chmod +x %s/spark-submit", H->dir, H->dir);
	start();
	int64_t id = trigger("a", "2026-11-24");
	wait_run(id, "failed", 10000);
	assert_non_null(strstr(q_text("SELECT error FROM runs"),
	                       "convert read 999 rows but the check counted 2"));
	char spec[256];
	snprintf(spec, sizeof spec, "%s/work/run-%lld/convert.json", H->dir, (long long)id);
	assert_int_equal(access(spec, R_OK), 0);
	sh("grep -q '\"input\": \"%s/staging/a/exec_date=2026-11-24/a.csv\"' %s", H->dir, spec);
	sh("grep -q '\"encoding\": \"utf-8\"' %s && grep -q '\"key\": \\[' %s", spec, spec);
}

/* A second engine on the same state_dir is refused (it would run the
 * attempts the first one owns again). */
static void test_one_engine_per_state_dir(void **state)
{
	load_config(DS_YAML);
	start();
	struct denverd other = H->d;
	other.sched = NULL;
	assert_int_equal(sched_init(&other), -EBUSY);
	assert_null(other.sched);
	stop();
	other.sched = NULL;
	assert_int_equal(sched_init(&other), 0);
	sched_fini(&other);
}

static void test_reload_adds_and_removes(void **state)
{
	set_now(CATCHUP_NOW);
	int64_t id = start_job("    command: [\"sleep\", \"30\"]\n    kill_grace: 100ms\n");
	assert_true(run_until_sql(5000, "SELECT count(*) FROM attempts WHERE pid > 0"));
	struct config *old = H->d.cfg;
	H->d.cfg = NULL;
	load_config(DS_YAML "  e:\n    url: file://@DIR@/e.csv\n    schedule: \"* * * * *\"\n"
	            "    missed: all\n");
	assert_int_equal(sched_reload(&H->d, old), 0);
	/* The removed job's run is cancelled; the new dataset does not fire by
	 * itself, and its first configuration is now. */
	wait_run(id, "cancelled", 5000);
	assert_string_equal(q_text("SELECT error FROM runs WHERE id=%lld", (long long)id),
	                    "removed from the configuration");
	assert_int_equal(q_int("SELECT count(*) FROM runs WHERE target='e'"), 0);
	assert_int_equal(q_int("SELECT count(*) FROM datasets WHERE name='e'"), 1);
	assert_null(sched_target(H->d.sched, "j"));
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_job_succeeds_with_its_environment),
		T(test_failing_job_retries_with_backoff_then_fails),
		T(test_missing_command_fails_at_once),
		T(test_hanging_job_times_out),
		T(test_job_printing_a_lot_keeps_a_bounded_tail),
		T(test_cancel_stops_the_child),
		T(test_stop_leaves_runs_resumable),
		T(test_cancel_then_stop_stays_cancelled),
		T(test_retry_refuses_while_the_date_is_active),
		T(test_recovery_kills_the_orphan_and_resumes),
		T(test_recovery_spares_a_reused_pid),
		T(test_job_limit_serialises),
		T(test_events_are_typed_and_follow_the_commit),
		T(test_dataset_events_and_the_subscriber_cap),
		T(test_catchup_latest_runs_once),
		T(test_catchup_all_capped),
		T(test_catchup_none_and_first_configured),
		T(test_new_dataset_never_catches_up),
		T(test_schedule_fires_with_local_exec_date),
		T(test_backfill_queues_one_run_per_date),
		T(test_reload_adds_and_removes),
		T(test_one_engine_per_state_dir),
		T(test_job_after_two_datasets),
		T(test_failed_check_quarantines),
		T(test_convert_without_spark_says_what_to_install),
		T(test_convert_manifest_must_match_the_check),
#undef T
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
