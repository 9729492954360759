/*
 * value.c - typing of CSV values (see value.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "domain/tz.h"
#include "quality/value.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

void value_trim_slow(const char **p, size_t *len)
{
	const char *s = *p;
	size_t n = *len;
	while (n && is_blank(*s)) {
		s++;
		n--;
	}
	while (n && is_blank(s[n - 1]))
		n--;
	*p = s;
	*len = n;
}

static bool is_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

/* Powers of ten exactly representable as doubles. */
static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* value_double past its fast path: strtod on a NUL-terminated copy. */
static __attribute__((noinline)) bool value_double_slow(const char *p, size_t len, double *out)
{
	char buf[128];
	double v;
	if (len >= sizeof buf)
		return false;
	memcpy(buf, p, len);
	buf[len] = 0;
	v = strtod(buf, NULL);
	if (!isfinite(v))
		return false;
	*out = v;
	return true;
}

bool value_double(const char *p, size_t len, double *out)
{
	const char *s = p, *e = p + len, *d0;
	bool neg = false;
	uint64_t mant = 0;
	size_t digits = 0;          /* significant digits read into mant */
	long exp = 0;

	if (s < e && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	d0 = s;
	while (s < e && *s == '0')
		s++;                    /* leading zeros are not significant */
	for (; s < e && is_digit(*s); s++, digits++)
		mant = mant * 10 + (uint64_t)(*s - '0');
	if (s < e && *s == '.') {
		const char *f = ++s;
		if (!mant)
			while (s < e && *s == '0')
				s++;
		for (; s < e && is_digit(*s); s++, digits++)
			mant = mant * 10 + (uint64_t)(*s - '0');
		exp = -(long)(s - f);
		if (s == f && f - 1 == d0)
			return false;       /* "." alone */
	} else if (s == d0) {
		return false;           /* no digit */
	}
	if (s < e && (*s == 'e' || *s == 'E')) {
		bool eneg = false;
		long x = 0;
		const char *x0;
		if (++s < e && (*s == '+' || *s == '-'))
			eneg = *s++ == '-';
		for (x0 = s; s < e && is_digit(*s); s++)
			if (x < 100000)
				x = x * 10 + (*s - '0');
		if (s == x0)
			return false;
		exp += eneg ? -x : x;
	}
	if (s != e)
		return false;
	if (digits <= 15 && exp >= -22 && exp <= 22) {
		/* Clinger's fast path: both operands exact, one rounding. */
		double v = (double)mant;
		v = exp < 0 ? v / pow10_exact[-exp] : v * pow10_exact[exp];
		*out = neg ? -v : v;
		return true;
	}
	if (!mant && digits == 0) {
		*out = neg ? -0.0 : 0.0;
		return true;
	}
	return value_double_slow(p, len, out);
}

bool value_int(const char *p, size_t len, int64_t *out)
{
	const char *s = p, *e = p + len;
	bool neg = false;
	uint64_t v = 0;

	if (s < e && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	if (s == e || !is_digit(*s))
		return false;
	for (; s < e && is_digit(*s); s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s < e && *s == '.') {
		for (s++; s < e && *s == '0'; s++)
			;
	}
	if (s != e)
		return false;
	if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

bool value_bool(const char *p, size_t len, bool *out)
{
	static const struct { const char *s; bool v; } words[] = {
		{ "y", true }, { "yes", true }, { "true", true }, { "t", true }, { "1", true },
		{ "n", false }, { "no", false }, { "false", false }, { "f", false }, { "0", false },
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (strlen(words[i].s) == len && strncasecmp(words[i].s, p, len) == 0) {
			*out = words[i].v;
			return true;
		}
	}
	return false;
}

/* The widths each item may match: as tsfmt_parse reads them. */
static void tsfmt_bounds(struct tsfmt *f)
{
	unsigned lo = 0, hi = 0;
	f->lead_at = -1;
	for (unsigned i = 0; i < f->n; i++) {
		unsigned a, b;
		switch (f->op[i]) {
		case 0:   a = b = 1; break;
		case 'Y': a = b = 4; break;
		case 'M': case 'S': case 'p': a = b = 2; break;
		case 'f': a = 1; b = 9; break;
		case 'z': a = 1; b = 6; break;          /* Z .. +HH:MM */
		default:  a = 1; b = 2; break;          /* m d H I */
		}
		if (!f->op[i] && f->lead_at < 0 && lo == hi) {
			f->lead_at = (int8_t)lo;
			f->lead = f->lit[i];
		}
		lo += a;
		hi += b;
	}
	f->min_len = (uint16_t)lo;
	f->max_len = (uint16_t)hi;
}

static void tsfmt_shape(struct tsfmt *f);

int tsfmt_compile(const char *text, struct tsfmt *out)
{
	bool y = false, mo = false, d = false;
	memset(out, 0, sizeof *out);
	for (const char *s = text; *s; s++) {
		uint8_t op = 0;
		char lit = *s;
		if (*s == '%') {
			s++;
			switch (*s) {
			case 'Y': y = true; op = 'Y'; break;
			case 'm': mo = true; op = 'm'; break;
			case 'd': d = true; op = 'd'; break;
			case 'H': case 'I': case 'M': case 'S': case 'p': case 'f': case 'z':
				out->has_time = true;
				op = (uint8_t)*s;
				break;
			case '%': lit = '%'; break;
			default: return -EINVAL;
			}
		}
		if (out->n == TSFMT_MAX_OPS)
			return -EINVAL;
		out->op[out->n] = op;
		out->lit[out->n] = op ? 0 : lit;
		out->n++;
	}
	if (!y || !mo || !d)
		return -EINVAL;
	out->has_date = true;
	tsfmt_bounds(out);
	tsfmt_shape(out);
	return 0;
}

/* Read between MIN and MAX digits at *S (before E); false if fewer. */
static bool digits(const char **s, const char *e, int min, int max, unsigned *v)
{
	const char *p = *s;
	unsigned n = 0;
	int k = 0;
	while (k < max && p < e && is_digit(*p)) {
		n = n * 10 + (unsigned)(*p++ - '0');
		k++;
	}
	if (k < min)
		return false;
	*s = p;
	*v = n;
	return true;
}

/* digits(S, E, 1, 2, V) and digits(S, E, 2, 2, V), straight-line: most
 * conversions of a timestamp are one of these. */
static inline bool digits12(const char **s, const char *e, unsigned *v)
{
	const char *p = *s;
	if (p >= e || !is_digit(p[0]))
		return false;
	if (p + 1 < e && is_digit(p[1])) {
		*v = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
		*s = p + 2;
	} else {
		*v = (unsigned)(p[0] - '0');
		*s = p + 1;
	}
	return true;
}

static inline bool digits2(const char **s, const char *e, unsigned *v)
{
	const char *p = *s;
	if (e - p < 2 || !is_digit(p[0]) || !is_digit(p[1]))
		return false;
	*v = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
	*s = p + 2;
	return true;
}

/* A UTC offset at *S (before E): Z, or +HH:MM, -HH:MM, +HHMM (at most
 * 14:00, ISO 8601 and RFC 3339).  Only its form is checked: a time keeps
 * the wall-clock value written before it (see value.h). */
static bool utc_offset(const char **s, const char *e)
{
	const char *p = *s;
	unsigned h, m;

	if (p < e && (*p == 'Z' || *p == 'z')) {
		*s = p + 1;
		return true;
	}
	if (p >= e || (*p != '+' && *p != '-'))
		return false;
	p++;
	if (!digits(&p, e, 2, 2, &h))
		return false;
	if (p < e && *p == ':')
		p++;
	if (!digits(&p, e, 2, 2, &m) || h > 14 || m > 59 || (h == 14 && m > 0))
		return false;
	*s = p;
	return true;
}

/* What a timestamp's items have read so far. */
struct ts_parts {
	unsigned y, mo, d, h, mi, se, frac;
	int hour12, pm;
};

/* Item OP (a conversion letter, or 0: the literal LIT) at *SP, before E. */
static inline __attribute__((always_inline)) bool
ts_item(uint8_t op, char lit, const char **sp, const char *e, struct ts_parts *t)
{
	const char *s = *sp;
	switch (op) {
	case 0:
		if (s >= e || *s != lit)
			return false;
		s++;
		break;
	case 'Y':
		if (e - s < 4 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) ||
		    !is_digit(s[3]))
			return false;
		t->y = (unsigned)(s[0] - '0') * 1000 + (unsigned)(s[1] - '0') * 100 +
		       (unsigned)(s[2] - '0') * 10 + (unsigned)(s[3] - '0');
		s += 4;
		break;
	case 'm': if (!digits12(&s, e, &t->mo)) return false; break;
	case 'd': if (!digits12(&s, e, &t->d)) return false; break;
	case 'H': if (!digits12(&s, e, &t->h)) return false; break;
	case 'M': if (!digits2(&s, e, &t->mi)) return false; break;
	case 'S': if (!digits2(&s, e, &t->se)) return false; break;
	case 'f': if (!digits(&s, e, 1, 9, &t->frac)) return false; break;
	case 'z': if (!utc_offset(&s, e)) return false; break;
	case 'I': {
		unsigned v;
		if (!digits12(&s, e, &v) || v < 1 || v > 12)
			return false;
		t->hour12 = (int)v;
		break;
	}
	case 'p':
		if (e - s < 2 || (s[1] != 'M' && s[1] != 'm'))
			return false;
		if (s[0] == 'A' || s[0] == 'a')
			t->pm = 0;
		else if (s[0] == 'P' || s[0] == 'p')
			t->pm = 1;
		else
			return false;
		s += 2;
		break;
	}
	*sp = s;
	return true;
}

/* The items of the shapes most files use, for the straight-line parses
 * below (the same ts_item steps, with the switch folded away: a switch
 * per item costs more than the item). */
static const uint8_t shape_mdy[] = { 'm', 0, 'd', 0, 'Y', 0, 'I', 0, 'M', 0, 'S', 0, 'p' };
static const uint8_t shape_ymd[] = { 'Y', 0, 'm', 0, 'd', 0, 'H', 0, 'M', 0, 'S' };

static void tsfmt_shape(struct tsfmt *f)
{
	f->shape = f->n == sizeof shape_mdy && memcmp(f->op, shape_mdy, f->n) == 0 ? 1
	         : f->n == sizeof shape_ymd && memcmp(f->op, shape_ymd, f->n) == 0 ? 2 : 0;
}

#define ITEM(shape, i) \
	if (!ts_item(shape[i], f->lit[i], &s, e, &t)) \
		return false

bool tsfmt_parse(const struct tsfmt *f, const char *p, size_t len, int64_t *secs)
{
	const char *s = p, *e = p + len;
	struct ts_parts t = { .hour12 = -1, .pm = -1 };

	if (f->shape == 1) {
		ITEM(shape_mdy, 0); ITEM(shape_mdy, 1); ITEM(shape_mdy, 2); ITEM(shape_mdy, 3);
		ITEM(shape_mdy, 4); ITEM(shape_mdy, 5); ITEM(shape_mdy, 6); ITEM(shape_mdy, 7);
		ITEM(shape_mdy, 8); ITEM(shape_mdy, 9); ITEM(shape_mdy, 10); ITEM(shape_mdy, 11);
		ITEM(shape_mdy, 12);
	} else if (f->shape == 2) {
		ITEM(shape_ymd, 0); ITEM(shape_ymd, 1); ITEM(shape_ymd, 2); ITEM(shape_ymd, 3);
		ITEM(shape_ymd, 4); ITEM(shape_ymd, 5); ITEM(shape_ymd, 6); ITEM(shape_ymd, 7);
		ITEM(shape_ymd, 8); ITEM(shape_ymd, 9); ITEM(shape_ymd, 10);
	} else {
		for (unsigned i = 0; i < f->n; i++)
			if (!ts_item(f->op[i], f->lit[i], &s, e, &t))
				return false;
	}
	unsigned y = t.y, mo = t.mo, d = t.d, h = t.h, mi = t.mi, se = t.se;
	int hour12 = t.hour12, pm = t.pm;
	if (s != e)
		return false;
	if (hour12 >= 0)
		h = (unsigned)(hour12 % 12) + (pm == 1 ? 12 : 0);
	if (mo < 1 || mo > 12 || d < 1 || d > (unsigned)tz_days_in_month(y, (int)mo) ||
	    h > 23 || mi > 59 || se > 60)
		return false;
	if (se == 60)
		se = 59;        /* a leap second counts as the second before */
	*secs = tz_days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + se;
	return true;
}
