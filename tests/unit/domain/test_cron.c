/* test_cron.c - cron parsing and fire times, table-driven, DST days of
 * 2026 and 2027 in America/Denver. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/clock.h"
#include "domain/cron.h"

#define B(x) (1ULL << (x))
#define ALL_MIN ((1ULL << 60) - 1)
#define ALL_H ((1ULL << 24) - 1)
#define ALL_MD 0xFFFFFFFEULL
#define ALL_MON 0x1FFEULL
#define ALL_WD 0x7FULL

static int64_t iso(const char *s)
{
	int64_t ms;
	if (clock_parse_iso(s, &ms) < 0)
		fail_msg("bad time in table: %s", s);
	return ms / 1000;
}

/* ---- parsing ---------------------------------------------------------------- */

static const struct {
	const char *expr;
	uint64_t minutes, hours, mdays, months, wdays;
	bool mday_star, wday_star;
} good[] = {
	{ "* * * * *", ALL_MIN, ALL_H, ALL_MD, ALL_MON, ALL_WD, true, true },
	{ "15 6 * * *", B(15), B(6), ALL_MD, ALL_MON, ALL_WD, true, true },
	{ "*/15 * * * *", B(0) | B(15) | B(30) | B(45), ALL_H, ALL_MD, ALL_MON, ALL_WD, true, true },
	{ "1-30/5 * * * *", B(1) | B(6) | B(11) | B(16) | B(21) | B(26), ALL_H, ALL_MD, ALL_MON,
	  ALL_WD, true, true },
	{ "5/20 */6 * * *", B(5) | B(25) | B(45), B(0) | B(6) | B(12) | B(18), ALL_MD, ALL_MON,
	  ALL_WD, true, true },
	{ "0,30 8-10,22 * * *", B(0) | B(30), B(8) | B(9) | B(10) | B(22), ALL_MD, ALL_MON,
	  ALL_WD, true, true },
	{ "0 0 1,15 * *", B(0), B(0), B(1) | B(15), ALL_MON, ALL_WD, false, true },
	{ "0 0 * jan,JUL,Dec *", B(0), B(0), ALL_MD, B(1) | B(7) | B(12), ALL_WD, true, true },
	{ "0 0 * feb-apr *", B(0), B(0), ALL_MD, B(2) | B(3) | B(4), ALL_WD, true, true },
	{ "0 0 * * mon-fri", B(0), B(0), ALL_MD, ALL_MON, 0x3E, true, false },
	{ "0 0 * * 7", B(0), B(0), ALL_MD, ALL_MON, B(0), true, false },
	{ "0 0 * * 5-7", B(0), B(0), ALL_MD, ALL_MON, B(0) | B(5) | B(6), true, false },
	{ "0 0 * * 0-7", B(0), B(0), ALL_MD, ALL_MON, ALL_WD, true, false },
	{ "0 0 * * Sun,sat", B(0), B(0), ALL_MD, ALL_MON, B(0) | B(6), true, false },
	{ "0 0 13 * fri", B(0), B(0), B(13), ALL_MON, B(5), false, false },
	{ "0 0 */10 * fri", B(0), B(0), B(1) | B(11) | B(21) | B(31), ALL_MON, B(5), true, false },
	{ "59 23 31 12 *", B(59), B(23), B(31), B(12), ALL_WD, false, true },
	{ "0 0 29 2 *", B(0), B(0), B(29), B(2), ALL_WD, false, true },
	{ "0 0 31 2 mon", B(0), B(0), B(31), B(2), B(1), false, false },   /* OR: Mondays */
	{ "  0\t0  *  *  *  ", B(0), B(0), ALL_MD, ALL_MON, ALL_WD, true, true },
	{ "@yearly", B(0), B(0), B(1), B(1), ALL_WD, false, true },
	{ "@annually", B(0), B(0), B(1), B(1), ALL_WD, false, true },
	{ "@monthly", B(0), B(0), B(1), ALL_MON, ALL_WD, false, true },
	{ "@weekly", B(0), B(0), ALL_MD, ALL_MON, B(0), true, false },
	{ "@daily", B(0), B(0), ALL_MD, ALL_MON, ALL_WD, true, true },
	{ "@midnight", B(0), B(0), ALL_MD, ALL_MON, ALL_WD, true, true },
	{ "@hourly", B(0), ALL_H, ALL_MD, ALL_MON, ALL_WD, true, true },
	{ " @Daily ", B(0), B(0), ALL_MD, ALL_MON, ALL_WD, true, true },
};

static void test_parse_good(void **state)
{
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct cron c;
		const char *err = "unset";
		print_message("\"%s\"\n", good[i].expr);
		assert_int_equal(cron_parse(good[i].expr, &c, &err), 0);
		assert_null(err);
		assert_true(c.minutes == good[i].minutes);
		assert_true(c.hours == good[i].hours);
		assert_true(c.mdays == good[i].mdays);
		assert_true(c.months == good[i].months);
		assert_true(c.wdays == good[i].wdays);
		assert_int_equal(c.mday_star, good[i].mday_star);
		assert_int_equal(c.wday_star, good[i].wday_star);
	}
}

static const struct {
	const char *expr, *err;
} bad[] = {
	{ "", "empty schedule" },
	{ "   ", "empty schedule" },
	{ "0 6 * *", "expected 5 fields (minute hour day-of-month month day-of-week), found fewer" },
	{ "0 0 6 * * *", "expected 5 fields (minute hour day-of-month month day-of-week), found more" },
	{ "60 * * * *", "minute: value out of range 0-59" },
	{ "0,75 * * * *", "minute: value out of range 0-59" },
	{ "99999999999999999999 * * * *", "minute: value out of range 0-59" },
	{ "* 24 * * *", "hour: value out of range 0-23" },
	{ "* * 0 * *", "day-of-month: value out of range 1-31" },
	{ "* * 32 * *", "day-of-month: value out of range 1-31" },
	{ "* * * 13 *", "month: value out of range 1-12" },
	{ "* * * 0 *", "month: value out of range 1-12" },
	{ "* * * * 8", "day-of-week: value out of range 0-7" },
	{ "x * * * *", "minute: expected a number" },
	{ "-5 * * * *", "minute: expected a number" },
	{ "* mon * * *", "hour: expected a number" },
	{ "* * jan * *", "day-of-month: expected a number" },
	{ "* * * january *", "month: expected a number or a month name (jan-dec)" },
	{ "* * * foo *", "month: expected a number or a month name (jan-dec)" },
	{ "* * * * monday", "day-of-week: expected a number or a day name (sun-sat)" },
	{ "* * * * jan", "day-of-week: expected a number or a day name (sun-sat)" },
	{ "30-10 * * * *", "minute: range start is after its end" },
	{ "* * * * fri-mon", "day-of-week: range start is after its end" },
	{ "1- * * * *", "minute: expected a number" },
	{ "*/0 * * * *", "minute: step must be a number from 1 to 59" },
	{ "*/60 * * * *", "minute: step must be a number from 1 to 59" },
	{ "*/ * * * *", "minute: step must be a number from 1 to 59" },
	{ "0 */24 * * *", "hour: step must be a number from 1 to 23" },
	{ "0 0 * */x *", "month: step must be a number from 1 to 12" },
	{ "1,,2 * * * *", "minute: empty list item" },
	{ "1, * * * *", "minute: empty list item" },
	{ ",1 * * * *", "minute: empty list item" },
	{ "5x * * * *", "minute: unexpected text after a value" },
	{ "1-2-3 * * * *", "minute: unexpected text after a value" },
	{ "*5 * * * *", "minute: unexpected text after a value" },
	{ "*/5/2 * * * *", "minute: unexpected text after a value" },
	{ "0 0 30 2 *", "day-of-month: the selected days never occur in the selected months" },
	{ "0 0 31 apr,jun,sep,nov *",
	  "day-of-month: the selected days never occur in the selected months" },
	{ "@reboot", "unknown shortcut (use @yearly, @annually, @monthly, @weekly, @daily, "
	             "@midnight or @hourly)" },
	{ "@daily 5", "unknown shortcut (use @yearly, @annually, @monthly, @weekly, @daily, "
	              "@midnight or @hourly)" },
	{ "@", "unknown shortcut (use @yearly, @annually, @monthly, @weekly, @daily, "
	       "@midnight or @hourly)" },
};

static void test_parse_bad(void **state)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct cron c;
		const char *err = NULL;
		print_message("\"%s\"\n", bad[i].expr);
		assert_int_equal(cron_parse(bad[i].expr, &c, &err), -EINVAL);
		assert_non_null(err);
		assert_string_equal(err, bad[i].err);
	}

	char longer[CRON_EXPR_MAX + 8];
	memset(longer, ' ', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	memcpy(longer, "* * * * *", 9);
	struct cron c;
	const char *err = NULL;
	assert_int_equal(cron_parse(longer, &c, &err), -EINVAL);
	assert_string_equal(err, "schedule is too long (256 characters at most)");
	assert_int_equal(cron_parse(NULL, &c, &err), -EINVAL);
	assert_string_equal(err, "empty schedule");
}

/* ---- fire times -------------------------------------------------------------- */

#define DEN "America/Denver"

/* One call of cron_next (the first fire strictly after FROM) or cron_prev
 * (the last fire at or before FROM): WANT, or NULL for -ERANGE. */
struct fire_case {
	const char *zone, *expr, *from, *want;
};

/* Offsets -07:00 are MST, -06:00 MDT. */
static const struct fire_case next_cases[] = {
	/* a nonexistent local time fires once at 03:00 MDT */
	{ DEN, "30 2 * * *", "2026-03-07T02:30:00-07:00", "2026-03-08T03:00:00-06:00" },
	{ DEN, "30 2 * * *", "2026-03-08T01:59:59-07:00", "2026-03-08T03:00:00-06:00" },
	{ DEN, "30 2 * * *", "2026-03-08T03:00:00-06:00", "2026-03-09T02:30:00-06:00" },
	{ DEN, "30 2 * * *", "2026-10-31T02:30:00-06:00", "2026-11-01T02:30:00-07:00" },
	{ DEN, "30 2 * * *", "2027-03-13T02:30:00-07:00", "2027-03-14T03:00:00-06:00" },
	{ DEN, "30 2 * * *", "2027-03-14T03:00:00-06:00", "2027-03-15T02:30:00-06:00" },
	{ DEN, "30 2 * * *", "2027-11-06T02:30:00-06:00", "2027-11-07T02:30:00-07:00" },
	/* the datasets' daily fetch, unaffected but for the offset */
	{ DEN, "15 6 * * *", "2026-03-07T06:15:00-07:00", "2026-03-08T06:15:00-06:00" },
	{ DEN, "15 6 * * *", "2026-10-31T06:15:00-06:00", "2026-11-01T06:15:00-07:00" },
	{ DEN, "15 6 * * *", "2027-03-13T06:15:00-07:00", "2027-03-14T06:15:00-06:00" },
	{ DEN, "15 6 * * *", "2027-11-06T06:15:00-06:00", "2027-11-07T06:15:00-07:00" },
	{ DEN, "15 6 * * *", "2026-11-24T12:00:00-07:00", "2026-11-25T06:15:00-07:00" },
	{ DEN, "15 6 * * *", "2026-11-25T06:14:59-07:00", "2026-11-25T06:15:00-07:00" },
	/* a repeated local time fires once, at its first occurrence */
	{ DEN, "30 1 * * *", "2026-10-31T01:30:00-06:00", "2026-11-01T01:30:00-06:00" },
	{ DEN, "30 1 * * *", "2026-11-01T01:30:00-06:00", "2026-11-02T01:30:00-07:00" },
	{ DEN, "30 1 * * *", "2026-11-01T01:10:00-07:00", "2026-11-02T01:30:00-07:00" },
	{ DEN, "30 1 * * *", "2026-03-07T01:30:00-07:00", "2026-03-08T01:30:00-07:00" },
	{ DEN, "30 1 * * *", "2027-11-06T01:30:00-06:00", "2027-11-07T01:30:00-06:00" },
	{ DEN, "30 1 * * *", "2027-11-07T01:30:00-06:00", "2027-11-08T01:30:00-07:00" },
	{ DEN, "30 1 * * *", "2027-03-13T01:30:00-07:00", "2027-03-14T01:30:00-07:00" },
	/* every half hour: the gap's 02:00 and 02:30 fold into 03:00 MDT ... */
	{ DEN, "*/30 * * * *", "2026-03-08T01:30:00-07:00", "2026-03-08T03:00:00-06:00" },
	{ DEN, "*/30 * * * *", "2026-03-08T01:45:00-07:00", "2026-03-08T03:00:00-06:00" },
	{ DEN, "*/30 * * * *", "2026-03-08T03:00:00-06:00", "2026-03-08T03:30:00-06:00" },
	/* ... and the repeated 01:00 and 01:30 fire only in MDT */
	{ DEN, "*/30 * * * *", "2026-11-01T01:00:00-06:00", "2026-11-01T01:30:00-06:00" },
	{ DEN, "*/30 * * * *", "2026-11-01T01:30:00-06:00", "2026-11-01T02:00:00-07:00" },
	{ DEN, "*/30 * * * *", "2026-11-01T01:15:00-07:00", "2026-11-01T02:00:00-07:00" },
	{ DEN, "*/30 * * * *", "2027-03-14T01:30:00-07:00", "2027-03-14T03:00:00-06:00" },
	{ DEN, "*/30 * * * *", "2027-11-07T01:30:00-06:00", "2027-11-07T02:00:00-07:00" },
	{ DEN, "0 * * * *", "2026-03-08T01:00:00-07:00", "2026-03-08T03:00:00-06:00" },
	{ DEN, "0 * * * *", "2026-03-08T03:00:00-06:00", "2026-03-08T04:00:00-06:00" },
	{ DEN, "0 * * * *", "2026-11-01T00:00:00-06:00", "2026-11-01T01:00:00-06:00" },
	{ DEN, "0 * * * *", "2026-11-01T01:00:00-06:00", "2026-11-01T02:00:00-07:00" },
	{ DEN, "@hourly", "2027-03-14T01:00:00-07:00", "2027-03-14T03:00:00-06:00" },
	{ DEN, "@hourly", "2027-11-07T01:00:00-06:00", "2027-11-07T02:00:00-07:00" },
	{ DEN, "@hourly", "2027-11-07T01:00:00-07:00", "2027-11-07T02:00:00-07:00" },
	{ DEN, "@daily", "2026-03-07T12:00:00-07:00", "2026-03-08T00:00:00-07:00" },
	{ DEN, "@daily", "2026-03-08T00:00:00-07:00", "2026-03-09T00:00:00-06:00" },
	{ DEN, "@daily", "2026-11-01T00:00:00-06:00", "2026-11-02T00:00:00-07:00" },
	{ DEN, "@daily", "2027-11-06T23:59:59-06:00", "2027-11-07T00:00:00-06:00" },
	/* a minute that is in neither gap nor overlap */
	{ DEN, "59 1 8 3 *", "2026-01-01T00:00:00-07:00", "2026-03-08T01:59:00-07:00" },
	{ DEN, "0 3 8 3 *", "2026-03-08T01:59:00-07:00", "2026-03-08T03:00:00-06:00" },
	{ DEN, "0 2 1 11 *", "2026-11-01T01:59:00-06:00", "2026-11-01T02:00:00-07:00" },
	/* UTC, month ends, leap days */
	{ "UTC", "0 0 * * *", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z" },
	{ "UTC", "0 12 31 * *", "2026-04-01T00:00:00Z", "2026-05-31T12:00:00Z" },
	{ "UTC", "0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z" },
	{ "UTC", "59 23 31 12 *", "2026-06-01T00:00:00Z", "2026-12-31T23:59:00Z" },
	{ "UTC", "0 0 29 2 *", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z" },
	{ "UTC", "0 0 29 2 *", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z" },
	{ "UTC", "0 0 29 2 *", "2096-03-01T00:00:00Z", NULL },      /* 2100 is no leap year */
	{ "UTC", "0 6 1 jan,jul *", "2026-02-01T00:00:00Z", "2026-07-01T06:00:00Z" },
	{ "UTC", "@yearly", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z" },
	{ "UTC", "@monthly", "2026-12-15T00:00:00Z", "2027-01-01T00:00:00Z" },
	{ "UTC", "@weekly", "2026-04-10T00:00:00Z", "2026-04-12T00:00:00Z" },
	{ "UTC", "0 8 * * mon-fri", "2026-04-10T08:00:00Z", "2026-04-13T08:00:00Z" },
	{ "UTC", "0 8 * * 7", "2026-04-10T00:00:00Z", "2026-04-12T08:00:00Z" },
	{ "UTC", "1-30/5 * * * *", "2026-04-10T08:26:00Z", "2026-04-10T09:01:00Z" },
	{ "UTC", "1-30/5 * * * *", "2026-04-10T08:01:00Z", "2026-04-10T08:06:00Z" },
	{ "UTC", "*/15 * * * *", "2026-04-10T08:14:59Z", "2026-04-10T08:15:00Z" },
	{ "UTC", "* * * * *", "2026-04-10T08:14:00Z", "2026-04-10T08:15:00Z" },
	/* Vixie: both day fields restricted = either matches */
	{ "UTC", "0 9 13 * fri", "2026-04-10T09:00:00Z", "2026-04-13T09:00:00Z" },
	{ "UTC", "0 9 13 * fri", "2026-04-13T09:00:00Z", "2026-04-17T09:00:00Z" },
	{ "UTC", "0 9 13 * fri", "2026-04-01T00:00:00Z", "2026-04-03T09:00:00Z" },
	/* ... but a "*" field makes it AND: days 1,11,21,31 that are Fridays */
	{ "UTC", "0 9 */10 * fri", "2026-04-01T00:00:00Z", "2026-05-01T09:00:00Z" },
	{ "UTC", "0 0 31 2 mon", "2026-01-01T00:00:00Z", "2026-02-02T00:00:00Z" },
};

static void check_next(struct tz *tz, const char *expr, const char *after, const char *want)
{
	struct cron c;
	const char *err;
	int64_t next = 0;

	print_message("%s \"%s\" after %s\n", tz_name(tz), expr, after);
	assert_int_equal(cron_parse(expr, &c, &err), 0);
	int rc = cron_next(&c, tz, iso(after), &next);
	if (!want) {
		assert_int_equal(rc, -ERANGE);
		return;
	}
	assert_int_equal(rc, 0);
	if (next != iso(want)) {
		struct civil cv;
		tz_civil(tz, next, &cv);
		fail_msg("got %04d-%02d-%02dT%02d:%02d:%02d offset %d, want %s", cv.year, cv.month,
		         cv.day, cv.hour, cv.minute, cv.second, cv.utc_offset, want);
	}
}

static void test_next_table(void **state)
{
	for (size_t i = 0; i < sizeof next_cases / sizeof next_cases[0]; i++) {
		struct tz *tz = NULL;
		assert_int_equal(tz_load(next_cases[i].zone, &tz), 0);
		check_next(tz, next_cases[i].expr, next_cases[i].from, next_cases[i].want);
		tz_free(tz);
	}
}

static const struct fire_case prev_cases[] = {
	{ DEN, "30 2 * * *", "2026-03-08T12:00:00-06:00", "2026-03-08T03:00:00-06:00" },
	{ DEN, "30 2 * * *", "2026-03-08T02:59:59-06:00", "2026-03-07T02:30:00-07:00" },
	{ DEN, "30 1 * * *", "2026-11-01T01:45:00-07:00", "2026-11-01T01:30:00-06:00" },
	{ DEN, "30 1 * * *", "2026-11-01T01:29:00-06:00", "2026-10-31T01:30:00-06:00" },
	{ DEN, "15 6 * * *", "2026-11-24T06:15:00-07:00", "2026-11-24T06:15:00-07:00" },
	{ DEN, "15 6 * * *", "2026-11-24T06:14:59-07:00", "2026-11-23T06:15:00-07:00" },
	{ DEN, "*/30 * * * *", "2026-11-01T01:59:00-07:00", "2026-11-01T01:30:00-06:00" },
	{ DEN, "*/30 * * * *", "2026-03-08T03:29:00-06:00", "2026-03-08T03:00:00-06:00" },
	{ DEN, "*/30 * * * *", "2026-03-08T02:59:59-06:00", "2026-03-08T01:30:00-07:00" },
	{ DEN, "@daily", "2027-03-14T23:00:00-06:00", "2027-03-14T00:00:00-07:00" },
	{ "UTC", "0 0 29 2 *", "2032-02-28T00:00:00Z", "2028-02-29T00:00:00Z" },
	{ "UTC", "0 0 29 2 *", "2104-02-28T00:00:00Z", NULL },
	{ "UTC", "0 9 13 * fri", "2026-04-16T00:00:00Z", "2026-04-13T09:00:00Z" },
	{ "UTC", "59 23 31 12 *", "2026-06-01T00:00:00Z", "2025-12-31T23:59:00Z" },
};

static void test_prev_table(void **state)
{
	for (size_t i = 0; i < sizeof prev_cases / sizeof prev_cases[0]; i++) {
		struct tz *tz = NULL;
		struct cron c;
		const char *err;
		int64_t prev = 0;
		print_message("%s \"%s\" before %s\n", prev_cases[i].zone, prev_cases[i].expr,
		              prev_cases[i].from);
		assert_int_equal(tz_load(prev_cases[i].zone, &tz), 0);
		assert_int_equal(cron_parse(prev_cases[i].expr, &c, &err), 0);
		int rc = cron_prev(&c, tz, iso(prev_cases[i].from), &prev);
		if (prev_cases[i].want) {
			assert_int_equal(rc, 0);
			assert_true(prev == iso(prev_cases[i].want));
		} else {
			assert_int_equal(rc, -ERANGE);
		}
		tz_free(tz);
	}
}

/* ---- against a reference: the rule of cron.h, minute by minute -------------- */

static bool matches(const struct cron *c, const struct civil *w)
{
	bool dm = c->mdays >> w->day & 1, wm = c->wdays >> w->wday & 1;
	bool day = (c->mday_star || c->wday_star) ? dm && wm : dm || wm;
	return (c->minutes >> w->minute & 1) && (c->hours >> w->hour & 1) &&
	       (c->months >> w->month & 1) && day;
}

/*
 * Walk unix minutes over [from, to) and decide each one from its wall clock
 * alone: it fires when its wall minute matches and was not seen before
 * (fall back), or when a wall minute skipped just before it matches
 * (spring forward).  cron_next and cron_prev must agree at every step.
 */
static void compare_with_walk(struct tz *tz, const char *expr, int64_t from, int64_t to)
{
	struct cron c;
	const char *err;
	struct civil w;
	int64_t max_wall, expect = INT64_MIN, t = from - 1;

	assert_int_equal(cron_parse(expr, &c, &err), 0);
	tz_civil(tz, from - 60, &w);
	max_wall = from - 60 + w.utc_offset;
	for (int64_t u = from; u < to; u += 60) {
		tz_civil(tz, u, &w);
		int64_t wall = u + w.utc_offset;
		bool fire = false;
		for (int64_t s = max_wall + 60; s < wall; s += 60) {
			struct civil sw;
			tz_civil_wall(s, &sw);
			fire |= matches(&c, &sw);
		}
		if (wall > max_wall) {
			fire |= matches(&c, &w);
			max_wall = wall;
		}
		if (!fire)
			continue;
		int64_t next, prev;
		assert_int_equal(cron_next(&c, tz, t, &next), 0);
		if (next != u)
			fail_msg("\"%s\": after %lld want %lld got %lld", expr, (long long)t,
			         (long long)u, (long long)next);
		assert_int_equal(cron_prev(&c, tz, u + 59, &prev), 0);
		assert_true(prev == u);
		if (expect != INT64_MIN) {
			assert_int_equal(cron_prev(&c, tz, u - 1, &prev), 0);
			assert_true(prev == expect);
		}
		expect = u;
		t = u;
	}
}

static void test_dst_days_against_walk(void **state)
{
	static const char *const exprs[] = {
		"30 2 * * *", "15 6 * * *", "30 1 * * *", "*/30 * * * *", "0 * * * *",
		"@daily", "@hourly", "*/7 * * * *", "59 1,2 * * *", "0 2 * * *", "0 1 * * *",
		"* 2 * * *", "* * * * *",
	};
	static const char *const days[] = {
		"2026-03-07T00:00:00-07:00", "2026-10-31T00:00:00-06:00",
		"2027-03-13T00:00:00-07:00", "2027-11-06T00:00:00-06:00",
	};
	struct tz *tz = NULL;
	assert_int_equal(tz_load(DEN, &tz), 0);
	for (size_t d = 0; d < sizeof days / sizeof days[0]; d++)
		for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++)
			compare_with_walk(tz, exprs[e], iso(days[d]), iso(days[d]) + 3 * 86400);
	tz_free(tz);
}

/* A chain of fires over two years in Denver, each the next of the one
 * before, with cron_prev walking the same chain back. */
static void test_chain_two_years(void **state)
{
	struct tz *tz = NULL;
	struct cron c;
	const char *err;
	int64_t t = iso("2026-01-01T00:00:00-07:00"), end = iso("2028-01-01T00:00:00-07:00");
	int n = 0;

	assert_int_equal(tz_load(DEN, &tz), 0);
	assert_int_equal(cron_parse("15 6 * * *", &c, &err), 0);
	for (;;) {
		int64_t next, back;
		struct civil cv;
		assert_int_equal(cron_next(&c, tz, t, &next), 0);
		if (next >= end)
			break;
		tz_civil(tz, next, &cv);
		assert_int_equal(cv.hour, 6);
		assert_int_equal(cv.minute, 15);
		assert_int_equal(cron_prev(&c, tz, next, &back), 0);
		assert_true(back == next);
		if (n > 0) {
			assert_int_equal(cron_prev(&c, tz, next - 1, &back), 0);
			assert_true(back == t);
		}
		t = next;
		n++;
	}
	assert_int_equal(n, 365 + 365);
	tz_free(tz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_next_table),
		cmocka_unit_test(test_prev_table),
		cmocka_unit_test(test_dst_days_against_walk),
		cmocka_unit_test(test_chain_two_years),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
