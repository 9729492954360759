/*
 * backoff.h - retry delays: exponential backoff with full jitter.
 *
 * The delay before retry n (n = 0 for the first retry) is drawn uniformly
 * from [0, min(max_delay, delay * 2^n)] ("full jitter"): retries of many
 * tasks that failed together (a server outage) spread over the whole window
 * instead of arriving in waves.  Pure apart from backoff_random().
 */
#ifndef DENVERD_BACKOFF_H
#define DENVERD_BACKOFF_H

#include <stdint.h>

#include "domain/config_types.h"

/* Hard cap on any delay, whatever the configuration or a server's
 * Retry-After asks: one day. */
#define BACKOFF_CEILING_MS (24ull * 3600 * 1000)

/* min(max_delay, delay * 2^n), saturating, never above BACKOFF_CEILING_MS. */
uint64_t backoff_cap(const struct cfg_retry *r, unsigned n);

/* The delay for retry n given RND, a uniformly random 64-bit value:
 * an integer in [0, backoff_cap(r, n)]. */
uint64_t backoff_delay(const struct cfg_retry *r, unsigned n, uint64_t rnd);

/* The delay actually used: the jittered backoff, or the server's
 * RETRY_AFTER_MS when that is longer (honoured up to the ceiling). */
uint64_t backoff_wait(const struct cfg_retry *r, unsigned n, uint64_t rnd,
                      uint64_t retry_after_ms);

/* A uniformly random 64-bit value (getrandom-seeded generator; not for
 * secrets). */
uint64_t backoff_random(void);

#endif
