/*
 * lifecycle.c - the engine's life: creation (lock, time zone, timer, curl
 * multi handle, the table of task kinds), start (targets from the
 * configuration, crash recovery, catch-up), stop, the bounded wait for
 * children at exit, and reload.  The only file that knows the built-in
 * task kinds (engine/tasks/tasks.h): the rest of the engine finds them in
 * s->kinds[].
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/clock.h"
#include "domain/tz.h"
#include "engine/engine_int.h"
#include "engine/tasks/tasks.h"
#include "io/http.h"
#include "io/job.h"
#include "store/store.h"

/* ---- targets from the configuration and the store ---- */

static int dataset_row_cb(void *arg, const struct store_dataset *row)
{
	struct target *t = sched_target(arg, row->name);

	if (t && t->kind == TK_DATASET) {
		t->first_configured = row->first_configured;
		t->last_fire = row->last_fire;
		t->paused = row->paused;
	}
	return 0;
}

static int last_run_cb(void *arg, const struct store_run *row)
{
	struct target *t = sched_target(arg, row->target);
	int st;

	if (t) {
		t->last_run_id = row->id;
		snprintf(t->last_run_date, sizeof t->last_run_date, "%s", row->exec_date);
		st = run_state_from_string(row->state);
		t->last_run_state = st >= 0 ? (enum run_state)st : RUN_QUEUED;
	}
	return 0;
}

/* Each target's run of its latest exec date, for status. */
static int last_runs_load(struct sched *s)
{
	size_t n = 0, cap = 0;
	const char **kinds = NULL, **names = NULL;
	int rc;

	for (struct target *t = s->targets; t; t = t->targets_next)
		cap++;
	kinds = calloc(cap ? cap : 1, sizeof *kinds);
	names = calloc(cap ? cap : 1, sizeof *names);
	if (!kinds || !names) {
		rc = -ENOMEM;
		goto out;
	}
	for (struct target *t = s->targets; t; t = t->targets_next, n++) {
		kinds[n] = t->kind == TK_JOB ? "job" : "dataset";
		names[n] = t->name;
	}
	rc = store_runs_last(s->d->store, kinds, names, n, last_run_cb, s);
out:
	free(kinds);
	free(names);
	return rc;
}

/* The target of dataset DS, made (NOW its first configuration, in the open
 * transaction) or found; with RELOAD a new or changed schedule counts from
 * NOW.  0 or -ENOMEM. */
static int sync_dataset(struct sched *s, const struct cfg_dataset *ds, int64_t now,
                        bool reload, const struct config *old)
{
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
		target_schedule(t);
	if (fresh) {
		t->first_configured = now;
		tx_check(s, store_dataset_add(s->d->store, ds->name, now));
	}
	if (reload && (fresh || changed)) {
		/* Counted from now: a reload never fires by itself. */
		t->last_fire = now;
		tx_check(s, store_dataset_set_last_fire(s->d->store, ds->name, now));
		target_set_next_fire(s, t, now / 1000);
	}
	return 0;
}

/* Targets for every dataset and job of d->cfg; dataset rows added with
 * first_configured = NOW for the new ones (in the open transaction). */
static int targets_sync(struct sched *s, int64_t now, bool reload,
                        const struct config *old)
{
	const struct config *cfg = s->d->cfg;
	int rc;

	for (size_t i = 0; i < cfg->n_datasets; i++)
		if ((rc = sync_dataset(s, &cfg->datasets[i], now, reload, old)) < 0)
			return rc;
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

	LIST_FOREACH_SAFE(targets, t, next, s->targets) {
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
		LIST_FOREACH_SAFE(runs, r, rn, s->runs) {
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
			if (!dt || !dt->last_run_id || run_active_of(s, jt, dt->last_run_date) ||
			    !sched_job_ready(s, j, dt->last_run_date))
				continue;
			sched_trigger(s, jt, dt->last_run_date, "after", false, &id, &created);
		}
	}
}

/* At start: the runs of fires missed while denverd was not running. */
static void catch_up_all(struct sched *s, int64_t now)
{
	for (struct target *t = s->targets; t; t = t->targets_next) {
		if (t->kind != TK_DATASET || !t->ds)
			continue;
		fire_runs(s, t, now / 1000, false);
	}
}

/* ---- creation and start ---- */

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

/* The task kinds this build knows, in s->kinds[]. */
static void kinds_register(struct sched *s)
{
	static const struct task_kind *const builtin[] = {
		&task_kind_fetch, &task_kind_check, &task_kind_convert, &task_kind_job,
	};
	STATIC_ASSERT(ARRAY_SIZE(builtin) <= SCHED_MAX_KINDS, "room for the built-in kinds");

	for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
		s->kinds[s->n_kinds++] = builtin[i];
}

int sched_init(struct denverd *d)
{
	struct sched *s = calloc(1, sizeof *s);
	int rc;

	if (!s)
		return -ENOMEM;
	s->d = d;
	s->lock_fd = -1;
	d->sched = s;
	if ((rc = lock_state(s)) < 0)
		goto out;
	for (int c = 0; c < _TC_MAX; c++)
		runq_init(&s->q[c], true);
	kinds_register(s);
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
	if ((rc = upload_client_new(d, s->http, &s->s3, &s->s3_env)) < 0)
		goto out;            /* logged, without a secret */
	return 0;
out:
	sched_fini(d);
	return rc;
}

int sched_start(struct denverd *d)
{
	struct sched *s = d->sched;
	int64_t now = clock_now_ms();
	int rc;

	tx_begin(s);
	rc = targets_sync(s, now, false, NULL);
	if (tx_commit(s, "datasets") < 0 && rc == 0)
		rc = -EIO;
	if (rc < 0)
		return rc;
	if ((rc = store_datasets_each(d->store, dataset_row_cb, s)) < 0 ||
	    (rc = last_runs_load(s)) < 0) {
		log_err(NULL, "state store: %s", store_errmsg(d->store));
		return rc;
	}
	if ((rc = recover_runs(s)) < 0)
		return rc;
	if ((rc = spark_start(s)) < 0) {
		log_err(NULL, "Spark endpoint: %s", uv_strerror(rc));
		return rc;
	}
	jobs_recheck(s);
	if (s->s3)
		upload_sweep(d, s->s3);   /* aborts stale uploads, in the background */
	catch_up_all(s, now);
	sched_dispatch(s);
	sched_arm(s);
	return 0;
}

/* ---- stop ---- */

void sched_stop(struct denverd *d)
{
	struct sched *s = d->sched;

	if (!s || s->stopped)
		return;
	s->stopped = true;
	if (s->timer_init)
		uv_timer_stop(&s->timer);
	spark_stop(s);
	for (struct srun *r = s->runs; r; r = r->runs_next) {
		for (size_t i = 0; i < r->n_tasks; i++) {
			struct stask *t = &r->tasks[i];
			runq_remove(&t->qi);
			/* A run the operator is cancelling ends cancelled, not
			 * queued for the next start. */
			if (t->state != RUN_RUNNING || t->requeue_on_cancel || r->cancel_reason)
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
	for (int c = 0; c < _TC_MAX; c++)
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

/* Wait (bounded) for the running tasks to report; past the budget, SIGKILL
 * what is left and give the loop a moment to reap it.  Anything still open
 * is recovered at the next start. */
static void wait_children(struct sched *s)
{
	drain(s, SCHED_STOP_MAX_MS);
	for (struct srun *r = s->runs; r; r = r->runs_next)
		for (size_t i = 0; i < r->n_tasks; i++)
			if (r->tasks[i].state == RUN_RUNNING && r->tasks[i].pid > 0)
				kill(-r->tasks[i].pid, SIGKILL);
	drain(s, 1000);
}

/* Free the engine's objects (nothing of them runs any more). */
static void free_all(struct sched *s)
{
	struct srun *r, *rn;
	struct target *t, *tn;

	LIST_FOREACH_SAFE(runs, r, rn, s->runs)
		run_free(r);
	LIST_FOREACH_SAFE(targets, t, tn, s->targets)
		free(t);
	while (s->retired) {
		struct retired_cfg *rc = s->retired;
		s->retired = rc->next;
		config_free(rc->cfg);
		free(rc);
	}
	tx_fini(s);
	tz_free(s->tz);
	upload_client_free(s->s3);   /* before its struct http */
	s->s3 = NULL;
	job_strv_free(s->s3_env);    /* wipes the keys */
	s->s3_env = NULL;
	http_fini(s->http);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
}

void sched_fini(struct denverd *d)
{
	struct sched *s = d->sched;

	if (!s)
		return;
	sched_stop(d);
	if (s->timer_init && running_total(s) > 0)
		wait_children(s);
	spark_fini(s);
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
	free_all(s);
	if (s->timer_init) {
		uv_close((uv_handle_t *)&s->timer, on_timer_closed);
		uv_run(d->loop, UV_RUN_NOWAIT);
	} else {
		free(s);
	}
}

/* ---- reload ---- */

/* A new time zone when the configuration names another (kept on failure). */
static void reload_tz(struct sched *s, const struct config *old)
{
	struct tz *tz = NULL;
	int rc;

	if (!old || strcmp(old->timezone, s->d->cfg->timezone) == 0)
		return;
	if ((rc = tz_load(s->d->cfg->timezone, &tz)) < 0) {
		log_err(NULL, "time zone %s: %s; keeping %s", s->d->cfg->timezone,
		        strerror(-rc), old->timezone);
		return;
	}
	tz_free(s->tz);
	s->tz = tz;
}

/* Keep OLD until no running task borrows it (sched_retired_sweep). */
static void retire(struct sched *s, struct config *old)
{
	struct retired_cfg *node;

	if (!old)
		return;
	if (!(node = calloc(1, sizeof *node))) {
		/* Cannot track it: keep it forever rather than free it under a
		 * running task (a leak of one configuration). */
		log_warn(NULL, "reload: out of memory tracking the old configuration");
		return;
	}
	node->cfg = old;
	node->next = s->retired;
	s->retired = node;
}

int sched_reload(struct denverd *d, struct config *old)
{
	struct sched *s = d->sched;
	int64_t now = clock_now_ms();
	int rc;

	if (!s) {
		config_free(old);
		return 0;
	}
	reload_tz(s, old);
	tx_begin(s);
	rc = targets_sync(s, now, true, old);
	tx_commit(s, "reload");
	targets_prune(s);
	/* Re-read dataset rows for datasets configured again after a removal
	 * (first_configured, paused are theirs). */
	store_datasets_each(d->store, dataset_row_cb, s);
	retire(s, old);
	sched_retired_sweep(s);
	spark_reload(s);
	sched_dispatch(s);
	sched_arm(s);
	return rc;
}
