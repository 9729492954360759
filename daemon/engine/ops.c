/*
 * ops.c - what an operator does to many runs or to a finished one
 * (denverctl backfill, pause, resume, retry, and the resumption of a run
 * whose quarantined snapshot was promoted).  The control commands that
 * call these are api/cmd_sched.c's; trigger and cancel are sched.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "domain/execdate.h"
#include "engine/engine_int.h"
#include "store/store.h"

/* ---- backfill, pause ---- */

/* The runs of dates FROM..TO (day numbers) that have none active, built in
 * the open transaction into RUNS; *N_BUILT counts them.  0 or the first
 * error of run_build. */
static int build_dates(struct sched *s, struct target *t, int64_t from, int64_t to,
                       struct srun **runs, size_t *n_built, unsigned *skipped)
{
	int rc = 0;

	for (int64_t day = from; day <= to && rc == 0; day++) {
		char date[11];
		execdate_format(day, date);
		if (run_active_of(s, t, date)) {
			(*skipped)++;
			continue;
		}
		if ((rc = run_build(s, t, date, "backfill", false, &runs[*n_built])) == 0)
			(*n_built)++;
	}
	return rc;
}

int sched_backfill(struct sched *s, struct target *t, int64_t from, int64_t to,
                   unsigned *created, unsigned *skipped, int64_t *first_id,
                   int64_t *last_id)
{
	size_t n = (size_t)(to - from + 1), n_built = 0;
	struct srun **runs;
	int rc;

	*created = *skipped = 0;
	*first_id = *last_id = 0;
	if (to < from || n > SCHED_MAX_BACKFILL)
		return -E2BIG;
	if (s->n_runs + n > SCHED_MAX_ACTIVE)
		return -EBUSY;
	runs = calloc(n, sizeof *runs);
	if (!runs)
		return -ENOMEM;
	tx_begin(s);
	rc = build_dates(s, t, from, to, runs, &n_built, skipped);
	if (rc == 0 && n_built)
		tx_note_target(s, LOG_INFO, ENGINE_EV_BACKFILL, t,
		               "%s: backfill of %zu dates queued", t->name, n_built);
	if (tx_commit(s, "backfill") < 0 || rc < 0) {
		for (size_t i = 0; i < n_built; i++)
			run_free(runs[i]);
		free(runs);
		return rc < 0 ? rc : -EIO;
	}
	runs_adopt(s, runs, n_built);
	*created = (unsigned)n_built;
	if (n_built) {
		*first_id = runs[0]->id;
		*last_id = runs[n_built - 1]->id;
	}
	free(runs);
	sched_dispatch(s);
	sched_arm(s);
	return 0;
}

int sched_pause(struct sched *s, struct target *t, bool paused)
{
	if (t->kind != TK_DATASET)
		return -EINVAL;
	if (t->paused == paused)
		return 0;
	tx_begin(s);
	tx_check(s, store_dataset_set_paused(s->d->store, t->name, paused));
	tx_note_target(s, LOG_INFO, paused ? ENGINE_EV_DATASET_PAUSED : ENGINE_EV_DATASET_RESUMED,
	               t, paused ? "%s paused: nothing of it starts until resumed" :
	                           "%s resumed", t->name);
	if (tx_commit(s, paused ? "pause" : "resume") < 0)
		return -EIO;
	t->paused = paused;
	for (struct srun *r = s->runs; r; r = r->runs_next) {
		struct stask *k;
		if (r->target != t || !(k = run_current_task(r)))
			continue;
		if (paused)
			runq_remove(&k->qi);
		else
			task_place(s, k);
	}
	sched_dispatch(s);
	sched_arm(s);
	return 0;
}

/* ---- retry, promoted ---- */

/* The failed or cancelled run ID read back (not linked) into *OUT, or
 * -EBUSY (it, or another run of its target and date, is active),
 * -EALREADY, -ENOENT, -EIO. */
static int load_finished(struct sched *s, int64_t id, struct srun **out)
{
	struct run_list l = { 0 };
	struct target *t;
	int rc;

	*out = NULL;
	if (sched_run(s, id))
		return -EBUSY;
	if ((rc = store_run_get(s->d->store, id, recover_copy_run, &l)) < 0)
		goto out;
	if (strcmp(l.v[0].state, "failed") != 0 && strcmp(l.v[0].state, "cancelled") != 0) {
		rc = -EALREADY;
		goto out;
	}
	if (!(t = recover_target_of(s, &l.v[0]))) {
		rc = -ENOENT;
		goto out;
	}
	/* One active run per target and date: two would share its files. */
	if (run_active_of(s, t, l.v[0].exec_date)) {
		rc = -EBUSY;
		goto out;
	}
	rc = recover_load_run(s, t, &l.v[0], false, out);
out:
	recover_run_list_free(&l);
	return rc;
}

/* Whether the snapshot of run ID was promoted (`denverctl promote`). */
static bool snapshot_promoted(struct sched *s, int64_t id)
{
	struct store_snapshot_ref snap;
	bool promoted = false;

	if (store_snapshot_of_run(s->d->store, id, &snap) == 0) {
		promoted = strcmp(snap.state, "promoted") == 0;
		store_snapshot_ref_clear(&snap);
	}
	return promoted;
}

/* R's unfinished tasks queued again with a fresh budget, R queued (inside
 * a transaction).  A snapshot the operator PROMOTED was accepted as it is:
 * its failed check counts as passed, and the run goes on with convert
 * instead of checking (and quarantining) it again. */
static void requeue_tasks(struct sched *s, struct srun *r, bool promoted)
{
	for (size_t i = 0; i < r->n_tasks; i++) {
		struct stask *k = &r->tasks[i];
		if (promoted && k->state == RUN_FAILED && !strcmp(k->name, "check")) {
			k->state = RUN_SUCCEEDED;
			task_save(s, k);
			tx_note(s, LOG_INFO, ENGINE_EV_TASK_STATE, r, k, "check accepted: the snapshot "
			        "was promoted by the operator");
			continue;
		}
		if (k->state == RUN_SUCCEEDED || k->state == RUN_UNCHANGED)
			continue;
		k->state = RUN_QUEUED;
		k->budget_used = 0;
		k->not_before = 0;
		run_set_error(&k->error, NULL);
		task_save(s, k);
	}
	r->state = RUN_QUEUED;
	r->ended = 0;
	run_set_error(&r->error, NULL);
	run_save(s, r);
	tx_note(s, LOG_INFO, ENGINE_EV_RUN_STATE, r, NULL, "run %" PRId64 " queued again (%s)",
	        r->id, promoted ? "snapshot promoted" : "retry");
	target_saw_run(r->target, r);
}

/* Queue the failed or cancelled run ID again from its first unfinished
 * task (retry, and the resumption after a promote). */
static int requeue(struct sched *s, int64_t id)
{
	struct srun *r;
	bool promoted;
	int rc;

	if ((rc = load_finished(s, id, &r)) < 0)
		return rc;
	promoted = snapshot_promoted(s, id);
	tx_begin(s);
	requeue_tasks(s, r, promoted);
	if (!recover_settle(s, r)) {
		/* Nothing left to run (a promoted check was the last task). */
		tx_end(s, "promote");
		run_free(r);
		return 0;
	}
	if (s->tx_failed) {
		tx_end(s, "retry");
		run_free(r);
		return -EIO;
	}
	tx_end(s, "retry");
	run_link(s, r);
	recover_place_current(s, r);
	sched_kick(s);
	return 0;
}

int sched_retry(struct sched *s, int64_t id)
{
	return requeue(s, id);
}

int sched_promoted(struct denverd *d, int64_t run_id)
{
	return d->sched ? requeue(d->sched, run_id) : -ENOENT;
}
