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

/* Hand every pending event to the subscribers (ANNOUNCE) or drop them,
 * and free them. */
static void pending_flush(struct sched *s, bool announce)
{
	struct pending_event *p = s->pending, *next;

	s->pending = s->pending_tail = NULL;
	for (; p; p = next) {
		next = p->pending_next;
		if (announce)
			tx_publish(s, &p->ev);
		free(p);
	}
}

void tx_fini(struct sched *s)
{
	pending_flush(s, false);
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
		pending_flush(s, true);
		return 0;
	}
	log_err(NULL, "state store: %s not recorded: %s", what, store_errmsg(st));
	store_rollback(st);
	pending_flush(s, false);
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

/* The event's target and task as the store and the subscribers name them:
 * a dataset or a job, and the task (a job run's is the job itself). */
static void name_event(struct pending_event *p, const struct target *tg,
                       const struct stask *t)
{
	if (tg) {
		snprintf(p->target, sizeof p->target, "%s", tg->name);
		p->ev.dataset = tg->kind == TK_DATASET ? p->target : NULL;
		p->ev.job = tg->kind == TK_JOB ? p->target : NULL;
	}
	if (t || p->ev.job) {
		snprintf(p->task, sizeof p->task, "%s", t ? t->name : p->target);
		p->ev.task = p->task;
	}
}

static void note_v(struct sched *s, int priority, enum engine_event_kind kind,
                   const struct target *tg, const struct srun *r,
                   const struct stask *t, const char *fmt, va_list ap)
{
	/* Out of memory, the event is stored but not announced. */
	struct pending_event scratch = { 0 }, *p = calloc(1, sizeof *p);

	if (p)
		LIST_APPEND_TAIL(pending, s->pending, s->pending_tail, p);
	else
		p = &scratch;
	p->ev = (struct engine_event){
		.kind = kind, .type = engine_event_kind_to_string(kind),
		.ts = clock_now_ms(), .priority = priority, .message = p->message,
	};
	vsnprintf(p->message, sizeof p->message, fmt, ap);
	name_event(p, r ? r->target : tg, t);
	if (r) {
		memcpy(p->exec_date, r->exec_date, sizeof p->exec_date);
		p->ev.exec_date = p->exec_date;
		p->ev.run_id = r->id;
		p->ev.state = t ? t->state : r->state;
	}
	tx_check(s, store_event_add(s->d->store, p->ev.ts, engine_level_to_string(priority),
	                            p->ev.type, p->ev.dataset, p->ev.run_id, p->ev.task,
	                            p->message));
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
