/* test_alert_policy.c - episodes and the rate limit of one alert key, as a
 * table of observations in time order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "domain/alert_policy.h"

#define MIN 60000
#define HOUR (60 * MIN)

enum { Q = ALERT_QUIET, S = ALERT_SUPPRESS, N = ALERT_NOTIFY };

static const struct step {
	int64_t at;            /* minutes */
	bool problem;
	int verdict;
	bool recovery;
	int64_t pending;       /* alert_pending_at afterwards, minutes; -1 = none */
} steps[] = {
	{ 0, false, Q, false, -1 },      /* healthy: nothing */
	{ 10, true, N, false, -1 },      /* first failure: notify */
	{ 20, true, S, false, -1 },      /* same episode within the hour: counted */
	{ 70, true, N, false, -1 },      /* still failing an hour later: reminder */
	{ 80, false, N, true, -1 },      /* recovery of a notified episode */
	{ 90, false, Q, false, -1 },     /* healthy stays quiet */
	{ 95, true, S, false, 140 },     /* flap right after the recovery: held */
	{ 100, false, Q, false, -1 },    /* ...and its recovery is quiet */
	{ 105, true, S, false, 140 },    /* held again, pending at 80 + 60 */
	{ 140, true, N, false, -1 },     /* the pending firing is sent on time */
	{ 150, false, N, true, -1 },
	{ 300, true, N, false, -1 },     /* long after: notify at once */
};

static void test_steps(void **state)
{
	struct alert_key k = { 0 };
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		bool recovery = !steps[i].recovery;
		int v = alert_observe(&k, steps[i].problem, steps[i].at * MIN, HOUR, &recovery);
		if (v != steps[i].verdict || recovery != steps[i].recovery)
			fail_msg("step %zu (t=%lld): verdict %d recovery %d", i,
			         (long long)steps[i].at, v, recovery);
		int64_t p = alert_pending_at(&k, HOUR);
		assert_int_equal(p, steps[i].pending < 0 ? 0 : steps[i].pending * MIN);
	}
}

static void test_zero_interval_never_suppresses(void **state)
{
	struct alert_key k = { 0 };
	bool rec;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(alert_observe(&k, true, 1000 + i, 0, &rec), ALERT_NOTIFY);
		assert_false(rec);
	}
	assert_int_equal(alert_observe(&k, false, 2000, 0, &rec), ALERT_NOTIFY);
	assert_true(rec);
}

static void test_state_restored_from_the_store(void **state)
{
	/* After a restart: the newest row said "firing" an hour and a half ago. */
	struct alert_key k = { .firing = true, .notified = true,
	                       .last_sent = 10 * MIN, .last_row = 7 };
	bool rec;
	assert_int_equal(alert_observe(&k, true, 30 * MIN, HOUR, &rec), ALERT_SUPPRESS);
	assert_int_equal(alert_pending_at(&k, HOUR), 0);   /* already notified */
	assert_int_equal(alert_observe(&k, false, 40 * MIN, HOUR, &rec), ALERT_NOTIFY);
	assert_true(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_zero_interval_never_suppresses),
		cmocka_unit_test(test_state_restored_from_the_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
