/*
 * task_proc.h - attempts that are a child process (the `job` kind and the
 * convert task), run through job.c.
 *
 * How a child's end becomes an outcome (denverd(8), JOBS):
 *   exit 0                       succeeded (then the kind's AFTER check)
 *   timeout                      timeout, retryable
 *   exit 126, 127                failed, not retryable (cannot execute / not found)
 *   other exit status, a signal  failed, retryable
 *   job_cancel()                 cancelled
 * Every child gets job.c's DENVERD_* variables (job_env; DENVERD_DATASTORE is
 * the datastore root, a path or s3a://), the attempt marker (procgroup.h)
 * and, with storage: s3, the AWS_* keys in its environment.
 */
#ifndef DENVERD_TASK_PROC_H
#define DENVERD_TASK_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "engine/task.h"

/* Called after an exit status of 0 to check the child's results: it may turn
 * O into a failure, with words written into BUF. */
typedef void (*proc_after_fn)(struct stask *t, void *ctx, struct task_outcome *o,
                              char *buf, size_t len);

struct proc_launch {
	char **argv;                   /* NULL-terminated; proc_start takes it */
	const char *const *env;        /* extra NAME=VALUE entries, NULL-terminated
	                                  or NULL; copied */
	const char *spec;              /* the spec file, for {spec} and DENVERD_SPEC;
	                                  or NULL; copied */
	uint64_t timeout_ms, kill_grace_ms;
	proc_after_fn after;           /* or NULL */
	void *ctx;                     /* for AFTER; freed with ctx_free */
	void (*ctx_free)(void *ctx);
};

/* Start the child of T's attempt (task_kind.start rules).  L's argv and ctx
 * are taken even on failure. */
int proc_start(struct stask *t, struct proc_launch *l, char *err, size_t errlen,
               bool *retryable);
void proc_cancel(struct stask *t);

/* argv helpers: a growable NULL-terminated vector (free: job_strv_free);
 * on allocation failure it is marked failed and later pushes do nothing. */
struct argv_buf {
	char **v;
	size_t n, cap;
	bool failed;
};
void argv_push(struct argv_buf *a, const char *s);
void argv_pushf(struct argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Where PROG would be executed from: PROG itself when it holds a '/', else
 * the first executable match in $PATH.  0 or -ENOENT. */
int proc_which(const char *prog, char *out, size_t len);

#endif
