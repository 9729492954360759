/*
 * cron.c - cron expressions: parsing into bit sets, and the next/previous
 * fire time in a zone.
 *
 * Fire times are found per span of constant UTC offset (tz_span): inside a
 * span, wall time = unix time + offset, so the search is a search over wall
 * minutes that skips whole months, days and hours that cannot match.  The
 * DST rules of cron.h only concern the edges of spans: the wall minutes a
 * spring-forward edge skips fire at the edge itself, and the wall minutes a
 * fall-back edge repeats are not searched a second time.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "domain/cron.h"

#define YEAR_S (366 * 86400LL)
#define HORIZON (5 * YEAR_S)
#define T_LIMIT ((int64_t)1 << 40)

/* ---- parsing --------------------------------------------------------------- */

enum problem { P_RANGE, P_VALUE, P_ORDER, P_STEP, P_EMPTY, P_TEXT, P_COUNT };

/* Static messages, one per field and problem, so the caller can keep them. */
#define FIELD_MESSAGES(f, range, value, step) {               \
	f ": value out of range " range,                      \
	f ": expected " value,                                \
	f ": range start is after its end",                   \
	f ": step must be a number from 1 to " step,          \
	f ": empty list item",                                \
	f ": unexpected text after a value" }

struct field {
	const char *name;
	int lo, hi;
	const char *const *names;        /* 3-letter names of lo.., or NULL */
	const char *msg[P_COUNT];
};

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL,
};
static const char *const day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL,
};

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, F_COUNT };

static const struct field fields[F_COUNT] = {
	{ "minute", 0, 59, NULL,
	  FIELD_MESSAGES("minute", "0-59", "a number", "59") },
	{ "hour", 0, 23, NULL,
	  FIELD_MESSAGES("hour", "0-23", "a number", "23") },
	{ "day-of-month", 1, 31, NULL,
	  FIELD_MESSAGES("day-of-month", "1-31", "a number", "31") },
	{ "month", 1, 12, month_names,
	  FIELD_MESSAGES("month", "1-12", "a number or a month name (jan-dec)", "12") },
	{ "day-of-week", 0, 7, day_names,
	  FIELD_MESSAGES("day-of-week", "0-7", "a number or a day name (sun-sat)", "7") },
};

static const struct {
	const char *name, *expr;
} shortcuts[] = {
	{ "@yearly", "0 0 1 1 *" },   { "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },  { "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* A number or (for months and weekdays) a name, in [f->lo, f->hi]. */
static enum problem parse_value(const struct field *f, const char **s, const char *end, int *v)
{
	const char *p = *s;

	if (p < end && is_digit(*p)) {
		long x = 0;
		while (p < end && is_digit(*p)) {
			if (x < 1000)
				x = x * 10 + (*p - '0');
			p++;
		}
		if (x < f->lo || x > f->hi)
			return P_RANGE;
		*v = (int)x;
	} else {
		while (p < end && is_alpha(*p))
			p++;
		int i = 0;
		if (f->names && p - *s == 3)
			for (; f->names[i]; i++)
				if (strncasecmp(*s, f->names[i], 3) == 0)
					break;
		if (!f->names || p - *s != 3 || !f->names[i])
			return P_VALUE;
		*v = f->lo + i;
	}
	*s = p;
	return P_COUNT;
}

static enum problem parse_step(const struct field *f, const char **s, const char *end, int *step)
{
	const char *p = *s;
	long x = 0;

	if (p >= end || !is_digit(*p))
		return P_STEP;
	while (p < end && is_digit(*p)) {
		if (x < 1000)
			x = x * 10 + (*p - '0');
		p++;
	}
	if (x < 1 || x > f->hi)
		return P_STEP;
	*step = (int)x;
	*s = p;
	return P_COUNT;
}

/* One comma-separated field [s, end) into the bit set *bits. */
static enum problem parse_field(const struct field *f, const char *s, const char *end,
                                uint64_t *bits)
{
	enum problem pr;

	*bits = 0;
	for (;;) {
		int a, b, step = 1;
		if (s == end || *s == ',')
			return P_EMPTY;
		if (*s == '*') {
			s++;
			a = f->lo;
			b = f->hi;
		} else {
			if ((pr = parse_value(f, &s, end, &a)) != P_COUNT)
				return pr;
			b = a;
			if (s < end && *s == '-') {
				s++;
				if ((pr = parse_value(f, &s, end, &b)) != P_COUNT)
					return pr;
				if (a > b)
					return P_ORDER;
			} else if (s < end && *s == '/') {
				b = f->hi;          /* "N/STEP": from N to the maximum */
			}
		}
		if (s < end && *s == '/') {
			s++;
			if ((pr = parse_step(f, &s, end, &step)) != P_COUNT)
				return pr;
		}
		for (int v = a; v <= b; v += step)
			*bits |= 1ULL << v;
		if (s == end)
			return P_COUNT;
		if (*s != ',')
			return P_TEXT;
		s++;
	}
}

/* Is there a selected day-of-month that some selected month has?  Only
 * asked when the day fields combine with AND (one of them starts with *). */
static bool days_possible(const struct cron *c)
{
	for (int m = 1; m <= 12; m++) {
		if (!(c->months & (1u << m)))
			continue;
		int dim = m == 2 ? 29 : tz_days_in_month(2001, m);
		if (c->mdays & ((2ULL << dim) - 2))
			return true;
	}
	return false;
}

int cron_parse(const char *expr, struct cron *out, const char **err)
{
	const char *s = expr, *fs[F_COUNT], *fe[F_COUNT];
	int nf = 0;

	memset(out, 0, sizeof *out);
	*err = NULL;
	if (!s || strnlen(s, CRON_EXPR_MAX + 1) > CRON_EXPR_MAX) {
		*err = s ? "schedule is too long (256 characters at most)" : "empty schedule";
		return -EINVAL;
	}
	while (is_blank(*s))
		s++;
	if (*s == '@') {
		size_t len = 0;
		while (s[len] && !is_blank(s[len]))
			len++;
		const char *rest = s + len;
		while (is_blank(*rest))
			rest++;
		for (size_t i = 0; *rest == '\0' && i < sizeof shortcuts / sizeof shortcuts[0]; i++)
			if (strlen(shortcuts[i].name) == len && strncasecmp(s, shortcuts[i].name, len) == 0)
				return cron_parse(shortcuts[i].expr, out, err);
		*err = "unknown shortcut (use @yearly, @annually, @monthly, @weekly, "
		       "@daily, @midnight or @hourly)";
		return -EINVAL;
	}
	while (*s) {
		if (nf == F_COUNT) {
			*err = "expected 5 fields (minute hour day-of-month month day-of-week), "
			       "found more";
			return -EINVAL;
		}
		fs[nf] = s;
		while (*s && !is_blank(*s))
			s++;
		fe[nf++] = s;
		while (is_blank(*s))
			s++;
	}
	if (nf == 0) {
		*err = "empty schedule";
		return -EINVAL;
	}
	if (nf < F_COUNT) {
		*err = "expected 5 fields (minute hour day-of-month month day-of-week), "
		       "found fewer";
		return -EINVAL;
	}

	uint64_t bits[F_COUNT];
	for (int i = 0; i < F_COUNT; i++) {
		enum problem pr = parse_field(&fields[i], fs[i], fe[i], &bits[i]);
		if (pr != P_COUNT) {
			*err = fields[i].msg[pr];
			return -EINVAL;
		}
	}
	out->minutes = bits[F_MINUTE];
	out->hours = (uint32_t)bits[F_HOUR];
	out->mdays = (uint32_t)bits[F_MDAY];
	out->months = (uint16_t)bits[F_MONTH];
	out->wdays = (uint8_t)((bits[F_WDAY] | bits[F_WDAY] >> 7) & 0x7f);  /* 7 = Sunday */
	out->mday_star = *fs[F_MDAY] == '*';
	out->wday_star = *fs[F_WDAY] == '*';
	if ((out->mday_star || out->wday_star) && !days_possible(out)) {
		*err = "day-of-month: the selected days never occur in the selected months";
		memset(out, 0, sizeof *out);
		return -EINVAL;
	}
	return 0;
}

/* ---- evaluation ------------------------------------------------------------ */

/* Smallest set bit >= FROM, or -1. */
static int next_bit(uint64_t mask, int from)
{
	if (from > 63)
		return -1;
	mask >>= from;
	return mask ? from + __builtin_ctzll(mask) : -1;
}

/* Largest set bit <= FROM, or -1. */
static int prev_bit(uint64_t mask, int from)
{
	if (from < 0)
		return -1;
	if (from < 63)
		mask &= (2ULL << from) - 1;
	return mask ? 63 - __builtin_clzll(mask) : -1;
}

/* W rounded down to a whole minute (W may be negative). */
static int64_t minute_floor(int64_t w)
{
	return w - ((w % 60) + 60) % 60;
}

static bool day_matches(const struct cron *c, int mday, int wday)
{
	bool dm = c->mdays >> mday & 1, wm = c->wdays >> wday & 1;
	return (c->mday_star || c->wday_star) ? dm && wm : dm || wm;
}

/* The first selected wall minute in [lo, hi), skipping months, days and
 * hours that cannot match.  Returns false when there is none. */
static bool wall_next(const struct cron *c, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t w = minute_floor(lo + 59);
	struct civil x;

	while (w < hi) {
		tz_civil_wall(w, &x);
		int64_t day0 = w - x.hour * 3600 - x.minute * 60 - x.second;
		if (!(c->months >> x.month & 1)) {
			int y = x.month == 12 ? x.year + 1 : x.year;
			w = tz_days_from_civil(y, x.month % 12 + 1, 1) * 86400;
			continue;
		}
		if (!day_matches(c, x.day, x.wday)) {
			w = day0 + 86400;
			continue;
		}
		int h = next_bit(c->hours, x.hour);
		if (h < 0) {
			w = day0 + 86400;
			continue;
		}
		if (h > x.hour) {
			w = day0 + h * 3600;
			continue;
		}
		int mi = next_bit(c->minutes, x.minute);
		if (mi < 0) {
			w = day0 + (h + 1) * 3600;
			continue;
		}
		w = day0 + h * 3600 + mi * 60;
		if (w < hi) {
			*out = w;
			return true;
		}
	}
	return false;
}

/* The last selected wall minute in [lo, hi]; the mirror of wall_next. */
static bool wall_prev(const struct cron *c, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t w = minute_floor(hi);
	struct civil x;

	while (w >= lo) {
		tz_civil_wall(w, &x);
		int64_t day0 = w - x.hour * 3600 - x.minute * 60 - x.second;
		if (!(c->months >> x.month & 1)) {
			w = tz_days_from_civil(x.year, x.month, 1) * 86400 - 60;
			continue;
		}
		if (!day_matches(c, x.day, x.wday)) {
			w = day0 - 60;
			continue;
		}
		int h = prev_bit(c->hours, x.hour);
		if (h < 0) {
			w = day0 - 60;
			continue;
		}
		if (h < x.hour) {
			w = day0 + h * 3600 + 59 * 60;
			continue;
		}
		int mi = prev_bit(c->minutes, x.minute);
		if (mi < 0) {
			w = day0 + h * 3600 - 60;
			continue;
		}
		w = day0 + h * 3600 + mi * 60;
		if (w >= lo) {
			*out = w;
			return true;
		}
	}
	return false;
}

/* Wall times a spring-forward edge at S.start skips: [start+prev, start+off). */
static bool gap_fires(const struct cron *c, const struct tz_span *s)
{
	int64_t w;
	return s->start != INT64_MIN && s->utoff > s->prev_utoff &&
	       wall_next(c, s->start + s->prev_utoff, s->start + s->utoff, &w);
}

/* First wall time of span S that is not a repeat of the span before. */
static int64_t span_wall_lo(const struct tz_span *s, int64_t floor_t)
{
	int64_t from = s->start < floor_t ? floor_t : s->start;
	int64_t lo = from + s->utoff;
	if (s->start >= floor_t && s->utoff < s->prev_utoff)
		lo = s->start + s->prev_utoff;
	return lo;
}

int cron_next(const struct cron *c, const struct tz *tz, int64_t after, int64_t *next)
{
	if (after < -T_LIMIT || after > T_LIMIT)
		return -ERANGE;
	int64_t limit = after + HORIZON;
	int64_t t = after + 1;
	struct tz_span s;

	while (t <= limit) {
		tz_span(tz, t, &s);
		if (t == s.start && gap_fires(c, &s)) {
			*next = t;
			return 0;
		}
		int64_t lo = t + s.utoff;
		/* Repeated wall times fired at their first occurrence. */
		if (s.start != INT64_MIN && s.utoff < s.prev_utoff &&
		    lo < s.start + s.prev_utoff)
			lo = s.start + s.prev_utoff;
		int64_t end = s.end <= limit ? s.end : limit + 1;
		int64_t w;
		if (wall_next(c, lo, end + s.utoff, &w)) {
			*next = w - s.utoff;
			return 0;
		}
		t = end;
	}
	return -ERANGE;
}

int cron_prev(const struct cron *c, const struct tz *tz, int64_t before, int64_t *prev)
{
	if (before < -T_LIMIT || before > T_LIMIT)
		return -ERANGE;
	int64_t limit = before - HORIZON;
	int64_t t = before;
	struct tz_span s;

	while (t >= limit) {
		tz_span(tz, t, &s);
		int64_t w;
		if (wall_prev(c, span_wall_lo(&s, limit), t + s.utoff, &w)) {
			*prev = w - s.utoff;
			return 0;
		}
		if (s.start < limit)
			break;
		if (gap_fires(c, &s)) {
			*prev = s.start;
			return 0;
		}
		t = s.start - 1;
	}
	return -ERANGE;
}
