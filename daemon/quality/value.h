/*
 * value.h - typing of CSV values for the checks: trimming, numbers, and the
 * strptime-style timestamp formats of CONTRACTS.md section 1, without
 * strptime (no locale, no time zone, no copy of the value).
 *
 * Every function reads (p, len) that need not be NUL-terminated, never
 * allocates and never logs.
 */
#ifndef DENVERD_VALUE_H
#define DENVERD_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Strip ASCII blanks (space, tab, CR, LF, VT, FF) from both ends. */
void value_trim_slow(const char **p, size_t *len);

static inline void value_trim(const char **p, size_t *len)
{
	/* Most values are not padded: two compares and out. */
	if (*len && (unsigned char)(*p)[0] > ' ' && (unsigned char)(*p)[*len - 1] > ' ')
		return;
	value_trim_slow(p, len);
}

/* A decimal number: [+-]digits[.digits][(e|E)[+-]digits] (also ".5", "5.").
 * No hex, inf or nan.  Exact for up to 15 significant digits; longer ones go
 * through strtod.  Returns false when the text is not such a number. */
bool value_double(const char *p, size_t len, double *out);

/* An integer, also written as an integral float ("20148031043.0", as in the
 * 2014 file).  False when not integral or out of int64 range. */
bool value_int(const char *p, size_t len, int64_t *out);

/* y/t/true/yes/1 and n/f/false/no/0, case-insensitive. */
bool value_bool(const char *p, size_t len, bool *out);

#define TSFMT_MAX_OPS 32

/* A compiled format: %Y (4 digits) %m %d %H %I (1 or 2 digits) %M %S
 * (2 digits) %p (AM/PM, any case) %f (1-9 digits of fraction) %z (a UTC
 * offset: Z, +HH:MM, -HHMM; checked, not applied: the time is the
 * wall-clock time written, like every other format's, which the checks
 * read in the configured time zone) %% and literal bytes. */
struct tsfmt {
	uint8_t n;
	uint8_t op[TSFMT_MAX_OPS];      /* a conversion letter, or 0: literal */
	char lit[TSFMT_MAX_OPS];
	bool has_date, has_time;
	/* For a quick no (tsfmt_match): the lengths a match can have, and the
	 * first literal byte when everything before it has a fixed width
	 * (the '-' of "%Y-%m-%d" at 4), lead_at < 0 when there is none. */
	uint16_t min_len, max_len;
	int8_t lead_at;
	char lead;
	uint8_t shape;                  /* 0, or a shape value.c parses straight */
};

/* Compile TEXT.  Returns 0, or -EINVAL for an unknown conversion, a format
 * with no %Y/%m/%d, or one longer than TSFMT_MAX_OPS items. */
int tsfmt_compile(const char *text, struct tsfmt *out);

/* tsfmt_match() past its quick no. */
bool tsfmt_parse(const struct tsfmt *f, const char *p, size_t len, int64_t *secs);

/* Match the whole of (p, len).  On success *SECS is seconds since
 * 1970-01-01 00:00 of the civil (wall clock) time written, with no time
 * zone applied, and the fraction (%f) is dropped.  Inline for the quick
 * no: a column tries its earlier formats on every value (dq_rows.c), and
 * most of those tries fail on the length or the first literal. */
static inline bool tsfmt_match(const struct tsfmt *f, const char *p, size_t len, int64_t *secs)
{
	if (len < f->min_len || len > f->max_len ||
	    (f->lead_at >= 0 && p[f->lead_at] != f->lead))
		return false;
	return tsfmt_parse(f, p, len, secs);
}

#endif
