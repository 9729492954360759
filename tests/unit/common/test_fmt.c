/* test_fmt.c - the one duration, size, share and span style (common/fmt.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/fmt.h"

static void test_durations(void **state)
{
	static const struct { uint64_t ms; const char *want; } cases[] = {
		{ 0, "0s" },
		{ 1, "1ms" },
		{ 250, "250ms" },
		{ 1000, "1s" },
		{ 1500, "1s500ms" },
		{ 59999, "59s999ms" },
		{ 60000, "1m" },
		{ 90000, "1m30s" },
		{ 90500, "1m30s" },            /* truncated to two units */
		{ 3600000, "1h" },
		{ 5400000, "1h30m" },
		{ 86400000, "1d" },           /* never "24h" */
		{ 129600000, "1d12h" },
		{ 93665000, "1d2h" },          /* 1d 2h 1m 5s: two units */
		{ 604800000, "7d" },
		{ UINT64_MAX, "213503982334d14h" },
	};
	char buf[FMT_DURATION_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_string_equal(fmt_duration(buf, sizeof buf, cases[i].ms), cases[i].want);
}

static void test_duration_truncates_to_buffer(void **state)
{
	char buf[4];
	assert_string_equal(fmt_duration(buf, sizeof buf, 129600000), "1d1");
}

static void test_sizes(void **state)
{
	static const struct { uint64_t b; const char *want; } cases[] = {
		{ 0, "0" },
		{ 1000, "1000" },
		{ 1024, "1KiB" },
		{ 1536 * 1024, "1536KiB" },
		{ 64ull << 20, "64MiB" },
		{ 3ull << 30, "3GiB" },
		{ 2ull << 40, "2TiB" },
		{ (1ull << 30) + 1, "1073741825" },
	};
	char buf[FMT_SIZE_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_string_equal(fmt_size(buf, sizeof buf, cases[i].b), cases[i].want);
}

static void test_percents(void **state)
{
	static const struct { double frac; const char *want; } cases[] = {
		{ 0, "0%" },
		{ 1, "100%" },
		{ 0.5, "50%" },
		{ 1.0 / 9, "11.1%" },
		{ 472.0 / 4171, "11.3%" },
		{ 1.0 / 4171, "0.024%" },
		{ 0.000239, "0.0239%" },
		{ 12.5, "1.25e+03%" },
	};
	char buf[FMT_PERCENT_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_string_equal(fmt_percent(buf, sizeof buf, cases[i].frac), cases[i].want);
}

static void test_spans(void **state)
{
	static const struct { int64_t from, to; const char *want; } cases[] = {
		{ 0, 0, "0s" },
		{ 1000, 2500, "1s500ms" },
		{ 1700000000000, 1700000090000, "1m30s" },    /* unix ms, as the daemon sends */
		{ -1000, 1000, "2s" },
		{ 2500, 1000, "0s" },                          /* the end before the start */
		{ INT64_MAX, INT64_MIN, "0s" },
		{ INT64_MIN, INT64_MAX, "213503982334d14h" },  /* the widest: UINT64_MAX ms */
		{ INT64_MIN, 0, "106751991167d7h" },
	};
	char buf[FMT_DURATION_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_string_equal(fmt_span(buf, sizeof buf, cases[i].from, cases[i].to),
		                    cases[i].want);
}

static void test_hex(void **state)
{
	static const unsigned char bytes[] = { 0x00, 0x0f, 0x10, 0x9a, 0xff };
	char out[2 * sizeof bytes + 1];

	memset(out, 'x', sizeof out);
	assert_ptr_equal(fmt_hex(bytes, sizeof bytes, out), out);
	assert_string_equal(out, "000f109aff");
	assert_string_equal(fmt_hex(bytes, 0, out), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_duration_truncates_to_buffer),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_percents),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
