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

#include "log.h"

/* Placeholder values for one task; NULL members expand to "". */
struct job_vars {
	const char *dataset, *exec_date, *state_dir, *run_id, *job;
	const char *input, *output;       /* the task's inputs and outputs */
	const char *schema;               /* path of the schema JSON (convert) */
	const char *extra_keys[8], *extra_values[8];   /* more {name}s */
};

/*
 * Expand {dataset} {exec_date} {year} {month} {day} {run_id} {state_dir}
 * {input} {output} ... in TMPL into a new string (*out, caller frees).
 * "{{" is a literal "{".  Returns 0, or -EINVAL with *out NULL for an
 * unknown or unterminated placeholder.
 */
int job_expand(const char *tmpl, const struct job_vars *v, char **out);

struct job_result {
	int exit_code;             /* -1 when killed by a signal */
	int term_signal;           /* 0 when it exited */
	bool timed_out, cancelled;
	char *error;               /* words for the operator, or NULL (owned) */
	char *tail;                /* last output bytes (owned) */
};

struct job;
typedef void (*job_done_cb)(struct job *j, const struct job_result *r, void *arg);

struct job_spec {
	char *const *argv;         /* already expanded; argv[0] looked up in PATH */
	char *const *env;          /* extra NAME=VALUE entries, NULL-terminated */
	const char *cwd;           /* NULL = inherit */
	uint64_t timeout_ms;       /* 0 = none */
	uint64_t kill_grace_ms;
	size_t tail_cap;           /* bytes of output kept */
	struct log_ctx ctx;        /* fields for the journal lines */
};

/* Start a job.  DONE is called exactly once, on the loop, after the child is
 * reaped and its pipes are drained; the job frees itself after DONE returns
 * (the result is valid only during the call). */
int job_start(uv_loop_t *loop, const struct job_spec *spec, job_done_cb done,
              void *arg, struct job **out);

/* SIGTERM to the group now, SIGKILL after the grace; DONE still follows. */
void job_cancel(struct job *j);

int job_pid(const struct job *j);

#endif
