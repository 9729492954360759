/* test_cadence.c - the observed cadence of a source, from recorded change
 * histories in America/Denver: across both DST transitions, around
 * midnight, spread round the clock, too short, and the late verdict. */
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
#include "base/macro.h"
#include "domain/cadence.h"
#include "domain/tz.h"

#define H (3600 * 1000LL)
#define MAX_TIMES 16

/* One recorded history and what its cadence must say. */
struct history {
	const char *name;
	const char *at[MAX_TIMES];        /* ISO 8601 with the local offset */
	int64_t margin_ms;
	bool enough;
	int64_t median_gap_ms, p95_gap_ms;
	int typical_minute;               /* -1 = none */
	unsigned typical_weekdays;        /* bits, 0 = Sunday; ~0u = not checked */
	unsigned monday;                  /* changes counted on Mondays */
};

#define SUN (1u << 0)
#define MON (1u << 1)
#define TUE (1u << 2)
#define WED (1u << 3)
#define FRI (1u << 5)
#define SAT (1u << 6)
#define ALL_DAYS 0x7fu

static const struct history histories[] = {
	{ "daily at 06:00 local, over the spring-forward night",
	  { "2026-03-02T06:00:00-07:00", "2026-03-03T06:00:00-07:00",
	    "2026-03-04T06:00:00-07:00", "2026-03-05T06:00:00-07:00",
	    "2026-03-06T06:00:00-07:00", "2026-03-07T06:00:00-07:00",
	    "2026-03-08T06:00:00-06:00",  /* 23 h after the one before */
	    "2026-03-09T06:00:00-06:00", "2026-03-10T06:00:00-06:00",
	    "2026-03-11T06:00:00-06:00", "2026-03-12T06:00:00-06:00" },
	  6 * H, true, 24 * H, 24 * H, 6 * 60, ALL_DAYS, 2 },
	{ "Mon, Wed, Fri at 14:30 local, over the fall-back night",
	  { "2026-10-19T14:30:00-06:00", "2026-10-21T14:30:00-06:00",
	    "2026-10-23T14:30:00-06:00", "2026-10-26T14:30:00-06:00",
	    "2026-10-28T14:30:00-06:00", "2026-10-30T14:30:00-06:00",
	    "2026-11-02T14:30:00-07:00",  /* 73 h after Friday's */
	    "2026-11-04T14:30:00-07:00", "2026-11-06T14:30:00-07:00" },
	  0, true, 48 * H, 73 * H, 14 * 60 + 30, MON | WED | FRI, 3 },
	{ "either side of midnight: the typical time is 00:00, not noon",
	  { "2026-01-05T23:50:00-07:00", "2026-01-07T00:10:00-07:00",
	    "2026-01-07T23:50:00-07:00", "2026-01-09T00:10:00-07:00",
	    "2026-01-09T23:50:00-07:00", "2026-01-11T00:10:00-07:00" },
	  H, true, 24 * H + 20 * 60 * 1000, 24 * H + 20 * 60 * 1000, 0, ~0u, 1 },
	{ "round the clock: no typical time",
	  { "2026-01-05T00:00:00-07:00", "2026-01-05T06:00:00-07:00",
	    "2026-01-05T12:00:00-07:00", "2026-01-05T18:00:00-07:00",
	    "2026-01-06T00:00:00-07:00", "2026-01-06T06:00:00-07:00",
	    "2026-01-06T12:00:00-07:00", "2026-01-06T18:00:00-07:00" },
	  0, true, 6 * H, 6 * H, -1, MON | TUE, 4 },
	{ "four changes are not enough history",
	  { "2026-01-03T09:00:00-07:00", "2026-01-04T09:00:00-07:00",
	    "2026-01-10T09:00:00-07:00", "2026-01-11T09:00:00-07:00" },
	  6 * H, false, 0, 0, 9 * 60, SAT | SUN, 0 },
	{ "weekly on Monday, in UTC terms an hour apart across DST",
	  { "2026-02-16T08:00:00-07:00", "2026-02-23T08:00:00-07:00",
	    "2026-03-02T08:00:00-07:00", "2026-03-09T08:00:00-06:00",
	    "2026-03-16T08:00:00-06:00", "2026-03-23T08:00:00-06:00" },
	  12 * H, true, 168 * H, 168 * H, 8 * 60, MON, 6 },
	{ "no changes at all",
	  { NULL }, 0, false, 0, 0, -1, 0, 0 },
};

static struct tz *denver;

static int setup(void **state)
{
	return tz_load("America/Denver", &denver);
}

static int teardown(void **state)
{
	tz_free(denver);
	return 0;
}

static size_t times_of(const struct history *h, int64_t *at)
{
	size_t n = 0;
	while (n < MAX_TIMES && h->at[n]) {
		assert_int_equal(clock_parse_iso(h->at[n], &at[n]), 0);
		n++;
	}
	return n;
}

static void test_histories(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(histories); i++) {
		const struct history *h = &histories[i];
		int64_t at[MAX_TIMES];
		size_t n = times_of(h, at);
		struct cadence c;

		print_message("%s\n", h->name);
		assert_int_equal(cadence_compute(at, n, denver, h->margin_ms, &c), 0);
		assert_int_equal(c.n_changes, n);
		assert_int_equal(c.enough, h->enough);
		assert_int_equal(c.median_gap_ms, h->median_gap_ms);
		assert_int_equal(c.p95_gap_ms, h->p95_gap_ms);
		assert_int_equal(c.typical_minute, h->typical_minute);
		if (h->typical_weekdays != ~0u)
			assert_int_equal(c.typical_weekdays, h->typical_weekdays);
		assert_int_equal(c.weekdays[1], h->monday);
		if (!n)
			continue;
		assert_int_equal(c.first_change, at[0]);
		assert_int_equal(c.last_change, at[n - 1]);
		if (h->enough) {
			assert_int_equal(c.late_after_ms, h->p95_gap_ms + h->margin_ms);
			assert_int_equal(c.expected_by, at[n - 1] + c.late_after_ms);
		} else {
			assert_int_equal(c.late_after_ms, 0);
			assert_int_equal(c.expected_by, 0);
		}
	}
}

/* The store hands times oldest first, but the order does not matter. */
static void test_any_order(void **state)
{
	const struct history *h = &histories[1];
	int64_t at[MAX_TIMES], rev[MAX_TIMES];
	size_t n = times_of(h, at);
	struct cadence a, b;

	for (size_t i = 0; i < n; i++)
		rev[i] = at[n - 1 - i];
	assert_int_equal(cadence_compute(at, n, denver, 0, &a), 0);
	assert_int_equal(cadence_compute(rev, n, denver, 0, &b), 0);
	assert_memory_equal(&a, &b, sizeof a);
}

/* Late only past expected_by, and never without enough history. */
static void test_late(void **state)
{
	int64_t at[MAX_TIMES];
	size_t n = times_of(&histories[0], at);
	struct cadence c;

	assert_int_equal(cadence_compute(at, n, denver, 6 * H, &c), 0);
	assert_false(cadence_late(&c, at[n - 1] + 30 * H));
	assert_true(cadence_late(&c, at[n - 1] + 30 * H + 1));
	assert_int_equal(cadence_compute(at, CADENCE_MIN_CHANGES - 1, denver, 0, &c), 0);
	assert_false(cadence_late(&c, at[n - 1] + 1000 * H));
}

/* Without a zone, gaps only. */
static void test_no_zone(void **state)
{
	int64_t at[MAX_TIMES];
	size_t n = times_of(&histories[0], at);
	struct cadence c;

	assert_int_equal(cadence_compute(at, n, NULL, 0, &c), 0);
	assert_int_equal(c.typical_minute, -1);
	assert_int_equal(c.typical_weekdays, 0);
	assert_int_equal(c.p95_gap_ms, 24 * H);
}

static void test_bad_arguments(void **state)
{
	static int64_t many[CADENCE_MAX_CHANGES + 1];
	struct cadence c;

	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = (int64_t)i * H;
	assert_int_equal(cadence_compute(many, ARRAY_SIZE(many), denver, 0, &c), -E2BIG);
	assert_int_equal(cadence_compute(many, 3, denver, -1, &c), -EINVAL);
	assert_int_equal(cadence_compute(many, CADENCE_MAX_CHANGES, denver, 0, &c), 0);
	assert_int_equal(c.median_gap_ms, H);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histories),
		cmocka_unit_test(test_any_order),
		cmocka_unit_test(test_late),
		cmocka_unit_test(test_no_zone),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
