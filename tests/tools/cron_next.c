/*
 * cron_next - print the next N fire times of a cron expression in a zone,
 * as "unix-seconds local-time-with-offset exec-date" lines, and on stderr
 * how long the cron_next() calls took.  For tests/bench/cron_bench and for
 * looking at a schedule by hand:
 *
 *   cron_next America/Denver "30 2 * * *" 2026-03-07T00:00:00-07:00 3
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "domain/cron.h"

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct tz *tz = NULL;
	struct cron c;
	const char *err;
	int64_t from_ms;
	int rc;

	if (argc != 5) {
		fprintf(stderr, "usage: cron_next ZONE EXPR FROM N\n");
		return 2;
	}
	if ((rc = tz_load(argv[1], &tz)) < 0) {
		fprintf(stderr, "cron_next: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	if (cron_parse(argv[2], &c, &err) < 0) {
		fprintf(stderr, "cron_next: %s\n", err);
		tz_free(tz);
		return 1;
	}
	if (clock_parse_iso(argv[3], &from_ms) < 0) {
		fprintf(stderr, "cron_next: bad time %s\n", argv[3]);
		tz_free(tz);
		return 1;
	}
	long n = strtol(argv[4], NULL, 10);
	int64_t *fires = calloc(n > 0 ? (size_t)n : 1, sizeof *fires);
	if (!fires)
		return 1;

	int64_t t = from_ms / 1000, t0 = now_ns();
	long got = 0;
	for (; got < n; got++) {
		if (cron_next(&c, tz, t, &fires[got]) < 0)
			break;
		t = fires[got];
	}
	int64_t dt = now_ns() - t0;

	for (long i = 0; i < got; i++) {
		struct civil cv;
		char date[11];
		tz_civil(tz, fires[i], &cv);
		tz_date(tz, fires[i], date);
		int off = cv.utc_offset < 0 ? -cv.utc_offset : cv.utc_offset;
		printf("%" PRId64 " %04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d %s\n", fires[i],
		       cv.year, cv.month, cv.day, cv.hour, cv.minute, cv.second,
		       cv.utc_offset < 0 ? '-' : '+', off / 3600, off / 60 % 60, date);
	}
	fprintf(stderr, "%ld fires in %.3f ms (%.0f ns each)%s\n", got, dt / 1e6,
	        got ? (double)dt / (double)got : 0.0, got < n ? "; none after the last within 5 years" : "");
	free(fires);
	tz_free(tz);
	return 0;
}
