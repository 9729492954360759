/*
 * sched_recover.c - runs read back from the store: crash recovery at start,
 * and `retry RUN` of a finished run.
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
#include "io/procgroup.h"
#include "engine/sched_int.h"
#include "store/store.h"

/* Grace for an orphaned group killed at start to disappear. */
#define ORPHAN_WAIT_MS 3000

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

static int copy_run(void *arg, const struct store_run *row)
{
	struct run_list *l = arg;
	struct run_copy *c;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct run_copy *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
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

static void run_list_free(struct run_list *l)
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

	if (l->n == sizeof l->v / sizeof l->v[0]) {
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
	if (!a->ended && sc->n_open < sizeof sc->open / sizeof sc->open[0]) {
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

/*
 * Rebuild run C of target T with its tasks (not linked).  With RECOVER, open
 * attempts are closed as interrupted (inside the caller's transaction).
 */
static int load_run(struct sched *s, struct target *t, const struct run_copy *c,
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
	if (!(r = sched_run_new(s, t, tl.n))) {
		rc = -ENOMEM;
		goto out;
	}
	r->id = c->id;
	snprintf(r->exec_date, sizeof r->exec_date, "%s", c->exec_date);
	snprintf(r->trigger, sizeof r->trigger, "%s", c->trigger);
	r->force = c->force;
	if (sstate_parse(c->state, &r->state) < 0)
		r->state = SS_QUEUED;
	r->created = c->created;
	r->started = c->started;
	r->ended = c->ended;
	r->error = c->error ? strdup(c->error) : NULL;
	for (size_t i = 0; i < tl.n; i++) {
		struct stask *k = &r->tasks[i];
		struct attempt_scan sc = { 0 };
		k->id = tl.v[i].id;
		snprintf(k->name, sizeof k->name, "%s", tl.v[i].name);
		k->seq = tl.v[i].seq;
		if (sstate_parse(tl.v[i].state, &k->state) < 0)
			k->state = SS_QUEUED;
		k->budget_used = tl.v[i].attempts;
		k->not_before = tl.v[i].not_before;
		k->error = tl.v[i].error;
		tl.v[i].error = NULL;
		k->kind = sched_kind_of(r, k->name);
		if ((rc = store_attempts_each(s->d->store, k->id, scan_attempt, &sc)) < 0)
			goto out;
		k->n_attempts = sc.max_n;
		if (!recover)
			continue;
		for (size_t a = 0; a < sc.n_open; a++) {
			struct store_attempt end = {
				.id = sc.open[a].id, .ended = clock_now_ms(), .outcome = "interrupted",
				.error = "denverd stopped before the attempt ended (found at restart)",
			};
			kill_orphan(s, r, k, sc.open[a].pid, sc.open[a].pid_start, sc.open[a].id);
			if (store_attempt_end(s->d->store, &end) < 0)
				s->tx_failed = true;
			sched_note(s, "warning", "task.state", r, k,
			           "%s attempt %u interrupted (denverd stopped); resuming",
			           k->name, sc.open[a].n);
		}
		if (k->state == SS_RUNNING) {
			k->state = SS_QUEUED;
			k->not_before = 0;
			sched_save_task(s, k);
		}
	}
	*out = r;
	r = NULL;
	rc = 0;
out:
	for (size_t i = 0; i < tl.n; i++)
		free(tl.v[i].error);
	if (r) {
		for (size_t i = 0; i < r->n_tasks; i++)
			free(r->tasks[i].error);
		free(r->tasks);
		free(r->error);
		free(r);
	}
	return rc;
}

/* The target a stored run belongs to, if it is still configured. */
static struct target *target_of(struct sched *s, const struct run_copy *c)
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

	if (store_run_set(s->d->store, &row) < 0)
		s->tx_failed = true;
	if (store_event_add(s->d->store, row.ended, "warning", "run.state", c->target, c->id,
	                    NULL, why) < 0)
		s->tx_failed = true;
	log_warn(&ctx, "run %" PRId64 " cancelled: %s", c->id, why);
}

/* Free an unlinked run built by load_run. */
static void run_discard(struct srun *r)
{
	for (size_t i = 0; i < r->n_tasks; i++)
		free(r->tasks[i].error);
	free(r->tasks);
	free(r->error);
	free(r);
}

static void place_current(struct sched *s, struct srun *r)
{
	for (size_t k = 0; k < r->n_tasks; k++) {
		if (!sstate_final(r->tasks[k].state)) {
			sched_task_place(s, &r->tasks[k]);
			return;
		}
	}
}

/*
 * A stored active run whose tasks have all finished (the store was written
 * by hand, or by a build with other rules): end it from its tasks' states.
 * Returns true when R still has work and should be linked.
 */
static bool settle(struct sched *s, struct srun *r)
{
	enum sstate end = SS_SUCCEEDED;

	for (size_t k = 0; k < r->n_tasks; k++) {
		enum sstate ts = r->tasks[k].state;
		if (!sstate_final(ts))
			return true;
		if (ts == SS_FAILED || (ts == SS_CANCELLED && end != SS_FAILED) ||
		    (ts == SS_UNCHANGED && end == SS_SUCCEEDED))
			end = ts;
	}
	r->state = end;
	r->ended = clock_now_ms();
	sched_save_run(s, r);
	sched_note(s, "info", "run.state", r, NULL, "run %" PRId64 " %s (all its tasks had ended)",
	           r->id, sstate_name(end));
	return false;
}

int sched_recover(struct sched *s)
{
	struct run_list l = { 0 };
	int rc;

	if ((rc = store_runs_active(s->d->store, copy_run, &l)) < 0) {
		log_err(NULL, "state store: reading active runs: %s", store_errmsg(s->d->store));
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct run_copy *c = &l.v[i];
		struct target *t = target_of(s, c);
		struct srun *r = NULL;

		sched_tx_begin(s);
		if (!t) {
			close_orphan_run(s, c, "its dataset or job is no longer configured");
			sched_tx_end(s, "recovery");
			continue;
		}
		rc = load_run(s, t, c, true, &r);
		if (rc < 0) {
			close_orphan_run(s, c, "its tasks could not be read back");
			sched_tx_end(s, "recovery");
			continue;
		}
		if (!settle(s, r)) {
			sched_tx_end(s, "recovery");
			run_discard(r);
			continue;
		}
		sched_tx_end(s, "recovery");
		sched_run_link(s, r);
		place_current(s, r);
	}
	if (l.n)
		log_info(NULL, "recovered %zu runs in flight", l.n);
	rc = 0;
out:
	run_list_free(&l);
	return rc;
}

/* Queue the failed or cancelled run ID again from its first unfinished
 * task (retry, and the resumption after a promote). */
static int requeue(struct sched *s, int64_t id)
{
	struct run_list l = { 0 };
	struct srun *r = NULL;
	struct target *t;
	int rc;

	if (sched_run(s, id))
		return -EBUSY;
	if ((rc = store_run_get(s->d->store, id, copy_run, &l)) < 0)
		goto out;
	if (strcmp(l.v[0].state, "failed") != 0 && strcmp(l.v[0].state, "cancelled") != 0) {
		rc = -EALREADY;
		goto out;
	}
	if (!(t = target_of(s, &l.v[0]))) {
		rc = -ENOENT;
		goto out;
	}
	/* One active run per target and date: two would share its files. */
	for (struct srun *o = s->runs; o; o = o->next) {
		if (o->target == t && strcmp(o->exec_date, l.v[0].exec_date) == 0) {
			rc = -EBUSY;
			goto out;
		}
	}
	if ((rc = load_run(s, t, &l.v[0], false, &r)) < 0)
		goto out;
	/* A snapshot the operator promoted (`denverctl promote`) was accepted
	 * as it is: its failed check counts as passed, and the run goes on
	 * with convert instead of checking (and quarantining) it again. */
	struct store_snapshot_ref snap;
	bool promoted = false;
	if (store_snapshot_of_run(s->d->store, id, &snap) == 0) {
		promoted = strcmp(snap.state, "promoted") == 0;
		store_snapshot_ref_clear(&snap);
	}
	sched_tx_begin(s);
	for (size_t i = 0; i < r->n_tasks; i++) {
		struct stask *k = &r->tasks[i];
		if (promoted && k->state == SS_FAILED && !strcmp(k->name, "check")) {
			k->state = SS_SUCCEEDED;
			sched_save_task(s, k);
			sched_note(s, "info", "task.state", r, k, "check accepted: the snapshot was "
			           "promoted by the operator");
			continue;
		}
		if (k->state == SS_SUCCEEDED || k->state == SS_UNCHANGED)
			continue;
		k->state = SS_QUEUED;
		k->budget_used = 0;
		k->not_before = 0;
		free(k->error);
		k->error = NULL;
		sched_save_task(s, k);
	}
	r->state = SS_QUEUED;
	r->ended = 0;
	free(r->error);
	r->error = NULL;
	sched_save_run(s, r);
	sched_note(s, "info", "run.state", r, NULL, "run %" PRId64 " queued again (%s)", r->id,
	           promoted ? "snapshot promoted" : "retry");
	if (!settle(s, r)) {
		/* Nothing left to run (a promoted check was the last task). */
		sched_tx_end(s, "promote");
		run_discard(r);
		rc = 0;
		goto out;
	}
	if (s->tx_failed) {
		sched_tx_end(s, "retry");
		run_discard(r);
		rc = -EIO;
		goto out;
	}
	sched_tx_end(s, "retry");
	sched_run_link(s, r);
	place_current(s, r);
	sched_kick(s);
	rc = 0;
out:
	run_list_free(&l);
	return rc;
}

int sched_retry(struct sched *s, int64_t id)
{
	return requeue(s, id);
}

int sched_promoted(struct denverd *d, int64_t run_id)
{
	return d->sched ? requeue(d->sched, run_id) : -ENOENT;
}
