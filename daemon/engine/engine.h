/*
 * engine.h - the run engine (the files of engine/): schedules, runs and their tasks,
 * retries, limits, catch-up, backfill, crash recovery (denverd(8),
 * SCHEDULING).  The public header: what app/ wires and api/ queries.  The
 * engine's objects are private (engine_int.h); the task kinds' interface
 * is task.h.
 *
 * A run is one target for one exec date.  A dataset run has the tasks
 * fetch -> check -> convert (convert only with `convert: true`); a fetch that
 * finds nothing new ends the run `unchanged` and nothing downstream runs.  A
 * job run has one task, the job's command.  States of runs and tasks:
 * states.h.  Every change is committed to the store (one transaction)
 * before it is announced: as a typed struct engine_event to each
 * subscriber (engine_subscribe), in the order they subscribed.
 *
 * Loop thread only.  Errors are 0 or a negative errno.
 */
#ifndef DENVERD_ENGINE_H
#define DENVERD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config/config.h"
#include "domain/run_state.h"

struct denverd;
struct sched;                    /* the engine: d->sched */
struct s3_client;
struct target;                   /* a dataset or job the engine schedules */
struct srun;                     /* an active run */
struct stask;                    /* a task of an active run */
struct tz;

/* Caps (every queue is bounded). */
#define SCHED_MAX_ACTIVE   10000   /* runs queued or running at once */
#define SCHED_MAX_BACKFILL 1000    /* dates one backfill may queue */
#define SCHED_STOP_MAX_MS  15000   /* sched_fini waits this long for children */
#define SCHED_TIMER_CAP_MS (5 * 60 * 1000)   /* longest sleep: bounds the lateness
                                                after a wall-clock step */
#define ENGINE_MAX_SUBSCRIBERS 8

/* Resource classes, each with its limit (limits.fetches, .checks, .jobs)
 * and its fair queue. */
enum task_class { TC_FETCH, TC_CHECK, TC_PROC, _TC_MAX };

/* ---- life cycle (lifecycle.c) ---- */

/*
 * Create the engine for d->cfg and d->store as d->sched: take the state
 * directory's lock (one engine per state_dir: -EBUSY), load the time zone,
 * make the timer and the curl multi handle.  Nothing runs and nothing is
 * announced yet, so subscribers can be added before sched_start().  On
 * failure (logged) d->sched stays NULL.
 */
int sched_init(struct denverd *d);

/*
 * Start the engine: recover what a previous process left in flight (open
 * attempts become `interrupted` and are resumed; our orphaned child groups
 * are killed), create the catch-up runs of missed fires, arm the timer and
 * start what may start.  Returns 0 or a negative errno (start-up fatal;
 * logged; sched_fini() still has to run).
 */
int sched_start(struct denverd *d);

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

/* ---- events (tx.c) ---- */

enum engine_event_kind {
	ENGINE_EV_RUN_STATE,         /* "run.state": a run was created or changed */
	ENGINE_EV_TASK_STATE,        /* "task.state" */
	ENGINE_EV_SCHEDULE,          /* "schedule": a fire skipped or caught up */
	ENGINE_EV_BACKFILL,          /* "backfill" */
	ENGINE_EV_DATASET_PAUSED,    /* "dataset.paused" */
	ENGINE_EV_DATASET_RESUMED,   /* "dataset.resumed" */
	ENGINE_EV_PROGRESS,          /* a running task's figures; type says which
	                                ("fetch.progress"); never stored */
	_ENGINE_EV_MAX,
};

/*
 * One announcement.  Stored kinds (all but ENGINE_EV_PROGRESS) are rows of
 * the store's events table, committed before they are announced.  Every
 * pointer is borrowed for the call only: a subscriber copies what it keeps.
 */
struct engine_event {
	enum engine_event_kind kind;
	const char *type;            /* the wire name: "run.state" ... "fetch.progress" */
	int64_t ts;                  /* unix ms */
	int priority;                /* LOG_INFO, LOG_WARNING or LOG_ERR (syslog.h) */
	const char *dataset;         /* the target, when a dataset; else NULL */
	const char *job;             /* the target, when a job; else NULL */
	const char *task;            /* the task (a job run's: the job), or NULL */
	int64_t run_id;              /* 0: not about a run */
	const char *exec_date;       /* with run_id */
	enum run_state state;        /* with run_id: the task's (task events), else the run's */
	const char *message;         /* words for the operator; NULL for progress */
	const json_t *fields;        /* progress: the kind's figures; else NULL */
};

/* The wire name of a stored kind ("run.state"); NULL for others. */
const char *engine_event_kind_to_string(enum engine_event_kind k);
/* "info", "warning" or "error" of an event's priority; NULL for others. */
const char *engine_level_to_string(int priority);

/* A subscriber.  Called on the loop thread right after the commit, in
 * subscription order; it must not call back into the engine. */
typedef void (*engine_event_fn)(void *arg, const struct engine_event *ev);

/* Add FN(ARG, event) for every later event.  0, or -ENOSPC past
 * ENGINE_MAX_SUBSCRIBERS. */
int engine_subscribe(struct sched *s, engine_event_fn fn, void *arg);

/* A subscriber that writes every stored event to the journal (the message
 * at the event's priority, with DATASET/RUN_ID/EXEC_DATE/TASK); ARG unused. */
void engine_journal(void *arg, const struct engine_event *ev);

/* ---- targets (targets.c) ---- */

/* The configured dataset or job NAME, or NULL. */
struct target *sched_target(struct sched *s, const char *name);

/* A target as the control commands see it.  The strings are the engine's:
 * valid until the engine next runs. */
struct sched_target_info {
	const char *name;
	bool job;                        /* a job; else a dataset */
	const struct cfg_dataset *ds;    /* a dataset with a valid schedule; else NULL */
	bool paused;
	int64_t next_fire;               /* unix s; 0 = none */
	int64_t last_run_id;             /* its latest exec date's run; 0 = none yet */
	const char *last_run_date;
	enum run_state last_run_state;   /* as that run's last run.state event said */
};
void sched_target_info(const struct target *t, struct sched_target_info *out);

/* FN for every configured target, newest first, until FN returns non-zero
 * (returned). */
int sched_targets_each(struct sched *s,
                       int (*fn)(void *arg, const struct target *t,
                                 const struct sched_target_info *info),
                       void *arg);

/* Today's exec date (the local date of now) into out[11]. */
void sched_today(struct sched *s, char out[11]);
/* The first fire of T after unix seconds AFTER: 0 or -ERANGE (a job, or
 * no schedule). */
int sched_next_fire(struct sched *s, const struct target *t, int64_t after, int64_t *next);
/* The exec date of fire time T (unix s). */
void sched_exec_date(struct sched *s, int64_t t, char out[11]);
/* The configured time zone. */
const struct tz *sched_tz(const struct sched *s);
/* The limit of class C in the current configuration. */
unsigned sched_limit(struct sched *s, enum task_class c);
/* storage: s3's client (io/s3.h), NULL in local mode; the engine's, valid
 * until sched_fini (control commands use it on the loop: purge). */
struct s3_client *sched_storage(struct sched *s);

/* The Spark endpoint, for status (spark.c).  Strings are borrowed until the
 * loop runs again; the URL never holds the token. */
struct sched_spark_info {
	const char *mode;                /* submit managed external */
	const char *url;                 /* what jobs get as SPARK_REMOTE; NULL in submit */
	const char *state;               /* starting ready restarting down unreachable;
	                                    NULL in submit mode */
	int pid;                         /* managed server's pid (= group); 0 = none */
	int64_t started_ms, ready_ms;    /* unix ms; 0 = not */
	unsigned restarts;
	const char *last_error;          /* or NULL */
	bool restart_pending;            /* a reload waits for idle to restart it */
	const char *s3a;                 /* storage: s3: who gives Spark its s3a
	                                    settings, in words (static); NULL local */
};
void sched_spark_info(struct sched *s, struct sched_spark_info *out);

/* ---- operations for the control commands (sched.c, ops.c) ---- */

/* False once sched_stop has run: nothing new may start. */
bool sched_accepting(const struct sched *s);

/* Create a run of T for EXEC_DATE (unless one is active: then *created is
 * false and *run_id is that one).  Commits and announces.  -EBUSY at
 * SCHED_MAX_ACTIVE. */
int sched_trigger(struct sched *s, struct target *t, const char *exec_date,
                  const char *trigger, bool force, int64_t *run_id, bool *created);
/* One run per date in [FROM, TO] (day numbers), skipping dates with an
 * active run; *created and *skipped count them.  -E2BIG past
 * SCHED_MAX_BACKFILL dates, -EBUSY past SCHED_MAX_ACTIVE runs. */
int sched_backfill(struct sched *s, struct target *t, int64_t from, int64_t to,
                   unsigned *created, unsigned *skipped, int64_t *first_id,
                   int64_t *last_id);
/* The active run ID, or NULL. */
struct srun *sched_run(struct sched *s, int64_t id);
/* Cancel R for REASON (static text): its queued tasks end at once, its
 * running ones are asked to stop.  R is freed when nothing of it runs
 * (look it up again).  -EALREADY when it ended or is being cancelled. */
int sched_cancel(struct sched *s, struct srun *r, const char *reason);
/* Queue the failed or cancelled run ID again from its first unfinished
 * task, with a fresh retry budget; -EBUSY while it, or another run of its
 * target and date, is active; -EALREADY when it did not fail and was not
 * cancelled; -ENOENT when unknown or its target is gone; -EIO. */
int sched_retry(struct sched *s, int64_t id);
/* Pause or resume dataset T: a paused dataset's schedule fires nothing and
 * its queued tasks wait.  -EINVAL for a job, -EIO. */
int sched_pause(struct sched *s, struct target *t, bool paused);
/*
 * The quarantined snapshot of run RUN_ID was promoted (cmd_dq_promote): the
 * run goes on from its convert task, its check counting as accepted.  0, or
 * -EBUSY (the run, or another run of its target and date, is active),
 * -EALREADY (not failed), -ENOENT, -EIO.
 */
int sched_promoted(struct denverd *d, int64_t run_id);

/* ---- what status shows (run.c, task.c) ---- */

struct sched_counts {
	size_t active_runs;
	unsigned running, queued;        /* tasks, every class */
	unsigned retry_waiting;          /* tasks waiting for their retry delay */
	struct {
		unsigned running, limit;
		size_t queued;
	} cls[_TC_MAX];
	int64_t next_due_ms;             /* when the timer wakes; 0 = not armed */
};
void sched_counts(struct sched *s, struct sched_counts *out);

/* A running task.  Valid for the callback only. */
struct sched_task_info {
	const struct stask *task;        /* for sched_task_progress() */
	int64_t run_id;
	const char *target, *exec_date, *name;
	unsigned attempt;
	int64_t started_ms;
	int pid;                         /* 0 = no child process */
};
/* FN for every running task, oldest run first, until FN returns non-zero
 * (returned). */
int sched_running_each(struct sched *s,
                       int (*fn)(void *arg, const struct sched_task_info *ti), void *arg);
/* Task TASK_ID of active run RUN_ID while it runs, else NULL. */
const struct stask *sched_running_task(struct sched *s, int64_t run_id, int64_t task_id);
/* Add the running task's figures to OUT (bytes_done ...); false, adding
 * nothing, when its kind reports none. */
bool sched_task_progress(const struct stask *t, json_t *out);

#endif
