/* test_backoff.c - exponential backoff with full jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "domain/backoff.h"

static void test_cap_doubles_until_max(void **state)
{
	struct cfg_retry r = { .retries = 3, .delay_ms = 60000, .max_delay_ms = 3600000 };
	static const uint64_t want[] = { 60000, 120000, 240000, 480000, 960000,
	                                 1920000, 3600000, 3600000 };
	for (unsigned n = 0; n < sizeof want / sizeof want[0]; n++)
		assert_int_equal(backoff_cap(&r, n), want[n]);
	/* No overflow whatever n is. */
	assert_int_equal(backoff_cap(&r, 4000000000u), 3600000);
}

static void test_cap_never_above_ceiling(void **state)
{
	struct cfg_retry r = { .delay_ms = UINT64_MAX / 2, .max_delay_ms = UINT64_MAX };
	assert_int_equal(backoff_cap(&r, 0), BACKOFF_CEILING_MS);
	assert_int_equal(backoff_cap(&r, 70), BACKOFF_CEILING_MS);
	r.delay_ms = 0;
	assert_int_equal(backoff_cap(&r, 10), 0);
}

static void test_delay_spans_zero_to_cap(void **state)
{
	struct cfg_retry r = { .delay_ms = 1000, .max_delay_ms = 60000 };
	/* rnd 0 -> 0, rnd max -> the cap itself (inclusive), half -> half. */
	assert_int_equal(backoff_delay(&r, 2, 0), 0);
	assert_int_equal(backoff_delay(&r, 2, UINT64_MAX), 4000);
	assert_int_equal(backoff_delay(&r, 2, UINT64_MAX / 2), 2000);
	assert_int_equal(backoff_delay(&r, 10, UINT64_MAX), 60000);
}

static void test_random_delays_cover_the_window(void **state)
{
	struct cfg_retry r = { .delay_ms = 1000, .max_delay_ms = 8000 };
	unsigned buckets[8] = { 0 };
	for (int i = 0; i < 8000; i++) {
		uint64_t d = backoff_delay(&r, 3, backoff_random());
		assert_true(d <= 8000);
		buckets[d * 8 / 8001]++;
	}
	/* Full jitter: every eighth of the window gets a fair share. */
	for (int b = 0; b < 8; b++)
		assert_true(buckets[b] > 700 && buckets[b] < 1300);
}

static void test_retry_after_wins_when_longer(void **state)
{
	struct cfg_retry r = { .delay_ms = 1000, .max_delay_ms = 4000 };
	assert_int_equal(backoff_wait(&r, 0, UINT64_MAX, 30000), 30000);
	assert_int_equal(backoff_wait(&r, 0, UINT64_MAX, 10), 1000);
	assert_int_equal(backoff_wait(&r, 0, 0, UINT64_MAX), BACKOFF_CEILING_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_doubles_until_max),
		cmocka_unit_test(test_cap_never_above_ceiling),
		cmocka_unit_test(test_delay_spans_zero_to_cap),
		cmocka_unit_test(test_random_delays_cover_the_window),
		cmocka_unit_test(test_retry_after_wins_when_longer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
