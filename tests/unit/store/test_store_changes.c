/* test_store_changes.c - the source_changes rows: insert, the kinds the
 * table accepts, the newest LIMIT read back oldest first, per dataset. */
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

struct seen {
	int n;
	char line[8][120];
	int64_t at[STORE_CHANGES_MAX + 1];
	size_t n_at;
};

static int collect(void *arg, const struct store_change *c)
{
	struct seen *s = arg;
	if (s->n_at <= STORE_CHANGES_MAX)
		s->at[s->n_at++] = c->observed_at;
	if (s->n < 8)
		snprintf(s->line[s->n++], sizeof s->line[0], "%s %lld %s %s run=%lld",
		         c->dataset, (long long)c->observed_at, c->kind,
		         c->value ? c->value : "-", (long long)c->run_id);
	return 0;
}

static int64_t add(struct store *st, const char *ds, int64_t at, const char *kind,
                   const char *value, int64_t run)
{
	struct store_change c = { .dataset = ds, .observed_at = at, .kind = kind,
	                          .value = value, .run_id = run };
	return store_change_add(st, &c);
}

static void test_round_trip(void **state)
{
	struct tmpstore *t = *state;
	struct seen s = { 0 };

	/* Inserted out of order: read back by observed_at. */
	assert_true(add(t->st, "traffic", 3000, "validator", "\"v2\"", 7) > 0);
	assert_true(add(t->st, "traffic", 1000, "bytes", "abc", 5) > 0);
	assert_true(add(t->st, "other", 2000, "edit_date", "1767225600000", 0) > 0);
	assert_true(add(t->st, "traffic", 2000, "edit_date", NULL, 6) > 0);
	assert_int_equal(store_changes_recent(t->st, "traffic", 10, collect, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.line[0], "traffic 1000 bytes abc run=5");
	assert_string_equal(s.line[1], "traffic 2000 edit_date - run=6");
	assert_string_equal(s.line[2], "traffic 3000 validator \"v2\" run=7");
}

static void test_unknown_kind_is_refused(void **state)
{
	struct tmpstore *t = *state;
	struct seen s = { 0 };

	assert_int_equal(add(t->st, "traffic", 1000, "polled", NULL, 0), -EINVAL);
	assert_int_equal(add(t->st, "traffic", 1000, NULL, NULL, 0), -EINVAL);
	assert_int_equal(store_changes_recent(t->st, "traffic", 10, collect, &s), 0);
	assert_int_equal(s.n, 0);
}

/* The newest LIMIT, capped at STORE_CHANGES_MAX, oldest of them first. */
static void test_newest_limit(void **state)
{
	struct tmpstore *t = *state;
	struct seen s = { 0 };

	assert_int_equal(store_begin(t->st), 0);
	for (int i = 1; i <= STORE_CHANGES_MAX + 50; i++)
		assert_true(add(t->st, "traffic", i * 1000, "bytes", "h", i) > 0);
	assert_int_equal(store_commit(t->st), 0);
	assert_int_equal(store_changes_recent(t->st, "traffic", 3, collect, &s), 0);
	assert_int_equal(s.n_at, 3);
	assert_int_equal(s.at[0], (STORE_CHANGES_MAX + 48) * 1000);
	assert_int_equal(s.at[2], (STORE_CHANGES_MAX + 50) * 1000);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_changes_recent(t->st, "traffic", 100000, collect, &s), 0);
	assert_int_equal(s.n_at, STORE_CHANGES_MAX);
	assert_int_equal(s.at[0], 51 * 1000);
}

#define T(test) cmocka_unit_test_setup_teardown(test, tmpstore_setup, tmpstore_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_unknown_kind_is_refused),
		T(test_newest_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
