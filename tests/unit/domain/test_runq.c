/* test_runq.c - the fair order of the wait queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "domain/runq.h"

struct lane_item {
	struct runq_item it;
	const char *target;
};

static const char *pop_target(struct runq *q, struct lane_item *items, size_t n)
{
	struct runq_item *it = runq_pop(q);
	if (!it)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (&items[i].it == it)
			return items[i].target;
	fail();
	return NULL;
}

static void test_lane_order_is_exec_date_then_run_id(void **state)
{
	struct runq q;
	struct runq_lane a;
	struct runq_item it[5];
	runq_init(&q, false);
	runq_lane_init(&a, &q);
	runq_item_init(&it[0], "2026-01-03", 1);
	runq_item_init(&it[1], "2026-01-01", 5);
	runq_item_init(&it[2], "2026-01-02", 3);
	runq_item_init(&it[3], "2026-01-01", 2);
	runq_item_init(&it[4], "2026-01-05", 4);
	for (int i = 0; i < 5; i++)
		runq_push(&a, &it[i]);
	assert_int_equal(runq_len(&q), 5);
	static const int64_t want[] = { 2, 5, 3, 1, 4 };
	for (int i = 0; i < 5; i++) {
		struct runq_item *got = runq_pop(&q);
		assert_non_null(got);
		assert_int_equal(got->run_id, want[i]);
		assert_false(runq_queued(got));
		runq_release(&a);
	}
	assert_null(runq_pop(&q));
	assert_int_equal(runq_len(&q), 0);
}

/* A backfill of one dataset alternates with the others' work. */
static void test_backfill_does_not_starve_other_lanes(void **state)
{
	struct runq q;
	struct runq_lane la, lb, lc;
	struct lane_item items[8];
	char date[11];
	runq_init(&q, false);
	runq_lane_init(&la, &q);
	runq_lane_init(&lb, &q);
	runq_lane_init(&lc, &q);
	for (int i = 0; i < 6; i++) {
		snprintf(date, sizeof date, "2025-01-%02d", i + 1);
		runq_item_init(&items[i].it, date, 10 + i);
		items[i].target = "a";
		runq_push(&la, &items[i].it);
	}
	/* b and c queue later, for newer dates. */
	runq_item_init(&items[6].it, "2026-11-24", 100);
	items[6].target = "b";
	runq_item_init(&items[7].it, "2026-11-24", 101);
	items[7].target = "c";
	/* a is served once before the others arrive. */
	assert_string_equal(pop_target(&q, items, 8), "a");
	runq_push(&lb, &items[6].it);
	runq_push(&lc, &items[7].it);
	/* b and c were never served: both go before a's second date. */
	const char *p1 = pop_target(&q, items, 8);
	const char *p2 = pop_target(&q, items, 8);
	assert_true((!strcmp(p1, "b") && !strcmp(p2, "c")) ||
	            (!strcmp(p1, "c") && !strcmp(p2, "b")));
	for (int i = 0; i < 5; i++)
		assert_string_equal(pop_target(&q, items, 8), "a");
	assert_null(runq_pop(&q));
}

static void test_ties_go_to_oldest_head(void **state)
{
	struct runq q;
	struct runq_lane la, lb;
	struct lane_item items[2] = {
		{ .target = "a" }, { .target = "b" },
	};
	runq_init(&q, false);
	runq_lane_init(&la, &q);
	runq_lane_init(&lb, &q);
	runq_item_init(&items[0].it, "2026-02-01", 1);
	runq_item_init(&items[1].it, "2026-01-31", 2);
	runq_push(&la, &items[0].it);
	runq_push(&lb, &items[1].it);
	assert_string_equal(pop_target(&q, items, 2), "b");
	assert_string_equal(pop_target(&q, items, 2), "a");
}

static void test_exclusive_lane_runs_one_at_a_time(void **state)
{
	struct runq q;
	struct runq_lane la, lb;
	struct runq_item a1, a2, b1;
	runq_init(&q, true);
	runq_lane_init(&la, &q);
	runq_lane_init(&lb, &q);
	runq_item_init(&a1, "2026-01-01", 1);
	runq_item_init(&a2, "2026-01-02", 2);
	runq_item_init(&b1, "2026-01-05", 3);
	runq_push(&la, &a1);
	runq_push(&la, &a2);
	runq_push(&lb, &b1);
	assert_ptr_equal(runq_pop(&q), &a1);
	assert_ptr_equal(runq_pop(&q), &b1);
	/* a2 waits while a1 runs, although it is queued. */
	assert_null(runq_pop(&q));
	assert_int_equal(runq_len(&q), 1);
	runq_release(&la);
	assert_ptr_equal(runq_pop(&q), &a2);
}

static void test_remove_from_middle_and_ends(void **state)
{
	struct runq q;
	struct runq_lane la;
	struct runq_item it[4];
	runq_init(&q, false);
	runq_lane_init(&la, &q);
	for (int i = 0; i < 4; i++) {
		runq_item_init(&it[i], "2026-01-01", i + 1);
		runq_push(&la, &it[i]);
	}
	runq_remove(&it[1]);
	runq_remove(&it[1]);      /* twice is a no-op */
	runq_remove(&it[3]);
	runq_remove(&it[0]);
	assert_int_equal(runq_len(&q), 1);
	assert_ptr_equal(runq_pop(&q), &it[2]);
	assert_null(runq_pop(&q));
	assert_null(q.lanes);
	/* A lane emptied by removal can be used again. */
	runq_push(&la, &it[0]);
	assert_ptr_equal(runq_pop(&q), &it[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lane_order_is_exec_date_then_run_id),
		cmocka_unit_test(test_backfill_does_not_starve_other_lanes),
		cmocka_unit_test(test_ties_go_to_oldest_head),
		cmocka_unit_test(test_exclusive_lane_runs_one_at_a_time),
		cmocka_unit_test(test_remove_from_middle_and_ends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
