/*
 * catchup.h - which missed schedule fires get a run.
 *
 * A fire is "missed" when its time passed while denverd was not running (or
 * the loop did not wake: a suspended machine, a wall-clock step).  Per
 * dataset `missed:` decides what happens (denverd.yaml(5)):
 *   latest  one catch-up run, for the latest missed fire (the Denver files
 *           are rolling snapshots: three missed days call for one fetch);
 *   all     one run per missed fire, the most recent max_catchup of them
 *           (for URLs templated by date); older ones are reported, and
 *           `denverctl backfill` covers them on purpose;
 *   none    no catch-up run.
 * Never more than max_catchup runs (latest with max_catchup 0 runs none),
 * and never a fire at or before `since` (the later of the dataset's first
 * configuration and the last fire already handled).
 *
 * Pure: the schedule is a callback, so tests can use any fire sequence.
 */
#ifndef DENVERD_CATCHUP_H
#define DENVERD_CATCHUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/config_types.h"

/* No dataset ever gets more catch-up runs than this at once. */
#define CATCHUP_MAX 1000

/* The first fire strictly after AFTER (unix seconds); 0, or a negative
 * errno when there is none (cron_next's -ERANGE). */
typedef int (*catchup_next_fn)(void *arg, int64_t after, int64_t *next);

struct catchup {
	size_t n_runs;            /* fires that get a run: fires[0..n_runs) */
	int64_t fires[CATCHUP_MAX];    /* ascending, unix seconds */
	uint64_t n_missed;        /* fires in (since, now] ... */
	bool exact;               /* ... exactly, or at least that many (the
	                             count stops 10,000 fires before the runs) */
	int64_t latest;           /* the latest fire in (since, now]; 0 = none */
};

/* How many of the latest missed fires POLICY runs. */
size_t catchup_wanted(enum missed_policy policy, unsigned max_catchup);

/*
 * Fill OUT for the fires in (SINCE, NOW] of schedule NEXT, keeping the
 * latest WANT of them (WANT <= CATCHUP_MAX) as runs.  The cost is bounded by
 * the fires near NOW, not by the length of the outage: the scan starts one
 * hour before NOW and widens fourfold until it holds WANT fires or reaches
 * SINCE.  Returns 0 (also when nothing was missed), or -ELOOP when NEXT
 * does not advance.
 */
int catchup_plan(catchup_next_fn next, void *arg, int64_t since, int64_t now,
                 size_t want, struct catchup *out);

#endif
