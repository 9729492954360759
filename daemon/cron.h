/*
 * cron.h - 5-field cron schedules evaluated in an IANA time zone.  Pure: no
 * global state, no TZ environment variable; zones are read from the TZif
 * files under $TZDIR or /usr/share/zoneinfo by tz_load().
 *
 * DST rules (documented in denverd.yaml(5)):
 *  - a local time that does not exist (spring forward) fires once, at the
 *    first valid minute after the gap (02:30 on 2026-03-08 in Denver fires
 *    at 03:00 MDT);
 *  - a local time that occurs twice (fall back) fires once, at its first
 *    occurrence (01:30 MDT on 2026-11-01, not again at 01:30 MST).
 */
#ifndef DENVERD_CRON_H
#define DENVERD_CRON_H

#include <stdbool.h>
#include <stdint.h>

struct tz;

/* Load zone NAME ("America/Denver", "UTC").  0 or -ENOENT / -EINVAL. */
int tz_load(const char *name, struct tz **out);
void tz_free(struct tz *tz);                 /* accepts NULL */

/* Civil time of unix seconds T in TZ. */
struct civil {
	int year, month, day;      /* 1-based month and day */
	int hour, minute, second;
	int wday;                  /* 0 = Sunday */
	int utc_offset;            /* seconds east of UTC */
};
void tz_civil(const struct tz *tz, int64_t t, struct civil *out);

/* "YYYY-MM-DD" of unix seconds T in TZ; out must hold 11 bytes. */
void tz_date(const struct tz *tz, int64_t t, char out[11]);

struct cron {
	uint64_t minutes;          /* bit i = minute i (0-59) */
	uint32_t hours;            /* 0-23 */
	uint32_t mdays;            /* bit d = day d (1-31) */
	uint16_t months;           /* bit m = month m (1-12) */
	uint8_t wdays;             /* bit w = weekday w (0-6, 0 = Sunday) */
	bool mday_star, wday_star; /* for the Vixie OR rule of day fields */
};

/*
 * Parse a 5-field expression (lists, ranges, steps, month and day names,
 * @yearly @monthly @weekly @daily @midnight @hourly).  Returns 0, or -EINVAL
 * with *err pointing to a static message ("minute: 75 is out of range 0-59").
 */
int cron_parse(const char *expr, struct cron *out, const char **err);

/* The first fire time strictly after unix seconds AFTER, in TZ, following
 * the DST rules above.  Returns 0, or -ERANGE if none within 5 years. */
int cron_next(const struct cron *c, const struct tz *tz, int64_t after, int64_t *next);

#endif
