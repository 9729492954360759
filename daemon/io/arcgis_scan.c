/*
 * arcgis_scan.c - the JSON scanner under the page parser (arcgis_page.c):
 * values located in place as spans, checked exactly as jansson's json_loadb
 * checks them (grammar, strict UTF-8, escapes and surrogate pairs, no
 * \u0000, int64 integers, reals that do not overflow, depth), never copied;
 * and the decoding of a string span.  Pure; any thread.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/arcgis_scan.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* 0 plain, 1 ',', 2 '"', 3 '\\', 4 control, 5 not ASCII */
static const uint8_t cls[256] = {
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	[0x5c] = 3,
	[0x80] = 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
};

static inline bool digit(const struct ag_sc *s, const unsigned char *p)
{
	return p < s->e && *p >= '0' && *p <= '9';
}

static int hex4(const unsigned char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (int)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (int)((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	return v;
}

/* One strict UTF-8 sequence at *P (no overlong form, no surrogate, at most
 * U+10FFFF: jansson's utf8_check_*). */
static bool utf8(const unsigned char **pp, const unsigned char *e)
{
	const unsigned char *p = *pp;
	unsigned c = p[0], lo = 0x80, hi = 0xbf;
	int k;

	if (c >= 0xc2 && c <= 0xdf)
		k = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		k = 2;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 3;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else
		return false;
	if (e - p <= k || p[1] < lo || p[1] > hi)
		return false;
	for (int i = 2; i <= k; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return false;
	*pp = p + k + 1;
	return true;
}

/* The escape at *P ('\\'), as jansson takes it. */
static bool escape(const unsigned char **pp, const unsigned char *e)
{
	const unsigned char *p = *pp;
	int u, u2;

	if (e - p < 2)
		return false;
	if (strchr("\"\\/bfnrt", p[1]) && p[1]) {
		*pp = p + 2;
		return true;
	}
	if (p[1] != 'u' || e - p < 6 || (u = hex4(p + 2)) < 0 || u == 0)
		return false;
	if (u >= 0xdc00 && u <= 0xdfff)
		return false;
	if (u >= 0xd800 && u <= 0xdbff) {
		if (e - p < 12 || p[6] != '\\' || p[7] != 'u' || (u2 = hex4(p + 8)) < 0 ||
		    u2 < 0xdc00 || u2 > 0xdfff)
			return false;
		*pp = p + 12;
		return true;
	}
	*pp = p + 6;
	return true;
}

/* The string at s->p ('"'). */
bool ag_scan_str(struct ag_sc *s, struct ag_span *v)
{
	const unsigned char *p = s->p + 1, *e = s->e;

	v->esc = v->comma = 0;
	for (;;) {
#ifdef __SSE2__
		/* 16 bytes at a time to the next byte that is not plain: '"',
		 * '\\', ',', below 0x20 or (signed) at or above 0x80. */
		while (e - p >= 16) {
			__m128i c = _mm_loadu_si128((const __m128i *)(const void *)p);
			__m128i m = _mm_or_si128(
				_mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('"')),
				             _mm_cmpeq_epi8(c, _mm_set1_epi8('\\'))),
				_mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8(',')),
				             _mm_cmplt_epi8(c, _mm_set1_epi8(0x20))));
			unsigned bits = (unsigned)_mm_movemask_epi8(m);
			if (bits) {
				p += __builtin_ctz(bits);
				break;
			}
			p += 16;
		}
#endif
		while (p < e && cls[*p] == 0)
			p++;
		if (p >= e)
			return false;
		switch (cls[*p]) {
		case 1: v->comma = 1; p++; break;
		case 2: goto done;
		case 3: v->esc = 1; if (!escape(&p, e)) return false; break;
		case 4: return false;
		default: if (!utf8(&p, e)) return false; break;
		}
	}
done:
	if (p - s->p - 1 > (ptrdiff_t)UINT32_MAX)
		return false;
	v->p = (const char *)s->p + 1;
	v->n = (uint32_t)(p - s->p - 1);
	v->kind = V_STR;
	s->p = p + 1;
	return true;
}

/* A number at s->p, as jansson's lexer: integers must fit int64, reals
 * must not overflow. */
static bool scan_num(struct ag_sc *s, struct ag_span *v)
{
	const unsigned char *st = s->p, *p = st;
	bool real = false, exp = false;

	if (*p == '-')
		p++;
	if (!digit(s, p))
		return false;
	if (*p == '0') {
		if (digit(s, ++p))
			return false;
	} else {
		while (digit(s, p))
			p++;
	}
	if (p < s->e && *p == '.') {
		if (!digit(s, ++p))
			return false;
		while (digit(s, p))
			p++;
		real = true;
	}
	if (p < s->e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < s->e && (*p == '+' || *p == '-'))
			p++;
		if (!digit(s, p))
			return false;
		while (digit(s, p))
			p++;
		real = exp = true;
	}
	if (p >= s->e || p - st > (ptrdiff_t)UINT32_MAX)
		return false;   /* the top-level value cannot end in a number */
	v->p = (const char *)st;
	v->n = (uint32_t)(p - st);
	v->kind = real ? V_REAL : V_INT;
	s->p = p;
	if (!real) {
		size_t nd = v->n - (*st == '-');
		const char *lim = *st == '-' ? "9223372036854775808" : "9223372036854775807";
		return nd < 19 || (nd == 19 && memcmp(p - 19, lim, 19) <= 0);
	}
	if (exp || v->n > 300) {
		char *end;
		errno = 0;
		double d = strtod(v->p, &end);
		if (end != (const char *)p || (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL)))
			return false;
	}
	return true;
}

static bool lit(struct ag_sc *s, const char *w, size_t n, enum vkind k, struct ag_span *v)
{
	if ((size_t)(s->e - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	v->p = (const char *)s->p;
	v->n = (uint32_t)n;
	v->kind = (uint8_t)k;
	s->p += n;
	return true;
}

static bool scan_scalar(struct ag_sc *s, struct ag_span *v)
{
	bool ok;

	switch (*s->p) {
	case '"': return ag_scan_str(s, v);
	case 't': ok = lit(s, "true", 4, V_TRUE, v); break;
	case 'f': ok = lit(s, "false", 5, V_FALSE, v); break;
	case 'n': ok = lit(s, "null", 4, V_NULL, v); break;
	default:  ok = (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && scan_num(s, v);
	}
	/* jansson's lexer puts back the byte after a number or a literal, and
	 * its stream takes a NUL put back for "read the next byte": one NUL
	 * there is skipped (found by tests/fuzz/fuzz_arcgis_page). */
	if (ok && s->p < s->e && *s->p == '\0')
		s->p++;
	return ok;
}

/* An object or array at s->p, only checked (iteratively: the stack is
 * AG_MAX_DEPTH bytes, not frames). */
bool ag_skip_nest(struct ag_sc *s, struct ag_span *v)
{
	unsigned char stack[AG_MAX_DEPTH];
	unsigned top = 0;
	const unsigned char *st = s->p;
	struct ag_span t;

	for (;;) {
		/* at an opening bracket */
		if (s->depth + top + 1 > AG_MAX_DEPTH)
			return false;
		stack[top++] = *s->p == '{' ? '}' : ']';
		s->p++;
		ag_ws(s);
		if (s->p < s->e && *s->p == stack[top - 1]) {
			s->p++;
			goto closed;
		}
		for (;;) {
			if (stack[top - 1] == '}') {
				if (s->p >= s->e || *s->p != '"' || !ag_scan_str(s, &t))
					return false;
				ag_ws(s);
				if (s->p >= s->e || *s->p++ != ':')
					return false;
				ag_ws(s);
			}
			if (s->p >= s->e)
				return false;
			if (*s->p == '{' || *s->p == '[')
				break;                  /* down a level */
			if (!scan_scalar(s, &t))
				return false;
after:
			ag_ws(s);
			if (s->p >= s->e)
				return false;
			if (*s->p == ',') {
				s->p++;
				ag_ws(s);
				continue;
			}
			if (*s->p++ != stack[top - 1])
				return false;
closed:
			if (--top == 0) {
				v->p = (const char *)st;
				v->n = (uint32_t)(s->p - st);
				v->kind = V_NEST;
				return true;
			}
			goto after;
		}
	}
}

/* Any value at s->p (after white space). */
bool ag_scan_value(struct ag_sc *s, struct ag_span *v)
{
	ag_ws(s);
	if (s->p >= s->e)
		return false;
	if (*s->p == '{' || *s->p == '[')
		return ag_skip_nest(s, v);
	return scan_scalar(s, v);
}

static size_t put_utf8(char *o, unsigned u)
{
	if (u < 0x80) {
		o[0] = (char)u;
		return 1;
	}
	if (u < 0x800) {
		o[0] = (char)(0xc0 | u >> 6);
		o[1] = (char)(0x80 | (u & 0x3f));
		return 2;
	}
	if (u < 0x10000) {
		o[0] = (char)(0xe0 | u >> 12);
		o[1] = (char)(0x80 | (u >> 6 & 0x3f));
		o[2] = (char)(0x80 | (u & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | u >> 18);
	o[1] = (char)(0x80 | (u >> 12 & 0x3f));
	o[2] = (char)(0x80 | (u >> 6 & 0x3f));
	o[3] = (char)(0x80 | (u & 0x3f));
	return 4;
}

/* The decoded text of a scanned string V into O (room for v->n bytes:
 * nothing decodes longer than its escape); its length. */
size_t ag_decode(const struct ag_span *v, char *o)
{
	const char *p = v->p, *e = v->p + v->n;
	char *o0 = o;

	while (p < e) {
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		switch (p[1]) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned u = (unsigned)hex4((const unsigned char *)p + 2);
			if (u >= 0xd800 && u <= 0xdbff) {
				u = ((u - 0xd800) << 10) +
				    ((unsigned)hex4((const unsigned char *)p + 8) - 0xdc00) + 0x10000;
				p += 6;
			}
			o += put_utf8(o, u);
			p += 6;
			continue;
		}
		default: *o++ = p[1]; break;     /* " \ / */
		}
		p += 2;
	}
	return (size_t)(o - o0);
}
