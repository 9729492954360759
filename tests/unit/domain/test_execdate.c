/* test_execdate.c - exec dates as day numbers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "domain/execdate.h"

static void test_parse_valid_dates(void **state)
{
	static const struct { const char *s; int64_t day; } ok[] = {
		{ "1970-01-01", 0 },
		{ "2026-11-24", 20781 },
		{ "2024-02-29", 19782 },
		{ "2026-03-08", 20520 },
		{ "9999-12-31", 2932896 },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t d = -1;
		char back[11];
		assert_int_equal(execdate_parse(ok[i].s, &d), 0);
		assert_int_equal(d, ok[i].day);
		execdate_format(d, back);
		assert_string_equal(back, ok[i].s);
	}
}

static void test_parse_rejects_non_dates(void **state)
{
	static const char *const bad[] = {
		"", "2026-1-24", "2026-11-24x", "2026/11/24", "2026-13-01",
		"2026-02-29", "2025-04-31", "2026-00-10", "2026-11-00", "1969-12-31",
		"+026-11-24", "2026-11- 4", "yesterday",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t d;
		assert_int_equal(execdate_parse(bad[i], &d), -EINVAL);
	}
	int64_t d;
	assert_int_equal(execdate_parse(NULL, &d), -EINVAL);
}

static void test_days_step_across_months_and_leap_years(void **state)
{
	int64_t d;
	char s[11];
	assert_int_equal(execdate_parse("2028-02-28", &d), 0);
	execdate_format(d + 1, s);
	assert_string_equal(s, "2028-02-29");
	execdate_format(d + 2, s);
	assert_string_equal(s, "2028-03-01");
	assert_int_equal(execdate_parse("2026-12-31", &d), 0);
	execdate_format(d + 1, s);
	assert_string_equal(s, "2027-01-01");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid_dates),
		cmocka_unit_test(test_parse_rejects_non_dates),
		cmocka_unit_test(test_days_step_across_months_and_leap_years),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
