/*
 * fmt.c - durations, sizes, shares and spans in the one style fmt.h describes.
 */
#include "common/fmt.h"

#include <inttypes.h>
#include <stdio.h>

static const struct {
	const char *unit;
	uint64_t ms;
} duration_units[] = {
	{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
};

char *fmt_duration(char *buf, size_t n, uint64_t ms)
{
	size_t nunits = sizeof duration_units / sizeof duration_units[0];

	if (ms == 0) {
		snprintf(buf, n, "0s");
		return buf;
	}
	for (size_t i = 0; i < nunits; i++) {
		uint64_t hi = ms / duration_units[i].ms;
		uint64_t lo;

		if (hi == 0)
			continue;
		lo = i + 1 < nunits ? ms % duration_units[i].ms / duration_units[i + 1].ms : 0;
		if (lo)
			snprintf(buf, n, "%" PRIu64 "%s%" PRIu64 "%s", hi, duration_units[i].unit,
			         lo, duration_units[i + 1].unit);
		else
			snprintf(buf, n, "%" PRIu64 "%s", hi, duration_units[i].unit);
		break;
	}
	return buf;
}

char *fmt_size(char *buf, size_t n, uint64_t bytes)
{
	static const struct {
		const char *unit;
		uint64_t n;
	} units[] = {
		{ "TiB", 1ull << 40 }, { "GiB", 1ull << 30 }, { "MiB", 1ull << 20 }, { "KiB", 1ull << 10 },
	};

	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (bytes >= units[i].n && bytes % units[i].n == 0) {
			snprintf(buf, n, "%" PRIu64 "%s", bytes / units[i].n, units[i].unit);
			return buf;
		}
	snprintf(buf, n, "%" PRIu64, bytes);
	return buf;
}

char *fmt_percent(char *buf, size_t n, double frac)
{
	snprintf(buf, n, "%.3g%%", frac * 100);
	return buf;
}

char *fmt_span(char *buf, size_t n, int64_t from_ms, int64_t to_ms)
{
	/* In uint64_t the difference of any to > from is exact. */
	return fmt_duration(buf, n, to_ms > from_ms ? (uint64_t)to_ms - (uint64_t)from_ms : 0);
}

char *fmt_hex(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
	return out;
}
