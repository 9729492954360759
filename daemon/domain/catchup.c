/*
 * catchup.c - the latest N fires of a schedule in a time window.
 */
#include <errno.h>
#include <string.h>

#include "domain/catchup.h"

/* The final window is at most four times one that held fewer than WANT
 * fires, so with cron's one-minute resolution a scan is a few hundred
 * thousand fires at worst (a minutely schedule limited to one month, seen
 * from eleven months later).  This bound only guards against a schedule
 * callback that does not advance. */
#define SCAN_MAX 5000000

/* Fires before the window are only counted (for the operator's message),
 * up to this many; beyond it the count is reported as "at least". */
#define COUNT_MAX 10000

size_t catchup_wanted(enum missed_policy policy, unsigned max_catchup)
{
	size_t cap = max_catchup < CATCHUP_MAX ? max_catchup : CATCHUP_MAX;

	switch (policy) {
	case MISSED_LATEST:
		return cap < 1 ? cap : 1;
	case MISSED_ALL:
		return cap;
	case MISSED_NONE:
	default:
		return 0;
	}
}

int catchup_plan(catchup_next_fn next, void *arg, int64_t since, int64_t now,
                 size_t want, struct catchup *out)
{
	/* The ring keeps the latest K fires of the window; K >= 1 so that
	 * `latest` is known even when no run is wanted. */
	size_t k = want > CATCHUP_MAX ? CATCHUP_MAX : want;
	size_t ring_n = k ? k : 1;
	int64_t window = 3600;

	memset(out, 0, sizeof *out);
	if (now <= since)
		return 0;
	for (;;) {
		int64_t lo = now - window, t, f;
		uint64_t count = 0;
		bool exact = false;

		if (lo <= since) {
			lo = since;
			exact = true;
		}
		for (t = lo; next(arg, t, &f) == 0 && f > t && f <= now; t = f) {
			out->fires[count % ring_n] = f;
			if (++count >= SCAN_MAX)
				return -ELOOP;
		}
		if (count >= ring_n || exact) {
			size_t have = count < ring_n ? (size_t)count : ring_n;
			size_t first = count < ring_n ? 0 : (size_t)(count % ring_n);
			int64_t tmp[CATCHUP_MAX];

			/* Unroll the ring into ascending order. */
			for (size_t i = 0; i < have; i++)
				tmp[i] = out->fires[(first + i) % ring_n];
			out->n_missed = count;
			out->exact = exact;
			if (!exact) {
				/* Count what lies before the window, bounded. */
				uint64_t more = 0;
				for (t = since; more < COUNT_MAX && next(arg, t, &f) == 0 && f > t &&
				     f <= lo; t = f)
					more++;
				out->n_missed += more;
				out->exact = more < COUNT_MAX;
			}
			out->latest = have ? tmp[have - 1] : 0;
			out->n_runs = have < k ? have : k;
			memcpy(out->fires, tmp + (have - out->n_runs),
			       out->n_runs * sizeof tmp[0]);
			return 0;
		}
		window *= 4;
	}
}
