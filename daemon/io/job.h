/*
 * job.h - external jobs (spark-submit, report, alert commands): uv_spawn with
 * an argv (never a shell), its own process group, output line by line to the
 * journal with the run's fields, a bounded tail kept for the store, and a
 * timeout that sends SIGTERM to the group, then SIGKILL after a grace period.
 */
#ifndef DENVERD_JOB_H
#define DENVERD_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/log.h"

#define JOB_LINE_MAX 4000              /* longer output lines are split, to
                                          fit one log.c message */
#define JOB_TAIL_MAX (1024 * 1024)     /* cap on job_spec.tail_cap */
#define JOB_LOG_MAX (16 * 1024 * 1024) /* output bytes logged per job; the rest
                                          only reaches the tail */
#define JOB_ENV_MAX 4096               /* environment entries of a job */
#define JOB_ENV_DROP_PREFIX "AWS_"     /* the daemon's variables a job never
                                          inherits (only job_spec.env gives
                                          them): its S3 keys may be there */

/* Placeholder values for one task; NULL members expand to "". */
struct job_vars {
	const char *dataset, *exec_date, *state_dir, *run_id, *job;
	const char *input, *output;       /* the task's inputs and outputs */
	const char *schema;               /* path of the schema JSON (convert) */
	const char *datastore;            /* the datastore's root: state_dir/datastore,
	                                     or s3a://bucket/prefix/datastore */
	const char *spec;                 /* the attempt's spec file (convert.json,
	                                     or a job's spec.json) */
	const char *storage;              /* the spec's `storage` as JSON text:
	                                     "null", or {"endpoint": ...} */
	const char *extra_keys[8], *extra_values[8];   /* more {name}s, NULL-ended */
};

/* The names job_expand always knows, for config validation with
 * template_check() (extra_keys come on top). */
extern const char *const job_placeholders[];
extern const size_t job_placeholders_n;

/*
 * Expand {dataset} {exec_date} {year} {month} {day} {run_id} {state_dir}
 * {job} {input} {output} {schema} {datastore} {spec} {storage} and V's
 * extra keys in TMPL into a new
 * string (*out, caller frees).  {year} {month} {day} come from exec_date
 * ("2026-03-08" -> "2026", "03", "08"; "" when exec_date is not a date).
 * "{{" is a literal "{".  Returns 0, or -EINVAL with *out NULL for an
 * unknown or unterminated placeholder, -E2BIG, -ENOMEM (template.h).
 */
int job_expand(const char *tmpl, const struct job_vars *v, char **out);

/* job_expand of every element of the NULL-terminated TMPL into a new
 * NULL-terminated vector (*out, free with job_strv_free).  Same errors. */
int job_expand_argv(char *const *tmpl, const struct job_vars *v, char ***out);

/*
 * The environment entries a job of V gets on top of the daemon's:
 * DENVERD_DATASET, DENVERD_EXEC_DATE, DENVERD_RUN_ID, DENVERD_STATE_DIR,
 * DENVERD_JOB (and DENVERD_INPUT, DENVERD_OUTPUT, DENVERD_DATASTORE,
 * DENVERD_SPEC when set; NULL members are left out), then EXTRA
 * ("NAME=VALUE", NULL-terminated, may be NULL).  *out is a new
 * NULL-terminated vector for job_spec.env (free: job_strv_free).
 */
int job_env(const struct job_vars *v, char *const *extra, char ***out);

void job_strv_free(char **v);          /* wipes each string, frees; accepts NULL */

struct job_result {
	int exit_code;             /* -1 when killed by a signal; 127 when argv[0]
	                              was not found, 126 when not executable */
	int term_signal;           /* 0 when it exited */
	bool timed_out, cancelled;
	char *error;               /* words for the operator, NULL on success */
	char *tail;                /* last output bytes, valid UTF-8, never NULL */
};

struct job;

/* R and everything in it belong to the job and are freed after DONE
 * returns: copy what you keep. */
typedef void (*job_done_cb)(struct job *j, const struct job_result *r, void *arg);

struct job_spec {
	char *const *argv;         /* already expanded; argv[0] looked up in PATH */
	char *const *env;          /* NAME=VALUE entries added to (or replacing)
	                              the daemon's environment, NULL-terminated;
	                              the daemon's own AWS_* are never passed on
	                              (JOB_ENV_DROP_PREFIX), only these */
	const char *cwd;           /* NULL = inherit */
	uint64_t timeout_ms;       /* 0 = none */
	uint64_t kill_grace_ms;
	size_t tail_cap;           /* bytes of output kept (<= JOB_TAIL_MAX) */
	bool log_all;              /* log every line, past JOB_LOG_MAX too (a
	                              long-lived server; journald rate-limits) */
	struct log_ctx ctx;        /* fields for the journal lines (copied) */
};

/*
 * Start a job; nothing of SPEC is referenced after the call.  DONE is
 * called exactly once, on the loop (never from inside job_start), after
 * the child is reaped and both output pipes are at EOF; the job frees
 * itself after DONE returns.  A command that cannot be started (not found,
 * not executable) still ends through DONE, with exit code 127 or 126 and
 * the reason in words.  Returns 0, or -EINVAL (no argv, bad env entry),
 * -E2BIG (too many env entries), -ENOMEM, or a libuv error: then DONE is
 * never called.
 */
int job_start(uv_loop_t *loop, const struct job_spec *spec, job_done_cb done,
              void *arg, struct job **out);

/* SIGTERM to the group now, SIGKILL after the grace; DONE still follows
 * with cancelled set.  Only valid before DONE. */
void job_cancel(struct job *j);

/* The child's pid (= its process group), 0 when it never started. */
int job_pid(const struct job *j);

#endif
