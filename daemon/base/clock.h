/*
 * clock.h - the daemon's notion of "now".
 *
 * Test hook, documented in denverd(8): DENVERD_NOW=<ISO 8601 with offset, or
 * unix seconds> sets the wall clock at start; it then advances in real time.
 * Nothing else reads the wall clock, so catch-up and backfill can be tested
 * on a chosen day (a DST day, say) without touching the machine's clock.
 */
#ifndef DENVERD_CLOCK_H
#define DENVERD_CLOCK_H

#include <stdint.h>

/* Reads DENVERD_NOW.  Returns 0, or -EINVAL when it is set but unparsable. */
int clock_init(void);

int64_t clock_now_ms(void);     /* wall clock, unix milliseconds */
int64_t clock_mono_ms(void);    /* monotonic milliseconds, for durations */

/* "2026-03-08T02:30:00-07:00", "2026-03-08T09:30:00Z" or unix seconds. */
int clock_parse_iso(const char *s, int64_t *unix_ms);

#endif
