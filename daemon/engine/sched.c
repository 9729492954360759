/*
 * sched.c - the run engine: when to create a run, what may start now,
 * retries, the one timer, and the life of runs and tasks.
 *
 * Time: every wall-clock reading comes from clock_now_ms() (clock.h), so the
 * DENVERD_NOW test hook moves schedules, catch-up and exec dates with it.
 *
 * The timer: one uv_timer, armed for the earliest due time across every
 * dataset's next fire and every task waiting for a retry, never a polling
 * tick.  Retry waits share it rather than having a uv_timer per task: a task
 * can then be cancelled, reloaded or freed without a handle to close
 * asynchronously, and rearming is one pass over the datasets and the
 * (bounded) retry list, microseconds for a thousand datasets.  The sleep is
 * capped at SCHED_TIMER_CAP_MS because uv timers run on the monotonic clock:
 * after a wall-clock step or a suspend, a fire is late by at most the cap.
 *
 * Store first, announce second: every transition is written in one
 * transaction (sched_tx_begin/sched_note/sched_tx_end), and the events it
 * produced are logged and broadcast only after COMMIT.  If the store cannot
 * write, the transition still happens in memory and is logged as an error;
 * the rows are written whole each time, so the store catches up at the next
 * successful write, and a restart before that treats the open attempt as
 * interrupted.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "notify/alerts.h"
#include "domain/backoff.h"
#include "domain/catchup.h"
#include "base/clock.h"
#include "api/control.h"
#include "domain/execdate.h"
#include "io/http.h"
#include "io/procgroup.h"
#include "engine/sched_int.h"
#include "store/store.h"

static const char *const state_names[] = {
	[SS_QUEUED] = "queued", [SS_RUNNING] = "running", [SS_SUCCEEDED] = "succeeded",
	[SS_FAILED] = "failed", [SS_UNCHANGED] = "unchanged", [SS_SKIPPED] = "skipped",
	[SS_CANCELLED] = "cancelled",
};

const char *sstate_name(enum sstate st)
{
	return (unsigned)st < sizeof state_names / sizeof state_names[0] ?
	       state_names[st] : "?";
}

int sstate_parse(const char *name, enum sstate *out)
{
	for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++) {
		if (name && strcmp(name, state_names[i]) == 0) {
			*out = (enum sstate)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void dispatch(struct sched *s);
static void arm(struct sched *s);

/* ---- transactions and announcements ---- */

void sched_tx_begin(struct sched *s)
{
	s->tx_failed = store_begin(s->d->store) < 0;
	if (s->tx_failed)
		log_err(NULL, "state store: cannot begin a transaction: %s",
		        store_errmsg(s->d->store));
}

/* Log and broadcast every pending event, then forget them. */
static void announce(struct sched *s)
{
	size_t i;
	json_t *ev;

	json_array_foreach(s->pending, i, ev) {
		const char *level = json_string_value(json_object_get(ev, "level"));
		struct log_ctx ctx = {
			.dataset = json_string_value(json_object_get(ev, "dataset")),
			.run_id = json_integer_value(json_object_get(ev, "run_id")),
			.exec_date = json_string_value(json_object_get(ev, "exec_date")),
			.task = json_string_value(json_object_get(ev, "task")),
		};
		int prio = !level || !strcmp(level, "info") ? LOG_INFO :
		           !strcmp(level, "warning") ? LOG_WARNING : LOG_ERR;
		log_msg(prio, &ctx, "%s", json_string_value(json_object_get(ev, "message")));
		if (s->d->control)
			control_broadcast(s->d->control, ev);
		/* A run's final state is committed now: the alerts judge it. */
		enum sstate st;
		if (s->d->alerts &&
		    !strcmp(json_string_value(json_object_get(ev, "type")) ?: "", "run.state") &&
		    sstate_parse(json_string_value(json_object_get(ev, "state")) ?: "", &st) == 0 &&
		    sstate_final(st))
			alerts_run_finished(s->d, ctx.run_id);
	}
	json_array_clear(s->pending);
}

static int tx_commit(struct sched *s, const char *what)
{
	struct store *st = s->d->store;

	if (!s->tx_failed && store_commit(st) == 0) {
		announce(s);
		return 0;
	}
	log_err(NULL, "state store: %s not recorded: %s", what, store_errmsg(st));
	store_rollback(st);
	json_array_clear(s->pending);
	s->tx_failed = false;
	return -EIO;
}

void sched_tx_end(struct sched *s, const char *what)
{
	tx_commit(s, what);
}

/* Remember a failed write of the open transaction. */
static void tx_check(struct sched *s, int rc)
{
	if (rc < 0)
		s->tx_failed = true;
}

static void note_v(struct sched *s, const char *level, const char *type,
                   const struct target *tg, const struct srun *r,
                   const struct stask *t, const char *fmt, va_list ap)
{
	char msg[1024];
	json_t *ev;
	int64_t now = clock_now_ms();
	const char *dataset = NULL, *task = NULL, *job = NULL;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (r)
		tg = r->target;
	if (r && !t && (r->id == r->target->last_run_id ||
	                strcmp(r->exec_date, r->target->last_run_date) >= 0)) {
		/* The run of each target's latest exec date, for status. */
		r->target->last_run_id = r->id;
		memcpy(r->target->last_run_date, r->exec_date, sizeof r->target->last_run_date);
		r->target->last_run_state = r->state;
	}
	if (tg && tg->kind == TK_DATASET)
		dataset = tg->name;
	else if (tg)
		job = tg->name;
	if (t)
		task = t->name;
	else if (job)
		task = job;
	if (store_event_add(s->d->store, now, level, type, dataset, r ? r->id : 0, task,
	                    msg) < 0)
		s->tx_failed = true;
	ev = json_pack("{s:I, s:s, s:s, s:s}", "ts", (json_int_t)now, "type", type,
	               "level", level, "message", msg);
	if (!ev)
		return;
	if (dataset)
		json_object_set_new(ev, "dataset", json_string(dataset));
	if (job)
		json_object_set_new(ev, "job", json_string(job));
	if (task)
		json_object_set_new(ev, "task", json_string(task));
	if (r) {
		json_object_set_new(ev, "run_id", json_integer(r->id));
		json_object_set_new(ev, "exec_date", json_string(r->exec_date));
		json_object_set_new(ev, "state", json_string(sstate_name(t ? t->state : r->state)));
	}
	json_array_append_new(s->pending, ev);
}

void sched_note(struct sched *s, const char *level, const char *type,
                const struct srun *r, const struct stask *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	note_v(s, level, type, NULL, r, t, fmt, ap);
	va_end(ap);
}

static void note_target(struct sched *s, const char *level, const char *type,
                        const struct target *tg, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void note_target(struct sched *s, const char *level, const char *type,
                        const struct target *tg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	note_v(s, level, type, tg, NULL, NULL, fmt, ap);
	va_end(ap);
}

void sched_save_run(struct sched *s, const struct srun *r)
{
	struct store_run row = {
		.id = r->id, .state = sstate_name(r->state), .started = r->started,
		.ended = r->ended, .error = r->error,
	};
	tx_check(s, store_run_set(s->d->store, &row));
}

void sched_save_task(struct sched *s, const struct stask *t)
{
	struct store_task row = {
		.id = t->id, .state = sstate_name(t->state), .attempts = t->budget_used,
		.not_before = t->state == SS_QUEUED ? t->not_before : 0, .error = t->error,
	};
	tx_check(s, store_task_set(s->d->store, &row));
}

/* Errors kept on runs and tasks are capped (a job may print anything). */
#define ERROR_MAX 4096

static void set_error(char **slot, const char *text)
{
	free(*slot);
	*slot = text ? strdup(text) : NULL;
	if (*slot && strlen(*slot) > ERROR_MAX)
		(*slot)[ERROR_MAX] = '\0';
}

/* ---- targets ---- */

/* FNV-1a of NAME, into a bucket of by_name. */
static size_t name_bucket(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % SCHED_TARGET_BUCKETS;
}

struct target *sched_target(struct sched *s, const char *name)
{
	for (struct target *t = s->by_name[name_bucket(name)]; t; t = t->hnext)
		if (!t->removed && strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

static struct target *target_new(struct sched *s, const char *name, enum target_kind kind)
{
	struct target *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	snprintf(t->name, sizeof t->name, "%s", name);
	t->kind = kind;
	for (int c = 0; c < TC_N; c++)
		runq_lane_init(&t->lanes[c], &s->q[c]);
	t->next = s->targets;
	s->targets = t;
	size_t b = name_bucket(t->name);
	t->hnext = s->by_name[b];
	s->by_name[b] = t;
	return t;
}

static void target_unlink_free(struct sched *s, struct target *t)
{
	for (struct target **p = &s->targets; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	for (struct target **p = &s->by_name[name_bucket(t->name)]; *p; p = &(*p)->hnext) {
		if (*p == t) {
			*p = t->hnext;
			break;
		}
	}
	free(t);
}

int sched_next_fire(struct sched *s, const struct target *t, int64_t after, int64_t *next)
{
	if (t->kind != TK_DATASET || !s->tz)
		return -ERANGE;
	return cron_next(&t->cron, s->tz, after, next);
}

void sched_exec_date(struct sched *s, int64_t t, char out[11])
{
	tz_date(s->tz, t, out);
}

void sched_today(struct sched *s, char out[11])
{
	sched_exec_date(s, clock_now_ms() / 1000, out);
}

unsigned sched_limit(struct sched *s, enum tclass c)
{
	const struct cfg_limits *l = &s->d->cfg->limits;
	unsigned v = c == TC_FETCH ? l->fetches : c == TC_CHECK ? l->checks : l->jobs;
	return v ? v : 1;
}

static const struct cfg_retry *retry_of(const struct srun *r)
{
	static const struct cfg_retry none = { 0, 60000, 3600000 };
	const struct target *t = r->target;

	if (t->kind == TK_DATASET && t->ds)
		return &t->ds->retry;
	if (t->kind == TK_JOB && t->job)
		return &t->job->retry;
	return &none;
}

/* ---- runs ---- */

const struct task_kind *sched_kind_of(const struct srun *r, const char *task_name)
{
	if (r->target->kind == TK_JOB)
		return &task_kind_job;
	if (!strcmp(task_name, "fetch"))
		return &task_kind_fetch;
	if (!strcmp(task_name, "check"))
		return &task_kind_check;
	if (!strcmp(task_name, "convert"))
		return &task_kind_convert;
	return NULL;
}

struct srun *sched_run_new(struct sched *s, struct target *t, size_t n_tasks)
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

static void run_free(struct srun *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_tasks; i++)
		free(r->tasks[i].error);
	free(r->tasks);
	free(r->error);
	free(r);
}

void sched_run_link(struct sched *s, struct srun *r)
{
	r->prev = s->runs_tail;
	r->next = NULL;
	if (s->runs_tail)
		s->runs_tail->next = r;
	else
		s->runs = r;
	s->runs_tail = r;
	s->n_runs++;
	r->target->n_runs++;
	for (size_t i = 0; i < r->n_tasks; i++)
		runq_item_init(&r->tasks[i].qi, r->exec_date, r->id);
}

static void run_unlink_free(struct sched *s, struct srun *r)
{
	struct target *t = r->target;

	if (r->prev)
		r->prev->next = r->next;
	else
		s->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		s->runs_tail = r->prev;
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
	for (struct srun *r = s->runs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static struct srun *active_run_of(struct sched *s, const struct target *t,
                                  const char *exec_date)
{
	for (struct srun *r = s->runs; r; r = r->next)
		if (r->target == t && strcmp(r->exec_date, exec_date) == 0)
			return r;
	return NULL;
}

/* The first task of R that has not finished, or NULL. */
static struct stask *current_task(struct srun *r)
{
	for (size_t i = 0; i < r->n_tasks; i++)
		if (!sstate_final(r->tasks[i].state))
			return &r->tasks[i];
	return NULL;
}

/*
 * Build a new queued run of T for EXEC_DATE inside the open transaction:
 * store rows and the creation event.  The run is not linked: the caller links
 * it after a successful commit and frees it otherwise.
 */
static int run_build(struct sched *s, struct target *t, const char *exec_date,
                     const char *trigger, bool force, struct srun **out)
{
	static const char *const dataset_tasks[] = { "fetch", "check", "convert" };
	size_t n = t->kind == TK_JOB ? 1 : (t->ds && t->ds->convert ? 3 : 2);
	struct srun *r;
	int rc;

	*out = NULL;
	if (s->n_runs >= SCHED_MAX_ACTIVE)
		return -EBUSY;
	r = sched_run_new(s, t, n);
	if (!r)
		return -ENOMEM;
	snprintf(r->exec_date, sizeof r->exec_date, "%s", exec_date);
	snprintf(r->trigger, sizeof r->trigger, "%s", trigger);
	r->force = force;
	r->state = SS_QUEUED;
	r->created = clock_now_ms();
	struct store_run row = {
		.target = t->name, .kind = t->kind == TK_JOB ? "job" : "dataset",
		.exec_date = r->exec_date, .trigger = r->trigger, .state = "queued",
		.force = force, .created = r->created,
	};
	if ((rc = store_run_add(s->d->store, &row, &r->id)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct stask *k = &r->tasks[i];
		snprintf(k->name, sizeof k->name, "%s", t->kind == TK_JOB ? t->name : dataset_tasks[i]);
		k->seq = (int)i;
		k->state = SS_QUEUED;
		k->kind = sched_kind_of(r, k->name);
		if ((rc = store_task_add(s->d->store, r->id, k->name, k->seq, "queued", &k->id)) < 0)
			goto out;
	}
	sched_note(s, "info", "run.state", r, NULL, "run %" PRId64 " of %s for %s queued (%s%s)",
	           r->id, t->name, r->exec_date, trigger, force ? ", forced" : "");
	*out = r;
	return 0;
out:
	s->tx_failed = true;
	run_free(r);
	return rc;
}

/* Link the runs built in a committed transaction and queue their first task. */
static void runs_adopt(struct sched *s, struct srun **runs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sched_run_link(s, runs[i]);
		sched_task_place(s, &runs[i]->tasks[0]);
	}
}

/* ---- placing tasks: queue, retry wait ---- */

static void waiting_add(struct sched *s, struct stask *t)
{
	if (t->waiting)
		return;
	t->wprev = NULL;
	t->wnext = s->waiting;
	if (s->waiting)
		s->waiting->wprev = t;
	s->waiting = t;
	t->waiting = true;
}

static void waiting_remove(struct sched *s, struct stask *t)
{
	if (!t->waiting)
		return;
	if (t->wprev)
		t->wprev->wnext = t->wnext;
	else
		s->waiting = t->wnext;
	if (t->wnext)
		t->wnext->wprev = t->wprev;
	t->wprev = t->wnext = NULL;
	t->waiting = false;
}

static void task_unplace(struct sched *s, struct stask *t)
{
	runq_remove(&t->qi);
	waiting_remove(s, t);
}

void sched_task_place(struct sched *s, struct stask *t)
{
	if (t->state != SS_QUEUED || !t->kind)
		return;
	if (t->not_before > clock_now_ms()) {
		waiting_add(s, t);
		return;
	}
	if (t->run->target->paused || s->stopped || runq_queued(&t->qi))
		return;
	runq_push(&t->run->target->lanes[t->kind->cls], &t->qi);
}

/* ---- finishing ---- */

/* R ends in STATE: unfinished tasks that are not running become skipped
 * (cancelled when the run is).  Inside a transaction. */
static void run_finish(struct sched *s, struct srun *r, enum sstate state, const char *error)
{
	enum sstate rest = state == SS_CANCELLED ? SS_CANCELLED : SS_SKIPPED;

	for (size_t i = 0; i < r->n_tasks; i++) {
		struct stask *k = &r->tasks[i];
		if (sstate_final(k->state) || k->state == SS_RUNNING)
			continue;
		task_unplace(s, k);
		k->state = rest;
		sched_save_task(s, k);
	}
	r->state = state;
	r->ended = clock_now_ms();
	set_error(&r->error, error);
	sched_save_run(s, r);
	if (error)
		sched_note(s, state == SS_FAILED ? "error" : "info", "run.state", r, NULL,
		           "run %" PRId64 " %s: %s", r->id, sstate_name(state), error);
	else
		sched_note(s, "info", "run.state", r, NULL, "run %" PRId64 " %s", r->id,
		           sstate_name(state));
}

struct latest_row {
	bool found;
	enum sstate state;
	int64_t ended, created;
};

static int latest_cb(void *arg, const struct store_run *row)
{
	struct latest_row *l = arg;
	l->found = sstate_parse(row->state, &l->state) == 0;
	l->ended = row->ended;
	l->created = row->created;
	return 0;
}

/*
 * The `after:` rule (denverd.yaml(5)): a run of job J for exec date D is
 * created when every dataset in J.after has a run for D whose latest one
 * ended succeeded or unchanged, and at least one of those succeeded after
 * J's latest run for D was created (so new data triggers J again, and a day
 * on which nothing changed does not).
 */
static bool job_ready(struct sched *s, const struct cfg_job *j, const char *exec_date)
{
	struct latest_row jl = { 0 };
	bool fresh = false;
	int rc;

	rc = store_run_latest(s->d->store, "job", j->name, exec_date, latest_cb, &jl);
	if (rc < 0 && rc != -ENOENT)
		return false;
	for (size_t i = 0; i < j->after.n; i++) {
		struct latest_row dl = { 0 };
		if (store_run_latest(s->d->store, "dataset", j->after.items[i], exec_date,
		                     latest_cb, &dl) < 0 || !dl.found)
			return false;
		if (dl.state != SS_SUCCEEDED && dl.state != SS_UNCHANGED)
			return false;
		if (dl.state == SS_SUCCEEDED && (!jl.found || dl.ended > jl.created))
			fresh = true;
	}
	return fresh;
}

/* Dataset run R has ended well: create the job runs it completes. */
static void jobs_after(struct sched *s, const struct srun *r)
{
	const struct config *cfg = s->d->cfg;

	for (size_t i = 0; i < cfg->n_jobs; i++) {
		const struct cfg_job *j = &cfg->jobs[i];
		bool mine = false;
		for (size_t k = 0; k < j->after.n && !mine; k++)
			mine = strcmp(j->after.items[k], r->target->name) == 0;
		if (!mine || !job_ready(s, j, r->exec_date))
			continue;
		struct target *jt = sched_target(s, j->name);
		int64_t id;
		bool created;
		if (jt && jt->kind == TK_JOB)
			sched_trigger(s, jt, r->exec_date, "after", false, &id, &created);
	}
}

/* Give back the configurations no running task borrows any more. */
static void retired_sweep(struct sched *s)
{
	struct retired_cfg **p = &s->retired;

	while (*p) {
		struct retired_cfg *rc = *p;
		bool used = false;
		for (struct srun *r = s->runs; r && !used; r = r->next)
			for (size_t i = 0; i < r->n_tasks && !used; i++)
				used = r->tasks[i].state == SS_RUNNING && r->tasks[i].info.cfg == rc->cfg;
		if (used) {
			p = &rc->next;
			continue;
		}
		*p = rc->next;
		config_free(rc->cfg);
		free(rc);
	}
}

static const char *outcome_word(enum toutcome o)
{
	switch (o) {
	case TO_SUCCEEDED: return "succeeded";
	case TO_UNCHANGED: return "unchanged";
	case TO_TIMEOUT: return "timeout";
	case TO_CANCELLED: return "cancelled";
	case TO_FAILED:
	default: return "failed";
	}
}

static void format_ms(uint64_t ms, char *out, size_t len)
{
	if (ms < 10000)
		snprintf(out, len, "%" PRIu64 "ms", ms);
	else if (ms < 600000)
		snprintf(out, len, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(out, len, "%" PRIu64 "m", ms / 60000);
}

/* Record the end of T's attempt and move T and its run on. */
static void task_finish(struct sched *s, struct stask *t, const struct task_outcome *o)
{
	struct srun *r = t->run;
	int64_t now = clock_now_ms();
	enum toutcome out = o->outcome;
	const char *err = o->error;

	char why[1200];
	if (out == TO_CANCELLED) {
		/* Our reason first, then what the task said about it. */
		if (t->cancel_reason && err)
			snprintf(why, sizeof why, "%s (%.1000s)", t->cancel_reason, err);
		else
			snprintf(why, sizeof why, "%.1100s", t->cancel_reason ? t->cancel_reason :
			         err ? err : "cancelled");
		err = why;
	}
	struct store_attempt a = {
		.id = t->attempt_id, .ended = now, .outcome = outcome_word(out),
		.has_exit = o->has_exit, .exit_code = o->exit_code, .signal = o->term_signal,
		.error = err, .output_tail = o->tail,
	};
	if (t->attempt_id)
		tx_check(s, store_attempt_end(s->d->store, &a));

	switch (out) {
	case TO_SUCCEEDED:
	case TO_UNCHANGED:
		t->state = out == TO_SUCCEEDED ? SS_SUCCEEDED : SS_UNCHANGED;
		set_error(&t->error, NULL);
		sched_save_task(s, t);
		sched_note(s, "info", "task.state", r, t, "%s %s (attempt %u)", t->name,
		           sstate_name(t->state), t->n_attempts);
		if (r->cancel_reason) {
			run_finish(s, r, SS_CANCELLED, r->cancel_reason);
		} else if (out == TO_UNCHANGED) {
			run_finish(s, r, SS_UNCHANGED, NULL);
		} else {
			struct stask *next = current_task(r);
			if (!next)
				run_finish(s, r, SS_SUCCEEDED, NULL);
		}
		break;
	case TO_FAILED:
	case TO_TIMEOUT: {
		const struct cfg_retry *rp = retry_of(r);
		char buf[1200];
		t->budget_used++;
		snprintf(buf, sizeof buf, "%.1100s", err ? err : out == TO_TIMEOUT ? "timed out" :
		         "failed");
		set_error(&t->error, buf);
		if (!r->cancel_reason && o->retryable && t->budget_used <= rp->retries) {
			uint64_t wait = backoff_wait(rp, t->budget_used - 1, backoff_random(),
			                             o->retry_after_ms);
			char w[32];
			format_ms(wait, w, sizeof w);
			t->state = SS_QUEUED;
			t->not_before = now + (int64_t)wait;
			sched_save_task(s, t);
			sched_note(s, "warning", "task.state", r, t,
			           "%s attempt %u failed: %s; retry %u of %u in %s", t->name,
			           t->n_attempts, buf, t->budget_used, rp->retries, w);
		} else {
			char rerr[1300];
			t->state = SS_FAILED;
			sched_save_task(s, t);
			sched_note(s, "error", "task.state", r, t, "%s failed (attempt %u): %s",
			           t->name, t->n_attempts, buf);
			snprintf(rerr, sizeof rerr, "%s: %s", t->name, buf);
			if (r->cancel_reason)
				run_finish(s, r, SS_CANCELLED, r->cancel_reason);
			else
				run_finish(s, r, SS_FAILED, rerr);
		}
		break;
	}
	case TO_CANCELLED:
	default:
		if (t->requeue_on_cancel) {
			t->state = SS_QUEUED;
			t->not_before = 0;
			sched_save_task(s, t);
			sched_note(s, "info", "task.state", r, t,
			           "%s attempt %u cancelled: %s; it resumes at the next start",
			           t->name, t->n_attempts, err);
		} else {
			t->state = SS_CANCELLED;
			sched_save_task(s, t);
			sched_note(s, "info", "task.state", r, t, "%s cancelled: %s", t->name, err);
			run_finish(s, r, SS_CANCELLED, r->cancel_reason ? r->cancel_reason : err);
		}
		break;
	}
}

void task_done(struct stask *t, const struct task_outcome *o)
{
	struct srun *r = t->run;
	struct sched *s = r->s;
	enum tclass cls = t->kind->cls;

	if (t->state != SS_RUNNING)
		return;
	if (s->closing) {
		/* sched_fini gave up waiting: the store may be gone; the open
		 * attempt is recovered at the next start. */
		t->state = SS_QUEUED;
		if (s->running[cls] > 0)
			s->running[cls]--;
		return;
	}
	if (s->running[cls] > 0)
		s->running[cls]--;
	runq_release(&r->target->lanes[cls]);
	t->impl = NULL;

	sched_tx_begin(s);
	task_finish(s, t, o);
	sched_tx_end(s, "task end");
	t->pid = 0;
	t->cancel_reason = NULL;
	t->requeue_on_cancel = false;

	if (sstate_final(r->state)) {
		bool good = r->state == SS_SUCCEEDED || r->state == SS_UNCHANGED;
		if (good && r->target->kind == TK_DATASET)
			jobs_after(s, r);
		run_unlink_free(s, r);
	} else {
		struct stask *next = current_task(r);
		if (next && next->state == SS_QUEUED)
			sched_task_place(s, next);
	}
	retired_sweep(s);
	if (!s->dispatching) {
		dispatch(s);
		arm(s);
	}
}

/* ---- starting ---- */

static void start_task(struct sched *s, struct stask *t)
{
	struct srun *r = t->run;
	struct target *tg = r->target;
	int64_t now = clock_now_ms();
	char err[1024] = "";
	bool retryable = false;
	int rc;

	t->state = SS_RUNNING;
	t->n_attempts++;
	t->attempt_started = now;
	t->attempt_id = 0;
	t->pid = 0;
	t->cancel_reason = NULL;
	t->requeue_on_cancel = false;
	s->running[t->kind->cls]++;

	sched_tx_begin(s);
	if (r->state == SS_QUEUED) {
		r->state = SS_RUNNING;
		if (!r->started)
			r->started = now;
		sched_save_run(s, r);
	}
	sched_save_task(s, t);
	tx_check(s, store_attempt_add(s->d->store, t->id, t->n_attempts, now, &t->attempt_id));
	sched_note(s, "info", "task.state", r, t, "%s started (attempt %u)", t->name,
	           t->n_attempts);
	sched_tx_end(s, "task start");

	t->info = (struct task_info){
		.d = s->d, .cfg = s->d->cfg, .target = tg->name,
		.dataset = tg->kind == TK_DATASET ? tg->ds : NULL,
		.job = tg->kind == TK_JOB ? tg->job : NULL,
		.exec_date = r->exec_date, .run_id = r->id, .task_id = t->id,
		.attempt_id = t->attempt_id, .attempt = t->n_attempts, .force = r->force,
		.log = { .dataset = tg->kind == TK_DATASET ? tg->name : NULL,
		         .run_id = r->id, .exec_date = r->exec_date, .task = t->name },
	};
	rc = t->kind->start(t, err, sizeof err, &retryable);
	if (rc < 0) {
		struct task_outcome o = {
			.outcome = TO_FAILED, .retryable = retryable,
			.error = err[0] ? err : strerror(-rc),
		};
		task_done(t, &o);
	}
}

static void dispatch(struct sched *s)
{
	bool started;

	if (s->stopped || s->d->stopping)
		return;
	s->dispatching = true;
	/* A start that fails at once may free a slot or create work in a class
	 * already visited: go round until a pass starts nothing. */
	do {
		started = false;
		for (int c = 0; c < TC_N; c++) {
			struct runq_item *it;
			while (s->running[c] < sched_limit(s, (enum tclass)c) &&
			       (it = runq_pop(&s->q[c])) != NULL) {
				start_task(s, container_of(it, struct stask, qi));
				started = true;
			}
		}
	} while (started && !s->stopped);
	s->dispatching = false;
}

void sched_kick(struct sched *s)
{
	if (!s->dispatching) {
		dispatch(s);
		arm(s);
	}
}

/* ---- task kind helpers ---- */

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

void task_broadcast(struct stask *t, const char *type, json_t *fields)
{
	struct sched *s = t->run->s;
	json_t *ev = json_deep_copy(fields);

	if (!ev || !s->d->control) {
		json_decref(ev);
		return;
	}
	json_object_set_new(ev, "ts", json_integer(clock_now_ms()));
	json_object_set_new(ev, "type", json_string(type));
	if (t->info.log.dataset)
		json_object_set_new(ev, "dataset", json_string(t->info.log.dataset));
	json_object_set_new(ev, "run_id", json_integer(t->info.run_id));
	json_object_set_new(ev, "exec_date", json_string(t->info.exec_date));
	json_object_set_new(ev, "task", json_string(t->name));
	control_broadcast(s->d->control, ev);
	json_decref(ev);
}

/* ---- the timer: schedules and retry waits ---- */

struct next_arg {
	struct sched *s;
	const struct target *t;
};

static int next_cb(void *arg, int64_t after, int64_t *next)
{
	struct next_arg *a = arg;
	return sched_next_fire(a->s, a->t, after, next);
}

static int64_t since_of(const struct target *t)
{
	int64_t ms = t->last_fire > t->first_configured ? t->last_fire : t->first_configured;
	return ms / 1000;
}

static void set_next_fire(struct sched *s, struct target *t, int64_t after)
{
	int64_t next;

	t->next_fire = sched_next_fire(s, t, after, &next) == 0 ? next : 0;
}

/*
 * Create the runs for the fires of dataset T in (since, NOW_S]: on the timer
 * (LIVE) the latest fire is the scheduled run and earlier ones (a late wake)
 * follow `missed:`; at start every one of them was missed.  Moves last_fire
 * to the latest fire, all in one transaction.
 */
static void fire(struct sched *s, struct target *t, int64_t now_s, bool live)
{
	struct catchup *plan = malloc(sizeof *plan);
	struct next_arg na = { s, t };
	const struct cfg_dataset *ds = t->ds;
	size_t want = catchup_wanted(ds->missed, ds->max_catchup);
	struct srun **runs = NULL;
	size_t n_built = 0;
	char date[11], first[11];

	if (!plan)
		goto out;
	if (live) {
		/* `all` keeps up to max_catchup earlier fires besides this one. */
		want = ds->missed == MISSED_ALL ? want + 1 : 1;
		if (want > CATCHUP_MAX)
			want = CATCHUP_MAX;
	}
	if (catchup_plan(next_cb, &na, since_of(t), now_s, want, plan) < 0 || !plan->latest)
		goto out;
	runs = calloc(plan->n_runs ? plan->n_runs : 1, sizeof *runs);
	if (!runs)
		goto out;
	sched_tx_begin(s);
	if (t->paused) {
		sched_exec_date(s, plan->latest, date);
		note_target(s, "info", "schedule", t, "%s: fire for %s skipped: paused", t->name, date);
	} else {
		for (size_t i = 0; i < plan->n_runs; i++) {
			bool sched_run = live && i + 1 == plan->n_runs;
			bool dup = false;
			sched_exec_date(s, plan->fires[i], date);
			/* Several fires of one day (an hourly schedule) share a date:
			 * one run per date at a time. */
			for (size_t k = 0; k < n_built && !dup; k++)
				dup = strcmp(runs[k]->exec_date, date) == 0;
			if (dup || active_run_of(s, t, date))
				continue;
			if (run_build(s, t, date, sched_run ? "schedule" : "catchup", false,
			              &runs[n_built]) == 0)
				n_built++;
		}
		uint64_t missed = plan->n_missed - (live ? 1 : 0);
		size_t caught = plan->n_runs - (live ? 1 : 0);
		if (missed > caught) {
			sched_exec_date(s, plan->fires[0], first);
			note_target(s, "warning", "schedule", t,
			            "%s: %s%" PRIu64 " missed fires without a run (missed: %s, "
			            "max_catchup: %u; the oldest run is for %s); use backfill "
			            "for older dates", t->name, plan->exact ? "" : "at least ",
			            missed - caught, config_missed_name(ds->missed), ds->max_catchup,
			            plan->n_runs ? first : "none");
		}
	}
	t->last_fire = plan->latest * 1000;
	tx_check(s, store_dataset_set_last_fire(s->d->store, t->name, t->last_fire));
	if (tx_commit(s, "schedule fire") == 0) {
		runs_adopt(s, runs, n_built);
	} else {
		for (size_t i = 0; i < n_built; i++)
			run_free(runs[i]);
	}
out:
	set_next_fire(s, t, now_s);
	free(runs);
	free(plan);
}

static void on_timer(uv_timer_t *h)
{
	struct sched *s = container_of(h, struct sched, timer);
	int64_t now = clock_now_ms();
	struct stask *w, *wn;

	if (s->stopped)
		return;
	for (w = s->waiting; w; w = wn) {
		wn = w->wnext;
		if (w->not_before <= now) {
			waiting_remove(s, w);
			sched_task_place(s, w);
		}
	}
	for (struct target *t = s->targets; t; t = t->next)
		if (t->kind == TK_DATASET && !t->removed && t->ds && t->next_fire &&
		    t->next_fire * 1000 <= now)
			fire(s, t, now / 1000, true);
	dispatch(s);
	arm(s);
}

static void arm(struct sched *s)
{
	int64_t due = INT64_MAX, delay;

	if (s->stopped || !s->timer_init)
		return;
	for (const struct target *t = s->targets; t; t = t->next)
		if (t->kind == TK_DATASET && !t->removed && t->next_fire &&
		    t->next_fire * 1000 < due)
			due = t->next_fire * 1000;
	for (const struct stask *w = s->waiting; w; w = w->wnext)
		if (w->not_before < due)
			due = w->not_before;
	if (due == INT64_MAX) {
		uv_timer_stop(&s->timer);
		s->next_due = 0;
		return;
	}
	delay = due - clock_now_ms();
	if (delay < 0)
		delay = 0;
	if (delay > SCHED_TIMER_CAP_MS)
		delay = SCHED_TIMER_CAP_MS;
	s->next_due = due;
	uv_timer_start(&s->timer, on_timer, (uint64_t)delay, 0);
}

/* ---- operations for the control commands ---- */

int sched_trigger(struct sched *s, struct target *t, const char *exec_date,
                  const char *trigger, bool force, int64_t *run_id, bool *created)
{
	struct srun *r = active_run_of(s, t, exec_date);
	int rc;

	*created = false;
	if (r) {
		*run_id = r->id;
		return 0;
	}
	sched_tx_begin(s);
	rc = run_build(s, t, exec_date, trigger, force, &r);
	if (tx_commit(s, "run creation") < 0) {
		run_free(r);
		return rc < 0 ? rc : -EIO;
	}
	if (rc < 0)
		return rc;
	runs_adopt(s, &r, 1);
	*run_id = r->id;
	*created = true;
	if (!s->dispatching) {
		dispatch(s);
		arm(s);
	}
	return 0;
}

int sched_backfill(struct sched *s, struct target *t, int64_t from, int64_t to,
                   unsigned *created, unsigned *skipped, int64_t *first_id,
                   int64_t *last_id)
{
	size_t n = (size_t)(to - from + 1), n_built = 0;
	struct srun **runs;
	int rc = 0;

	*created = *skipped = 0;
	*first_id = *last_id = 0;
	if (to < from || n > SCHED_MAX_BACKFILL)
		return -E2BIG;
	if (s->n_runs + n > SCHED_MAX_ACTIVE)
		return -EBUSY;
	runs = calloc(n, sizeof *runs);
	if (!runs)
		return -ENOMEM;
	sched_tx_begin(s);
	for (int64_t day = from; day <= to && rc == 0; day++) {
		char date[11];
		execdate_format(day, date);
		if (active_run_of(s, t, date)) {
			(*skipped)++;
			continue;
		}
		if ((rc = run_build(s, t, date, "backfill", false, &runs[n_built])) == 0)
			n_built++;
	}
	if (rc == 0 && n_built)
		note_target(s, "info", "backfill", t, "%s: backfill of %zu dates queued",
		            t->name, n_built);
	if (tx_commit(s, "backfill") < 0 || rc < 0) {
		for (size_t i = 0; i < n_built; i++)
			run_free(runs[i]);
		free(runs);
		return rc < 0 ? rc : -EIO;
	}
	runs_adopt(s, runs, n_built);
	*created = (unsigned)n_built;
	if (n_built) {
		*first_id = runs[0]->id;
		*last_id = runs[n_built - 1]->id;
	}
	free(runs);
	dispatch(s);
	arm(s);
	return 0;
}

int sched_cancel(struct sched *s, struct srun *r, const char *reason)
{
	bool running = false;

	if (sstate_final(r->state) || r->cancel_reason)
		return -EALREADY;
	r->cancel_reason = reason;
	sched_tx_begin(s);
	for (size_t i = 0; i < r->n_tasks; i++)
		if (r->tasks[i].state == SS_RUNNING)
			running = true;
	if (running)
		sched_note(s, "info", "run.state", r, NULL, "run %" PRId64 " cancelling: %s",
		           r->id, reason);
	else
		run_finish(s, r, SS_CANCELLED, reason);
	sched_tx_end(s, "cancel");
	if (!running) {
		run_unlink_free(s, r);
		arm(s);
		return 0;
	}
	for (size_t i = 0; i < r->n_tasks; i++) {
		struct stask *t = &r->tasks[i];
		if (t->state == SS_RUNNING && !t->cancel_reason) {
			t->cancel_reason = reason;
			t->kind->cancel(t);
		}
	}
	return 0;
}

int sched_pause(struct sched *s, struct target *t, bool paused)
{
	if (t->kind != TK_DATASET)
		return -EINVAL;
	if (t->paused == paused)
		return 0;
	sched_tx_begin(s);
	tx_check(s, store_dataset_set_paused(s->d->store, t->name, paused));
	note_target(s, "info", paused ? "dataset.paused" : "dataset.resumed", t,
	            paused ? "%s paused: nothing of it starts until resumed" :
	                     "%s resumed", t->name);
	if (tx_commit(s, paused ? "pause" : "resume") < 0)
		return -EIO;
	t->paused = paused;
	for (struct srun *r = s->runs; r; r = r->next) {
		struct stask *k;
		if (r->target != t || !(k = current_task(r)))
			continue;
		if (paused)
			runq_remove(&k->qi);
		else
			sched_task_place(s, k);
	}
	dispatch(s);
	arm(s);
	return 0;
}

/* ---- life cycle ---- */

struct ds_row_ctx {
	struct sched *s;
};

static int dataset_row_cb(void *arg, const struct store_dataset *row)
{
	struct ds_row_ctx *c = arg;
	struct target *t = sched_target(c->s, row->name);

	if (t && t->kind == TK_DATASET) {
		t->first_configured = row->first_configured;
		t->last_fire = row->last_fire;
		t->paused = row->paused;
	}
	return 0;
}

static int last_run_cb(void *arg, const struct store_run *row)
{
	struct sched *s = arg;
	struct target *t = sched_target(s, row->target);

	if (t) {
		t->last_run_id = row->id;
		snprintf(t->last_run_date, sizeof t->last_run_date, "%s", row->exec_date);
		if (sstate_parse(row->state, &t->last_run_state) < 0)
			t->last_run_state = SS_QUEUED;
	}
	return 0;
}

/* Each target's run of its latest exec date, for status. */
static int last_runs_load(struct sched *s)
{
	size_t n = 0, cap = 0;
	const char **kinds = NULL, **names = NULL;
	int rc;

	for (struct target *t = s->targets; t; t = t->next)
		cap++;
	kinds = calloc(cap ? cap : 1, sizeof *kinds);
	names = calloc(cap ? cap : 1, sizeof *names);
	if (!kinds || !names) {
		rc = -ENOMEM;
		goto out;
	}
	for (struct target *t = s->targets; t; t = t->next, n++) {
		kinds[n] = t->kind == TK_JOB ? "job" : "dataset";
		names[n] = t->name;
	}
	rc = store_runs_last(s->d->store, kinds, names, n, last_run_cb, s);
out:
	free(kinds);
	free(names);
	return rc;
}

/* Make T's schedule from its configuration; a bad expression (config.c
 * validates them, so only a bug) leaves it without fires. */
static void target_schedule(struct sched *s, struct target *t)
{
	const char *err = NULL;

	memset(&t->cron, 0, sizeof t->cron);
	t->next_fire = 0;
	if (!t->ds || !t->ds->schedule ||
	    cron_parse(t->ds->schedule, &t->cron, &err) < 0) {
		log_err(&(struct log_ctx){ .dataset = t->name }, "schedule \"%s\": %s; "
		        "the dataset will not be scheduled",
		        t->ds && t->ds->schedule ? t->ds->schedule : "", err ? err : "missing");
		t->ds = NULL;
	}
}

/* Targets for every dataset and job of d->cfg; dataset rows added with
 * first_configured = NOW for the new ones (in the open transaction). */
static int targets_sync(struct sched *s, int64_t now, bool reload,
                        const struct config *old)
{
	const struct config *cfg = s->d->cfg;

	for (size_t i = 0; i < cfg->n_datasets; i++) {
		const struct cfg_dataset *ds = &cfg->datasets[i];
		struct target *t = sched_target(s, ds->name);
		bool fresh = !t, changed = false;
		if (t && t->kind != TK_DATASET) {
			t->removed = true;     /* a job renamed into a dataset */
			t = NULL;
			fresh = true;
		}
		if (!t && !(t = target_new(s, ds->name, TK_DATASET)))
			return -ENOMEM;
		if (!fresh && old) {
			const struct cfg_dataset *o = config_dataset(old, ds->name);
			changed = !o || !o->schedule || strcmp(o->schedule, ds->schedule);
		}
		t->ds = ds;
		if (fresh || changed || !reload)
			target_schedule(s, t);
		if (fresh) {
			t->first_configured = now;
			tx_check(s, store_dataset_add(s->d->store, ds->name, now));
		}
		if (reload && (fresh || changed)) {
			/* Counted from now: a reload never fires by itself. */
			t->last_fire = now;
			tx_check(s, store_dataset_set_last_fire(s->d->store, ds->name, now));
			set_next_fire(s, t, now / 1000);
		}
	}
	for (size_t i = 0; i < cfg->n_jobs; i++) {
		const struct cfg_job *j = &cfg->jobs[i];
		struct target *t = sched_target(s, j->name);
		if (t && t->kind != TK_JOB) {
			t->removed = true;
			t = NULL;
		}
		if (!t && !(t = target_new(s, j->name, TK_JOB)))
			return -ENOMEM;
		t->job = j;
	}
	return 0;
}

/* Targets no longer configured: cancel their runs, free them when idle. */
static void targets_prune(struct sched *s)
{
	const struct config *cfg = s->d->cfg;
	struct target *t, *next;

	for (t = s->targets; t; t = next) {
		next = t->next;
		bool keep = t->kind == TK_DATASET ? config_dataset(cfg, t->name) != NULL :
		                                    config_job(cfg, t->name) != NULL;
		if (keep && !t->removed)
			continue;
		t->removed = true;
		t->ds = NULL;
		t->job = NULL;
		t->next_fire = 0;
		struct srun *r, *rn;
		t->n_runs++;      /* hold T while its runs are cancelled */
		for (r = s->runs; r; r = rn) {
			rn = r->next;
			if (r->target == t)
				sched_cancel(s, r, "removed from the configuration");
		}
		if (--t->n_runs == 0)
			target_unlink_free(s, t);
	}
}

/*
 * At start: a job whose `after:` datasets all ended well for the exec date
 * of their newest runs, but whose run was never created (the daemon died
 * between the dataset run's end and the job run's creation).
 */
static void jobs_recheck(struct sched *s)
{
	const struct config *cfg = s->d->cfg;

	for (size_t i = 0; i < cfg->n_jobs; i++) {
		const struct cfg_job *j = &cfg->jobs[i];
		struct target *jt = sched_target(s, j->name);
		for (size_t k = 0; jt && k < j->after.n; k++) {
			const struct target *dt = sched_target(s, j->after.items[k]);
			int64_t id;
			bool created;
			if (!dt || !dt->last_run_id || active_run_of(s, jt, dt->last_run_date) ||
			    !job_ready(s, j, dt->last_run_date))
				continue;
			sched_trigger(s, jt, dt->last_run_date, "after", false, &id, &created);
		}
	}
}

/* At start: the runs of fires missed while denverd was not running. */
static void catch_up_all(struct sched *s, int64_t now)
{
	for (struct target *t = s->targets; t; t = t->next) {
		if (t->kind != TK_DATASET || !t->ds)
			continue;
		fire(s, t, now / 1000, false);
	}
}

/*
 * One engine per state directory: two would each believe they own the
 * attempts they find open, and run a task twice.  The lock is an flock on
 * state_dir/sched.lock held for the life of the engine (close-on-exec, so
 * a job that outlives us does not keep it).
 */
static int lock_state(struct sched *s)
{
	char path[4096];
	int fd, n = snprintf(path, sizeof path, "%s/sched.lock", s->d->cfg->state_dir);

	if (n < 0 || (size_t)n >= sizeof path)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_err(NULL, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		log_err(NULL, "%s: %s", path, e == EWOULDBLOCK ? "another denverd runs on this "
		        "state_dir (it may still be stopping)" : strerror(e));
		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	s->lock_fd = fd;
	return 0;
}

int sched_init(struct denverd *d)
{
	struct sched *s = calloc(1, sizeof *s);
	struct ds_row_ctx rc_ctx = { s };
	int64_t now = clock_now_ms();
	int rc;

	if (!s)
		return -ENOMEM;
	s->d = d;
	s->lock_fd = -1;
	d->sched = s;
	if ((rc = lock_state(s)) < 0)
		goto out;
	runq_init(&s->q[TC_FETCH], true);
	runq_init(&s->q[TC_CHECK], true);
	runq_init(&s->q[TC_PROC], true);
	if (!(s->pending = json_array())) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = tz_load(d->cfg->timezone, &s->tz)) < 0) {
		log_err(NULL, "time zone %s: %s", d->cfg->timezone, strerror(-rc));
		goto out;
	}
	if ((rc = uv_timer_init(d->loop, &s->timer)) < 0)
		goto out;
	s->timer_init = true;
	if ((rc = http_init(d->loop, &s->http)) < 0) {
		log_err(NULL, "curl multi handle: %s", strerror(-rc));
		goto out;
	}

	sched_tx_begin(s);
	rc = targets_sync(s, now, false, NULL);
	if (tx_commit(s, "datasets") < 0 && rc == 0)
		rc = -EIO;
	if (rc < 0)
		goto out;
	if ((rc = store_datasets_each(d->store, dataset_row_cb, &rc_ctx)) < 0) {
		log_err(NULL, "state store: %s", store_errmsg(d->store));
		goto out;
	}
	if ((rc = last_runs_load(s)) < 0) {
		log_err(NULL, "state store: %s", store_errmsg(d->store));
		goto out;
	}
	if ((rc = sched_recover(s)) < 0)
		goto out;
	jobs_recheck(s);
	catch_up_all(s, now);
	if ((rc = sched_control_init(s)) < 0)
		goto out;
	dispatch(s);
	arm(s);
	return 0;
out:
	sched_fini(d);
	return rc;
}

void sched_stop(struct denverd *d)
{
	struct sched *s = d->sched;

	if (!s || s->stopped)
		return;
	s->stopped = true;
	if (s->timer_init)
		uv_timer_stop(&s->timer);
	for (struct srun *r = s->runs; r; r = r->next) {
		for (size_t i = 0; i < r->n_tasks; i++) {
			struct stask *t = &r->tasks[i];
			runq_remove(&t->qi);
			/* A run the operator is cancelling ends cancelled, not
			 * queued for the next start. */
			if (t->state != SS_RUNNING || t->requeue_on_cancel || r->cancel_reason)
				continue;
			t->requeue_on_cancel = true;
			t->cancel_reason = "denverd stopping (SIGTERM)";
			t->kind->cancel(t);
		}
	}
}

static unsigned running_total(const struct sched *s)
{
	unsigned n = 0;
	for (int c = 0; c < TC_N; c++)
		n += s->running[c];
	return n;
}

static void on_fini_timer(uv_timer_t *h)
{
	(void)h;
}

/* Run the loop until every running task has reported, at most BUDGET_MS;
 * the timer handle makes sure uv_run returns. */
static void drain(struct sched *s, int64_t budget_ms)
{
	int64_t end = clock_mono_ms() + budget_ms;

	while (running_total(s) > 0) {
		int64_t left = end - clock_mono_ms();
		if (left <= 0)
			break;
		uv_timer_start(&s->timer, on_fini_timer, (uint64_t)left, 0);
		uv_run(s->d->loop, UV_RUN_ONCE);
	}
	uv_timer_stop(&s->timer);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct sched *s = container_of((uv_timer_t *)h, struct sched, timer);
	free(s);
}

void sched_fini(struct denverd *d)
{
	struct sched *s = d->sched;

	if (!s)
		return;
	sched_stop(d);
	if (s->timer_init && running_total(s) > 0) {
		drain(s, SCHED_STOP_MAX_MS);
		/* Past the budget: SIGKILL what is left, give the loop a moment
		 * to reap it; anything still open is recovered at the next start. */
		for (struct srun *r = s->runs; r; r = r->next)
			for (size_t i = 0; i < r->n_tasks; i++)
				if (r->tasks[i].state == SS_RUNNING && r->tasks[i].pid > 0)
					kill(-r->tasks[i].pid, SIGKILL);
		drain(s, 1000);
	}
	d->sched = NULL;
	s->closing = true;
	if (running_total(s) > 0) {
		/* A task that never reported still holds pointers into our
		 * objects: keep them (a bounded leak at exit) rather than free
		 * them under it.  Its attempt is recovered at the next start. */
		log_err(NULL, "%u tasks did not stop in time; leaving them to the next start",
		        running_total(s));
		return;
	}
	while (s->runs) {
		struct srun *r = s->runs;
		s->runs = r->next;
		run_free(r);
	}
	while (s->targets) {
		struct target *t = s->targets;
		s->targets = t->next;
		free(t);
	}
	while (s->retired) {
		struct retired_cfg *rc = s->retired;
		s->retired = rc->next;
		config_free(rc->cfg);
		free(rc);
	}
	json_decref(s->pending);
	tz_free(s->tz);
	http_fini(s->http);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->timer_init) {
		uv_close((uv_handle_t *)&s->timer, on_timer_closed);
		uv_run(d->loop, UV_RUN_NOWAIT);
	} else {
		free(s);
	}
}

int sched_reload(struct denverd *d, struct config *old)
{
	struct sched *s = d->sched;
	struct retired_cfg *rc_node;
	int64_t now = clock_now_ms();
	int rc = 0;

	if (!s) {
		config_free(old);
		return 0;
	}
	if (old && strcmp(old->timezone, d->cfg->timezone) != 0) {
		struct tz *tz = NULL;
		if ((rc = tz_load(d->cfg->timezone, &tz)) < 0) {
			log_err(NULL, "time zone %s: %s; keeping %s", d->cfg->timezone,
			        strerror(-rc), old->timezone);
		} else {
			tz_free(s->tz);
			s->tz = tz;
		}
	}
	sched_tx_begin(s);
	rc = targets_sync(s, now, true, old);
	tx_commit(s, "reload");
	targets_prune(s);
	/* Re-read dataset rows for datasets configured again after a removal
	 * (first_configured, paused are theirs). */
	store_datasets_each(d->store, dataset_row_cb, &(struct ds_row_ctx){ s });
	if (old) {
		rc_node = calloc(1, sizeof *rc_node);
		if (rc_node) {
			rc_node->cfg = old;
			rc_node->next = s->retired;
			s->retired = rc_node;
		} else {
			/* Cannot track it: keep it forever rather than free it under a
			 * running task (a leak of one configuration). */
			log_warn(NULL, "reload: out of memory tracking the old configuration");
		}
	}
	retired_sweep(s);
	dispatch(s);
	arm(s);
	return rc;
}
