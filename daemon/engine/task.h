/*
 * task.h - what a task kind may use: the one interface between the engine
 * (the driver) and engine/tasks/ (the plugins).  A kind sees its attempt
 * through struct task_info and reports its end through task_done(); it
 * never sees the engine's runs, targets or queues (engine_int.h).  The
 * engine finds the kinds in the table lifecycle.c fills at start-up.
 *
 * Loop thread only, unless a function says otherwise.
 */
#ifndef DENVERD_ENGINE_TASK_H
#define DENVERD_ENGINE_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "base/denverd.h"
#include "base/log.h"
#include "config/config.h"
#include "engine/engine.h"

struct http;
struct s3_client;
struct stask;                    /* one task of a run; the engine's */

/* How an attempt ended, as a kind reports it. */
enum toutcome { TO_SUCCEEDED, TO_UNCHANGED, TO_FAILED, TO_TIMEOUT, TO_CANCELLED };

struct task_outcome {
	enum toutcome outcome;
	bool retryable;              /* failed/timeout: worth another attempt */
	uint64_t retry_after_ms;     /* the server's wish; 0 = none */
	bool has_exit;               /* child processes: exit_code is set */
	int exit_code, term_signal;
	const char *error;           /* words for the operator, or NULL (copied) */
	const char *tail;            /* last output, or NULL (copied) */
};

/* What one attempt is about; valid from start until task_done() returns.
 * CFG is the configuration the attempt started under: it stays alive until
 * the attempt ends even across a reload.  Every pointer is borrowed. */
struct task_info {
	struct denverd *d;
	const struct config *cfg;
	struct http *http;           /* the engine's curl multi handle (fetches) */
	struct s3_client *s3;        /* storage: s3: where snapshots go; else NULL */
	const char *target;          /* dataset or job name */
	const struct cfg_dataset *dataset;   /* dataset runs, else NULL */
	const struct cfg_job *job;           /* job runs, else NULL */
	const char *exec_date;
	int64_t run_id, task_id, attempt_id;
	unsigned attempt;            /* 1, 2, ... */
	bool force;
	struct log_ctx log;
	/* Spark modes managed and external: the endpoint (SPARK_REMOTE, never
	 * holding the token) and the token or NULL.  NULL in submit mode.
	 * Valid during start only: copy them into the child's environment. */
	const char *spark_remote, *spark_token;
	/* storage: s3: the AWS_* entries ("NAME=VALUE", NULL-terminated) of the
	 * daemon's S3 credentials, for the environment of a child that reads
	 * the bucket (never its argv, a log line or a file); NULL in local
	 * mode.  Valid during start only. */
	char *const *s3_env;
};

struct task_kind {
	const char *name;            /* fetch check convert job */
	enum task_class cls;
	/* Start one attempt of T.  Returns 0 and calls task_done() exactly once
	 * later (never from inside start), or returns a negative errno with a
	 * message in ERR and *RETRYABLE set, and never calls task_done(). */
	int (*start)(struct stask *t, char *err, size_t errlen, bool *retryable);
	/* Ask the running attempt to stop; task_done() follows (TO_CANCELLED,
	 * or whatever it finished with meanwhile).  Idempotent. */
	void (*cancel)(struct stask *t);
	/* Optional: add what the attempt is doing to OUT (status, show). */
	void (*progress)(const struct stask *t, json_t *out);
};

const struct task_info *task_info(const struct stask *t);
/* The kind's own state for the running attempt (it frees it). */
void task_set_impl(struct stask *t, void *impl);
void *task_impl(const struct stask *t);
/* Record the child process of the running attempt (its pid leads its own
 * process group) for crash recovery. */
void task_record_pid(struct stask *t, int pid);
/* The attempt has ended (see task_kind.start).  O and its strings are
 * borrowed for the call. */
void task_done(struct stask *t, const struct task_outcome *o);
/* Announce the running attempt's progress to the engine's subscribers (an
 * ENGINE_EV_PROGRESS event, not stored).  TYPE is the event's wire name
 * ("fetch.progress", static); FIELDS is borrowed. */
void task_progress(struct stask *t, const char *type, const json_t *fields);

#endif
