/*
 * execdate.c - calendar dates as day numbers (through timegm, UTC only).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "domain/execdate.h"

int execdate_parse(const char *s, int64_t *day)
{
	struct tm tm = { 0 };
	int y, m, d;
	time_t t;

	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return -EINVAL;
	if (sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3 || y < 1970 ||
	    m < 1 || m > 12 || d < 1 || d > 31)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	t = timegm(&tm);
	/* timegm normalises 2026-02-30 to March 2; a real date survives. */
	if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != m - 1)
		return -EINVAL;
	*day = (int64_t)t / 86400;
	return 0;
}

void execdate_format(int64_t day, char out[11])
{
	time_t t = (time_t)(day * 86400 + 43200);
	struct tm tm;

	gmtime_r(&t, &tm);
	/* Unsigned and reduced so the compiler sees 10 characters at most. */
	snprintf(out, 11, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
	         (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
}
