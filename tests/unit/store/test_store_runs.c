/* test_store_runs.c - the engine's rows (store_runs.c and the snapshot of a run)
 * on a real SQLite file. */
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
#include <sqlite3.h>

#include "store/store.h"
#include "tmpstore.h"

struct seen {
	int n;
	char names[4][32];
	int64_t first[4], last[4];
	bool paused[4];
};

static int collect_ds(void *arg, const struct store_dataset *ds)
{
	struct seen *s = arg;
	snprintf(s->names[s->n], sizeof s->names[0], "%s", ds->name);
	s->first[s->n] = ds->first_configured;
	s->last[s->n] = ds->last_fire;
	s->paused[s->n] = ds->paused;
	s->n++;
	return 0;
}

static void test_datasets_keep_first_configured(void **state)
{
	struct tmpstore *f = *state;
	struct seen s = { 0 };
	assert_int_equal(store_dataset_add(f->st, "traffic", 1000), 0);
	assert_int_equal(store_dataset_add(f->st, "traffic", 5000), 0);
	assert_int_equal(store_dataset_add(f->st, "service", 2000), 0);
	assert_int_equal(store_dataset_set_last_fire(f->st, "traffic", 7000), 0);
	assert_int_equal(store_dataset_set_paused(f->st, "service", true), 0);
	assert_int_equal(store_dataset_set_paused(f->st, "nope", true), -ENOENT);
	assert_int_equal(store_datasets_each(f->st, collect_ds, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "service");
	assert_true(s.paused[0]);
	assert_int_equal(s.last[0], 0);
	assert_string_equal(s.names[1], "traffic");
	assert_int_equal(s.first[1], 1000);
	assert_int_equal(s.last[1], 7000);
	assert_false(s.paused[1]);
}

struct runs_seen {
	int n;
	int64_t ids[16];
	char states[16][16];
	char errors[16][64];
	int64_t started[16], ended[16];
	bool force[16];
};

static int collect_run(void *arg, const struct store_run *r)
{
	struct runs_seen *s = arg;
	s->ids[s->n] = r->id;
	snprintf(s->states[s->n], sizeof s->states[0], "%s", r->state);
	snprintf(s->errors[s->n], sizeof s->errors[0], "%s", r->error ? r->error : "-");
	s->started[s->n] = r->started;
	s->ended[s->n] = r->ended;
	s->force[s->n] = r->force;
	s->n++;
	return 0;
}

static int64_t add_run(struct store *st, const char *target, const char *kind,
                       const char *date, const char *state)
{
	struct store_run r = { .target = target, .kind = kind, .exec_date = date,
	                       .trigger = "manual", .state = state, .created = 100 };
	int64_t id = 0;
	assert_int_equal(store_run_add(st, &r, &id), 0);
	assert_true(id > 0);
	return id;
}

static void test_runs_round_trip_and_filters(void **state)
{
	struct tmpstore *f = *state;
	int64_t a = add_run(f->st, "traffic", "dataset", "2026-11-23", "queued");
	int64_t b = add_run(f->st, "traffic", "dataset", "2026-11-24", "queued");
	int64_t c = add_run(f->st, "report", "job", "2026-11-24", "queued");
	struct store_run upd = { .id = b, .state = "failed", .started = 200, .ended = 300,
	                         .error = "check rows: 3 < 1000" };
	assert_int_equal(store_run_set(f->st, &upd), 0);
	upd.id = 9999;
	assert_int_equal(store_run_set(f->st, &upd), -ENOENT);

	struct runs_seen s = { 0 };
	assert_int_equal(store_runs_active(f->st, collect_run, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], a);
	assert_int_equal(s.ids[1], c);

	memset(&s, 0, sizeof s);
	assert_int_equal(store_run_get(f->st, b, collect_run, &s), 0);
	assert_string_equal(s.states[0], "failed");
	assert_string_equal(s.errors[0], "check rows: 3 < 1000");
	assert_int_equal(s.started[0], 200);
	assert_int_equal(s.ended[0], 300);
	assert_int_equal(store_run_get(f->st, 9999, collect_run, &s), -ENOENT);

	struct store_run_filter fl = { .target = "traffic", .limit = 10 };
	memset(&s, 0, sizeof s);
	assert_int_equal(store_runs_list(f->st, &fl, collect_run, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], b);          /* newest first */
	fl = (struct store_run_filter){ .state = "queued", .limit = 1 };
	memset(&s, 0, sizeof s);
	assert_int_equal(store_runs_list(f->st, &fl, collect_run, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ids[0], c);
	fl = (struct store_run_filter){ .before_id = c, .limit = 10 };
	memset(&s, 0, sizeof s);
	assert_int_equal(store_runs_list(f->st, &fl, collect_run, &s), 0);
	assert_int_equal(s.n, 2);

	memset(&s, 0, sizeof s);
	int64_t d = add_run(f->st, "traffic", "dataset", "2026-11-24", "queued");
	assert_int_equal(store_run_latest(f->st, "dataset", "traffic", "2026-11-24",
	                                  collect_run, &s), 0);
	assert_int_equal(s.ids[0], d);
	assert_int_equal(store_run_latest(f->st, "job", "traffic", "2026-11-24",
	                                  collect_run, &s), -ENOENT);
}

/* Stop (with -ENOSPC) at the STOP-th run, or go on returning 1 when STOP is 0. */
struct stopper {
	struct runs_seen seen;
	int stop;
};

static int stop_at(void *arg, const struct store_run *r)
{
	struct stopper *p = arg;
	collect_run(&p->seen, r);
	if (p->stop && p->seen.n == p->stop)
		return -ENOSPC;
	return 1;                  /* not negative: the walk goes on */
}

/* The one callback rule of store.h: a negative return stops the walk and
 * comes back; any other value goes on.  And the last run of each target, by
 * one statement reused per target. */
static void test_callbacks_stop_on_negative_and_last_runs(void **state)
{
	struct tmpstore *f = *state;
	add_run(f->st, "traffic", "dataset", "2026-11-23", "succeeded");
	int64_t b = add_run(f->st, "traffic", "dataset", "2026-11-24", "failed");
	int64_t c = add_run(f->st, "report", "job", "2026-11-22", "queued");
	const char *kinds[] = { "dataset", "dataset", "job", "dataset" };
	const char *targets[] = { "traffic", "nothing", "report", "report" };
	struct stopper p = { 0 };

	assert_int_equal(store_runs_last(f->st, kinds, targets, 4, stop_at, &p), 0);
	assert_int_equal(p.seen.n, 2);
	assert_int_equal(p.seen.ids[0], b);    /* the latest exec date, not the newest id */
	assert_int_equal(p.seen.ids[1], c);
	memset(&p, 0, sizeof p);
	p.stop = 1;
	assert_int_equal(store_runs_last(f->st, kinds, targets, 4, stop_at, &p), -ENOSPC);
	assert_int_equal(p.seen.n, 1);

	struct store_run_filter fl = { .limit = 10 };
	memset(&p, 0, sizeof p);
	assert_int_equal(store_runs_list(f->st, &fl, stop_at, &p), 0);
	assert_int_equal(p.seen.n, 3);
	memset(&p, 0, sizeof p);
	p.stop = 2;
	assert_int_equal(store_runs_list(f->st, &fl, stop_at, &p), -ENOSPC);
	assert_int_equal(p.seen.n, 2);
	assert_int_equal(p.seen.ids[1], b);
}

struct tasks_seen {
	int n;
	char names[8][16], states[8][16];
	unsigned attempts[8];
	int64_t not_before[8];
};

static int collect_task(void *arg, const struct store_task *t)
{
	struct tasks_seen *s = arg;
	snprintf(s->names[s->n], 16, "%s", t->name);
	snprintf(s->states[s->n], 16, "%s", t->state);
	s->attempts[s->n] = t->attempts;
	s->not_before[s->n] = t->not_before;
	s->n++;
	return 0;
}

struct att_seen {
	int n;
	struct store_attempt a[4];
	char outcome[4][16], tail[4][64];
};

static int collect_att(void *arg, const struct store_attempt *a)
{
	struct att_seen *s = arg;
	s->a[s->n] = *a;
	snprintf(s->outcome[s->n], 16, "%s", a->outcome ? a->outcome : "-");
	snprintf(s->tail[s->n], 64, "%s", a->output_tail ? a->output_tail : "-");
	s->n++;
	return 0;
}

static void test_tasks_and_attempts(void **state)
{
	struct tmpstore *f = *state;
	int64_t run = add_run(f->st, "traffic", "dataset", "2026-11-24", "queued");
	int64_t t1, t2, t3, a1, a2;
	assert_int_equal(store_task_add(f->st, run, "check", 1, "queued", &t2), 0);
	assert_int_equal(store_task_add(f->st, run, "fetch", 0, "queued", &t1), 0);
	assert_int_equal(store_task_add(f->st, run, "convert", 2, "queued", &t3), 0);
	assert_int_equal(store_task_add(f->st, run, "fetch", 3, "queued", &t3), -EIO);

	struct store_task ts = { .id = t1, .state = "queued", .attempts = 1,
	                         .not_before = 12345, .error = "HTTP 503" };
	assert_int_equal(store_task_set(f->st, &ts), 0);
	struct tasks_seen s = { 0 };
	assert_int_equal(store_tasks_each(f->st, run, collect_task, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[0], "fetch");
	assert_string_equal(s.names[1], "check");
	assert_int_equal(s.attempts[0], 1);
	assert_int_equal(s.not_before[0], 12345);
	assert_int_equal(s.not_before[1], 0);

	assert_int_equal(store_attempt_add(f->st, t1, 1, 1000, &a1), 0);
	assert_int_equal(store_attempt_set_pid(f->st, a1, 4242, 987654321ull), 0);
	struct store_attempt end = { .id = a1, .ended = 2000, .outcome = "failed",
	                             .has_exit = true, .exit_code = 3,
	                             .error = "exit status 3", .output_tail = "boom\n" };
	assert_int_equal(store_attempt_end(f->st, &end), 0);
	assert_int_equal(store_attempt_add(f->st, t1, 2, 3000, &a2), 0);

	struct att_seen as = { 0 };
	assert_int_equal(store_attempts_each(f->st, t1, collect_att, &as), 0);
	assert_int_equal(as.n, 2);
	assert_int_equal(as.a[0].n, 1);
	assert_int_equal(as.a[0].pid, 4242);
	assert_int_equal(as.a[0].pid_start, 987654321ull);
	assert_true(as.a[0].has_exit);
	assert_int_equal(as.a[0].exit_code, 3);
	assert_int_equal(as.a[0].ended, 2000);
	assert_string_equal(as.outcome[0], "failed");
	assert_string_equal(as.tail[0], "boom\n");
	/* The open attempt: no end, no outcome, no exit code. */
	assert_int_equal(as.a[1].ended, 0);
	assert_string_equal(as.outcome[1], "-");
	assert_false(as.a[1].has_exit);
	assert_int_equal(as.a[1].pid, 0);
}

struct ev_seen {
	int n;
	char msgs[8][32];
};

static int collect_ev(void *arg, const struct store_event *e)
{
	struct ev_seen *s = arg;
	snprintf(s->msgs[s->n++], 32, "%s", e->message);
	return 0;
}

static void test_events_of_run_are_the_last_n_in_order(void **state)
{
	struct tmpstore *f = *state;
	int64_t run = add_run(f->st, "traffic", "dataset", "2026-11-24", "queued");
	char msg[16];
	for (int i = 0; i < 5; i++) {
		snprintf(msg, sizeof msg, "m%d", i);
		assert_true(store_event_add(f->st, 1000 + i, "info", "run.state", "traffic",
		                            run, NULL, msg) > 0);
	}
	assert_true(store_event_add(f->st, 2000, "info", "run.state", "x", run + 1, NULL,
	                            "other") > 0);
	struct ev_seen s = { 0 };
	assert_int_equal(store_events_of_run(f->st, run, 3, collect_ev, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.msgs[0], "m2");
	assert_string_equal(s.msgs[2], "m4");
}

static void test_snapshot_of_run(void **state)
{
	struct tmpstore *f = *state;
	struct store_snapshot_ref ref;
	int64_t run = add_run(f->st, "traffic", "dataset", "2026-11-24", "running");
	sqlite3 *db;
	char sql[512];
	assert_int_equal(store_snapshot_of_run(f->st, run, &ref), -ENOENT);
	assert_null(ref.path);
	/* The fetch and check tasks write this row; here by hand. */
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	snprintf(sql, sizeof sql, "INSERT INTO snapshots(run_id, dataset, exec_date, path,"
	         " bytes, hash, rows, encoding, line_ending, state, published) VALUES"
	         " (%lld, 'traffic', '2026-11-24', '/s/t.csv', 10, 'h', 4171, 'utf-8-sig',"
	         " 'crlf', 'published', 1)", (long long)run);
	assert_int_equal(sqlite3_exec(db, sql, 0, 0, 0), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_snapshot_of_run(f->st, run, &ref), 0);
	assert_string_equal(ref.path, "/s/t.csv");
	assert_string_equal(ref.encoding, "utf-8-sig");
	assert_string_equal(ref.line_ending, "crlf");
	assert_int_equal(ref.rows, 4171);
	store_snapshot_ref_clear(&ref);
	store_snapshot_ref_clear(NULL);
}

#define T(test) cmocka_unit_test_setup_teardown(test, tmpstore_setup, tmpstore_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_datasets_keep_first_configured),
		T(test_runs_round_trip_and_filters),
		T(test_callbacks_stop_on_negative_and_last_runs),
		T(test_tasks_and_attempts),
		T(test_events_of_run_are_the_last_n_in_order),
		T(test_snapshot_of_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
