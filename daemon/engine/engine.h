/*
 * scheduler.h - the run engine (sched*.c): schedules, runs and their tasks,
 * retries, limits, catch-up, backfill, crash recovery (denverd(8),
 * SCHEDULING).  Not "sched.h": on the daemon's include path that would
 * shadow the C library's <sched.h>.
 *
 * A run is one target for one exec date.  A dataset run has the tasks
 * fetch -> check -> convert (convert only with `convert: true`); a fetch that
 * finds nothing new ends the run `unchanged` and nothing downstream runs.  A
 * job run has one task, the job's command.  States of runs and tasks:
 * queued, running, succeeded, failed, unchanged, skipped, cancelled.  Every
 * change is committed to the store (one transaction) before it is announced
 * (journal line with DATASET/RUN_ID/EXEC_DATE/TASK, events row, watchers).
 *
 * Loop thread only.
 */
#ifndef DENVERD_SCHEDULER_H
#define DENVERD_SCHEDULER_H

#include "config/config.h"

struct denverd;

/* Caps (every queue is bounded). */
#define SCHED_MAX_ACTIVE   10000   /* runs queued or running at once */
#define SCHED_MAX_BACKFILL 1000    /* dates one backfill may queue */
#define SCHED_STOP_MAX_MS  15000   /* sched_fini waits this long for children */
#define SCHED_TIMER_CAP_MS (5 * 60 * 1000)   /* longest sleep: bounds the lateness
                                                after a wall-clock step */

/*
 * Start the engine on d->cfg and d->store: recover what a previous process
 * left in flight (open attempts become `interrupted` and are resumed; our
 * orphaned child groups are killed), create the catch-up runs of missed
 * fires, register the control commands, arm the timer and start what may
 * start.  Returns 0 or a negative errno (start-up fatal; logged).
 */
int sched_init(struct denverd *d);

/*
 * SIGTERM: start nothing new and cancel what runs (children get SIGTERM to
 * their group, SIGKILL after their grace).  Cancelled attempts are recorded
 * with the reason and their tasks stay queued, so the runs resume at the
 * next start.  The loop must keep running until the children are reaped;
 * sched_fini() does that itself, bounded by SCHED_STOP_MAX_MS.
 */
void sched_stop(struct denverd *d);

/* Stop (if not yet), wait for the children (bounded), free everything.
 * Accepts a daemon whose sched_init failed or never ran. */
void sched_fini(struct denverd *d);

/*
 * d->cfg has just been replaced; OLD is the previous configuration, and
 * sched takes it: it is freed (config_free) as soon as no running task
 * borrows it.  A reload never fires a schedule by itself: new datasets get
 * first_configured = now, a changed schedule counts from now, removed
 * datasets and jobs stop being scheduled and their active runs are
 * cancelled.  Returns 0 or a negative errno (logged; the engine keeps the
 * new configuration for what it could apply).
 */
int sched_reload(struct denverd *d, struct config *old);

/*
 * The quarantined snapshot of run RUN_ID was promoted (cmd_dq_promote): the
 * run goes on from its convert task, its check counting as accepted.  0, or
 * -EBUSY (the run, or another run of its target and date, is active),
 * -EALREADY (not failed), -ENOENT, -EIO.
 */
int sched_promoted(struct denverd *d, int64_t run_id);

#endif
