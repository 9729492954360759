/*
 * task_proc.c - child-process attempts (job.c underneath) and the `job`
 * task kind (configured jobs with an argv template, {spec} their spec file
 * of jobspec.h: where the datastore is, for the report).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/macro.h"
#include "common/array.h"
#include "io/job.h"
#include "io/procgroup.h"
#include "store/store.h"
#include "engine/tasks/jobspec.h"
#include "engine/tasks/task_proc.h"
#include "engine/tasks/tasks.h"

/* Extra environment entries a kind may add (besides the marker). */
#define PROC_EXTRA_ENV 8

struct proc {
	struct stask *t;
	struct job *job;
	char **argv;
	char **env;
	proc_after_fn after;
	void *ctx;
	void (*ctx_free)(void *ctx);
};

void argv_push(struct argv_buf *a, const char *s)
{
	if (a->failed)
		return;
	if (ARRAY_RESERVE(a->v, a->n + 2, a->cap, 16) < 0) {
		a->failed = true;
		return;
	}
	if (!(a->v[a->n] = strdup(s))) {
		a->failed = true;
		return;
	}
	a->v[++a->n] = NULL;
}

void argv_pushf(struct argv_buf *a, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s) {
		a->failed = true;
		return;
	}
	argv_push(a, s);
	free(s);
}

int proc_which(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (!prog || !*prog)
		return -ENOENT;
	if (strchr(prog, '/')) {
		if (access(prog, X_OK) < 0)
			return -ENOENT;
		snprintf(out, len, "%s", prog);
		return 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t dl = colon ? (size_t)(colon - path) : strlen(path);
		int n = snprintf(out, len, "%.*s/%s", (int)dl, dl ? path : ".", prog);
		if (n > 0 && (size_t)n < len && access(out, X_OK) == 0)
			return 0;
		path += dl + (colon ? 1 : 0);
	}
	return -ENOENT;
}

static void proc_free(struct proc *p)
{
	if (!p)
		return;
	job_strv_free(p->argv);
	job_strv_free(p->env);
	if (p->ctx_free)
		p->ctx_free(p->ctx);
	free(p);
}

static void on_job_done(struct job *j, const struct job_result *r, void *arg)
{
	struct proc *p = arg;
	struct stask *t = p->t;
	struct task_outcome o = { .tail = r->tail, .error = r->error };
	char buf[1024];

	if (r->cancelled) {
		o.outcome = TO_CANCELLED;
	} else if (r->timed_out) {
		o.outcome = TO_TIMEOUT;
		o.retryable = true;
	} else if (r->term_signal) {
		o.outcome = TO_FAILED;
		o.retryable = true;
		o.term_signal = r->term_signal;
		if (!o.error) {
			snprintf(buf, sizeof buf, "killed by signal %d (%s)", r->term_signal,
			         strsignal(r->term_signal));
			o.error = buf;
		}
	} else {
		o.has_exit = true;
		o.exit_code = r->exit_code;
		if (r->exit_code == 0) {
			o.outcome = TO_SUCCEEDED;
			o.error = NULL;
			if (p->after)
				p->after(t, p->ctx, &o, buf, sizeof buf);
		} else {
			o.outcome = TO_FAILED;
			/* 126/127: the command cannot run at all; retrying will not help. */
			o.retryable = r->exit_code != 126 && r->exit_code != 127;
			if (!o.error) {
				snprintf(buf, sizeof buf, r->exit_code == 127 ?
				         "%s: command not found (exit status 127)" :
				         r->exit_code == 126 ? "%s: cannot execute (exit status 126)" :
				         "%s exited with status %d", p->argv[0], r->exit_code);
				o.error = buf;
			}
		}
	}
	task_set_impl(t, NULL);
	proc_free(p);
	task_done(t, &o);
}

/* What job.c substitutes and exports for the attempt of TI: the names,
 * the datastore root (DATASTORE, PATH_MAX bytes: a path or s3a://) with
 * its storage object as JSON (STORAGE, PATH_MAX bytes), and SPEC (or
 * NULL). */
static int vars_of(const struct task_info *ti, char run_id[24], char *datastore,
                   char *storage, const char *spec, struct job_vars *v)
{
	int rc = jobspec_datastore(ti->cfg, NULL, datastore, PATH_MAX);

	if (rc == 0)
		rc = jobspec_storage_text(ti->cfg, storage, PATH_MAX);
	snprintf(run_id, 24, "%" PRId64, ti->run_id);
	*v = (struct job_vars){
		.dataset = ti->dataset ? ti->target : NULL,
		.job = ti->job ? ti->target : NULL,
		.exec_date = ti->exec_date, .state_dir = ti->cfg->state_dir, .run_id = run_id,
		.datastore = rc < 0 ? NULL : datastore, .spec = spec,
		.storage = rc < 0 ? NULL : storage,
	};
	return rc;
}

/* The environment every child of T gets (job.c's DENVERD_* variables, the
 * attempt marker, spark.python as PYSPARK_PYTHON and PYSPARK_DRIVER_PYTHON,
 * in Spark modes managed and external SPARK_REMOTE and the token's
 * SPARK_CONNECT_AUTHENTICATE_TOKEN, with storage: s3 the AWS_* keys, then
 * EXTRA), into P->env.  The Spark and S3 variables go to every child, not
 * only convert: jobs are usually Spark programs reading the datastore too
 * (the report), and spark-submit needs them to find its own installation.
 * The daemon's own AWS_* never reach a child by inheritance (job.c).  The
 * token is wiped from the heap once copied. */
static int proc_env(struct proc *p, const struct task_info *ti, const char *const *extra,
                    const char *spec)
{
	char marker[PATH_MAX + 64], run_id[24], py[PATH_MAX + 32], drv[PATH_MAX + 32];
	char datastore[PATH_MAX], storage[PATH_MAX];
	char *more[PROC_EXTRA_ENV + 10] = { marker }, *remote = NULL, *token = NULL;
	const char *python = ti->cfg->spark.python;
	struct job_vars v;
	size_t n = 1;
	int rc = 0;

	if (procgroup_marker(ti->cfg->state_dir, ti->attempt_id, marker, sizeof marker) < 0)
		return -ENAMETOOLONG;
	if (python) {
		snprintf(py, sizeof py, "PYSPARK_PYTHON=%s", python);
		snprintf(drv, sizeof drv, "PYSPARK_DRIVER_PYTHON=%s", python);
		more[n++] = py;
		more[n++] = drv;
	}
	if (ti->spark_remote) {
		if (asprintf(&remote, "SPARK_REMOTE=%s", ti->spark_remote) < 0)
			return -ENOMEM;
		more[n++] = remote;
	}
	if (ti->spark_token) {
		if (asprintf(&token, "SPARK_CONNECT_AUTHENTICATE_TOKEN=%s", ti->spark_token) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		more[n++] = token;
	}
	for (size_t i = 0; ti->s3_env && ti->s3_env[i] && i < 3; i++)
		more[n++] = ti->s3_env[i];
	for (size_t i = 0; extra && extra[i]; i++) {
		if (n >= ARRAY_SIZE(more) - 1) {
			rc = -E2BIG;
			goto out;
		}
		more[n++] = (char *)extra[i];
	}
	if ((rc = vars_of(ti, run_id, datastore, storage, spec, &v)) == 0)
		rc = job_env(&v, more, &p->env);
out:
	free(remote);
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	return rc;
}

int proc_start(struct stask *t, struct proc_launch *l, char *err, size_t errlen,
               bool *retryable)
{
	const struct task_info *ti = task_info(t);
	struct proc *p = calloc(1, sizeof *p);
	int rc;

	*retryable = false;
	if (!p) {
		job_strv_free(l->argv);
		if (l->ctx_free)
			l->ctx_free(l->ctx);
		snprintf(err, errlen, "out of memory");
		*retryable = true;
		return -ENOMEM;
	}
	p->t = t;
	p->argv = l->argv;
	p->after = l->after;
	p->ctx = l->ctx;
	p->ctx_free = l->ctx_free;
	if ((rc = proc_env(p, ti, l->env, l->spec)) < 0) {
		snprintf(err, errlen, "cannot build the environment: %s", strerror(-rc));
		goto out;
	}
	struct job_spec spec = {
		.argv = p->argv, .env = p->env, .cwd = NULL,
		.timeout_ms = l->timeout_ms, .kill_grace_ms = l->kill_grace_ms,
		.tail_cap = (size_t)ti->cfg->limits.output_tail, .ctx = ti->log,
	};
	if ((rc = job_start(ti->d->loop, &spec, on_job_done, p, &p->job)) < 0) {
		snprintf(err, errlen, "cannot start %s: %s", p->argv[0], strerror(-rc));
		*retryable = rc != -ENOENT && rc != -EACCES;
		goto out;
	}
	task_set_impl(t, p);
	task_record_pid(t, job_pid(p->job));
	return 0;
out:
	proc_free(p);
	return rc;
}

void proc_cancel(struct stask *t)
{
	struct proc *p = task_impl(t);

	if (p && p->job)
		job_cancel(p->job);
}

/* ---- the `job` kind: a configured job's argv template ---- */

/* J's command with VARS into *OUT (free: job_strv_free): each item
 * expanded (job.h), except an item that is exactly {spark_conf}: that one
 * becomes spark.conf and, with storage: s3, the derived s3a settings as
 * "--conf" "k=v" pairs (jobspec.h), taken as they are, not expanded.  0,
 * -EINVAL (a bad placeholder), -ENOMEM. */
static int job_argv(const struct config *cfg, const struct cfg_job *j,
                    const struct job_vars *vars, char ***out)
{
	struct argv_buf a = { 0 };
	int rc = 0;

	*out = NULL;
	for (size_t i = 0; i < j->command.n && rc == 0; i++) {
		char *s;
		if (strcmp(j->command.items[i], "{spark_conf}") == 0) {
			jobspec_push_conf(cfg, &a);
		} else if ((rc = job_expand(j->command.items[i], vars, &s)) == 0) {
			argv_push(&a, s);
			free(s);
		}
	}
	if (rc == 0 && a.failed)
		rc = -ENOMEM;
	if (rc < 0) {
		job_strv_free(a.v);
		return rc;
	}
	*out = a.v;
	return 0;
}

static int job_kind_start(struct stask *t, char *err, size_t errlen, bool *retryable)
{
	const struct task_info *ti = task_info(t);
	const struct cfg_job *j = ti->job;
	struct job_vars vars;
	char run_id[24], datastore[PATH_MAX], storage[PATH_MAX], spec[PATH_MAX], **argv = NULL;
	int rc;

	*retryable = false;
	if (!j || j->command.n == 0) {
		snprintf(err, errlen, "job %s has no command", ti->target);
		return -EINVAL;
	}
	if ((rc = vars_of(ti, run_id, datastore, storage, NULL, &vars)) < 0) {
		snprintf(err, errlen, "the datastore's name: %s", strerror(-rc));
		return rc;
	}
	/* Where the datastore is (jobspec.h), for {spec}: the report reads it. */
	if ((rc = jobspec_job(ti, datastore, spec, err, errlen)) < 0) {
		*retryable = true;
		return rc;
	}
	vars.spec = spec;
	if ((rc = job_argv(ti->cfg, j, &vars, &argv)) < 0) {
		snprintf(err, errlen, "command of job %s: %s", ti->target,
		         rc == -EINVAL ? "unknown or unterminated placeholder" : strerror(-rc));
		*retryable = rc == -ENOMEM;
		return rc;
	}
	struct proc_launch l = {
		.argv = argv, .spec = spec, .timeout_ms = j->timeout_ms,
		.kill_grace_ms = j->kill_grace_ms,
	};
	return proc_start(t, &l, err, errlen, retryable);
}

const struct task_kind task_kind_job = {
	.name = "job",
	.cls = TC_PROC,
	.start = job_kind_start,
	.cancel = proc_cancel,
};
