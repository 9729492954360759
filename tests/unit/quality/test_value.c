/* test_value.c - the typing of CSV values for the checks (quality/value.h):
 * the timestamp formats, numbers, integers, booleans and trimming, each a
 * table of inputs with what they must give. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "quality/value.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *fmt, *in;
	bool ok;
	const char *want;       /* YYYY-MM-DD HH:MM:SS */
} ts_cases[] = {
	{ "%Y-%m-%d %H:%M:%S", "2014-01-07 14:19:59", true, "2014-01-07 14:19:59" },
	{ "%Y-%m-%d %H:%M:%S", "2014-1-7 4:19:59", true, "2014-01-07 04:19:59" },
	{ "%Y-%m-%d %H:%M:%S", "2014-01-07 14:19", false, NULL },
	{ "%Y-%m-%d %H:%M:%S", "2014-01-07 24:00:00", false, NULL },
	{ "%Y-%m-%d %H:%M:%S", "2014-01-07 14:19:59 ", false, NULL },
	{ "%Y-%m-%d %H:%M:%S", "2014-02-29 00:00:00", false, NULL },
	{ "%Y-%m-%d %H:%M:%S", "2016-02-29 00:00:00", true, "2016-02-29 00:00:00" },
	{ "%Y-%m-%d %H:%M:%S", "2014-01-07 14:9:59", false, NULL },      /* %M: 2 digits */
	{ "%Y-%m-%d %H:%M:%S.%f", "2020-01-21 12:40:00.000001", true, "2020-01-21 12:40:00" },
	{ "%Y-%m-%d %H:%M:%S.%f", "2020-01-21 12:40:00.5", true, "2020-01-21 12:40:00" },
	{ "%Y-%m-%d %H:%M:%S.%f", "2020-01-21 12:40:00.", false, NULL },
	{ "%Y-%m-%d %H:%M:%S.%f", "2020-01-21 12:40:00.1234567890", false, NULL },
	/* %z: the offset is checked, the wall-clock time kept (the pager's form) */
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00-07:00", true, "2018-11-11 15:44:00" },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-07-04T09:00:00-06:00", true, "2018-07-04 09:00:00" },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00Z", true, "2018-11-11 15:44:00" },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00+0530", true, "2018-11-11 15:44:00" },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00", false, NULL },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00-7:00", false, NULL },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00+15:00", false, NULL },
	{ "%Y-%m-%dT%H:%M:%S%z", "2018-11-11T15:44:00-07:00 ", false, NULL },
	{ "%m/%d/%Y %I:%M:%S %p", "8/2/2025 4:16:00 PM", true, "2025-08-02 16:16:00" },
	{ "%m/%d/%Y %I:%M:%S %p", "12/31/2015 06:51:06 PM", true, "2015-12-31 18:51:06" },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 9:51:11 am", true, "2019-01-01 09:51:11" },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 12:05:00 AM", true, "2019-01-01 00:05:00" },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 12:05:00 PM", true, "2019-01-01 12:05:00" },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 13:05:00 PM", false, NULL },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 0:05:00 PM", false, NULL },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 1:05:00", false, NULL },
	{ "%m/%d/%Y %I:%M:%S %p", "1/1/2019 1:05:00 XM", false, NULL },
	{ "%m/%d/%Y", "01/29/2016", true, "2016-01-29 00:00:00" },
	{ "%m/%d/%Y", "01/29/2016 09:36:08 PM", false, NULL },
	{ "%m/%d/%Y", "13/01/2016", false, NULL },
	{ "%m/%d/%Y", "8/2/25", false, NULL },
	{ "%m/%d/%Y", "123/1/2016", false, NULL },
	{ "%d.%m.%Y %%", "02.08.2025 %", true, "2025-08-02 00:00:00" },
	{ "%Y-%m-%d", "", false, NULL },
	{ "%Y-%m-%d", "1969-12-31", true, "1969-12-31 00:00:00" },
};

static void test_timestamp_formats(void **state)
{
	struct tsfmt f;
	for (size_t i = 0; i < N(ts_cases); i++) {
		int64_t secs = 0;
		bool ok;
		assert_int_equal(tsfmt_compile(ts_cases[i].fmt, &f), 0);
		ok = tsfmt_match(&f, ts_cases[i].in, strlen(ts_cases[i].in), &secs);
		if (ok != ts_cases[i].ok)
			fail_msg("%s on '%s': %d", ts_cases[i].fmt, ts_cases[i].in, ok);
		if (ok) {
			char buf[32];
			time_t t = (time_t)secs;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
			assert_string_equal(buf, ts_cases[i].want);
		}
	}
	assert_int_equal(tsfmt_compile("%H:%M:%S", &f), -EINVAL);      /* no date */
	assert_int_equal(tsfmt_compile("%Y-%m-%d %Q", &f), -EINVAL);
	assert_int_equal(tsfmt_compile("%Y-%m-%d %", &f), -EINVAL);
	assert_int_equal(tsfmt_compile("%Y-%m-%d.................................", &f), -EINVAL);
}

/* The quick no of tsfmt_match (length range, first fixed-place literal)
 * never says no where tsfmt_parse would say yes: every case's input, and
 * each with one byte dropped, doubled or replaced by a digit, a space or
 * 'Z', under every format of the table.  And the straight-line parse of
 * the common shapes (value.c tsfmt_shape) says what the item loop says. */
static void test_timestamp_quick_no(void **state)
{
	static const char subst[] = "0 Z";
	struct tsfmt f, loop;
	char v[64];
	size_t tried = 0, yes = 0, shaped = 0;

	for (size_t i = 0; i < N(ts_cases); i++) {
		assert_int_equal(tsfmt_compile(ts_cases[i].fmt, &f), 0);
		loop = f;
		loop.shape = 0;
		shaped += f.shape != 0;
		for (size_t j = 0; j < N(ts_cases); j++) {
			const char *in = ts_cases[j].in;
			size_t n = strlen(in);
			for (size_t at = 0; at <= n; at++) {
				for (int how = 0; how < 5; how++) {
					size_t len = at;
					int64_t a = 0, b = 0;
					if (how > 0 && at == n)
						continue;               /* at N, how 0: the input as is */
					memcpy(v, in, at);
					if (how == 1)
						v[len++] = in[at];      /* doubled */
					else if (how >= 2)
						v[len++] = subst[how - 2];
					if (how == 1)
						memcpy(v + len, in + at, n - at), len += n - at;
					else if (at < n)
						memcpy(v + len, in + at + 1, n - at - 1), len += n - at - 1;
					int64_t c = 0;
					bool m = tsfmt_match(&f, v, len, &a), p = tsfmt_parse(&f, v, len, &b);
					bool l = tsfmt_parse(&loop, v, len, &c);
					if (m != p || a != b || l != p || c != b)
						fail_msg("%s on '%.*s': match %d, parse %d, loop %d", ts_cases[i].fmt,
						         (int)len, v, m, p, l);
					tried++;
					yes += p;
				}
			}
		}
	}
	assert_true(tried > 10000 && yes > 100);
	assert_true(shaped >= 10);      /* both shapes are in the table, often */
}

/* value_double against strtod on generated numbers: digit runs of 0-20
 * (across value.c's 8-byte steps), signs, points, exponents, a stray byte
 * now and then, each in a buffer of exactly its length (ASan sees a read
 * past it).  A number strtod reads whole and finite is one value_double
 * accepts, with the same double (exact up to 15 digits, strtod beyond). */
static unsigned rnd_n(uint64_t *r, unsigned k)
{
	*r ^= *r << 13;
	*r ^= *r >> 7;
	*r ^= *r << 17;
	return (unsigned)(*r % k);
}

static void test_double_vs_strtod(void **state)
{
	static const char stray[] = "+-.eE a0";   /* no x: strtod reads hex */
	uint64_t r = 12345;
	size_t yes = 0;
	(void)state;
	for (int round = 0; round < 200000; round++) {
		char t[80];
		size_t n = 0;
		if (rnd_n(&r, 4) == 0)
			t[n++] = rnd_n(&r, 2) ? '-' : '+';
		for (unsigned k = rnd_n(&r, 21); k > 0; k--)
			t[n++] = (char)('0' + (rnd_n(&r, 3) ? rnd_n(&r, 10) : 0));
		if (rnd_n(&r, 2)) {
			t[n++] = '.';
			for (unsigned k = rnd_n(&r, 21); k > 0; k--)
				t[n++] = (char)('0' + rnd_n(&r, 10));
		}
		if (rnd_n(&r, 5) == 0) {
			t[n++] = rnd_n(&r, 2) ? 'e' : 'E';
			if (rnd_n(&r, 2))
				t[n++] = rnd_n(&r, 2) ? '-' : '+';
			for (unsigned k = rnd_n(&r, 4); k > 0; k--)
				t[n++] = (char)('0' + rnd_n(&r, 10));
		}
		if (rnd_n(&r, 10) == 0 && n)
			t[rnd_n(&r, (unsigned)n)] = stray[rnd_n(&r, sizeof stray - 1)];
		t[n] = 0;
		char *exact = malloc(n ? n : 1), *end;
		assert_non_null(exact);
		memcpy(exact, t, n);
		double v = 0, w = strtod(t, &end);
		bool ok = value_double(exact, n, &v);
		bool want = n && end == t + n && isfinite(w) && t[0] != ' ';
		if (ok != want || (ok && memcmp(&v, &w, sizeof v) != 0))
			fail_msg("value_double('%s'): %d %.17g, strtod %d %.17g", t, ok, v, want, w);
		yes += ok;
		free(exact);
	}
	assert_true(yes > 50000);
}

static void test_values(void **state)
{
	static const struct { const char *in; bool ok; double v; } dbl[] = {
		{ "39.7522287", true, 39.7522287 }, { "-104.7575669", true, -104.7575669 },
		{ "3150708.0", true, 3150708.0 }, { "0", true, 0 }, { "-0.5", true, -0.5 },
		{ ".5", true, 0.5 }, { "5.", true, 5 }, { "+7", true, 7 }, { "1e3", true, 1000 },
		{ "3.05e6", true, 3.05e6 }, { "1E-2", true, 0.01 }, { "00012.5000", true, 12.5 },
		{ "0.000000000000000000000000001", true, 1e-27 },
		{ "12345678901234567890123", true, 12345678901234567890123.0 },
		{ "", false, 0 }, { ".", false, 0 }, { "-", false, 0 }, { "1e", false, 0 },
		{ "abc", false, 0 }, { "1.2.3", false, 0 }, { "0x10", false, 0 }, { "nan", false, 0 },
		{ "inf", false, 0 }, { "1e999", false, 0 }, { " 1", false, 0 },
	};
	static const struct { const char *in; bool ok; int64_t v; } ints[] = {
		{ "20148031043.0", true, 20148031043 }, { "42", true, 42 }, { "-7", true, -7 },
		{ "5.000", true, 5 }, { "5.", true, 5 }, { "9223372036854775807", true, INT64_MAX },
		{ "-9223372036854775808", true, INT64_MIN }, { "9223372036854775808", false, 0 },
		{ "5.5", false, 0 }, { "", false, 0 }, { "x", false, 0 }, { "1e3", false, 0 },
	};
	static const struct { const char *in; bool ok, v; } bools[] = {
		{ "Y", true, true }, { "yes", true, true }, { "TRUE", true, true }, { "t", true, true },
		{ "1", true, true }, { "n", true, false }, { "No", true, false }, { "false", true, false },
		{ "F", true, false }, { "0", true, false }, { "2", false, false }, { "", false, false },
	};
	for (size_t i = 0; i < N(dbl); i++) {
		double v = -1;
		bool ok = value_double(dbl[i].in, strlen(dbl[i].in), &v);
		if (ok != dbl[i].ok || (ok && v != dbl[i].v))
			fail_msg("value_double('%s'): %d %.17g", dbl[i].in, ok, v);
	}
	for (size_t i = 0; i < N(ints); i++) {
		int64_t v = -1;
		bool ok = value_int(ints[i].in, strlen(ints[i].in), &v);
		if (ok != ints[i].ok || (ok && v != ints[i].v))
			fail_msg("value_int('%s'): %d %lld", ints[i].in, ok, (long long)v);
	}
	for (size_t i = 0; i < N(bools); i++) {
		bool v = false, ok = value_bool(bools[i].in, strlen(bools[i].in), &v);
		assert_int_equal(ok, bools[i].ok);
		if (ok)
			assert_int_equal(v, bools[i].v);
	}
	{
		const char *p = " \t 2     \r";
		size_t len = strlen(p);
		value_trim(&p, &len);
		assert_int_equal(len, 1);
		assert_int_equal(*p, '2');
		p = "   ";
		len = 3;
		value_trim(&p, &len);
		assert_int_equal(len, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamp_formats),
		cmocka_unit_test(test_timestamp_quick_no),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_double_vs_strtod),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
