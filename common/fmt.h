/*
 * fmt.h - how denverd and denverctl print durations, sizes and shares: one
 * style everywhere, so the same value reads the same in a config error, a
 * job's timeout, an alert, a check's detail and `denverctl status`.
 * Compiled into both programs.
 *
 * Durations: the largest unit and at most one more, truncated, no spaces,
 * in the units the configuration accepts: 0 -> "0s", 250 ms -> "250ms",
 * 1.5 s -> "1s500ms", 90 s -> "1m30s", 24 h -> "1d", 36 h -> "1d12h",
 * 26 h 1 m 5 s -> "1d2h".  A value of a single unit ("1d", "90m" reads
 * "1h30m") is exactly what the configuration would accept back.
 *
 * Sizes: the largest binary unit that divides the value exactly
 * ("64MiB", "1536KiB"), bytes otherwise ("1000").
 *
 * Shares (a fraction, 0..1 for a share of rows) as a percentage with three
 * significant digits: 0 -> "0%", 0.000239 -> "0.0239%", 0.1131 -> "11.3%",
 * 1 -> "100%".
 *
 * Spans: the duration between two instants of one clock (unix ms from the
 * daemon and now, say), in the duration style; "0s" when the second is not
 * after the first (clocks that disagree, a timestamp from the future).  Any
 * two int64_t values are fine: the difference cannot overflow.
 *
 * All write a NUL-terminated string into BUF (truncated to N bytes) and
 * return BUF.  FMT_DURATION_MAX holds any uint64_t duration (and so any
 * span), FMT_PERCENT_MAX any double.
 */
#ifndef DENVERD_COMMON_FMT_H
#define DENVERD_COMMON_FMT_H

#include <stddef.h>
#include <stdint.h>

#define FMT_DURATION_MAX 32
#define FMT_SIZE_MAX 32
#define FMT_PERCENT_MAX 32

char *fmt_duration(char *buf, size_t n, uint64_t ms);
char *fmt_size(char *buf, size_t n, uint64_t bytes);
char *fmt_percent(char *buf, size_t n, double frac);
char *fmt_span(char *buf, size_t n, int64_t from_ms, int64_t to_ms);
/* The N bytes at P as 2N lowercase hex digits and a NUL into OUT (2N+1
 * bytes, the caller's); returns OUT.  Digests: SHA-256, MD5, XXH3. */
char *fmt_hex(const void *p, size_t n, char *out);

/* For arguments: fmt_duration(FMT_DURATION_BUF, ms) in a printf call. */
#define FMT_DURATION_BUF (char[FMT_DURATION_MAX]){ 0 }, FMT_DURATION_MAX
#define FMT_SIZE_BUF (char[FMT_SIZE_MAX]){ 0 }, FMT_SIZE_MAX

#endif
