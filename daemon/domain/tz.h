/*
 * tz.h - IANA time zones read straight from their TZif files (RFC 8536),
 * without the TZ environment variable or any global state: a loaded zone is
 * immutable, so one struct tz may be shared by any number of threads.
 *
 * Zones come from $TZDIR when set, else /usr/share/zoneinfo.  Version 2+
 * files only (every tzdata of the last 15 years); times after the last
 * transition of the table follow the POSIX TZ footer rule, so "slim" files
 * (transitions only until 2007, rules after) and "fat" ones (a table until
 * 2037) give the same answers.  Leap-second ("right/") zones are refused.
 *
 * Unix times are clamped to +-2^40 s (about 34,000 years around 1970).
 */
#ifndef DENVERD_TZ_H
#define DENVERD_TZ_H

#include <stdint.h>

struct tz;

/*
 * Load zone NAME ("America/Denver", "UTC").  NAME must be a relative path of
 * [A-Za-z0-9_+-] components ("..", ".", empty components and a leading "/"
 * are refused, so it cannot leave the zoneinfo directory).  On success *out
 * is a new zone (free with tz_free).  -EINVAL for a bad name or a file that
 * is not a usable TZif v2+ file, -ENOENT when there is no such zone, -ENOMEM.
 */
int tz_load(const char *name, struct tz **out);
void tz_free(struct tz *tz);                 /* accepts NULL */

/* The name the zone was loaded under. */
const char *tz_name(const struct tz *tz);

/* Civil time of unix seconds T in TZ. */
struct civil {
	int year, month, day;      /* 1-based month and day */
	int hour, minute, second;
	int wday;                  /* 0 = Sunday */
	int utc_offset;            /* seconds east of UTC */
};
void tz_civil(const struct tz *tz, int64_t t, struct civil *out);

/* Civil fields of a wall time given as "local unix seconds" (unix time +
 * offset), no zone involved; utc_offset is set to 0. */
void tz_civil_wall(int64_t wall, struct civil *out);

/* "YYYY-MM-DD" of unix seconds T in TZ; out must hold 11 bytes. */
void tz_date(const struct tz *tz, int64_t t, char out[11]);

/* Seconds east of UTC in effect at unix seconds T. */
int32_t tz_offset(const struct tz *tz, int64_t t);

/*
 * The stretch of time [start, end) around T during which one UTC offset
 * holds.  START is the transition that began it (INT64_MIN before the
 * first one) and PREV_UTOFF the offset just before it (a spring-forward
 * start has prev_utoff < utoff: the wall times in between never happen; a
 * fall-back start has prev_utoff > utoff: they happen twice).  END is the
 * next change of offset, INT64_MAX when there is none.
 */
struct tz_span {
	int64_t start, end;
	int32_t utoff, prev_utoff;
};
void tz_span(const struct tz *tz, int64_t t, struct tz_span *out);

/* Proleptic Gregorian calendar arithmetic (days since 1970-01-01). */
int64_t tz_days_from_civil(int64_t year, int month, int day);
void tz_civil_from_days(int64_t days, int *year, int *month, int *day);
int tz_days_in_month(int64_t year, int month);

#endif
