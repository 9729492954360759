/* test_store_dq.c - data-quality rows in and out of a real SQLite file:
 * results and diffs saved all or nothing, read back in order, the JSON text
 * columns kept byte for byte, NULLs as the row structs spell them. */
#include <errno.h>
#include <math.h>
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

static int64_t add_run(struct tmpstore *t, const char *target, const char *date)
{
	struct store_run r = { .target = target, .kind = "dataset", .exec_date = date,
	                       .trigger = "manual", .state = "succeeded", .created = 1 };
	int64_t id;
	assert_int_equal(store_run_add(t->st, &r, &id), 0);
	return id;
}

/* One line per row: "run date state | name type severity outcome observed
 * threshold detail lines", "-" for NULL, "nan" for no observed value. */
struct lines {
	int n, stop_at;
	char line[8][200];
};

#define S(x) ((x) ? (x) : "-")

static int value_line(void *arg, const struct store_dq_value *v)
{
	struct lines *l = arg;
	const struct store_dq_result *x = &v->result;
	if (l->n == 8)
		return -ENOSPC;
	snprintf(l->line[l->n++], sizeof l->line[0], "%lld %s %s | %s %s %s %s %g %s %s %s",
	         (long long)v->run_id, S(v->exec_date), S(v->run_state), S(x->name), S(x->type),
	         S(x->severity), S(x->outcome), x->observed, S(x->threshold), S(x->detail),
	         S(x->lines));
	return l->stop_at && l->n == l->stop_at ? -ECANCELED : 0;
}

static int diff_line(void *arg, const struct store_dq_diff_row *d)
{
	struct lines *l = arg;
	char split[64] = "";
	if (d->diff.split)
		snprintf(split, sizeof split, " (aged %llu withdrawn %llu from %s)",
		         (unsigned long long)d->diff.aged_out, (unsigned long long)d->diff.withdrawn,
		         S(d->diff.window_start));
	snprintf(l->line[l->n++], sizeof l->line[0], "%lld %s prev=%lld %s +%llu -%llu%s ~%llu %s",
	         (long long)d->run_id, S(d->exec_date), (long long)d->diff.prev_run_id,
	         S(d->prev_exec_date), (unsigned long long)d->diff.added,
	         (unsigned long long)d->diff.removed, split, (unsigned long long)d->diff.changed,
	         S(d->diff.examples));
	return 0;
}

static const struct store_dq_result results[] = {
	{ "rows", "row_count", "fail", "pass", 3, ">= 1", "3 rows", "[]" },
	{ "key", "unique", "warn", "warn", 1, "0 duplicate keys", "key 4 twice", "[5,9]" },
	{ "fresh", "freshness", "warn", "pass", NAN, NULL, NULL, NULL },
};

static void test_results_round_trip_in_order(void **state)
{
	struct tmpstore *t = *state;
	int64_t r1 = add_run(t, "d", "2026-03-09"), r2 = add_run(t, "d", "2026-03-10");
	struct lines l = { 0 };

	add_run(t, "other", "2026-03-10");      /* no results: not one of the runs */
	assert_int_equal(store_dq_save(t->st, r1, results, 1, NULL), 0);
	assert_int_equal(store_dq_save(t->st, r2, results, 3, NULL), 0);
	assert_int_equal(store_dq_history(t->st, "d", 10, value_line, &l), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.line[0], "2 2026-03-10 succeeded | rows row_count fail pass 3"
	                    " >= 1 3 rows []");
	assert_string_equal(l.line[1], "2 2026-03-10 succeeded | key unique warn warn 1"
	                    " 0 duplicate keys key 4 twice [5,9]");
	assert_string_equal(l.line[2], "2 2026-03-10 succeeded | fresh freshness warn pass nan"
	                    " - - -");
	assert_string_equal(l.line[3], "1 2026-03-09 succeeded | rows row_count fail pass 3"
	                    " >= 1 3 rows []");

	/* RUNS counts runs, not rows; a dataset without results has none. */
	memset(&l, 0, sizeof l);
	assert_int_equal(store_dq_history(t->st, "d", 1, value_line, &l), 0);
	assert_int_equal(l.n, 3);
	memset(&l, 0, sizeof l);
	assert_int_equal(store_dq_history(t->st, "other", 10, value_line, &l), 0);
	assert_int_equal(l.n, 0);

	/* A negative return stops the walk and comes back. */
	memset(&l, 0, sizeof l);
	l.stop_at = 2;
	assert_int_equal(store_dq_history(t->st, "d", 10, value_line, &l), -ECANCELED);
	assert_int_equal(l.n, 2);
}

static void test_save_replaces_all_or_nothing(void **state)
{
	struct tmpstore *t = *state;
	int64_t r1 = add_run(t, "d", "2026-03-09");
	struct store_dq_result bad[] = { results[1], results[0] };
	struct store_dq_diff diff = { .added = 1, .examples = "{\"unchanged\":2}" };
	struct lines l = { 0 };

	assert_int_equal(store_dq_save(t->st, r1, results, 3, &diff), 0);
	/* Saving again replaces every row: here by fewer, and no diff. */
	assert_int_equal(store_dq_save(t->st, r1, results + 1, 1, NULL), 0);
	assert_int_equal(store_dq_history(t->st, "d", 10, value_line, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(store_dq_diff(t->st, "d", NULL, diff_line, &l), -ENOENT);

	/* A row the schema refuses (no name) leaves the earlier save whole. */
	bad[1].name = NULL;
	assert_int_equal(store_dq_save(t->st, r1, bad, 2, &diff), -EIO);
	assert_non_null(strstr(store_errmsg(t->st), "dq result"));
	memset(&l, 0, sizeof l);
	assert_int_equal(store_dq_history(t->st, "d", 10, value_line, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(store_dq_diff(t->st, "d", NULL, diff_line, &l), -ENOENT);

	/* Inside the caller's transaction, and rolled back with it. */
	assert_int_equal(store_begin(t->st), 0);
	assert_int_equal(store_dq_save(t->st, r1, results, 3, &diff), 0);
	store_rollback(t->st);
	memset(&l, 0, sizeof l);
	assert_int_equal(store_dq_history(t->st, "d", 10, value_line, &l), 0);
	assert_int_equal(l.n, 1);
}

static void test_diff_newest_or_of_a_date(void **state)
{
	struct tmpstore *t = *state;
	int64_t r1 = add_run(t, "d", "2026-03-09"), r2 = add_run(t, "d", "2026-03-10");
	int64_t r3 = add_run(t, "d", "2026-03-11");
	struct store_dq_diff d2 = { .prev_run_id = r1, .added = 2, .removed = 3, .changed = 1,
	                            .split = true, .aged_out = 2, .withdrawn = 1,
	                            .window_start = "2025-03-10T00:00:00",
	                            .examples = "{\"added\":[\"4\"],\"unchanged\":1}" };
	struct store_dq_diff d3 = { .added = 0 };
	struct lines l = { 0 };

	assert_int_equal(store_dq_diff(t->st, "d", NULL, diff_line, &l), -ENOENT);
	assert_int_equal(store_dq_save(t->st, r2, results, 1, &d2), 0);
	assert_int_equal(store_dq_save(t->st, r3, results, 1, &d3), 0);
	assert_int_equal(store_dq_diff(t->st, "d", NULL, diff_line, &l), 0);
	assert_int_equal(store_dq_diff(t->st, "d", "2026-03-10", diff_line, &l), 0);
	assert_int_equal(store_dq_diff(t->st, "d", "2026-03-09", diff_line, &l), -ENOENT);
	assert_int_equal(store_dq_diff(t->st, "other", NULL, diff_line, &l), -ENOENT);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.line[0], "3 2026-03-11 prev=0 - +0 -0 ~0 -");
	/* split (aged out + withdrawn) or not (NULLs: d3) */
	assert_string_equal(l.line[1], "2 2026-03-10 prev=1 2026-03-09 +2 -3"
	                    " (aged 2 withdrawn 1 from 2025-03-10T00:00:00) ~1"
	                    " {\"added\":[\"4\"],\"unchanged\":1}");

	assert_int_equal(tmpstore_sql(t, "DROP TABLE diffs"), 0);
	assert_int_equal(store_dq_diff(t->st, "d", NULL, diff_line, &l), -EIO);
	assert_non_null(strstr(store_errmsg(t->st), "diffs"));
}

#define T(test) cmocka_unit_test_setup_teardown(test, tmpstore_setup, tmpstore_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_results_round_trip_in_order),
		T(test_save_replaces_all_or_nothing),
		T(test_diff_newest_or_of_a_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
