/*
 * sched.c - the engine's driver: what may start now (dispatch), starting an
 * attempt through its task kind, recording its end and moving the run on
 * (task_done), retries, the `after:` rule, the one timer (the runs its
 * fires create are fire.c's), and the two operations that act on one run
 * (trigger, cancel).
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
 * Every transition is one transaction (tx.c): written, then announced.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "common/fmt.h"
#include "domain/backoff.h"
#include "engine/engine_int.h"
#include "store/store.h"

/* Room for an error with the words put around it (the task's own error is
 * cut to ERR_TEXT_MAX). */
#define ERR_TEXT_MAX 1100
#define ERR_MAX      (ERR_TEXT_MAX + 100)

/* ---- finishing ---- */

/* R ends in STATE: unfinished tasks that are not running become skipped
 * (cancelled when the run is).  Inside a transaction. */
static void run_finish(struct sched *s, struct srun *r, enum run_state state, const char *error)
{
	enum run_state rest = state == RUN_CANCELLED ? RUN_CANCELLED : RUN_SKIPPED;

	for (size_t i = 0; i < r->n_tasks; i++) {
		struct stask *k = &r->tasks[i];
		if (run_state_final(k->state) || k->state == RUN_RUNNING)
			continue;
		task_unplace(s, k);
		k->state = rest;
		task_save(s, k);
	}
	r->state = state;
	r->ended = clock_now_ms();
	run_set_error(&r->error, error);
	run_save(s, r);
	if (error)
		tx_note(s, state == RUN_FAILED ? LOG_ERR : LOG_INFO, ENGINE_EV_RUN_STATE, r, NULL,
		        "run %" PRId64 " %s: %s", r->id, run_state_to_string(state), error);
	else
		tx_note(s, LOG_INFO, ENGINE_EV_RUN_STATE, r, NULL, "run %" PRId64 " %s", r->id,
		        run_state_to_string(state));
	target_saw_run(r->target, r);
}

struct latest_row {
	bool found;
	enum run_state state;
	int64_t ended, created;
};

static int latest_cb(void *arg, const struct store_run *row)
{
	struct latest_row *l = arg;
	int st = run_state_from_string(row->state);

	l->found = st >= 0;
	l->state = st >= 0 ? (enum run_state)st : RUN_QUEUED;
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
bool sched_job_ready(struct sched *s, const struct cfg_job *j, const char *exec_date)
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
		if (dl.state != RUN_SUCCEEDED && dl.state != RUN_UNCHANGED)
			return false;
		if (dl.state == RUN_SUCCEEDED && (!jl.found || dl.ended > jl.created))
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
		if (!mine || !sched_job_ready(s, j, r->exec_date))
			continue;
		struct target *jt = sched_target(s, j->name);
		int64_t id;
		bool created;
		if (jt && jt->kind == TK_JOB)
			sched_trigger(s, jt, r->exec_date, "after", false, &id, &created);
	}
}

void sched_retired_sweep(struct sched *s)
{
	struct retired_cfg **p = &s->retired;

	while (*p) {
		struct retired_cfg *rc = *p;
		bool used = false;
		for (struct srun *r = s->runs; r && !used; r = r->runs_next)
			for (size_t i = 0; i < r->n_tasks && !used; i++)
				used = r->tasks[i].state == RUN_RUNNING && r->tasks[i].info.cfg == rc->cfg;
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

/* T's attempt succeeded or found nothing new: on to the next task, or the
 * run's end. */
static void finish_ok(struct sched *s, struct stask *t, enum toutcome out)
{
	struct srun *r = t->run;

	t->state = out == TO_SUCCEEDED ? RUN_SUCCEEDED : RUN_UNCHANGED;
	run_set_error(&t->error, NULL);
	task_save(s, t);
	tx_note(s, LOG_INFO, ENGINE_EV_TASK_STATE, r, t, "%s %s (attempt %u)", t->name,
	        run_state_to_string(t->state), t->n_attempts);
	if (r->cancel_reason)
		run_finish(s, r, RUN_CANCELLED, r->cancel_reason);
	else if (out == TO_UNCHANGED)
		run_finish(s, r, RUN_UNCHANGED, NULL);
	else if (!run_current_task(r))
		run_finish(s, r, RUN_SUCCEEDED, NULL);
}

/* T's attempt failed or timed out (ERR, or NULL): a retry after its
 * back-off while the budget lasts and the failure is retryable, else the
 * task and its run fail. */
static void finish_failed(struct sched *s, struct stask *t, const struct task_outcome *o,
                          const char *err, int64_t now)
{
	struct srun *r = t->run;
	const struct cfg_retry *rp = target_retry(r->target);
	char buf[ERR_MAX];

	t->budget_used++;
	snprintf(buf, sizeof buf, "%.*s", ERR_TEXT_MAX,
	         err ? err : o->outcome == TO_TIMEOUT ? "timed out" : "failed");
	run_set_error(&t->error, buf);
	if (!r->cancel_reason && o->retryable && t->budget_used <= rp->retries) {
		uint64_t wait = backoff_wait(rp, t->budget_used - 1, backoff_random(),
		                             o->retry_after_ms);
		t->state = RUN_QUEUED;
		t->not_before = now + (int64_t)wait;
		task_save(s, t);
		tx_note(s, LOG_WARNING, ENGINE_EV_TASK_STATE, r, t,
		        "%s attempt %u failed: %s; retry %u of %u in %s", t->name,
		        t->n_attempts, buf, t->budget_used, rp->retries,
		        fmt_duration(FMT_DURATION_BUF, wait));
		return;
	}
	char rerr[ERR_MAX + CONFIG_MAX_NAME + 4];
	t->state = RUN_FAILED;
	task_save(s, t);
	tx_note(s, LOG_ERR, ENGINE_EV_TASK_STATE, r, t, "%s failed (attempt %u): %s",
	        t->name, t->n_attempts, buf);
	snprintf(rerr, sizeof rerr, "%s: %s", t->name, buf);
	run_finish(s, r, r->cancel_reason ? RUN_CANCELLED : RUN_FAILED,
	           r->cancel_reason ? r->cancel_reason : rerr);
}

/* T's attempt was cancelled for WHY: the task stays queued when the daemon
 * stops, else it and its run end cancelled. */
static void finish_cancelled(struct sched *s, struct stask *t, const char *why)
{
	struct srun *r = t->run;

	if (t->requeue_on_cancel) {
		t->state = RUN_QUEUED;
		t->not_before = 0;
		task_save(s, t);
		tx_note(s, LOG_INFO, ENGINE_EV_TASK_STATE, r, t,
		        "%s attempt %u cancelled: %s; it resumes at the next start",
		        t->name, t->n_attempts, why);
		return;
	}
	t->state = RUN_CANCELLED;
	task_save(s, t);
	tx_note(s, LOG_INFO, ENGINE_EV_TASK_STATE, r, t, "%s cancelled: %s", t->name, why);
	run_finish(s, r, RUN_CANCELLED, r->cancel_reason ? r->cancel_reason : why);
}

/* Record the end of T's attempt and move T and its run on.  Inside a
 * transaction. */
static void task_finish(struct sched *s, struct stask *t, const struct task_outcome *o)
{
	int64_t now = clock_now_ms();
	const char *err = o->error;
	char why[ERR_MAX];

	if (o->outcome == TO_CANCELLED) {
		/* Our reason first, then what the task said about it. */
		if (t->cancel_reason && err)
			snprintf(why, sizeof why, "%s (%.1000s)", t->cancel_reason, err);
		else
			snprintf(why, sizeof why, "%.*s", ERR_TEXT_MAX, t->cancel_reason ?
			         t->cancel_reason : err ? err : "cancelled");
		err = why;
	}
	struct store_attempt a = {
		.id = t->attempt_id, .ended = now, .outcome = outcome_word(o->outcome),
		.has_exit = o->has_exit, .exit_code = o->exit_code, .signal = o->term_signal,
		.error = err, .output_tail = o->tail,
	};
	if (t->attempt_id)
		tx_check(s, store_attempt_end(s->d->store, &a));
	switch (o->outcome) {
	case TO_SUCCEEDED:
	case TO_UNCHANGED:
		finish_ok(s, t, o->outcome);
		break;
	case TO_FAILED:
	case TO_TIMEOUT:
		finish_failed(s, t, o, err, now);
		break;
	case TO_CANCELLED:
	default:
		finish_cancelled(s, t, err);
		break;
	}
}

void task_done(struct stask *t, const struct task_outcome *o)
{
	struct srun *r = t->run;
	struct sched *s = r->s;
	enum task_class cls = t->kind->cls;

	if (t->state != RUN_RUNNING)
		return;
	if (s->closing) {
		/* sched_fini gave up waiting: the store may be gone; the open
		 * attempt is recovered at the next start. */
		t->state = RUN_QUEUED;
		if (s->running[cls] > 0)
			s->running[cls]--;
		return;
	}
	if (s->running[cls] > 0)
		s->running[cls]--;
	runq_release(&r->target->lanes[cls]);
	t->impl = NULL;

	tx_begin(s);
	task_finish(s, t, o);
	tx_end(s, "task end");
	t->pid = 0;
	t->cancel_reason = NULL;
	t->requeue_on_cancel = false;

	if (run_state_final(r->state)) {
		bool good = r->state == RUN_SUCCEEDED || r->state == RUN_UNCHANGED;
		if (good && r->target->kind == TK_DATASET)
			jobs_after(s, r);
		run_unlink_free(s, r);
	} else {
		struct stask *next = run_current_task(r);
		if (next && next->state == RUN_QUEUED)
			task_place(s, next);
	}
	sched_retired_sweep(s);
	sched_kick(s);
}

/* ---- starting ---- */

/* T's attempt is about to start: its running rows and event. */
static void begin_attempt(struct sched *s, struct stask *t, int64_t now)
{
	struct srun *r = t->run;

	t->state = RUN_RUNNING;
	t->n_attempts++;
	t->attempt_started = now;
	t->attempt_id = 0;
	t->pid = 0;
	t->cancel_reason = NULL;
	t->requeue_on_cancel = false;
	s->running[t->kind->cls]++;

	tx_begin(s);
	if (r->state == RUN_QUEUED) {
		r->state = RUN_RUNNING;
		if (!r->started)
			r->started = now;
		run_save(s, r);
	}
	task_save(s, t);
	tx_check(s, store_attempt_add(s->d->store, t->id, t->n_attempts, now, &t->attempt_id));
	tx_note(s, LOG_INFO, ENGINE_EV_TASK_STATE, r, t, "%s started (attempt %u)", t->name,
	        t->n_attempts);
	tx_end(s, "task start");
}

static void start_task(struct sched *s, struct stask *t)
{
	struct srun *r = t->run;
	struct target *tg = r->target;
	char err[1024] = "";
	bool retryable = false;
	int rc;

	begin_attempt(s, t, clock_now_ms());
	t->info = (struct task_info){
		.d = s->d, .cfg = s->d->cfg, .http = s->http, .s3 = s->s3, .target = tg->name,
		.dataset = tg->kind == TK_DATASET ? tg->ds : NULL,
		.job = tg->kind == TK_JOB ? tg->job : NULL,
		.exec_date = r->exec_date, .run_id = r->id, .task_id = t->id,
		.attempt_id = t->attempt_id, .attempt = t->n_attempts, .force = r->force,
		.log = { .dataset = tg->kind == TK_DATASET ? tg->name : NULL,
		         .run_id = r->id, .exec_date = r->exec_date, .task = t->name },
		.spark_remote = s->spark.mode == SPARK_SUBMIT ? NULL : s->spark.remote,
		.spark_token = s->spark.mode == SPARK_SUBMIT ? NULL : s->spark.token,
		.s3_env = s->s3_env,
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

void sched_dispatch(struct sched *s)
{
	bool started;

	if (s->stopped || s->d->stopping)
		return;
	s->dispatching = true;
	/* A start that fails at once may free a slot or create work in a class
	 * already visited: go round until a pass starts nothing. */
	do {
		started = false;
		for (int c = 0; c < _TC_MAX; c++) {
			struct runq_item *it;
			/* Convert and jobs wait, queued, for the Spark endpoint
			 * (spark.c opens the gate and kicks us). */
			if (c == TC_PROC && s->spark.mode != SPARK_SUBMIT && !s->spark.ready)
				continue;
			while (s->running[c] < sched_limit(s, (enum task_class)c) &&
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
		sched_dispatch(s);
		sched_arm(s);
	}
}

bool sched_accepting(const struct sched *s)
{
	return !s->stopped;
}

/* ---- the timer: schedules and retry waits ---- */

static void on_timer(uv_timer_t *h)
{
	struct sched *s = container_of(h, struct sched, timer);
	int64_t now = clock_now_ms();
	struct stask *w, *wn;

	if (s->stopped)
		return;
	LIST_FOREACH_SAFE(waiting, w, wn, s->waiting) {
		if (w->not_before <= now) {
			waiting_remove(s, w);
			task_place(s, w);
		}
	}
	for (struct target *t = s->targets; t; t = t->targets_next)
		if (t->kind == TK_DATASET && !t->removed && t->ds && t->next_fire &&
		    t->next_fire * 1000 <= now)
			fire_runs(s, t, now / 1000, true);
	sched_dispatch(s);
	sched_arm(s);
}

void sched_arm(struct sched *s)
{
	int64_t due = INT64_MAX, delay;

	if (s->stopped || !s->timer_init)
		return;
	for (const struct target *t = s->targets; t; t = t->targets_next)
		if (t->kind == TK_DATASET && !t->removed && t->next_fire &&
		    t->next_fire * 1000 < due)
			due = t->next_fire * 1000;
	for (const struct stask *w = s->waiting; w; w = w->waiting_next)
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

/* ---- one run: trigger, cancel ---- */

int sched_trigger(struct sched *s, struct target *t, const char *exec_date,
                  const char *trigger, bool force, int64_t *run_id, bool *created)
{
	struct srun *r = run_active_of(s, t, exec_date);
	int rc;

	*created = false;
	if (r) {
		*run_id = r->id;
		return 0;
	}
	tx_begin(s);
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
	sched_kick(s);
	return 0;
}

int sched_cancel(struct sched *s, struct srun *r, const char *reason)
{
	bool running = false;

	if (run_state_final(r->state) || r->cancel_reason)
		return -EALREADY;
	r->cancel_reason = reason;
	tx_begin(s);
	for (size_t i = 0; i < r->n_tasks; i++)
		if (r->tasks[i].state == RUN_RUNNING)
			running = true;
	if (running) {
		tx_note(s, LOG_INFO, ENGINE_EV_RUN_STATE, r, NULL, "run %" PRId64 " cancelling: %s",
		        r->id, reason);
		target_saw_run(r->target, r);
	} else {
		run_finish(s, r, RUN_CANCELLED, reason);
	}
	tx_end(s, "cancel");
	if (!running) {
		run_unlink_free(s, r);
		sched_arm(s);
		return 0;
	}
	for (size_t i = 0; i < r->n_tasks; i++) {
		struct stask *t = &r->tasks[i];
		if (t->state == RUN_RUNNING && !t->cancel_reason) {
			t->cancel_reason = reason;
			t->kind->cancel(t);
		}
	}
	return 0;
}
