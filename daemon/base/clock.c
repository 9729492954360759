/*
 * clock.c - wall and monotonic time, with the DENVERD_NOW test hook.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

static int64_t offset_ms;   /* added to the real wall clock */

static int64_t real_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_now_ms(void)
{
	return real_now_ms() + offset_ms;
}

/* Days from 1970-01-01 to the civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int clock_parse_iso(const char *s, int64_t *unix_ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	char *end;

	if (!s || !*s)
		return -EINVAL;
	/* Plain unix seconds. */
	long long v = strtoll(s, &end, 10);
	if (*end == '\0') {
		*unix_ms = v * 1000;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	const char *z = s + n;
	int64_t off_s = 0;
	if (*z == 'Z' && z[1] == '\0') {
		off_s = 0;
	} else if ((*z == '+' || *z == '-') && strlen(z) == 6 && z[3] == ':') {
		int oh, om;
		if (sscanf(z + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
			return -EINVAL;
		off_s = (oh * 3600 + om * 60) * (*z == '-' ? -1 : 1);
	} else {
		return -EINVAL;
	}
	int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	            h * 3600 + mi * 60 + sec - off_s;
	*unix_ms = t * 1000;
	return 0;
}

int clock_init(void)
{
	const char *e = getenv("DENVERD_NOW");
	int64_t want;

	offset_ms = 0;
	if (!e || !*e)
		return 0;
	if (clock_parse_iso(e, &want) < 0)
		return -EINVAL;
	offset_ms = want - real_now_ms();
	return 0;
}
