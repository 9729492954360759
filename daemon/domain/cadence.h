/*
 * cadence.h - a source's own rhythm, from the times it was seen to change
 * (store.h's source_changes): on which local weekdays and at what local
 * time it usually changes, the median and 95th-percentile gap between
 * consecutive changes, and from those when it counts as late.
 *
 * Pure: the caller hands in the times, the zone, the margin and "now";
 * nothing here reads a clock or the store.
 *
 * Rules, chosen to be explained in one line each to an operator:
 *   - Fewer than CADENCE_MIN_CHANGES changes say nothing ("not enough
 *     history"): no gaps, no late verdict.  Weekdays and the typical time
 *     are still counted, for what they are worth.
 *   - Gaps are between consecutive changes, in the order of their times.
 *     Percentiles are nearest-rank (the ceil(p*n)-th smallest gap), so each
 *     figure is a gap that really happened.
 *   - Weekdays are counted in the zone's local time; "typical" weekdays are
 *     those with at least half the changes of the busiest one.
 *   - The typical local time is the circular mean of the local minute of
 *     day, so 23:50 and 00:10 average to 00:00 rather than noon; when the
 *     times are spread round the clock (mean resultant length below
 *     CADENCE_MIN_CONCENTRATION) there is none.
 *   - late_after = p95 gap + margin; late once now > last change +
 *     late_after (expected_by).
 */
#ifndef DENVERD_CADENCE_H
#define DENVERD_CADENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tz;

#define CADENCE_MIN_CHANGES 5       /* below this: not enough history */
#define CADENCE_MAX_CHANGES 400     /* most times one computation takes */
#define CADENCE_MIN_CONCENTRATION 0.5

struct cadence {
	size_t n_changes;               /* changes used (at most CADENCE_MAX_CHANGES) */
	int64_t first_change, last_change;   /* unix ms; 0 when none */
	unsigned weekdays[7];           /* changes per local weekday, 0 = Sunday */
	unsigned typical_weekdays;      /* bit d: weekday d is typical */
	int typical_minute;             /* local minute of day 0-1439; -1 = none */
	bool enough;                    /* n_changes >= CADENCE_MIN_CHANGES */
	/* the rest is 0 unless enough */
	int64_t median_gap_ms, p95_gap_ms;
	int64_t margin_ms;              /* as given */
	int64_t late_after_ms;          /* p95_gap_ms + margin_ms */
	int64_t expected_by;            /* last_change + late_after_ms */
};

/*
 * The cadence of the N change times AT_MS (unix ms, any order, at most
 * CADENCE_MAX_CHANGES: the store's read is capped the same) in zone TZ
 * (NULL: no weekdays and no typical time), with MARGIN_MS (>= 0) added to
 * the p95 gap.  Fills *OUT; 0, -EINVAL for a negative margin, -E2BIG for
 * too many times.  Allocates nothing (two arrays of the cap on the stack).
 */
int cadence_compute(const int64_t *at_ms, size_t n, const struct tz *tz, int64_t margin_ms,
                    struct cadence *out);

/* Whether C says its source is late at NOW_MS (unix ms): it has enough
 * history and NOW_MS is past expected_by. */
bool cadence_late(const struct cadence *c, int64_t now_ms);

#endif
