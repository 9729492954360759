/*
 * recover.c - runs read back from the store: crash recovery at start, and
 * the reading back that `retry` and a promotion (ops.c) build on.
 *
 * Recovery (denverd(8), CRASH RECOVERY): every run the store has in queued
 * or running is rebuilt.  An attempt without an end belonged to a process
 * that died: if it had a child process whose group is provably ours
 * (procgroup.h: pid, group and start time, or the attempt marker), the
 * group is killed and waited for, so a task never runs twice at once; the
 * attempt is recorded `interrupted` and its task queued again at once.
 * Interruptions do not count against the retry budget (they are not the
 * task's fault).  Runs of targets no longer configured are cancelled.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "common/array.h"
#include "io/procgroup.h"
#include "engine/engine_int.h"
#include "store/store.h"

/* Grace for an orphaned group killed at start to disappear. */
#define ORPHAN_WAIT_MS 3000

int recover_copy_run(void *arg, const struct store_run *row)
{
	struct run_list *l = arg;
	struct run_copy *c;

	if (ARRAY_RESERVE(l->v, l->n + 1, l->cap, 64) < 0)
		return -ENOMEM;
	c = &l->v[l->n++];
	memset(c, 0, sizeof *c);
	c->id = row->id;
	snprintf(c->target, sizeof c->target, "%s", row->target);
	snprintf(c->kind, sizeof c->kind, "%s", row->kind);
	snprintf(c->exec_date, sizeof c->exec_date, "%s", row->exec_date);
	snprintf(c->trigger, sizeof c->trigger, "%s", row->trigger);
	snprintf(c->state, sizeof c->state, "%s", row->state);
	c->force = row->force;
	c->created = row->created;
	c->started = row->started;
	c->ended = row->ended;
	c->error = row->error ? strdup(row->error) : NULL;
	return 0;
}

void recover_run_list_free(struct run_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].error);
	free(l->v);
}

struct task_copy {
	int64_t id;
	char name[CONFIG_MAX_NAME + 1];
	int seq;
	char state[16];
	unsigned attempts;
	int64_t not_before;
	char *error;
};

struct task_list {
	struct task_copy v[8];
	size_t n;
	bool overflow;
};

static int copy_task(void *arg, const struct store_task *row)
{
	struct task_list *l = arg;
	struct task_copy *c;

	if (l->n == ARRAY_SIZE(l->v)) {
		l->overflow = true;
		return 0;
	}
	c = &l->v[l->n++];
	c->id = row->id;
	snprintf(c->name, sizeof c->name, "%s", row->name);
	c->seq = row->seq;
	snprintf(c->state, sizeof c->state, "%s", row->state);
	c->attempts = row->attempts;
	c->not_before = row->not_before;
	c->error = row->error ? strdup(row->error) : NULL;
	return 0;
}

/* The attempts of one task: how many, and the ones never ended. */
struct attempt_scan {
	unsigned max_n;
	struct { int64_t id; unsigned n; int pid; uint64_t pid_start; } open[4];
	size_t n_open;
};

static int scan_attempt(void *arg, const struct store_attempt *a)
{
	struct attempt_scan *sc = arg;

	if (a->n > sc->max_n)
		sc->max_n = a->n;
	if (!a->ended && sc->n_open < ARRAY_SIZE(sc->open)) {
		sc->open[sc->n_open].id = a->id;
		sc->open[sc->n_open].n = a->n;
		sc->open[sc->n_open].pid = a->pid;
		sc->open[sc->n_open].pid_start = a->pid_start;
		sc->n_open++;
	}
	return 0;
}

/* Kill what is left of an interrupted attempt's child group, if it is ours. */
static void kill_orphan(struct sched *s, const struct srun *r, const struct stask *t,
                        int pid, uint64_t pid_start, int64_t attempt_id)
{
	struct log_ctx ctx = { .dataset = r->target->kind == TK_DATASET ? r->target->name : NULL,
	                       .run_id = r->id, .exec_date = r->exec_date, .task = t->name };
	char marker[PATH_MAX + 64];
	int rc;

	if (pid <= 1)
		return;
	if (procgroup_marker(s->d->cfg->state_dir, attempt_id, marker, sizeof marker) < 0)
		return;
	rc = procgroup_kill_orphan(pid, pid_start, marker, SIGKILL);
	if (rc == 1) {
		log_warn(&ctx, "killed process group %d left by the previous denverd", pid);
		if (procgroup_wait_gone(pid, ORPHAN_WAIT_MS) < 0)
			log_err(&ctx, "process group %d still alive %d ms after SIGKILL",
			        pid, ORPHAN_WAIT_MS);
	} else if (rc < 0) {
		log_err(&ctx, "cannot kill process group %d: %s", pid, strerror(-rc));
	}
}

/* The state a stored row names; an unknown word (a newer build's) reads
 * as queued, so the run is looked at again. */
static enum run_state state_of(const char *name)
{
	int st = run_state_from_string(name);
	return st >= 0 ? (enum run_state)st : RUN_QUEUED;
}

/* Close K's attempts that never ended as interrupted, killing what is left
 * of their children, and queue K again if it was running (inside the
 * caller's transaction). */
static void interrupt_open(struct sched *s, struct srun *r, struct stask *k,
                           const struct attempt_scan *sc)
{
	for (size_t a = 0; a < sc->n_open; a++) {
		struct store_attempt end = {
			.id = sc->open[a].id, .ended = clock_now_ms(), .outcome = "interrupted",
			.error = "denverd stopped before the attempt ended (found at restart)",
		};
		kill_orphan(s, r, k, sc->open[a].pid, sc->open[a].pid_start, sc->open[a].id);
		tx_check(s, store_attempt_end(s->d->store, &end));
		tx_note(s, LOG_WARNING, ENGINE_EV_TASK_STATE, r, k,
		        "%s attempt %u interrupted (denverd stopped); resuming",
		        k->name, sc->open[a].n);
	}
	if (k->state == RUN_RUNNING) {
		k->state = RUN_QUEUED;
		k->not_before = 0;
		task_save(s, k);
	}
}

/* Task K of R from its row C (whose error K takes), with its attempts. */
static int load_task(struct sched *s, struct srun *r, struct stask *k, struct task_copy *c,
                     bool recover)
{
	struct attempt_scan sc = { 0 };
	int rc;

	*k = (struct stask){
		.run = r, .id = c->id, .seq = c->seq, .state = state_of(c->state),
		.budget_used = c->attempts, .not_before = c->not_before, .error = c->error,
	};
	c->error = NULL;
	snprintf(k->name, sizeof k->name, "%s", c->name);
	k->kind = run_kind_of(r, k->name);
	if ((rc = store_attempts_each(s->d->store, k->id, scan_attempt, &sc)) < 0)
		return rc;
	k->n_attempts = sc.max_n;
	if (recover)
		interrupt_open(s, r, k, &sc);
	return 0;
}

/* A run of T with N tasks from row C, not linked; NULL (ENOMEM). */
static struct srun *run_of_copy(struct sched *s, struct target *t, const struct run_copy *c,
                                size_t n)
{
	struct srun *r = run_new(s, t, n);

	if (!r)
		return NULL;
	r->id = c->id;
	snprintf(r->exec_date, sizeof r->exec_date, "%s", c->exec_date);
	snprintf(r->trigger, sizeof r->trigger, "%s", c->trigger);
	r->force = c->force;
	r->state = state_of(c->state);
	r->created = c->created;
	r->started = c->started;
	r->ended = c->ended;
	r->error = c->error ? strdup(c->error) : NULL;
	return r;
}

int recover_load_run(struct sched *s, struct target *t, const struct run_copy *c,
                     bool recover, struct srun **out)
{
	struct task_list tl = { .n = 0 };
	struct srun *r = NULL;
	int rc;

	*out = NULL;
	if ((rc = store_tasks_each(s->d->store, c->id, copy_task, &tl)) < 0)
		goto out;
	if (tl.overflow || tl.n == 0) {
		rc = -EBADMSG;
		goto out;
	}
	if (!(r = run_of_copy(s, t, c, tl.n))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < tl.n && rc == 0; i++)
		rc = load_task(s, r, &r->tasks[i], &tl.v[i], recover);
	if (rc == 0) {
		*out = r;
		r = NULL;
	}
out:
	for (size_t i = 0; i < tl.n; i++)
		free(tl.v[i].error);
	run_free(r);
	return rc;
}

struct target *recover_target_of(struct sched *s, const struct run_copy *c)
{
	struct target *t = sched_target(s, c->target);
	enum target_kind k = strcmp(c->kind, "job") == 0 ? TK_JOB : TK_DATASET;

	if (!t || t->kind != k || (k == TK_DATASET && !t->ds) || (k == TK_JOB && !t->job))
		return NULL;
	return t;
}

/* A stored run nobody can carry on: close it in the store as cancelled. */
static void close_orphan_run(struct sched *s, const struct run_copy *c, const char *why)
{
	struct store_run row = { .id = c->id, .state = "cancelled", .started = c->started,
	                         .ended = clock_now_ms(), .error = why };
	struct log_ctx ctx = { .dataset = c->target, .run_id = c->id, .exec_date = c->exec_date };

	tx_check(s, store_run_set(s->d->store, &row));
	tx_check(s, store_event_add(s->d->store, row.ended, "warning", "run.state", c->target,
	                            c->id, NULL, why));
	log_warn(&ctx, "run %" PRId64 " cancelled: %s", c->id, why);
}

/* Queue R's first unfinished task. */
void recover_place_current(struct sched *s, struct srun *r)
{
	for (size_t k = 0; k < r->n_tasks; k++) {
		if (!run_state_final(r->tasks[k].state)) {
			task_place(s, &r->tasks[k]);
			return;
		}
	}
}

/*
 * A stored active run whose tasks have all finished (the store was written
 * by hand, or by a build with other rules; or a promoted check was its last
 * task): end it from its tasks' states.
 */
bool recover_settle(struct sched *s, struct srun *r)
{
	enum run_state end = RUN_SUCCEEDED;

	for (size_t k = 0; k < r->n_tasks; k++) {
		enum run_state ts = r->tasks[k].state;
		if (!run_state_final(ts))
			return true;
		if (ts == RUN_FAILED || (ts == RUN_CANCELLED && end != RUN_FAILED) ||
		    (ts == RUN_UNCHANGED && end == RUN_SUCCEEDED))
			end = ts;
	}
	r->state = end;
	r->ended = clock_now_ms();
	run_save(s, r);
	tx_note(s, LOG_INFO, ENGINE_EV_RUN_STATE, r, NULL,
	        "run %" PRId64 " %s (all its tasks had ended)", r->id, run_state_to_string(end));
	target_saw_run(r->target, r);
	return false;
}

int recover_runs(struct sched *s)
{
	struct run_list l = { 0 };
	int rc;

	if ((rc = store_runs_active(s->d->store, recover_copy_run, &l)) < 0) {
		log_err(NULL, "state store: reading active runs: %s", store_errmsg(s->d->store));
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct run_copy *c = &l.v[i];
		struct target *t = recover_target_of(s, c);
		struct srun *r = NULL;

		tx_begin(s);
		if (!t) {
			close_orphan_run(s, c, "its dataset or job is no longer configured");
			tx_end(s, "recovery");
			continue;
		}
		rc = recover_load_run(s, t, c, true, &r);
		if (rc < 0) {
			close_orphan_run(s, c, "its tasks could not be read back");
			tx_end(s, "recovery");
			continue;
		}
		if (!recover_settle(s, r)) {
			tx_end(s, "recovery");
			run_free(r);
			continue;
		}
		tx_end(s, "recovery");
		run_link(s, r);
		recover_place_current(s, r);
	}
	if (l.n)
		log_info(NULL, "recovered %zu runs in flight", l.n);
	rc = 0;
out:
	recover_run_list_free(&l);
	return rc;
}
