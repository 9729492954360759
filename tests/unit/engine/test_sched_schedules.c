/*
 * test_sched_schedules.c - the run engine deciding when runs happen, on a
 * real loop and a real store file: catch-up after downtime, schedule fires
 * with the local exec date, backfill, the after: rule with real file://
 * fetches and checks, convert's spec and manifest cross-check, one engine
 * per state directory, reload.  Time is placed with DENVERD_NOW (clock.h's
 * test hook).  The harness is sched_fixture.h.
 */
#include "sched_fixture.h"

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
	const struct CMUnitTest tests[] = {
		SCHED_TEST(test_catchup_latest_runs_once),
		SCHED_TEST(test_catchup_all_capped),
		SCHED_TEST(test_catchup_none_and_first_configured),
		SCHED_TEST(test_new_dataset_never_catches_up),
		SCHED_TEST(test_schedule_fires_with_local_exec_date),
		SCHED_TEST(test_backfill_queues_one_run_per_date),
		SCHED_TEST(test_reload_adds_and_removes),
		SCHED_TEST(test_one_engine_per_state_dir),
		SCHED_TEST(test_job_after_two_datasets),
		SCHED_TEST(test_failed_check_quarantines),
		SCHED_TEST(test_convert_without_spark_says_what_to_install),
		SCHED_TEST(test_convert_manifest_must_match_the_check),
	};
	return sched_run_tests(tests, sizeof tests / sizeof tests[0]);
}
