/*
 * cron.h - 5-field cron schedules evaluated in an IANA time zone.  Pure: no
 * global state, no TZ environment variable; zones are read from the TZif
 * files under $TZDIR or /usr/share/zoneinfo by tz_load() (tz.h).
 *
 * A schedule selects wall-clock minutes in the zone.  Each selected minute
 * fires once, at one instant (documented in denverd.yaml(5)):
 *  - a local time that occurs once fires then;
 *  - a local time that does not exist (spring forward) fires once, at the
 *    first valid minute after the gap (02:30 on 2026-03-08 in Denver fires
 *    at 03:00 MDT; several minutes of one gap share that one fire);
 *  - a local time that occurs twice (fall back) fires once, at its first
 *    occurrence (01:30 MDT on 2026-11-01, not again at 01:30 MST).  This
 *    holds for every schedule: "0 * * * *" fires at 01:00 MDT and next at
 *    02:00 MST on that day.
 *
 * Day fields follow Vixie cron: when both day-of-month and day-of-week are
 * restricted (neither field starts with "*"), a day matches if EITHER
 * matches; otherwise both must ("*" and "*" + step count as unrestricted).
 */
#ifndef DENVERD_CRON_H
#define DENVERD_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/tz.h"

struct cron {
	uint64_t minutes;          /* bit i = minute i (0-59) */
	uint32_t hours;            /* 0-23 */
	uint32_t mdays;            /* bit d = day d (1-31) */
	uint16_t months;           /* bit m = month m (1-12) */
	uint8_t wdays;             /* bit w = weekday w (0-6, 0 = Sunday) */
	bool mday_star, wday_star; /* for the Vixie OR rule of day fields */
};

#define CRON_EXPR_MAX 256          /* longest expression cron_parse accepts */

/*
 * Parse a 5-field expression "minute hour day-of-month month day-of-week"
 * separated by blanks: each field a comma list of "*", "N", "N-M", each
 * optionally "/STEP" ("N/STEP" means N to the field's maximum).  Months
 * take jan-dec, weekdays sun-sat (any case); weekday 7 is Sunday.  Or one
 * of @yearly @annually @monthly @weekly @daily @midnight @hourly.
 * Returns 0, or -EINVAL with *err pointing to a static message naming the
 * field and the problem ("minute: value out of range 0-59").  A schedule
 * whose days never occur ("0 0 30 2 *") is refused as well.
 */
int cron_parse(const char *expr, struct cron *out, const char **err);

/* The first fire time strictly after unix seconds AFTER, in TZ, following
 * the DST rules above.  Returns 0, or -ERANGE if none within 5 years. */
int cron_next(const struct cron *c, const struct tz *tz, int64_t after, int64_t *next);

/* The last fire time at or before unix seconds BEFORE (the latest missed
 * fire, for catch-up).  Returns 0, or -ERANGE if none within 5 years. */
int cron_prev(const struct cron *c, const struct tz *tz, int64_t before, int64_t *prev);

#endif
