/* test_catchup.c - missed fires and the catch-up runs they get, frozen time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "domain/catchup.h"
#include "base/clock.h"
#include "domain/cron.h"

#define DAY 86400
#define T0 1795478400      /* 2026-11-24T00:00:00Z */

/* Fires every PERIOD seconds at OFFSET past multiples of PERIOD. */
struct every {
	int64_t period, offset;
	unsigned calls;
};

static int next_every(void *arg, int64_t after, int64_t *next)
{
	struct every *e = arg;
	int64_t base = after - e->offset;
	int64_t k = base >= 0 ? base / e->period + 1 : -((-base) / e->period);
	if (base < 0 && (-base) % e->period == 0)
		k = -((-base) / e->period) + 1;
	e->calls++;
	*next = k * e->period + e->offset;
	return 0;
}

static int next_never(void *arg, int64_t after, int64_t *next)
{
	return -ERANGE;
}

static int next_stuck(void *arg, int64_t after, int64_t *next)
{
	*next = after;
	return 0;
}

/* Daily at 13:15 UTC (06:15 in Denver in winter). */
static struct every daily = { DAY, 13 * 3600 + 15 * 60, 0 };

static void test_wanted_per_policy(void **state)
{
	assert_int_equal(catchup_wanted(MISSED_LATEST, 3), 1);
	assert_int_equal(catchup_wanted(MISSED_LATEST, 0), 0);
	assert_int_equal(catchup_wanted(MISSED_ALL, 3), 3);
	assert_int_equal(catchup_wanted(MISSED_ALL, 0), 0);
	assert_int_equal(catchup_wanted(MISSED_ALL, 5000), CATCHUP_MAX);
	assert_int_equal(catchup_wanted(MISSED_NONE, 3), 0);
}

static void test_latest_of_three_missed_days(void **state)
{
	static struct catchup c;
	/* Down from 2026-11-21 12:00Z to 2026-11-24 14:00Z: fires on the 21st,
	 * 22nd, 23rd and 24th at 13:15Z were missed. */
	int64_t since = T0 - 3 * DAY + 12 * 3600, now = T0 + 14 * 3600;
	assert_int_equal(catchup_plan(next_every, &daily, since, now, 1, &c), 0);
	assert_int_equal(c.n_runs, 1);
	assert_int_equal(c.fires[0], T0 + daily.offset);
	assert_int_equal(c.latest, T0 + daily.offset);
	/* Wanting them all gives the exact count: the 21st to the 24th. */
	assert_int_equal(catchup_plan(next_every, &daily, since, now, CATCHUP_MAX, &c), 0);
	assert_int_equal(c.n_missed, 4);
	assert_true(c.exact);
	assert_int_equal(c.n_runs, 4);
	assert_int_equal(c.fires[0], T0 - 3 * DAY + daily.offset);
}

static void test_all_is_capped_at_max_catchup_keeping_latest(void **state)
{
	static struct catchup c;
	int64_t since = T0 - 10 * DAY, now = T0 + 14 * 3600;
	assert_int_equal(catchup_plan(next_every, &daily, since, now, 3, &c), 0);
	assert_int_equal(c.n_runs, 3);
	assert_int_equal(c.fires[0], T0 - 2 * DAY + daily.offset);
	assert_int_equal(c.fires[1], T0 - DAY + daily.offset);
	assert_int_equal(c.fires[2], T0 + daily.offset);
	/* The runs come from the part of the outage near now; the rest is
	 * only counted: the 14th to the 24th. */
	assert_true(c.exact);
	assert_int_equal(c.n_missed, 11);
}

static void test_none_runs_nothing_but_knows_the_latest(void **state)
{
	static struct catchup c;
	int64_t since = T0 - 3 * DAY, now = T0 + 14 * 3600;
	assert_int_equal(catchup_plan(next_every, &daily, since, now, 0, &c), 0);
	assert_int_equal(c.n_runs, 0);
	assert_int_equal(c.latest, T0 + daily.offset);
}

static void test_nothing_before_since(void **state)
{
	static struct catchup c;
	/* First configured at 13:15:00Z exactly: that fire is not after it. */
	int64_t since = T0 + daily.offset, now = T0 + DAY - 1;
	assert_int_equal(catchup_plan(next_every, &daily, since, now, 3, &c), 0);
	assert_int_equal(c.n_runs, 0);
	assert_int_equal(c.n_missed, 0);
	assert_true(c.exact);
	assert_int_equal(c.latest, 0);
	/* One second later the fire is after it. */
	assert_int_equal(catchup_plan(next_every, &daily, since - 1, now, 3, &c), 0);
	assert_int_equal(c.n_runs, 1);
	/* now == since: nothing at all. */
	assert_int_equal(catchup_plan(next_every, &daily, now, now, 3, &c), 0);
	assert_int_equal(c.n_missed, 0);
}

static void test_fire_at_now_counts(void **state)
{
	static struct catchup c;
	int64_t now = T0 + daily.offset;
	assert_int_equal(catchup_plan(next_every, &daily, T0, now, 1, &c), 0);
	assert_int_equal(c.n_runs, 1);
	assert_int_equal(c.fires[0], now);
}

/* A year of a minutely schedule costs about as much as its last few hours. */
static void test_long_outage_of_minutely_schedule_is_cheap(void **state)
{
	static struct catchup c;
	struct every minutely = { 60, 0, 0 };
	int64_t now = T0 + 30, since = T0 - 365 * DAY;
	assert_int_equal(catchup_plan(next_every, &minutely, since, now, 3, &c), 0);
	assert_int_equal(c.n_runs, 3);
	assert_int_equal(c.fires[2], T0);
	assert_int_equal(c.fires[0], T0 - 120);
	/* The count stops at 10,000 fires before the window: "at least". */
	assert_false(c.exact);
	assert_true(c.n_missed > 10000 && c.n_missed < 10300);
	assert_true(minutely.calls < 10500);
	/* With everything wanted, the count is exact. */
	minutely.calls = 0;
	assert_int_equal(catchup_plan(next_every, &minutely, T0 - 3600, now, CATCHUP_MAX, &c), 0);
	assert_true(c.exact);
	assert_int_equal(c.n_missed, 60);
	assert_int_equal(c.n_runs, 60);
	assert_int_equal(c.fires[0], T0 - 3540);
}

static void test_schedule_without_fires(void **state)
{
	static struct catchup c;
	assert_int_equal(catchup_plan(next_never, NULL, T0 - DAY, T0, 3, &c), 0);
	assert_int_equal(c.n_runs, 0);
	assert_int_equal(c.latest, 0);
	assert_int_equal(catchup_plan(next_stuck, NULL, T0 - DAY, T0, 3, &c), 0);
	assert_int_equal(c.n_runs, 0);
}

/* ---- with the real schedules of cron.c in America/Denver ---- */

struct real {
	struct cron c;
	struct tz *tz;
};

static int next_cron(void *arg, int64_t after, int64_t *next)
{
	struct real *r = arg;
	return cron_next(&r->c, r->tz, after, next);
}

static int64_t at(const char *iso)
{
	int64_t ms;
	assert_int_equal(clock_parse_iso(iso, &ms), 0);
	return ms / 1000;
}

/* Missed fires across both DST changes of 2026 keep one fire per local day,
 * each with the exec date of its own local day. */
static void test_dst_days_in_denver(void **state)
{
	static struct catchup c;
	struct real r;
	const char *err;
	char date[11];

	assert_int_equal(tz_load("America/Denver", &r.tz), 0);
	/* 02:30 does not exist on 2026-03-08: that day fires at 03:00 MDT. */
	assert_int_equal(cron_parse("30 2 * * *", &r.c, &err), 0);
	assert_int_equal(catchup_plan(next_cron, &r, at("2026-03-06T12:00:00-07:00"),
	                              at("2026-03-09T12:00:00-06:00"), CATCHUP_MAX, &c), 0);
	assert_int_equal(c.n_runs, 3);
	assert_int_equal(c.fires[0], at("2026-03-07T02:30:00-07:00"));
	assert_int_equal(c.fires[1], at("2026-03-08T03:00:00-06:00"));
	assert_int_equal(c.fires[2], at("2026-03-09T02:30:00-06:00"));
	static const char *const spring[] = { "2026-03-07", "2026-03-08", "2026-03-09" };
	for (int i = 0; i < 3; i++) {
		tz_date(r.tz, c.fires[i], date);
		assert_string_equal(date, spring[i]);
	}
	/* 01:30 happens twice on 2026-11-01: it fires once, at the first. */
	assert_int_equal(cron_parse("30 1 * * *", &r.c, &err), 0);
	assert_int_equal(catchup_plan(next_cron, &r, at("2026-10-30T12:00:00-06:00"),
	                              at("2026-11-02T12:00:00-07:00"), CATCHUP_MAX, &c), 0);
	assert_int_equal(c.n_runs, 3);
	assert_int_equal(c.fires[0], at("2026-10-31T01:30:00-06:00"));
	assert_int_equal(c.fires[1], at("2026-11-01T01:30:00-06:00"));
	assert_int_equal(c.fires[2], at("2026-11-02T01:30:00-07:00"));
	/* A fire late in the local evening is still that local day (UTC has
	 * moved on): the exec date is local. */
	assert_int_equal(cron_parse("45 23 * * *", &r.c, &err), 0);
	assert_int_equal(catchup_plan(next_cron, &r, at("2026-11-24T12:00:00-07:00"),
	                              at("2026-11-25T12:00:00-07:00"), 1, &c), 0);
	tz_date(r.tz, c.fires[0], date);
	assert_string_equal(date, "2026-11-24");
	tz_free(r.tz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted_per_policy),
		cmocka_unit_test(test_latest_of_three_missed_days),
		cmocka_unit_test(test_all_is_capped_at_max_catchup_keeping_latest),
		cmocka_unit_test(test_none_runs_nothing_but_knows_the_latest),
		cmocka_unit_test(test_nothing_before_since),
		cmocka_unit_test(test_fire_at_now_counts),
		cmocka_unit_test(test_long_outage_of_minutely_schedule_is_cheap),
		cmocka_unit_test(test_schedule_without_fires),
		cmocka_unit_test(test_dst_days_in_denver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
