/*
 * run.c - the engine's runs and tasks as objects: building a run (its store
 * rows and its creation event), saving rows, the list of active runs, and
 * where a task waits: in its class's fair queue (runq.h) while it may
 * start, on the retry-wait list while its not_before is ahead.  Also what
 * status counts.
 *
 * Ownership: the engine owns every run on s->runs; a run built but not yet
 * linked belongs to its builder, who links it (runs_adopt) or frees it
 * (run_free).  A task is a member of its run's array and never freed alone.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "engine/engine_int.h"
#include "store/store.h"

/* ---- rows ---- */

void run_save(struct sched *s, const struct srun *r)
{
	struct store_run row = {
		.id = r->id, .state = run_state_to_string(r->state), .started = r->started,
		.ended = r->ended, .error = r->error,
	};
	tx_check(s, store_run_set(s->d->store, &row));
}

void task_save(struct sched *s, const struct stask *t)
{
	struct store_task row = {
		.id = t->id, .state = run_state_to_string(t->state), .attempts = t->budget_used,
		.not_before = t->state == RUN_QUEUED ? t->not_before : 0, .error = t->error,
	};
	tx_check(s, store_task_set(s->d->store, &row));
}

void run_set_error(char **slot, const char *text)
{
	free(*slot);
	*slot = text ? strdup(text) : NULL;
	if (*slot && strlen(*slot) > SCHED_ERROR_MAX)
		(*slot)[SCHED_ERROR_MAX] = '\0';
}

/* ---- runs ---- */

static const struct task_kind *kind_named(const struct sched *s, const char *name)
{
	for (size_t i = 0; i < s->n_kinds; i++)
		if (strcmp(s->kinds[i]->name, name) == 0)
			return s->kinds[i];
	return NULL;
}

const struct task_kind *run_kind_of(const struct srun *r, const char *task_name)
{
	/* A job run's one task is named after the job; its kind is "job". */
	return kind_named(r->s, r->target->kind == TK_JOB ? "job" : task_name);
}

struct srun *run_new(struct sched *s, struct target *t, size_t n_tasks)
{
	struct srun *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->tasks = calloc(n_tasks ? n_tasks : 1, sizeof *r->tasks);
	if (!r->tasks) {
		free(r);
		return NULL;
	}
	r->n_tasks = n_tasks;
	r->target = t;
	r->s = s;
	for (size_t i = 0; i < n_tasks; i++)
		r->tasks[i].run = r;
	return r;
}

void run_free(struct srun *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_tasks; i++)
		free(r->tasks[i].error);
	free(r->tasks);
	free(r->error);
	free(r);
}

void run_link(struct sched *s, struct srun *r)
{
	LIST_APPEND_TAIL(runs, s->runs, s->runs_tail, r);
	s->n_runs++;
	r->target->n_runs++;
	for (size_t i = 0; i < r->n_tasks; i++)
		runq_item_init(&r->tasks[i].qi, r->exec_date, r->id);
}

void run_unlink_free(struct sched *s, struct srun *r)
{
	struct target *t = r->target;

	LIST_REMOVE_TAIL(runs, s->runs, s->runs_tail, r);
	s->n_runs--;
	run_free(r);
	if (--t->n_runs == 0 && t->removed)
		target_unlink_free(s, t);
	/* The last active run ended: the daemon idles, often for hours, so it
	 * gives back what the runs read (SQLite's page cache) and freed. */
	if (s->n_runs == 0) {
		store_release_memory(s->d->store);
		malloc_trim(0);
	}
}

struct srun *sched_run(struct sched *s, int64_t id)
{
	for (struct srun *r = s->runs; r; r = r->runs_next)
		if (r->id == id)
			return r;
	return NULL;
}

struct srun *run_active_of(struct sched *s, const struct target *t, const char *exec_date)
{
	for (struct srun *r = s->runs; r; r = r->runs_next)
		if (r->target == t && strcmp(r->exec_date, exec_date) == 0)
			return r;
	return NULL;
}

struct stask *run_current_task(struct srun *r)
{
	for (size_t i = 0; i < r->n_tasks; i++)
		if (!run_state_final(r->tasks[i].state))
			return &r->tasks[i];
	return NULL;
}

/* The rows of R's new tasks (fetch, check[, convert], or the job). */
static int build_tasks(struct sched *s, struct srun *r)
{
	static const char *const dataset_tasks[] = { "fetch", "check", "convert" };
	const struct target *t = r->target;
	int rc;

	for (size_t i = 0; i < r->n_tasks; i++) {
		struct stask *k = &r->tasks[i];
		snprintf(k->name, sizeof k->name, "%s", t->kind == TK_JOB ? t->name : dataset_tasks[i]);
		k->seq = (int)i;
		k->state = RUN_QUEUED;
		k->kind = run_kind_of(r, k->name);
		if ((rc = store_task_add(s->d->store, r->id, k->name, k->seq, "queued", &k->id)) < 0)
			return rc;
	}
	return 0;
}

int run_build(struct sched *s, struct target *t, const char *exec_date,
              const char *trigger, bool force, struct srun **out)
{
	size_t n = t->kind == TK_JOB ? 1 : (t->ds && t->ds->convert ? 3 : 2);
	struct srun *r;
	int rc;

	*out = NULL;
	if (s->n_runs >= SCHED_MAX_ACTIVE)
		return -EBUSY;
	r = run_new(s, t, n);
	if (!r)
		return -ENOMEM;
	snprintf(r->exec_date, sizeof r->exec_date, "%s", exec_date);
	snprintf(r->trigger, sizeof r->trigger, "%s", trigger);
	r->force = force;
	r->state = RUN_QUEUED;
	r->created = clock_now_ms();
	struct store_run row = {
		.target = t->name, .kind = t->kind == TK_JOB ? "job" : "dataset",
		.exec_date = r->exec_date, .trigger = r->trigger, .state = "queued",
		.force = force, .created = r->created,
	};
	if ((rc = store_run_add(s->d->store, &row, &r->id)) < 0 || (rc = build_tasks(s, r)) < 0) {
		s->tx_failed = true;
		run_free(r);
		return rc;
	}
	tx_note(s, LOG_INFO, ENGINE_EV_RUN_STATE, r, NULL,
	        "run %" PRId64 " of %s for %s queued (%s%s)",
	        r->id, t->name, r->exec_date, trigger, force ? ", forced" : "");
	target_saw_run(t, r);
	*out = r;
	return 0;
}

void runs_adopt(struct sched *s, struct srun **runs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		run_link(s, runs[i]);
		task_place(s, &runs[i]->tasks[0]);
	}
}

/* ---- placing tasks: queue, retry wait ---- */

static void waiting_add(struct sched *s, struct stask *t)
{
	if (t->waiting)
		return;
	LIST_PREPEND(waiting, s->waiting, t);
	t->waiting = true;
	s->n_waiting++;
}

void waiting_remove(struct sched *s, struct stask *t)
{
	if (!t->waiting)
		return;
	LIST_REMOVE(waiting, s->waiting, t);
	t->waiting = false;
	s->n_waiting--;
}

void task_unplace(struct sched *s, struct stask *t)
{
	runq_remove(&t->qi);
	waiting_remove(s, t);
}

void task_place(struct sched *s, struct stask *t)
{
	if (t->state != RUN_QUEUED || !t->kind)
		return;
	if (t->not_before > clock_now_ms()) {
		waiting_add(s, t);
		return;
	}
	if (t->run->target->paused || s->stopped || runq_queued(&t->qi))
		return;
	runq_push(&t->run->target->lanes[t->kind->cls], &t->qi);
}

/* ---- what status counts ---- */

void sched_counts(struct sched *s, struct sched_counts *out)
{
	memset(out, 0, sizeof *out);
	out->active_runs = s->n_runs;
	out->retry_waiting = (unsigned)s->n_waiting;
	out->next_due_ms = s->next_due;
	for (int c = 0; c < _TC_MAX; c++) {
		out->cls[c].running = s->running[c];
		out->cls[c].limit = sched_limit(s, (enum task_class)c);
		out->cls[c].queued = runq_len(&s->q[c]);
		out->running += s->running[c];
		out->queued += (unsigned)runq_len(&s->q[c]);
	}
}

int sched_running_each(struct sched *s,
                       int (*fn)(void *arg, const struct sched_task_info *ti), void *arg)
{
	int rc;

	for (const struct srun *r = s->runs; r; r = r->runs_next) {
		for (size_t i = 0; i < r->n_tasks; i++) {
			const struct stask *t = &r->tasks[i];
			if (t->state != RUN_RUNNING)
				continue;
			struct sched_task_info ti = {
				.task = t, .run_id = r->id, .target = r->target->name,
				.exec_date = r->exec_date, .name = t->name, .attempt = t->n_attempts,
				.started_ms = t->attempt_started, .pid = t->pid,
			};
			if ((rc = fn(arg, &ti)) != 0)
				return rc;
		}
	}
	return 0;
}

const struct stask *sched_running_task(struct sched *s, int64_t run_id, int64_t task_id)
{
	const struct srun *r = sched_run(s, run_id);

	for (size_t i = 0; r && i < r->n_tasks; i++)
		if (r->tasks[i].id == task_id && r->tasks[i].state == RUN_RUNNING)
			return &r->tasks[i];
	return NULL;
}
