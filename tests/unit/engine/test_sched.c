/*
 * test_sched.c - the run engine on a real loop, a real store file and real
 * child processes: jobs that succeed, fail and retry, are missing, hang,
 * print a lot, get cancelled, are stopped and resumed, orphans of a
 * "crashed" daemon, the job limit, and the typed events the engine
 * publishes.  Schedules, catch-up, backfill, the after: rule, convert and
 * reload are in test_sched_schedules.c; the harness in sched_fixture.h.
 */
#include "sched_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		SCHED_TEST(test_job_succeeds_with_its_environment),
		SCHED_TEST(test_failing_job_retries_with_backoff_then_fails),
		SCHED_TEST(test_missing_command_fails_at_once),
		SCHED_TEST(test_hanging_job_times_out),
		SCHED_TEST(test_job_printing_a_lot_keeps_a_bounded_tail),
		SCHED_TEST(test_cancel_stops_the_child),
		SCHED_TEST(test_stop_leaves_runs_resumable),
		SCHED_TEST(test_cancel_then_stop_stays_cancelled),
		SCHED_TEST(test_retry_refuses_while_the_date_is_active),
		SCHED_TEST(test_recovery_kills_the_orphan_and_resumes),
		SCHED_TEST(test_recovery_spares_a_reused_pid),
		SCHED_TEST(test_job_limit_serialises),
		SCHED_TEST(test_events_are_typed_and_follow_the_commit),
		SCHED_TEST(test_dataset_events_and_the_subscriber_cap),
	};
	return sched_run_tests(tests, sizeof tests / sizeof tests[0]);
}
