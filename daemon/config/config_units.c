/*
 * config_units.c - numbers as the file writes them: whole numbers,
 * durations (1h30m), sizes (64KiB, 1MB), percentages (0.5%), decimals.
 * Pure: no messages here (the conf_want_*() callers report), no locale.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "config/config_int.h"

/* ---- unit parsers (exported) ------------------------------------------- */

bool conf_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int conf_parse_u64(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;

	if (!conf_is_digit(*s))
		return -EINVAL;
	for (; conf_is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	if (end)
		*end = s;
	else if (*s)
		return -EINVAL;
	return 0;
}

int config_parse_duration(const char *s, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "s", MS_S }, { "m", MS_M }, { "h", MS_H },
		{ "d", MS_D }, { "w", 7 * MS_D },
	};
	uint64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*s) {               /* one or more <number><unit>: 1h30m */
		const char *u;
		uint64_t v, mult = 0;
		size_t ulen;

		if (conf_parse_u64(s, &u, &v) < 0)
			return -EINVAL;
		for (s = u; *s >= 'a' && *s <= 'z'; s++)
			;
		ulen = (size_t)(s - u);
		for (size_t i = 0; i < ARRAY_SIZE(units); i++)
			if (strlen(units[i].unit) == ulen && memcmp(units[i].unit, u, ulen) == 0)
				mult = units[i].ms;
		if (!mult || v > (UINT64_MAX - total) / mult)
			return -EINVAL;
		total += v * mult;
	}
	*ms = total;
	return 0;
}

int config_parse_size(const char *s, uint64_t *bytes)
{
	static const struct { const char *unit; uint64_t n; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "KiB", KIB }, { "MiB", MIB }, { "GiB", GIB }, { "TiB", 1024 * GIB },
		{ "kB", 1000 }, { "KB", 1000 }, { "MB", 1000 * 1000 },
		{ "GB", 1000 * 1000 * 1000 }, { "TB", 1000ull * 1000 * 1000 * 1000 },
	};
	const char *u;
	uint64_t v;

	if (!s || conf_parse_u64(s, &u, &v) < 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (strcmp(u, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].n)
				return -EINVAL;
			*bytes = v * units[i].n;
			return 0;
		}
	return -EINVAL;
}

int config_parse_percent(const char *s, double *frac)
{
	double v = 0, scale = 1;
	size_t digits = 0;

	if (!s || !conf_is_digit(*s))
		return -EINVAL;
	for (; conf_is_digit(*s); s++, digits++)
		v = v * 10 + (*s - '0');
	if (*s == '.') {
		s++;
		if (!conf_is_digit(*s))
			return -EINVAL;
		for (; conf_is_digit(*s); s++, digits++)
			v += (*s - '0') * (scale /= 10);
	}
	if (s[0] != '%' || s[1] != '\0' || digits > 15)
		return -EINVAL;
	*frac = v / 100;
	return 0;
}

int conf_parse_number(const char *s, double *out)
{
	char *end;
	double v;

	if (!*s || strspn(s, "0123456789+-.eE") != strlen(s) || !strpbrk(s, "0123456789"))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}


int conf_parse_mode(const char *s, unsigned *mode)
{
	size_t n = strlen(s);
	unsigned m = 0;

	if (n < 3 || n > 4 || strspn(s, "01234567") != n || (n == 4 && s[0] != '0'))
		return -EINVAL;
	for (; *s; s++)
		m = m * 8 + (unsigned)(*s - '0');
	*mode = m;
	return 0;
}
