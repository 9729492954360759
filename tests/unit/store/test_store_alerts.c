/* test_store_alerts.c - the alerts section of the store: rows, delivery,
 * suppression counts, the newest row per key, and the facts of a run that
 * alerts judge, on a real SQLite file. */
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

#include "store/store.h"
#include "tmpstore.h"

static void sql(struct tmpstore *t, const char *text)
{
	assert_int_equal(tmpstore_sql(t, text), 0);
}

struct seen {
	int n;
	char line[8][160];
};

static int collect(void *arg, const struct store_alert *a)
{
	struct seen *s = arg;
	if (s->n == 8)
		return -ENOSPC;
	snprintf(s->line[s->n++], sizeof s->line[0], "%lld %s %s %s %s run=%lld d=%lld s=%lld",
	         (long long)a->id, a->dataset, a->reason, a->state, a->message,
	         (long long)a->run_id, (long long)a->delivered, (long long)a->suppressed);
	return 0;
}

static void test_rows(void **state)
{
	struct tmpstore *f = *state;
	struct seen s = { 0 };

	assert_int_equal(store_alert_add(f->st, 100, "traffic_accidents", "run_failed",
	                                 "firing", "run 3 failed", 3), 1);
	assert_int_equal(store_alert_add(f->st, 200, "traffic_accidents", "stale",
	                                 "firing", "no data for 40h", 0), 2);
	assert_int_equal(store_alert_add(f->st, 300, "traffic_accidents", "run_failed",
	                                 "recovered", "run 4 succeeded", 4), 3);
	assert_int_equal(store_alert_add(f->st, 400, "report", "run_failed",
	                                 "firing", "job failed", 5), 4);
	assert_int_equal(store_alert_delivered(f->st, 1, 150), 0);
	assert_int_equal(store_alert_suppressed(f->st, 2), 0);
	assert_int_equal(store_alert_suppressed(f->st, 2), 0);
	assert_int_equal(store_alert_delivered(f->st, 99, 1), -ENOENT);
	assert_int_equal(store_alert_suppressed(f->st, 99), -ENOENT);

	assert_int_equal(store_alerts_latest(f->st, collect, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.line[0], "2 traffic_accidents stale firing no data for 40h run=0 d=0 s=2");
	assert_string_equal(s.line[1], "3 traffic_accidents run_failed recovered run 4 succeeded run=4 d=0 s=0");
	assert_string_equal(s.line[2], "4 report run_failed firing job failed run=5 d=0 s=0");

	memset(&s, 0, sizeof s);
	assert_int_equal(store_alerts_list(f->st, "traffic_accidents", 2, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.line[0], "3 traffic_accidents run_failed recovered run 4 succeeded run=4 d=0 s=0");
	assert_string_equal(s.line[1], "2 traffic_accidents stale firing no data for 40h run=0 d=0 s=2");

	memset(&s, 0, sizeof s);
	assert_int_equal(store_alerts_list(f->st, NULL, 100, collect, &s), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.line[3], "1 traffic_accidents run_failed firing run 3 failed run=3 d=150 s=0");

	/* A callback's error stops the walk and comes back. */
	for (int i = 0; i < 10; i++)
		store_alert_add(f->st, 500 + i, "x", "stale", "firing", "m", 0);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_alerts_list(f->st, NULL, 100, collect, &s), -ENOSPC);
}

static void test_run_facts(void **state)
{
	struct tmpstore *f = *state;
	struct store_run_facts r;

	sql(f, "INSERT INTO runs(id, target, kind, exec_date, trigger, state, created, ended, error)"
	       " VALUES (7, 'traffic_accidents', 'dataset', '2026-11-24', 'schedule', 'failed',"
	       "         1, 2, 'check: 1 check failed');"
	       "INSERT INTO runs(id, target, kind, exec_date, trigger, state, created)"
	       " VALUES (8, 'report', 'job', '2026-11-24', 'schedule', 'running', 1);"
	       "INSERT INTO snapshots(run_id, dataset, exec_date, path, bytes, hash, state, published)"
	       " VALUES (7, 'traffic_accidents', '2026-11-24', 'q', 1, 'h', 'quarantined', 1);"
	       "INSERT INTO dq_results(run_id, check_name, check_type, severity, outcome) VALUES"
	       " (7, 'rows', 'row_count', 'fail', 'fail'), (7, 'key_unique', 'unique', 'fail', 'fail'),"
	       " (7, 'location', 'coordinates', 'warn', 'warn'), (7, 'ids', 'nulls', 'fail', 'pass');");
	assert_int_equal(store_run_facts(f->st, 7, &r), 0);
	assert_string_equal(r.target, "traffic_accidents");
	assert_string_equal(r.kind, "dataset");
	assert_string_equal(r.exec_date, "2026-11-24");
	assert_string_equal(r.state, "failed");
	assert_string_equal(r.error, "check: 1 check failed");
	assert_int_equal(r.ended, 2);
	assert_int_equal(r.n_checks, 4);
	assert_int_equal(r.n_fail, 2);
	assert_int_equal(r.n_warn, 1);
	assert_string_equal(r.failed, "key_unique, rows");
	assert_string_equal(r.warned, "location");
	assert_true(r.quarantined);

	assert_int_equal(store_run_facts(f->st, 8, &r), 0);
	assert_string_equal(r.kind, "job");
	assert_int_equal(r.ended, 0);
	assert_int_equal(r.n_checks, 0);
	assert_false(r.quarantined);
	assert_string_equal(r.error, "");
	assert_int_equal(store_run_facts(f->st, 9, &r), -ENOENT);
}

static void test_many_failed_checks_are_truncated(void **state)
{
	struct tmpstore *f = *state;
	struct store_run_facts r;
	char insert[256];

	sql(f, "INSERT INTO runs(id, target, kind, exec_date, trigger, state, created)"
	       " VALUES (1, 'd', 'dataset', '2026-11-24', 'manual', 'failed', 1);");
	for (int i = 0; i < 100; i++) {
		snprintf(insert, sizeof insert, "INSERT INTO dq_results(run_id, check_name,"
		         " check_type, severity, outcome) VALUES (1, 'check_number_%03d',"
		         " 'nulls', 'fail', 'fail')", i);
		sql(f, insert);
	}
	assert_int_equal(store_run_facts(f->st, 1, &r), 0);
	assert_int_equal(r.n_fail, 100);
	assert_true(strlen(r.failed) < sizeof r.failed);
	assert_memory_equal(r.failed, "check_number_000, check_number_001", 34);
}

static void test_freshness(void **state)
{
	struct tmpstore *f = *state;
	int64_t last_ok = -1, first = -1;

	assert_int_equal(store_freshness(f->st, "traffic_accidents", &last_ok, &first), 0);
	assert_int_equal(last_ok, 0);
	assert_int_equal(first, 0);
	sql(f, "INSERT INTO datasets(name, first_configured) VALUES ('traffic_accidents', 1000);"
	       "INSERT INTO runs(target, kind, exec_date, trigger, state, created, ended) VALUES"
	       " ('traffic_accidents', 'dataset', '2026-11-20', 'schedule', 'succeeded', 1, 5000),"
	       " ('traffic_accidents', 'dataset', '2026-11-21', 'schedule', 'unchanged', 1, 7000),"
	       " ('traffic_accidents', 'dataset', '2026-11-22', 'schedule', 'failed', 1, 9000),"
	       " ('traffic_accidents', 'job', '2026-11-22', 'schedule', 'succeeded', 1, 9500),"
	       " ('other', 'dataset', '2026-11-22', 'schedule', 'succeeded', 1, 9900);");
	assert_int_equal(store_freshness(f->st, "traffic_accidents", &last_ok, &first), 0);
	assert_int_equal(last_ok, 7000);
	assert_int_equal(first, 1000);
}

#define T(test) cmocka_unit_test_setup_teardown(test, tmpstore_setup, tmpstore_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rows),
		T(test_run_facts),
		T(test_many_failed_checks_are_truncated),
		T(test_freshness),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
