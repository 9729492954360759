/*
 * engine_int.h - what the files of the engine share, and nobody else: the
 * engine's objects (struct sched, target, srun, stask) and the functions
 * each file offers the others.  Other layers use engine.h; the task kinds
 * (engine/tasks/) use task.h and never this header.
 *
 * The files form a stack; each calls only the ones below it (the order is
 * written in engine/meson.build and checked by scripts/check-layers):
 *
 *   lifecycle.c   init/start/stop/fini/reload, target sync, catch-up, lock,
 *                 the task-kind table
 *   spark.c       the Spark Connect endpoint: supervisor, gate, reload
 *   ops.c         backfill, pause, retry, the resumption after a promote
 *   recover.c     runs read back from the store (crash recovery, load_run)
 *   sched.c       start, dispatch, finish, the timer, trigger, cancel
 *   task.c        the task API of task.h (but task_done, sched.c's)
 *   fire.c        the runs a schedule's fires create
 *   run.c         run and task objects: build, save, link, queue placement
 *   targets.c     the target table, schedule arithmetic, status rows
 *   tx.c          transactions, typed events, subscribers
 *   states.c      state names
 *
 * Loop thread only.
 */
#ifndef DENVERD_ENGINE_INT_H
#define DENVERD_ENGINE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/denverd.h"
#include "base/list.h"
#include "base/log.h"
#include "config/config.h"
#include "domain/cron.h"
#include "domain/runq.h"
#include "engine/engine.h"
#include "domain/run_state.h"
#include "engine/task.h"

enum target_kind { TK_DATASET, TK_JOB };

/* ---- the engine's objects ---- */

struct target {
	LIST_FIELDS(struct target, targets);   /* in sched->targets */
	LIST_FIELDS(struct target, bucket);    /* in sched->by_name[hash] */
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
	enum run_state last_run_state;
	struct runq_lane lanes[_TC_MAX];
};

struct stask {
	struct srun *run;
	const struct task_kind *kind;
	int64_t id;
	char name[CONFIG_MAX_NAME + 1];
	int seq;
	enum run_state state;
	unsigned budget_used;            /* failed attempts counted for retries */
	unsigned n_attempts;             /* attempts made, all outcomes */
	int64_t not_before;              /* unix ms; retry wait */
	char *error;
	struct runq_item qi;             /* in its class queue while eligible */
	LIST_FIELDS(struct stask, waiting);   /* in sched->waiting while not_before > now */
	bool waiting;                    /* on that list */
	/* The running attempt. */
	int64_t attempt_id, attempt_started;
	int pid;
	void *impl;
	struct task_info info;
	const char *cancel_reason;       /* static text; NULL = not cancelled */
	bool requeue_on_cancel;          /* daemon stop: the task stays queued */
};

struct srun {
	struct sched *s;
	LIST_FIELDS(struct srun, runs);  /* in sched->runs */
	int64_t id;
	struct target *target;
	char exec_date[11];
	char trigger[12];                /* schedule catchup manual backfill after */
	bool force;
	enum run_state state;
	int64_t created, started, ended;
	char *error;
	struct stask *tasks;
	size_t n_tasks;
	const char *cancel_reason;       /* static; set by cancel */
};

/* Buckets of the name lookup (status looks up every dataset). */
#define SCHED_TARGET_BUCKETS 1024
/* Kinds of task the engine knows (lifecycle.c fills the table). */
#define SCHED_MAX_KINDS 8

/* A configuration replaced by a reload, kept while running tasks borrow it. */
struct retired_cfg {
	struct retired_cfg *next;
	struct config *cfg;
};

/* An event noted in the open transaction, announced after its commit. */
struct pending_event {
	LIST_FIELDS(struct pending_event, pending);   /* in sched->pending */
	struct engine_event ev;          /* its strings point into this struct */
	char target[CONFIG_MAX_NAME + 1], task[CONFIG_MAX_NAME + 1], exec_date[11];
	char message[1024];
};

struct subscriber {
	engine_event_fn fn;
	void *arg;
};

struct http;
struct s3_client;
struct store_run;
struct sparkd;

/* The Spark endpoint (spark.c).  The strings are owned; TOKEN is wiped when
 * freed and never logged. */
struct spark_ep {
	enum spark_mode mode;            /* of the endpoint set up now */
	struct sparkd *sd;               /* its supervisor; NULL in submit mode */
	struct sparkd *old;              /* a reload's previous one, stopping */
	bool ready;                      /* convert and jobs may start (with mode
	                                    submit, sched_dispatch ignores it) */
	bool pending;                    /* a reload changed it: restart when idle */
	char *remote;                    /* SPARK_REMOTE for jobs (no token) */
	char *token;                     /* or NULL */
	char *key;                       /* the settings it runs with, for reload */
	char error[600];                 /* why it could not be set up; "" = none */
	uv_timer_t poll;                 /* the idle check of a pending restart */
	bool poll_init;
};

struct sched {
	struct denverd *d;
	struct http *http;               /* the fetch tasks' curl multi handle */
	struct s3_client *s3;            /* storage: s3's client, on http; else NULL */
	char **s3_env;                   /* storage: s3: the AWS_* entries children
	                                    get (io/s3_creds.h); else NULL.  Wiped
	                                    and freed by sched_fini */
	int lock_fd;                     /* flock on state_dir/sched.lock, or -1 */
	uv_timer_t timer;
	bool timer_init, closing;
	struct tz *tz;
	const struct task_kind *kinds[SCHED_MAX_KINDS];
	size_t n_kinds;
	struct subscriber subs[ENGINE_MAX_SUBSCRIBERS];
	size_t n_subs;
	struct target *targets;          /* newest first */
	struct target *by_name[SCHED_TARGET_BUCKETS];   /* name -> target */
	struct srun *runs;               /* active runs, oldest first */
	struct srun *runs_tail;
	size_t n_runs;
	struct stask *waiting;           /* retry waits, any order */
	size_t n_waiting;
	struct runq q[_TC_MAX];
	unsigned running[_TC_MAX];
	struct retired_cfg *retired;
	struct pending_event *pending;   /* events to announce after commit, */
	struct pending_event *pending_tail;   /* oldest first */
	bool tx_failed;
	bool dispatching;
	bool stopped;                    /* sched_stop has run */
	int64_t next_due;                /* unix ms the timer is armed for; 0 = none */
	struct spark_ep spark;
};

/* ---- tx.c: transactions, events ---- */

/* Begin one store transaction; the changes noted until tx_end/tx_commit
 * are written, and their events announced, together. */
void tx_begin(struct sched *s);
/* Commit and announce, or roll back and drop the events: 0 or -EIO
 * (logged, naming WHAT). */
int tx_commit(struct sched *s, const char *what);
void tx_end(struct sched *s, const char *what);     /* tx_commit, result unused */
/* Remember a failed write of the open transaction (RC < 0). */
void tx_check(struct sched *s, int rc);
/* Record an event about run R (and its task T, or NULL) in the open
 * transaction and queue it for announcing.  PRIORITY: LOG_INFO,
 * LOG_WARNING or LOG_ERR. */
void tx_note(struct sched *s, int priority, enum engine_event_kind kind,
             const struct srun *r, const struct stask *t, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* The same for an event about target TG as a whole. */
void tx_note_target(struct sched *s, int priority, enum engine_event_kind kind,
                    const struct target *tg, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Hand EV to every subscriber now (progress: never stored). */
void tx_publish(struct sched *s, const struct engine_event *ev);
/* Free the queue of pending events (sched_fini). */
void tx_fini(struct sched *s);

/* ---- targets.c ---- */

/* A new target NAME of KIND in the table; NULL when out of memory. */
struct target *target_new(struct sched *s, const char *name, enum target_kind kind);
void target_unlink_free(struct sched *s, struct target *t);
/* Make T's schedule from its configuration; a bad expression (config.c
 * validates them, so only a bug) leaves it without fires (t->ds NULL). */
void target_schedule(struct target *t);
/* T's next fire after unix seconds AFTER, or none. */
void target_set_next_fire(struct sched *s, struct target *t, int64_t after);
/* The retry policy of T's runs. */
const struct cfg_retry *target_retry(const struct target *t);
/* R reached a new run state: it becomes its target's status row when it is
 * the run of the target's latest exec date. */
void target_saw_run(struct target *t, const struct srun *r);

/* ---- run.c ---- */

/* The kind of R's task TASK_NAME in the engine's table, or NULL. */
const struct task_kind *run_kind_of(const struct srun *r, const char *task_name);
/* A run of T with N_TASKS zeroed tasks, not linked; NULL (ENOMEM). */
struct srun *run_new(struct sched *s, struct target *t, size_t n_tasks);
/* Free an unlinked run. */
void run_free(struct srun *r);
/* Link R as the newest active run; its tasks get their queue items. */
void run_link(struct sched *s, struct srun *r);
/* Unlink and free R; frees its target too when it was removed and idle. */
void run_unlink_free(struct sched *s, struct srun *r);
/* The active run of T for EXEC_DATE, or NULL. */
struct srun *run_active_of(struct sched *s, const struct target *t, const char *exec_date);
/* The first task of R that has not finished, or NULL. */
struct stask *run_current_task(struct srun *r);
/* Build a new queued run of T for EXEC_DATE inside the open transaction
 * (store rows and the creation event); not linked: the caller adopts it
 * after a successful commit and frees it otherwise. */
int run_build(struct sched *s, struct target *t, const char *exec_date,
              const char *trigger, bool force, struct srun **out);
/* Link the N runs built in a committed transaction, queue their first task. */
void runs_adopt(struct sched *s, struct srun **runs, size_t n);
/* Store the run/task rows as they are in memory (inside a transaction). */
void run_save(struct sched *s, const struct srun *r);
void task_save(struct sched *s, const struct stask *t);
/* Replace *SLOT by a copy of TEXT (NULL clears), capped at SCHED_ERROR_MAX. */
#define SCHED_ERROR_MAX 4096
void run_set_error(char **slot, const char *text);
/* Put T where it belongs for its state and not_before (queue, retry wait). */
void task_place(struct sched *s, struct stask *t);
/* Take T out of its queue and the retry waits. */
void task_unplace(struct sched *s, struct stask *t);
/* Retry waits. */
void waiting_remove(struct sched *s, struct stask *t);

/* ---- sched.c ---- */

/* Start what may start, then arm the timer (when not dispatching). */
void sched_kick(struct sched *s);
void sched_dispatch(struct sched *s);
void sched_arm(struct sched *s);
/* The `after:` rule: job J should run for EXEC_DATE now. */
bool sched_job_ready(struct sched *s, const struct cfg_job *j, const char *exec_date);
/* Give back the configurations no running task borrows any more. */
void sched_retired_sweep(struct sched *s);

/* ---- spark.c ---- */

/* Kill a previous daemon's orphan server, then set up the endpoint of the
 * configuration (sched_start).  0 or a libuv error. */
int spark_start(struct sched *s);
/* The configuration was replaced: restart the endpoint when idle if its
 * settings changed. */
void spark_reload(struct sched *s);
/* SIGTERM to the server's group (sched_stop); nothing restarts. */
void spark_stop(struct sched *s);
/* Wait (bounded by the kill grace) for the server to be reaped, then free
 * the endpoint (sched_fini; runs the loop). */
void spark_fini(struct sched *s);

/* ---- fire.c ---- */

/* Create the runs for the fires of dataset T up to NOW_S (LIVE: on the
 * timer; else at start, when every fire was missed), and its next fire. */
void fire_runs(struct sched *s, struct target *t, int64_t now_s, bool live);

/* ---- recover.c ---- */

/* A run row copied out of its statement. */
struct run_copy {
	int64_t id;
	char target[CONFIG_MAX_NAME + 1], kind[8], exec_date[11], trigger[12], state[16];
	bool force;
	int64_t created, started, ended;
	char *error;
};

struct run_list {
	struct run_copy *v;
	size_t n, cap;
};

/* Reload active runs from the store and reconcile them (sched_start, before
 * the catch-up). */
int recover_runs(struct sched *s);
/* A store_run_* callback appending the row to the struct run_list ARG. */
int recover_copy_run(void *arg, const struct store_run *row);
void recover_run_list_free(struct run_list *l);
/* The target a stored run belongs to, if it is still configured. */
struct target *recover_target_of(struct sched *s, const struct run_copy *c);
/* Rebuild run C of target T with its tasks (not linked).  With RECOVER,
 * open attempts are closed as interrupted (inside the caller's
 * transaction). */
int recover_load_run(struct sched *s, struct target *t, const struct run_copy *c,
                     bool recover, struct srun **out);
/* End R from its tasks' states when all have ended (inside a transaction);
 * true when R still has work and should be linked. */
bool recover_settle(struct sched *s, struct srun *r);
/* Queue R's first unfinished task. */
void recover_place_current(struct sched *s, struct srun *r);

#endif
