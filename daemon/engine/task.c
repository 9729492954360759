/*
 * task.c - the task API of task.h, which the kinds in engine/tasks/ call
 * (task_done, which moves the run on, is sched.c's), and what status reads
 * of a running task.
 */
#include "base/clock.h"
#include "engine/engine_int.h"
#include "io/procgroup.h"
#include "store/store.h"

const struct task_info *task_info(const struct stask *t)
{
	return &t->info;
}

void task_set_impl(struct stask *t, void *impl)
{
	t->impl = impl;
}

void *task_impl(const struct stask *t)
{
	return t->impl;
}

void task_record_pid(struct stask *t, int pid)
{
	struct store *st = t->run->s->d->store;
	struct procgroup_stat ps;
	uint64_t start = 0;

	t->pid = pid;
	if (pid <= 0)
		return;
	/* A zombie still has its stat; a child already reaped gives 0, and a
	 * restart then kills nothing for it (it is gone). */
	if (procgroup_stat(pid, &ps) == 0)
		start = ps.start_ticks;
	if (t->attempt_id && store_attempt_set_pid(st, t->attempt_id, pid, start) < 0)
		log_err(&t->info.log, "state store: recording pid %d: %s", pid, store_errmsg(st));
}

void task_progress(struct stask *t, const char *type, const json_t *fields)
{
	const struct target *tg = t->run->target;
	struct engine_event ev = {
		.kind = ENGINE_EV_PROGRESS, .type = type, .ts = clock_now_ms(),
		.priority = LOG_INFO,
		.dataset = tg->kind == TK_DATASET ? tg->name : NULL,
		.job = tg->kind == TK_JOB ? tg->name : NULL,
		.task = t->name, .run_id = t->info.run_id, .exec_date = t->info.exec_date,
		.state = t->state, .fields = fields,
	};

	tx_publish(t->run->s, &ev);
}

bool sched_task_progress(const struct stask *t, json_t *out)
{
	if (!t->kind->progress)
		return false;
	t->kind->progress(t, out);
	return true;
}
