/*
 * cadence.c - a source's observed cadence from its change times (cadence.h
 * has the rules).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "domain/cadence.h"
#include "domain/tz.h"

#define MS_PER_S   1000
#define MIN_PER_D  1440

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The nearest-rank P-th percentile (0 < P <= 1) of the N sorted values V. */
static int64_t nearest_rank(const int64_t *v, size_t n, double p)
{
	size_t rank = (size_t)ceil(p * (double)n);
	if (rank < 1)
		rank = 1;
	return v[(rank > n ? n : rank) - 1];
}

/* Weekdays and the typical local time of the N times AT (ms) in TZ. */
static void local_times(const int64_t *at, size_t n, const struct tz *tz, struct cadence *c)
{
	double sx = 0, sy = 0;
	unsigned busiest = 0;

	c->typical_minute = -1;
	if (!tz || !n)
		return;
	for (size_t i = 0; i < n; i++) {
		struct civil cv;
		/* floor division: a time before 1970 keeps its second */
		int64_t s = at[i] >= 0 ? at[i] / MS_PER_S : -((-at[i] + MS_PER_S - 1) / MS_PER_S);
		tz_civil(tz, s, &cv);
		c->weekdays[cv.wday]++;
		double angle = 2 * M_PI * (double)(cv.hour * 60 + cv.minute) / MIN_PER_D;
		sx += cos(angle);
		sy += sin(angle);
	}
	for (int d = 0; d < 7; d++)
		busiest = c->weekdays[d] > busiest ? c->weekdays[d] : busiest;
	for (int d = 0; d < 7; d++)
		if (c->weekdays[d] && 2 * c->weekdays[d] >= busiest)
			c->typical_weekdays |= 1u << d;
	if (hypot(sx, sy) / (double)n < CADENCE_MIN_CONCENTRATION)
		return;
	double minute = atan2(sy, sx) * MIN_PER_D / (2 * M_PI);
	long m = lround(minute);
	c->typical_minute = (int)(((m % MIN_PER_D) + MIN_PER_D) % MIN_PER_D);
}

int cadence_compute(const int64_t *at_ms, size_t n, const struct tz *tz, int64_t margin_ms,
                    struct cadence *out)
{
	int64_t at[CADENCE_MAX_CHANGES], gaps[CADENCE_MAX_CHANGES];

	memset(out, 0, sizeof *out);
	out->typical_minute = -1;
	if (margin_ms < 0)
		return -EINVAL;
	if (!n)
		return 0;
	if (n > ARRAY_SIZE(at))
		return -E2BIG;
	memcpy(at, at_ms, n * sizeof *at);
	qsort(at, n, sizeof *at, cmp_i64);
	out->n_changes = n;
	out->first_change = at[0];
	out->last_change = at[n - 1];
	local_times(at, n, tz, out);
	out->enough = n >= CADENCE_MIN_CHANGES;
	if (!out->enough)
		return 0;
	for (size_t i = 1; i < n; i++)
		gaps[i - 1] = at[i] - at[i - 1];
	qsort(gaps, n - 1, sizeof *gaps, cmp_i64);
	out->median_gap_ms = nearest_rank(gaps, n - 1, 0.5);
	out->p95_gap_ms = nearest_rank(gaps, n - 1, 0.95);
	out->margin_ms = margin_ms;
	out->late_after_ms = out->p95_gap_ms + margin_ms;
	out->expected_by = out->last_change + out->late_after_ms;
	return 0;
}

bool cadence_late(const struct cadence *c, int64_t now_ms)
{
	return c->enough && now_ms > c->expected_by;
}
