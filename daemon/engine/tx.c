/*
 * tx.c - store first, announce second: every transition of the engine is
 * written in one transaction (tx_begin, tx_note, tx_end), and the events it
 * produced go to the subscribers only after COMMIT.  If the store cannot
 * write, the transition still happens in memory and is logged as an error;
 * the rows are written whole each time, so the store catches up at the next
 * successful write, and a restart before that treats the open attempt as
 * interrupted.
 *
 * Events are typed (struct engine_event, engine.h): the engine knows no
 * JSON, no control socket and no alerts.  app/main.c subscribes the
 * journal (engine_journal), the control watchers (api/watch.c) and the
 * alerts.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/strtable.h"
#include "engine/engine_int.h"
#include "store/store.h"

/* Pending events kept allocated between transactions; a larger queue (a
 * backfill of a thousand dates) is given back once announced. */
#define PENDING_KEEP 64

static const char *const engine_event_kind_table[ENGINE_EV_PROGRESS] = {
	[ENGINE_EV_RUN_STATE] = "run.state", [ENGINE_EV_TASK_STATE] = "task.state",
	[ENGINE_EV_SCHEDULE] = "schedule", [ENGINE_EV_BACKFILL] = "backfill",
	[ENGINE_EV_DATASET_PAUSED] = "dataset.paused",
	[ENGINE_EV_DATASET_RESUMED] = "dataset.resumed",
};

STRING_TABLE(engine_event_kind, enum engine_event_kind)

static const char *const engine_level_table[LOG_INFO + 1] = {
	[LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_INFO] = "info",
};

STRING_TABLE(engine_level, int)

int engine_subscribe(struct sched *s, engine_event_fn fn, void *arg)
{
	if (s->n_subs == ENGINE_MAX_SUBSCRIBERS)
		return -ENOSPC;
	s->subs[s->n_subs++] = (struct subscriber){ fn, arg };
	return 0;
}

void engine_journal(void *arg, const struct engine_event *ev)
{
	struct log_ctx ctx = {
		.dataset = ev->dataset, .run_id = ev->run_id, .exec_date = ev->exec_date,
		.task = ev->task,
	};

	(void)arg;
	if (ev->kind != ENGINE_EV_PROGRESS)
		log_msg(ev->priority, &ctx, "%s", ev->message);
}

void tx_publish(struct sched *s, const struct engine_event *ev)
{
	for (size_t i = 0; i < s->n_subs; i++)
		s->subs[i].fn(s->subs[i].arg, ev);
}

/* Forget the pending events (announced or rolled back). */
static void pending_clear(struct sched *s)
{
	s->n_pending = 0;
	if (s->cap_pending > PENDING_KEEP) {
		free(s->pending);
		s->pending = NULL;
		s->cap_pending = 0;
	}
}

/* Hand every pending event to the subscribers, then forget them. */
static void announce(struct sched *s)
{
	for (size_t i = 0; i < s->n_pending; i++) {
		struct pending_event *p = &s->pending[i];
		p->ev.dataset = p->has_dataset ? p->target : NULL;
		p->ev.job = p->has_job ? p->target : NULL;
		p->ev.task = p->has_task ? p->task : NULL;
		p->ev.exec_date = p->has_run ? p->exec_date : NULL;
		p->ev.message = p->message;
		tx_publish(s, &p->ev);
	}
	pending_clear(s);
}

void tx_fini(struct sched *s)
{
	free(s->pending);
	s->pending = NULL;
	s->n_pending = s->cap_pending = 0;
}

void tx_begin(struct sched *s)
{
	s->tx_failed = store_begin(s->d->store) < 0;
	if (s->tx_failed)
		log_err(NULL, "state store: cannot begin a transaction: %s",
		        store_errmsg(s->d->store));
}

int tx_commit(struct sched *s, const char *what)
{
	struct store *st = s->d->store;

	if (!s->tx_failed && store_commit(st) == 0) {
		announce(s);
		return 0;
	}
	log_err(NULL, "state store: %s not recorded: %s", what, store_errmsg(st));
	store_rollback(st);
	pending_clear(s);
	s->tx_failed = false;
	return -EIO;
}

void tx_end(struct sched *s, const char *what)
{
	tx_commit(s, what);
}

void tx_check(struct sched *s, int rc)
{
	if (rc < 0)
		s->tx_failed = true;
}

/* A new slot at the end of the pending queue, or NULL (out of memory: the
 * event is stored but not announced). */
static struct pending_event *pending_add(struct sched *s)
{
	if (s->n_pending == s->cap_pending) {
		size_t cap = s->cap_pending ? s->cap_pending * 2 : 16;
		struct pending_event *v = realloc(s->pending, cap * sizeof *v);
		if (!v)
			return NULL;
		s->pending = v;
		s->cap_pending = cap;
	}
	return memset(&s->pending[s->n_pending++], 0, sizeof *s->pending);
}

/* The event's target and task as the store and the subscribers name them:
 * a dataset or a job, and the task (a job run's is the job itself). */
static void name_event(struct pending_event *p, const struct target *tg,
                       const struct stask *t)
{
	if (tg) {
		snprintf(p->target, sizeof p->target, "%s", tg->name);
		p->has_dataset = tg->kind == TK_DATASET;
		p->has_job = tg->kind == TK_JOB;
	}
	if (t || p->has_job) {
		snprintf(p->task, sizeof p->task, "%s", t ? t->name : p->target);
		p->has_task = true;
	}
}

static void note_v(struct sched *s, int priority, enum engine_event_kind kind,
                   const struct target *tg, const struct srun *r,
                   const struct stask *t, const char *fmt, va_list ap)
{
	struct pending_event scratch, *p = pending_add(s);

	if (!p)
		p = memset(&scratch, 0, sizeof scratch);
	vsnprintf(p->message, sizeof p->message, fmt, ap);
	name_event(p, r ? r->target : tg, t);
	p->ev = (struct engine_event){
		.kind = kind, .type = engine_event_kind_to_string(kind),
		.ts = clock_now_ms(), .priority = priority,
		.run_id = r ? r->id : 0, .state = t ? t->state : r ? r->state : RUN_QUEUED,
	};
	if (r) {
		memcpy(p->exec_date, r->exec_date, sizeof p->exec_date);
		p->has_run = true;
	}
	tx_check(s, store_event_add(s->d->store, p->ev.ts, engine_level_to_string(priority),
	                            p->ev.type, p->has_dataset ? p->target : NULL,
	                            p->ev.run_id, p->has_task ? p->task : NULL, p->message));
}

void tx_note(struct sched *s, int priority, enum engine_event_kind kind,
             const struct srun *r, const struct stask *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	note_v(s, priority, kind, NULL, r, t, fmt, ap);
	va_end(ap);
}

void tx_note_target(struct sched *s, int priority, enum engine_event_kind kind,
                    const struct target *tg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	note_v(s, priority, kind, tg, NULL, NULL, fmt, ap);
	va_end(ap);
}
