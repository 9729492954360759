/* test_tz.c - TZif reading, footer rules, civil time around transitions. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/clock.h"
#include "domain/tz.h"

static int64_t iso(const char *s)
{
	int64_t ms;
	assert_int_equal(clock_parse_iso(s, &ms), 0);
	return ms / 1000;
}

static struct tz *load(const char *name)
{
	struct tz *tz = NULL;
	assert_int_equal(tz_load(name, &tz), 0);
	assert_non_null(tz);
	return tz;
}

/* ---- hand-written TZif files in a private $TZDIR --------------------------- */

static char tzdir[64];

static void put32(FILE *f, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	fwrite(b, 1, 4, f);
}

static void put64(FILE *f, int64_t v)
{
	put32(f, (uint32_t)((uint64_t)v >> 32));
	put32(f, (uint32_t)v);
}

static void header(FILE *f, char version, uint32_t leapcnt, uint32_t timecnt,
                   uint32_t typecnt, uint32_t charcnt)
{
	fwrite("TZif", 1, 4, f);
	fputc(version, f);
	for (int i = 0; i < 15; i++)
		fputc(0, f);
	put32(f, 0);            /* isutcnt */
	put32(f, 0);            /* isstdcnt */
	put32(f, leapcnt);
	put32(f, timecnt);
	put32(f, typecnt);
	put32(f, charcnt);
}

struct ttype {
	int32_t utoff;
	uint8_t isdst;
};

/*
 * Write zone NAME as zic -b slim does: an empty v1 block, then the v2 block
 * with N transitions and the footer.  LEAPS adds that many leap records.
 */
static void write_zone(const char *name, char version, const int64_t *at, const uint8_t *idx,
                       uint32_t n, const struct ttype *types, uint32_t ntypes,
                       uint32_t leaps, const char *footer)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", tzdir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	header(f, version, 0, 0, 1, 1);
	fwrite("\0\0\0\0\0\0\0", 1, 7, f);          /* one type, one NUL */
	if (version != '\0') {
		header(f, version, leaps, n, ntypes, 4);
		for (uint32_t i = 0; i < n; i++)
			put64(f, at[i]);
		if (n > 0)
			fwrite(idx, 1, n, f);
		for (uint32_t i = 0; i < ntypes; i++) {
			put32(f, (uint32_t)types[i].utoff);
			fputc(types[i].isdst, f);
			fputc(0, f);
		}
		fwrite("XYZ", 1, 4, f);
		for (uint32_t i = 0; i < leaps; i++) {
			put64(f, 78796800);
			put32(f, 1);
		}
		fprintf(f, "\n%s\n", footer);
	}
	assert_int_equal(fclose(f), 0);
}

/* Denver as a slim tzdata build ships it: transitions until 2007 only, the
 * rule after that lives in the footer alone. */
static void write_slim_denver(const char *name, const char *footer)
{
	static const int64_t at[] = { -2717643600, 1173603600, 1194163200 };
	static const uint8_t idx[] = { 2, 1, 2 };
	static const struct ttype types[] = { { -25196, 0 }, { -21600, 1 }, { -25200, 0 } };
	write_zone(name, '2', at, idx, 3, types, 3, 0, footer);
}

static int setup_dir(void **state)
{
	snprintf(tzdir, sizeof tzdir, "/tmp/test_tz.XXXXXX");
	assert_non_null(mkdtemp(tzdir));
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tzdir);
	assert_int_equal(system(cmd), 0);
	unsetenv("TZDIR");
	return 0;
}

/* ---- civil time ------------------------------------------------------------ */

static const struct {
	const char *zone, *utc;
	int y, mo, d, h, mi, s, wday, off;
	const char *date;
} civil_cases[] = {
	/* 2026 spring forward: 02:00 MST -> 03:00 MDT */
	{ "America/Denver", "2026-03-08T08:59:59Z", 2026, 3, 8, 1, 59, 59, 0, -25200, "2026-03-08" },
	{ "America/Denver", "2026-03-08T09:00:00Z", 2026, 3, 8, 3, 0, 0, 0, -21600, "2026-03-08" },
	/* 2026 fall back: 02:00 MDT -> 01:00 MST */
	{ "America/Denver", "2026-11-01T07:59:59Z", 2026, 11, 1, 1, 59, 59, 0, -21600, "2026-11-01" },
	{ "America/Denver", "2026-11-01T08:00:00Z", 2026, 11, 1, 1, 0, 0, 0, -25200, "2026-11-01" },
	{ "America/Denver", "2026-11-01T06:30:00Z", 2026, 11, 1, 0, 30, 0, 0, -21600, "2026-11-01" },
	{ "America/Denver", "2026-11-01T05:59:59Z", 2026, 10, 31, 23, 59, 59, 6, -21600, "2026-10-31" },
	/* 2027 */
	{ "America/Denver", "2027-03-14T08:59:00Z", 2027, 3, 14, 1, 59, 0, 0, -25200, "2027-03-14" },
	{ "America/Denver", "2027-03-14T09:00:00Z", 2027, 3, 14, 3, 0, 0, 0, -21600, "2027-03-14" },
	{ "America/Denver", "2027-11-07T07:30:00Z", 2027, 11, 7, 1, 30, 0, 0, -21600, "2027-11-07" },
	{ "America/Denver", "2027-11-07T08:30:00Z", 2027, 11, 7, 1, 30, 0, 0, -25200, "2027-11-07" },
	/* the exec date of a late-evening UTC time is the day before in Denver */
	{ "America/Denver", "2026-11-25T03:00:00Z", 2026, 11, 24, 20, 0, 0, 2, -25200, "2026-11-24" },
	/* before the first transition: local mean time, type 0 */
	{ "America/Denver", "1874-12-05T12:00:00Z", 1874, 12, 5, 5, 0, 4, 6, -25196, "1874-12-05" },
	{ "UTC", "2028-02-29T12:00:00Z", 2028, 2, 29, 12, 0, 0, 2, 0, "2028-02-29" },
	{ "UTC", "1960-01-01T00:00:00Z", 1960, 1, 1, 0, 0, 0, 5, 0, "1960-01-01" },
	{ "UTC", "1969-12-31T23:59:59Z", 1969, 12, 31, 23, 59, 59, 3, 0, "1969-12-31" },
	/* southern hemisphere: DST over new year */
	{ "Australia/Sydney", "2026-01-15T00:00:00Z", 2026, 1, 15, 11, 0, 0, 4, 39600, "2026-01-15" },
	{ "Australia/Sydney", "2026-07-15T00:00:00Z", 2026, 7, 15, 10, 0, 0, 3, 36000, "2026-07-15" },
};

static void test_civil_table(void **state)
{
	for (size_t i = 0; i < sizeof civil_cases / sizeof civil_cases[0]; i++) {
		struct tz *tz = load(civil_cases[i].zone);
		struct civil c;
		char date[11];
		int64_t t = iso(civil_cases[i].utc);
		tz_civil(tz, t, &c);
		print_message("%s %s\n", civil_cases[i].zone, civil_cases[i].utc);
		assert_int_equal(c.year, civil_cases[i].y);
		assert_int_equal(c.month, civil_cases[i].mo);
		assert_int_equal(c.day, civil_cases[i].d);
		assert_int_equal(c.hour, civil_cases[i].h);
		assert_int_equal(c.minute, civil_cases[i].mi);
		assert_int_equal(c.second, civil_cases[i].s);
		assert_int_equal(c.wday, civil_cases[i].wday);
		assert_int_equal(c.utc_offset, civil_cases[i].off);
		assert_int_equal(tz_offset(tz, t), civil_cases[i].off);
		tz_date(tz, t, date);
		assert_string_equal(date, civil_cases[i].date);
		assert_string_equal(tz_name(tz), civil_cases[i].zone);
		tz_free(tz);
	}
}

static void test_span_around_transitions(void **state)
{
	struct tz *tz = load("America/Denver");
	struct tz_span s;

	tz_span(tz, iso("2026-03-08T09:00:00Z"), &s);
	assert_true(s.start == iso("2026-03-08T09:00:00Z"));
	assert_true(s.end == iso("2026-11-01T08:00:00Z"));
	assert_int_equal(s.utoff, -21600);
	assert_int_equal(s.prev_utoff, -25200);

	tz_span(tz, iso("2026-12-25T00:00:00Z"), &s);
	assert_true(s.start == iso("2026-11-01T08:00:00Z"));
	assert_true(s.end == iso("2027-03-14T09:00:00Z"));
	assert_int_equal(s.utoff, -25200);
	assert_int_equal(s.prev_utoff, -21600);
	tz_free(tz);

	tz = load("UTC");
	tz_span(tz, iso("2026-12-25T00:00:00Z"), &s);
	assert_true(s.end == INT64_MAX);
	assert_int_equal(s.utoff, 0);
	assert_int_equal(s.prev_utoff, 0);
	tz_free(tz);
}

static void test_calendar(void **state)
{
	int y, m, d;
	assert_true(tz_days_from_civil(1970, 1, 1) == 0);
	assert_true(tz_days_from_civil(2000, 3, 1) == 11017);
	assert_true(tz_days_from_civil(1969, 12, 31) == -1);
	for (int64_t days = -800000; days <= 800000; days += 997) {
		tz_civil_from_days(days, &y, &m, &d);
		assert_true(tz_days_from_civil(y, m, d) == days);
	}
	assert_int_equal(tz_days_in_month(2028, 2), 29);
	assert_int_equal(tz_days_in_month(2100, 2), 28);
	assert_int_equal(tz_days_in_month(2000, 2), 29);
	assert_int_equal(tz_days_in_month(2026, 4), 30);
	assert_int_equal(tz_days_in_month(2026, 13), 0);
}

/* ---- loading ----------------------------------------------------------------- */

static const struct {
	const char *name;
	int rc;
} name_cases[] = {
	{ "../etc/passwd", -EINVAL },
	{ "/etc/passwd", -EINVAL },
	{ "America/../../etc/passwd", -EINVAL },
	{ "./UTC", -EINVAL },
	{ "America//Denver", -EINVAL },
	{ "America/Denver/", -EINVAL },
	{ "", -EINVAL },
	{ "America/New York", -EINVAL },
	{ "zone.tab", -EINVAL },
	{ "Nope/Zone", -ENOENT },
	{ "America", -ENOENT },                /* a directory */
	{ "UTC/x", -ENOENT },                  /* under a file */
	{ "America/Denver", 0 },
	{ "America/Argentina/Buenos_Aires", 0 },
	{ "Etc/GMT+7", 0 },
	{ "America/Port-au-Prince", 0 },
};

static void test_load_names(void **state)
{
	for (size_t i = 0; i < sizeof name_cases / sizeof name_cases[0]; i++) {
		struct tz *tz = (struct tz *)1;
		print_message("%s\n", name_cases[i].name);
		assert_int_equal(tz_load(name_cases[i].name, &tz), name_cases[i].rc);
		if (name_cases[i].rc == 0)
			assert_non_null(tz);
		else
			assert_null(tz);
		tz_free(tz);
	}
	struct tz *tz = (struct tz *)1;
	assert_int_equal(tz_load(NULL, &tz), -EINVAL);
	assert_null(tz);
	tz_free(NULL);

	/* Etc/GMT+7 is seven hours WEST of UTC (POSIX sign). */
	tz = load("Etc/GMT+7");
	assert_int_equal(tz_offset(tz, iso("2026-06-01T00:00:00Z")), -25200);
	tz_free(tz);
}

/* A slim file (rules only in the footer) gives the same answers as the fat
 * system file (a table until 2037), hour by hour, and the same spans. */
static void test_slim_equals_fat(void **state)
{
	write_slim_denver("Denver", "MST7MDT,M3.2.0,M11.1.0");
	setenv("TZDIR", tzdir, 1);
	struct tz *slim = load("Denver");
	unsetenv("TZDIR");
	struct tz *fat = load("America/Denver");

	for (int64_t t = iso("2008-01-01T00:30:00Z"); t < iso("2037-12-31T00:00:00Z"); t += 3600) {
		struct tz_span a, b;
		tz_span(slim, t, &a);
		tz_span(fat, t, &b);
		if (a.start != b.start || a.end != b.end || a.utoff != b.utoff ||
		    a.prev_utoff != b.prev_utoff)
			fail_msg("t=%lld: slim [%lld,%lld) %d/%d, fat [%lld,%lld) %d/%d",
			         (long long)t, (long long)a.start, (long long)a.end, a.utoff,
			         a.prev_utoff, (long long)b.start, (long long)b.end, b.utoff,
			         b.prev_utoff);
		assert_int_equal(tz_offset(slim, t), tz_offset(fat, t));
	}
	/* The table still answers before the footer takes over. */
	assert_int_equal(tz_offset(slim, iso("2007-06-01T00:00:00Z")), -21600);
	assert_int_equal(tz_offset(slim, iso("1950-06-01T00:00:00Z")), -25200);
	assert_int_equal(tz_offset(slim, iso("1880-06-01T00:00:00Z")), -25196);
	tz_free(slim);
	tz_free(fat);
}

/* A footer-only zone of the southern hemisphere (DST across new year, end
 * rule at 03:00 local) matches the system's Australia/Sydney. */
static void test_footer_only_southern(void **state)
{
	static const struct ttype aest[] = { { 36000, 0 } };
	write_zone("Sydney", '3', NULL, NULL, 0, aest, 1, 0, "AEST-10AEDT,M10.1.0,M4.1.0/3");
	setenv("TZDIR", tzdir, 1);
	struct tz *rule = load("Sydney");
	unsetenv("TZDIR");
	struct tz *sys = load("Australia/Sydney");

	for (int64_t t = iso("2010-01-01T00:00:00Z"); t < iso("2037-06-01T00:00:00Z"); t += 1800)
		if (tz_offset(rule, t) != tz_offset(sys, t))
			fail_msg("t=%lld: %d != %d", (long long)t, tz_offset(rule, t), tz_offset(sys, t));
	tz_free(rule);
	tz_free(sys);
}

static const struct {
	const char *footer;
	int rc;
	int32_t jan, jul;            /* offsets on 2026-01-15 and 2026-07-15 */
} footer_cases[] = {
	{ "MST7MDT,M3.2.0,M11.1.0", 0, -25200, -21600 },
	{ "MST7MDT", 0, -25200, -21600 },                 /* US rules assumed */
	{ "MST7", 0, -25200, -25200 },
	{ "<+0330>-3:30", 0, 12600, 12600 },
	{ "<-03>3", 0, -10800, -10800 },
	{ "EST5EDT,0/0,J365/25", 0, -14400, -14400 },     /* DST all year */
	{ "XST8XDT7,J60/2,J300/2", 0, -28800, -25200 },   /* Julian days */
	{ "XST8XDT7,59/2,299/2", 0, -28800, -25200 },     /* zero-based days */
	{ "IST-2IDT,M3.4.4/26,M10.5.0", 0, 7200, 10800 }, /* v3 hour > 24 */
	{ "", 0, -25200, -25200 },                        /* no rule: last type */
	{ "MST7MDT,M13.2.0,M11.1.0", -EINVAL, 0, 0 },
	{ "MST7MDT,M3.6.0,M11.1.0", -EINVAL, 0, 0 },
	{ "MST7MDT,M3.2.0", -EINVAL, 0, 0 },
	{ "MST", -EINVAL, 0, 0 },
	{ "M7", -EINVAL, 0, 0 },
	{ "MST25", -EINVAL, 0, 0 },
	{ "MST7MDT,J0,J365", -EINVAL, 0, 0 },
	{ "MST7MDT,M3.2.0/168,M11.1.0", -EINVAL, 0, 0 },
	{ "<+03-3", -EINVAL, 0, 0 },
	{ "MST7 trailing", -EINVAL, 0, 0 },
};

static void test_footer_rules(void **state)
{
	setenv("TZDIR", tzdir, 1);
	for (size_t i = 0; i < sizeof footer_cases / sizeof footer_cases[0]; i++) {
		struct tz *tz = NULL;
		print_message("footer \"%s\"\n", footer_cases[i].footer);
		write_slim_denver("F", footer_cases[i].footer);
		assert_int_equal(tz_load("F", &tz), footer_cases[i].rc);
		if (footer_cases[i].rc < 0) {
			assert_null(tz);
			continue;
		}
		assert_int_equal(tz_offset(tz, iso("2026-01-15T12:00:00Z")), footer_cases[i].jan);
		assert_int_equal(tz_offset(tz, iso("2026-07-15T12:00:00Z")), footer_cases[i].jul);
		tz_free(tz);
	}
	unsetenv("TZDIR");
}

static void write_bytes(const char *name, const void *p, size_t n)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", tzdir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(p, 1, n, f);
	assert_int_equal(fclose(f), 0);
}

static void test_bad_files(void **state)
{
	static const int64_t at[] = { 10, 5 };
	static const uint8_t idx[] = { 0, 0 }, bad_idx[] = { 0, 7 };
	static const struct ttype one[] = { { -25200, 0 } }, huge[] = { { 100000, 0 } };
	struct tz *tz = NULL;

	setenv("TZDIR", tzdir, 1);
	write_zone("V1", '\0', NULL, NULL, 0, one, 1, 0, "");
	write_zone("Leap", '2', NULL, NULL, 0, one, 1, 1, "UTC0");
	write_zone("Order", '2', at, idx, 2, one, 1, 0, "");
	write_zone("Idx", '2', (const int64_t[]){ 5, 10 }, bad_idx, 2, one, 1, 0, "");
	write_zone("Off", '2', NULL, NULL, 0, huge, 1, 0, "");
	write_bytes("Garbage", "hello, world\n", 13);
	write_bytes("Empty", "", 0);

	/* A good file cut short anywhere is refused, never read past its end. */
	write_slim_denver("Good", "MST7MDT,M3.2.0,M11.1.0");
	char path[128];
	snprintf(path, sizeof path, "%s/Good", tzdir);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t buf[512];
	size_t len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	assert_int_equal(tz_load("Good", &tz), 0);
	tz_free(tz);
	for (size_t cut = 0; cut < len; cut++) {
		write_bytes("Cut", buf, cut);
		assert_int_equal(tz_load("Cut", &tz), -EINVAL);
		assert_null(tz);
	}

	const char *bad[] = { "V1", "Leap", "Order", "Idx", "Off", "Garbage", "Empty" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		print_message("%s\n", bad[i]);
		assert_int_equal(tz_load(bad[i], &tz), -EINVAL);
		assert_null(tz);
	}
	unsetenv("TZDIR");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_civil_table),
		cmocka_unit_test(test_span_around_transitions),
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_load_names),
		cmocka_unit_test(test_slim_equals_fat),
		cmocka_unit_test(test_footer_only_southern),
		cmocka_unit_test(test_footer_rules),
		cmocka_unit_test(test_bad_files),
	};
	unsetenv("TZDIR");
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
