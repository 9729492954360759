/*
 * execdate.h - exec dates ("YYYY-MM-DD", a calendar date in the configured
 * time zone) as day numbers, for backfill ranges and validation.  Pure.
 * The exec date of a fire time is tz_date() of it (cron.h).
 */
#ifndef DENVERD_EXECDATE_H
#define DENVERD_EXECDATE_H

#include <stdint.h>

/* Strict "YYYY-MM-DD" of a real calendar date, years 1970-9999, into days
 * since 1970-01-01.  0 or -EINVAL. */
int execdate_parse(const char *s, int64_t *day);

/* The date of day number DAY; out holds 11 bytes. */
void execdate_format(int64_t day, char out[11]);

#endif
