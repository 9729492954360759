/*
 * sched_int.h - what the engine (sched.c), its control commands
 * (sched_control.c), its recovery (sched_recover.c) and the task kinds
 * (task_*.c) share.  Not for other modules: they use scheduler.h.
 */
#ifndef DENVERD_SCHED_INT_H
#define DENVERD_SCHED_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

#include "config/config.h"
#include "domain/cron.h"
#include "base/denverd.h"
#include "base/log.h"
#include "domain/runq.h"
#include "engine/engine.h"

enum sstate {
	SS_QUEUED, SS_RUNNING, SS_SUCCEEDED, SS_FAILED, SS_UNCHANGED,
	SS_SKIPPED, SS_CANCELLED,
};
const char *sstate_name(enum sstate s);
int sstate_parse(const char *name, enum sstate *out);   /* 0 or -EINVAL */
static inline bool sstate_final(enum sstate s)
{
	return s >= SS_SUCCEEDED;
}

/* Resource classes, each with its limit and its fair queue. */
enum tclass { TC_FETCH, TC_CHECK, TC_PROC, TC_N };

enum target_kind { TK_DATASET, TK_JOB };

/* ---- task kinds ---- */

struct stask;

/* How an attempt ended, as a kind reports it. */
enum toutcome { TO_SUCCEEDED, TO_UNCHANGED, TO_FAILED, TO_TIMEOUT, TO_CANCELLED };

struct task_outcome {
	enum toutcome outcome;
	bool retryable;              /* failed/timeout: worth another attempt */
	uint64_t retry_after_ms;     /* the server's wish; 0 = none */
	bool has_exit;               /* child processes: exit_code is set */
	int exit_code, term_signal;
	const char *error;           /* words for the operator, or NULL */
	const char *tail;            /* last output, or NULL */
};

/* What one attempt is about; valid from start until task_done() returns.
 * CFG is the configuration the attempt started under: it stays alive until
 * the attempt ends even across a reload. */
struct task_info {
	struct denverd *d;
	const struct config *cfg;
	const char *target;          /* dataset or job name */
	const struct cfg_dataset *dataset;   /* dataset runs, else NULL */
	const struct cfg_job *job;           /* job runs, else NULL */
	const char *exec_date;
	int64_t run_id, task_id, attempt_id;
	unsigned attempt;            /* 1, 2, ... */
	bool force;
	struct log_ctx log;
};

struct task_kind {
	const char *name;            /* fetch check convert job */
	enum tclass cls;
	/* Start one attempt of T.  Returns 0 and calls task_done() exactly once
	 * later (never from inside start), or returns a negative errno with a
	 * message in ERR and *RETRYABLE set, and never calls task_done(). */
	int (*start)(struct stask *t, char *err, size_t errlen, bool *retryable);
	/* Ask the running attempt to stop; task_done() follows (TO_CANCELLED,
	 * or whatever it finished with meanwhile).  Idempotent. */
	void (*cancel)(struct stask *t);
	/* Optional: add what the attempt is doing to OUT (status). */
	void (*progress)(const struct stask *t, json_t *out);
};

extern const struct task_kind task_kind_fetch, task_kind_check, task_kind_convert,
                              task_kind_job;

const struct task_info *task_info(const struct stask *t);
void task_set_impl(struct stask *t, void *impl);
void *task_impl(const struct stask *t);
/* Record the child process of the running attempt (its pid leads its own
 * process group) for crash recovery. */
void task_record_pid(struct stask *t, int pid);
/* The attempt has ended (see task_kind.start). */
void task_done(struct stask *t, const struct task_outcome *o);
/* Broadcast an event about the running attempt to watchers (not stored:
 * progress, for instance).  Takes a reference to FIELDS' members. */
void task_broadcast(struct stask *t, const char *type, json_t *fields);

/* ---- the engine's objects ---- */

struct target {
	struct target *next;
	struct target *hnext;            /* in sched->by_name[hash] */
	char name[CONFIG_MAX_NAME + 1];
	enum target_kind kind;
	const struct cfg_dataset *ds;    /* in sched->d->cfg; NULL when removed */
	const struct cfg_job *job;
	struct cron cron;                /* datasets */
	int64_t first_configured;        /* unix ms */
	int64_t last_fire;               /* unix ms; schedule handled up to here */
	int64_t next_fire;               /* unix s; 0 = none */
	bool paused;
	bool removed;                    /* no longer configured */
	unsigned n_runs;                 /* active runs of this target */
	int64_t last_run_id;             /* the run of the latest exec date (the
	                                    newest of that date), for status */
	char last_run_date[11];
	enum sstate last_run_state;
	struct runq_lane lanes[TC_N];
};

struct stask {
	struct srun *run;
	const struct task_kind *kind;
	int64_t id;
	char name[CONFIG_MAX_NAME + 1];
	int seq;
	enum sstate state;
	unsigned budget_used;            /* failed attempts counted for retries */
	unsigned n_attempts;             /* attempts made, all outcomes */
	int64_t not_before;              /* unix ms; retry wait */
	char *error;
	struct runq_item qi;             /* in its class queue while eligible */
	struct stask *wprev, *wnext;     /* in sched->waiting while not_before > now */
	bool waiting;
	/* The running attempt. */
	int64_t attempt_id, attempt_started;
	int pid;
	void *impl;
	struct task_info info;
	const char *cancel_reason;       /* static text; NULL = not cancelled */
	bool requeue_on_cancel;          /* daemon stop: the task stays queued */
};

struct sched;

struct srun {
	struct sched *s;
	struct srun *prev, *next;
	int64_t id;
	struct target *target;
	char exec_date[11];
	char trigger[12];                /* schedule catchup manual backfill after */
	bool force;
	enum sstate state;
	int64_t created, started, ended;
	char *error;
	struct stask *tasks;
	size_t n_tasks;
	const char *cancel_reason;       /* static; set by cancel */
};

/* Buckets of the name lookup (status looks up every dataset). */
#define SCHED_TARGET_BUCKETS 1024

/* A configuration replaced by a reload, kept while running tasks borrow it. */
struct retired_cfg {
	struct retired_cfg *next;
	struct config *cfg;
};

struct http;

struct sched {
	struct denverd *d;
	struct http *http;               /* the fetch tasks' curl multi handle */
	int lock_fd;                     /* flock on state_dir/sched.lock, or -1 */
	uv_timer_t timer;
	bool timer_init, closing;
	struct tz *tz;
	struct target *targets;
	struct target *by_name[SCHED_TARGET_BUCKETS];   /* name -> target */
	struct srun *runs;               /* active runs, oldest first */
	struct srun *runs_tail;
	size_t n_runs;
	struct stask *waiting;           /* retry waits, any order */
	struct runq q[TC_N];
	unsigned running[TC_N];
	struct retired_cfg *retired;
	json_t *pending;                 /* events to announce after commit */
	bool tx_failed;
	bool dispatching;
	bool stopped;                    /* sched_stop has run */
	int64_t next_due;                /* unix ms the timer is armed for; 0 = none */
};

/* ---- engine operations used by the control commands ---- */

struct target *sched_target(struct sched *s, const char *name);
struct srun *sched_run(struct sched *s, int64_t id);

/* Create a run of T for EXEC_DATE (unless one is active: then *created is
 * false and *run_id is that one).  Commits and announces. */
int sched_trigger(struct sched *s, struct target *t, const char *exec_date,
                  const char *trigger, bool force, int64_t *run_id, bool *created);
/* One run per date in [FROM, TO] (day numbers), skipping dates with an
 * active run; *created and *skipped count them. */
int sched_backfill(struct sched *s, struct target *t, int64_t from, int64_t to,
                   unsigned *created, unsigned *skipped, int64_t *first_id,
                   int64_t *last_id);
int sched_cancel(struct sched *s, struct srun *r, const char *reason);
/* Queue the failed or cancelled run ID again from its first unfinished
 * task, with a fresh retry budget; -EBUSY while it, or another run of its
 * target and date, is active. */
int sched_retry(struct sched *s, int64_t id);
int sched_pause(struct sched *s, struct target *t, bool paused);
/* Today's exec date (the local date of now) into out[11]. */
void sched_today(struct sched *s, char out[11]);
/* The first fire of T after unix seconds AFTER: 0 or -ERANGE. */
int sched_next_fire(struct sched *s, const struct target *t, int64_t after, int64_t *next);
/* The exec date of fire time T (unix s). */
void sched_exec_date(struct sched *s, int64_t t, char out[11]);
/* Start what may start and rearm the timer (after a change from outside
 * the engine's own callbacks). */
void sched_kick(struct sched *s);
/* The limit of class C in the current configuration. */
unsigned sched_limit(struct sched *s, enum tclass c);

/* sched_control.c */
int sched_control_init(struct sched *s);

/* sched_recover.c: reload active runs from the store and reconcile them
 * (called by sched_init before the catch-up). */
int sched_recover(struct sched *s);

/* Used by sched_recover.c to rebuild the in-memory runs. */
struct srun *sched_run_new(struct sched *s, struct target *t, size_t n_tasks);
void sched_run_link(struct sched *s, struct srun *r);
/* Put T where it belongs for its state and not_before (queue, retry wait). */
void sched_task_place(struct sched *s, struct stask *t);
const struct task_kind *sched_kind_of(const struct srun *r, const char *task_name);

/* Transactions: begin, note events, commit (or roll back) and announce. */
void sched_tx_begin(struct sched *s);
void sched_tx_end(struct sched *s, const char *what);
/* Record an event in the open transaction and queue it for announcing.
 * LEVEL: "info" "warning" "error"; TYPE: "run.state" "task.state" ... */
void sched_note(struct sched *s, const char *level, const char *type,
                const struct srun *r, const struct stask *t, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Store the run/task rows as they are in memory (inside a transaction). */
void sched_save_run(struct sched *s, const struct srun *r);
void sched_save_task(struct sched *s, const struct stask *t);

#endif
