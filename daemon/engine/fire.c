/*
 * fire.c - what a schedule's fires create: at a fire on the timer, the
 * scheduled run (and, after a late wake, the earlier fires `missed:` keeps);
 * at start, the catch-up runs of the fires missed while denverd was down
 * (catchup.h plans them).  One run per target and date at a time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/catchup.h"
#include "engine/engine_int.h"
#include "store/store.h"

struct next_arg {
	struct sched *s;
	const struct target *t;
};

static int next_cb(void *arg, int64_t after, int64_t *next)
{
	struct next_arg *a = arg;
	return sched_next_fire(a->s, a->t, after, next);
}

static int64_t since_of(const struct target *t)
{
	int64_t ms = t->last_fire > t->first_configured ? t->last_fire : t->first_configured;
	return ms / 1000;
}

/* Build the runs PLAN asks for (in the open transaction) into RUNS; the
 * number built.  Several fires of one day (an hourly schedule) share a
 * date: one run per date at a time. */
static size_t build_fires(struct sched *s, struct target *t, const struct catchup *plan,
                          bool live, struct srun **runs)
{
	size_t n_built = 0;
	char date[11];

	for (size_t i = 0; i < plan->n_runs; i++) {
		bool sched_run = live && i + 1 == plan->n_runs;
		bool dup = false;
		sched_exec_date(s, plan->fires[i], date);
		for (size_t k = 0; k < n_built && !dup; k++)
			dup = strcmp(runs[k]->exec_date, date) == 0;
		if (dup || run_active_of(s, t, date))
			continue;
		if (run_build(s, t, date, sched_run ? "schedule" : "catchup", false,
		              &runs[n_built]) == 0)
			n_built++;
	}
	return n_built;
}

/* The fires PLAN left without a run, if any: say so, and how to get them. */
static void note_missed(struct sched *s, const struct target *t, const struct catchup *plan,
                        bool live)
{
	const struct cfg_dataset *ds = t->ds;
	uint64_t missed = plan->n_missed - (live ? 1 : 0);
	size_t caught = plan->n_runs - (live ? 1 : 0);
	char first[11];

	if (missed <= caught)
		return;
	sched_exec_date(s, plan->fires[0], first);
	tx_note_target(s, LOG_WARNING, ENGINE_EV_SCHEDULE, t,
	               "%s: %s%" PRIu64 " missed fires without a run (missed: %s, "
	               "max_catchup: %u; the oldest run is for %s); use backfill "
	               "for older dates", t->name, plan->exact ? "" : "at least ",
	               missed - caught, config_missed_name(ds->missed), ds->max_catchup,
	               plan->n_runs ? first : "none");
}

/*
 * Create the runs for the fires of dataset T in (since, NOW_S]: on the timer
 * (LIVE) the latest fire is the scheduled run and earlier ones (a late wake)
 * follow `missed:`; at start every one of them was missed.  Moves last_fire
 * to the latest fire, all in one transaction.
 */
void fire_runs(struct sched *s, struct target *t, int64_t now_s, bool live)
{
	struct catchup *plan = malloc(sizeof *plan);
	struct next_arg na = { s, t };
	const struct cfg_dataset *ds = t->ds;
	size_t want = catchup_wanted(ds->missed, ds->max_catchup), n_built = 0;
	struct srun **runs = NULL;
	char date[11];

	if (!plan)
		goto out;
	if (live) {
		/* `all` keeps up to max_catchup earlier fires besides this one. */
		want = ds->missed == MISSED_ALL ? want + 1 : 1;
		if (want > CATCHUP_MAX)
			want = CATCHUP_MAX;
	}
	if (catchup_plan(next_cb, &na, since_of(t), now_s, want, plan) < 0 || !plan->latest)
		goto out;
	runs = calloc(plan->n_runs ? plan->n_runs : 1, sizeof *runs);
	if (!runs)
		goto out;
	tx_begin(s);
	if (t->paused) {
		sched_exec_date(s, plan->latest, date);
		tx_note_target(s, LOG_INFO, ENGINE_EV_SCHEDULE, t, "%s: fire for %s skipped: paused",
		               t->name, date);
	} else {
		n_built = build_fires(s, t, plan, live, runs);
		note_missed(s, t, plan, live);
	}
	t->last_fire = plan->latest * 1000;
	tx_check(s, store_dataset_set_last_fire(s->d->store, t->name, t->last_fire));
	if (tx_commit(s, "schedule fire") == 0) {
		runs_adopt(s, runs, n_built);
	} else {
		for (size_t i = 0; i < n_built; i++)
			run_free(runs[i]);
	}
out:
	target_set_next_fire(s, t, now_s);
	free(runs);
	free(plan);
}
