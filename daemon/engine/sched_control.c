/*
 * sched_control.c - the scheduler's control commands and its part of
 * `status` (denverd(8), CONTROL PROTOCOL).  Every reply is JSON; times are
 * unix milliseconds ("..._ms") and, where a person reads them, also local
 * ISO 8601 in the configured zone.
 *
 *   runs     {dataset?, state?, limit? (20, <= 1000), before?}  -> {runs:[...]}
 *   show     {run}                       -> {run, tasks:[{..., attempts:[...]}], events}
 *   trigger  {dataset, date?, force?}    -> {run_id, created, exec_date}   mutating
 *   backfill {dataset, from, to}         -> {created, skipped, first_run_id, last_run_id}
 *   retry    {run}                       -> {run_id, state}                mutating
 *   cancel   {run}                       -> {run_id, state}                mutating
 *   pause    {dataset} / resume {dataset} -> {dataset, paused}             mutating
 *   schedule {dataset?, next? (1..100)}  -> {timezone, datasets:[{name, schedule,
 *                                            paused, fires:[{at, at_ms, exec_date}]}]}
 * `trigger` and `backfill` take a job name as well as a dataset name.
 * (`watch` is control.c's; the events it streams come from sched_note.)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "api/control.h"
#include "domain/execdate.h"
#include "api/jsonw.h"
#include "engine/sched_int.h"
#include "store/store.h"
#include "denverd/protocol.h"

#define RUNS_DEFAULT 20
#define RUNS_MAX 1000
#define SHOW_EVENTS 100
#define SCHEDULE_MAX_NEXT 100

/* "2026-11-24T06:15:00-07:00" of unix seconds T in the configured zone. */
static void local_iso(struct sched *s, int64_t t, char out[32])
{
	struct civil c;
	int off;

	tz_civil(s->tz, t, &c);
	off = c.utc_offset;
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", c.year, c.month, c.day,
	         c.hour, c.minute, c.second, off < 0 ? '-' : '+', abs(off) / 3600,
	         abs(off) % 3600 / 60);
}

static json_t *ms_or_null(int64_t ms)
{
	return ms ? json_integer(ms) : json_null();
}

static json_t *str_or_null(const char *v)
{
	return v ? json_string(v) : json_null();
}

/* ---- argument helpers: each returns 0 or a control error ---- */

static int arg_string(json_t *args, const char *key, bool required, const char **out,
                      struct control_error *err)
{
	json_t *v = json_object_get(args, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return control_error(err, -EINVAL, PROTO_EINVAL, "missing argument \"%s\"", key);
		return 0;
	}
	if (!json_is_string(v))
		return control_error(err, -EINVAL, PROTO_EINVAL, "\"%s\" must be a string", key);
	*out = json_string_value(v);
	return 0;
}

static int arg_int(json_t *args, const char *key, int64_t min, int64_t max, int64_t dflt,
                   int64_t *out, struct control_error *err)
{
	json_t *v = json_object_get(args, key);

	*out = dflt;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return control_error(err, -EINVAL, PROTO_EINVAL,
		                     "\"%s\" must be an integer from %" PRId64 " to %" PRId64,
		                     key, min, max);
	*out = json_integer_value(v);
	return 0;
}

static int arg_bool(json_t *args, const char *key, bool *out, struct control_error *err)
{
	json_t *v = json_object_get(args, key);

	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return control_error(err, -EINVAL, PROTO_EINVAL, "\"%s\" must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int arg_date(json_t *args, const char *key, bool required, int64_t *day,
                    const char **text, struct control_error *err)
{
	int rc = arg_string(args, key, required, text, err);

	if (rc < 0 || !*text)
		return rc;
	if (execdate_parse(*text, day) < 0)
		return control_error(err, -EINVAL, PROTO_EINVAL,
		                     "\"%s\": \"%s\" is not a date (YYYY-MM-DD)", key, *text);
	return 0;
}

/* The engine, or NULL with ERR set when it is gone; WRITE also refuses
 * while it stops (nothing new may start then). */
static struct sched *engine(struct denverd *d, bool write, struct control_error *err)
{
	struct sched *s = d->sched;

	if (!s || (write && s->stopped)) {
		control_error(err, -ESHUTDOWN, PROTO_ESTATE, "denverd is stopping");
		return NULL;
	}
	return s;
}

static int find_target(struct sched *s, json_t *args, bool datasets_only,
                       struct target **out, struct control_error *err)
{
	const char *name;
	int rc = arg_string(args, "dataset", true, &name, err);

	if (rc < 0)
		return rc;
	*out = sched_target(s, name);
	if (!*out || (datasets_only && (*out)->kind != TK_DATASET))
		return control_error(err, -ENOENT, PROTO_ENOENT, "no %s named \"%s\"",
		                     datasets_only ? "dataset" : "dataset or job", name);
	if ((*out)->kind == TK_DATASET && !(*out)->ds)
		return control_error(err, -EINVAL, PROTO_ESTATE,
		                     "dataset \"%s\" has no valid schedule", name);
	return 0;
}

static int arg_run(json_t *args, int64_t *id, struct control_error *err)
{
	json_t *v = json_object_get(args, "run");

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return control_error(err, -EINVAL, PROTO_EINVAL,
		                     "\"run\" must be a run id (a positive integer)");
	*id = json_integer_value(v);
	return 0;
}

/* ---- runs ---- */

static json_t *run_row_json(const struct store_run *r)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:o, s:o, s:o}",
	                 "id", (json_int_t)r->id, "target", r->target, "kind", r->kind,
	                 "exec_date", r->exec_date, "trigger", r->trigger, "state", r->state,
	                 "force", r->force, "created_ms", (json_int_t)r->created,
	                 "started_ms", ms_or_null(r->started), "ended_ms", ms_or_null(r->ended),
	                 "error", str_or_null(r->error));
}

static int append_run(void *arg, const struct store_run *r)
{
	return json_array_append_new(arg, run_row_json(r)) < 0 ? -ENOMEM : 0;
}

static int cmd_runs(struct denverd *d, struct control_client *c, json_t *args,
                    json_t **result, struct control_error *err)
{
	struct sched *s = engine(d, false, err);
	struct store_run_filter f = { 0 };
	enum sstate st;
	int64_t limit, before;
	json_t *runs;
	int rc;

	if (!s)
		return -ESHUTDOWN;
	if ((rc = arg_string(args, "dataset", false, &f.target, err)) < 0 ||
	    (rc = arg_string(args, "state", false, &f.state, err)) < 0 ||
	    (rc = arg_int(args, "limit", 1, RUNS_MAX, RUNS_DEFAULT, &limit, err)) < 0 ||
	    (rc = arg_int(args, "before", 1, INT64_MAX, 0, &before, err)) < 0)
		return rc;
	if (f.state && sstate_parse(f.state, &st) < 0)
		return control_error(err, -EINVAL, PROTO_EINVAL, "\"state\": \"%s\" is not one of "
		                     "queued running succeeded failed unchanged skipped cancelled",
		                     f.state);
	f.limit = (unsigned)limit;
	f.before_id = before;
	if (!(runs = json_array()))
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	if (store_runs_list(d->store, &f, append_run, runs) < 0) {
		json_decref(runs);
		return control_error(err, -EIO, PROTO_EINTERNAL, "state store: %s",
		                     store_errmsg(d->store));
	}
	*result = json_pack("{s:o}", "runs", runs);
	return 0;
}

/* ---- show ---- */

struct show_ctx {
	struct denverd *d;
	json_t *run, *tasks, *events;
	const struct srun *live;
	int rc;
};

static int show_run(void *arg, const struct store_run *r)
{
	struct show_ctx *sc = arg;
	sc->run = run_row_json(r);
	return sc->run ? 0 : -ENOMEM;
}

static int show_attempt(void *arg, const struct store_attempt *a)
{
	json_t *o = json_pack("{s:I, s:i, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	                      "id", (json_int_t)a->id, "n", (int)a->n,
	                      "started_ms", (json_int_t)a->started,
	                      "ended_ms", ms_or_null(a->ended), "outcome", str_or_null(a->outcome),
	                      "exit_code", a->has_exit ? json_integer(a->exit_code) : json_null(),
	                      "signal", a->signal ? json_integer(a->signal) : json_null(),
	                      "pid", a->pid ? json_integer(a->pid) : json_null(),
	                      "error", str_or_null(a->error),
	                      "output_tail", str_or_null(a->output_tail));
	return json_array_append_new(arg, o) < 0 ? -ENOMEM : 0;
}

static int show_task(void *arg, const struct store_task *t)
{
	struct show_ctx *sc = arg;
	json_t *attempts = json_array(), *o;

	if (!attempts || store_attempts_each(sc->d->store, t->id, show_attempt, attempts) < 0) {
		json_decref(attempts);
		return -EIO;
	}
	o = json_pack("{s:I, s:s, s:i, s:s, s:i, s:o, s:o, s:o}", "id", (json_int_t)t->id,
	              "name", t->name, "seq", t->seq, "state", t->state,
	              "retries_used", (int)t->attempts, "not_before_ms", ms_or_null(t->not_before),
	              "error", str_or_null(t->error), "attempts", attempts);
	if (o && sc->live) {
		for (size_t i = 0; i < sc->live->n_tasks; i++) {
			const struct stask *k = &sc->live->tasks[i];
			if (k->id == t->id && k->state == SS_RUNNING && k->kind->progress) {
				json_t *p = json_object();
				k->kind->progress(k, p);
				json_object_set_new(o, "progress", p);
			}
		}
	}
	return json_array_append_new(sc->tasks, o) < 0 ? -ENOMEM : 0;
}

static int show_event(void *arg, const struct store_event *e)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:s}", "ts", (json_int_t)e->ts,
	                      "level", e->level, "type", e->type, "task", str_or_null(e->task),
	                      "message", e->message);
	return json_array_append_new(arg, o) < 0 ? -ENOMEM : 0;
}

static int cmd_show(struct denverd *d, struct control_client *c, json_t *args,
                    json_t **result, struct control_error *err)
{
	struct sched *s = engine(d, false, err);
	struct show_ctx sc = { .d = d };
	int64_t id;
	int rc;

	if (!s)
		return -ESHUTDOWN;
	if ((rc = arg_run(args, &id, err)) < 0)
		return rc;
	sc.live = sched_run(s, id);
	rc = store_run_get(d->store, id, show_run, &sc);
	if (rc == -ENOENT)
		return control_error(err, rc, PROTO_ENOENT, "no run %" PRId64, id);
	sc.tasks = json_array();
	sc.events = json_array();
	if (rc == 0 && sc.tasks && sc.events)
		rc = store_tasks_each(d->store, id, show_task, &sc);
	if (rc == 0)
		rc = store_events_of_run(d->store, id, SHOW_EVENTS, show_event, sc.events);
	if (rc < 0 || !sc.tasks || !sc.events) {
		json_decref(sc.run);
		json_decref(sc.tasks);
		json_decref(sc.events);
		return control_error(err, -EIO, PROTO_EINTERNAL, "state store: %s",
		                     store_errmsg(d->store));
	}
	*result = json_pack("{s:o, s:o, s:o}", "run", sc.run, "tasks", sc.tasks,
	                    "events", sc.events);
	return 0;
}

/* ---- trigger, backfill ---- */

static int cmd_trigger(struct denverd *d, struct control_client *c, json_t *args,
                       json_t **result, struct control_error *err)
{
	struct sched *s = engine(d, true, err);
	struct target *t;
	const char *date = NULL;
	char today[11];
	int64_t day, run_id;
	bool force, created;
	int rc;

	if (!s)
		return -ESHUTDOWN;
	if ((rc = find_target(s, args, false, &t, err)) < 0 ||
	    (rc = arg_date(args, "date", false, &day, &date, err)) < 0 ||
	    (rc = arg_bool(args, "force", &force, err)) < 0)
		return rc;
	sched_today(s, today);
	if (!date)
		date = today;
	else if (strcmp(date, today) > 0)
		return control_error(err, -EINVAL, PROTO_EINVAL,
		                     "%s is in the future (today is %s in %s)", date, today,
		                     d->cfg->timezone);
	if (t->paused)
		return control_error(err, -EBUSY, PROTO_ESTATE,
		                     "%s is paused; `denverctl resume %s` first", t->name, t->name);
	rc = sched_trigger(s, t, date, "manual", force, &run_id, &created);
	if (rc == -EBUSY)
		return control_error(err, rc, PROTO_EBUSY, "%d runs are active already (the cap)",
		                     SCHED_MAX_ACTIVE);
	if (rc < 0)
		return control_error(err, rc, PROTO_EINTERNAL, "cannot create the run: %s",
		                     strerror(-rc));
	*result = json_pack("{s:I, s:b, s:s, s:s}", "run_id", (json_int_t)run_id,
	                    "created", created, "exec_date", date, "target", t->name);
	return 0;
}

static int cmd_backfill(struct denverd *d, struct control_client *c, json_t *args,
                        json_t **result, struct control_error *err)
{
	struct sched *s = engine(d, true, err);
	struct target *t;
	const char *from_s, *to_s;
	int64_t from, to, today_day, first, last;
	unsigned created, skipped;
	char today[11];
	int rc;

	if (!s)
		return -ESHUTDOWN;
	if ((rc = find_target(s, args, false, &t, err)) < 0 ||
	    (rc = arg_date(args, "from", true, &from, &from_s, err)) < 0 ||
	    (rc = arg_date(args, "to", true, &to, &to_s, err)) < 0)
		return rc;
	sched_today(s, today);
	execdate_parse(today, &today_day);
	if (to < from)
		return control_error(err, -EINVAL, PROTO_EINVAL, "--from %s is after --to %s",
		                     from_s, to_s);
	if (to > today_day)
		return control_error(err, -EINVAL, PROTO_EINVAL,
		                     "--to %s is in the future (today is %s in %s)", to_s, today,
		                     d->cfg->timezone);
	if (to - from + 1 > SCHED_MAX_BACKFILL)
		return control_error(err, -E2BIG, PROTO_EINVAL,
		                     "%s to %s is %" PRId64 " dates; one backfill queues at most %d",
		                     from_s, to_s, to - from + 1, SCHED_MAX_BACKFILL);
	if (t->paused)
		return control_error(err, -EBUSY, PROTO_ESTATE,
		                     "%s is paused; `denverctl resume %s` first", t->name, t->name);
	rc = sched_backfill(s, t, from, to, &created, &skipped, &first, &last);
	if (rc == -EBUSY)
		return control_error(err, rc, PROTO_EBUSY,
		                     "that would exceed the cap of %d active runs", SCHED_MAX_ACTIVE);
	if (rc < 0)
		return control_error(err, rc, PROTO_EINTERNAL, "backfill failed: %s", strerror(-rc));
	*result = json_pack("{s:s, s:i, s:i, s:o, s:o}", "target", t->name,
	                    "created", (int)created, "skipped", (int)skipped,
	                    "first_run_id", first ? json_integer(first) : json_null(),
	                    "last_run_id", last ? json_integer(last) : json_null());
	return 0;
}

/* ---- retry, cancel, pause, resume ---- */

static int cmd_retry(struct denverd *d, struct control_client *c, json_t *args,
                     json_t **result, struct control_error *err)
{
	struct sched *s = engine(d, true, err);
	int64_t id;
	int rc;

	if (!s)
		return -ESHUTDOWN;
	if ((rc = arg_run(args, &id, err)) < 0)
		return rc;
	rc = sched_retry(s, id);
	switch (rc) {
	case 0:
		break;
	case -ENOENT:
		return control_error(err, rc, PROTO_ENOENT,
		                     "no run %" PRId64 ", or its target is no longer configured", id);
	case -EBUSY:
		return control_error(err, rc, PROTO_ESTATE, "run %" PRId64 ", or another run of its date, is still active", id);
	case -EALREADY:
		return control_error(err, rc, PROTO_ESTATE,
		                     "run %" PRId64 " did not fail and was not cancelled; "
		                     "`trigger --force` runs a date again", id);
	default:
		return control_error(err, rc, PROTO_EINTERNAL, "retry failed: %s", strerror(-rc));
	}
	*result = json_pack("{s:I, s:s}", "run_id", (json_int_t)id, "state", "queued");
	return 0;
}

static int cmd_cancel(struct denverd *d, struct control_client *c, json_t *args,
                      json_t **result, struct control_error *err)
{
	struct sched *s = engine(d, true, err);
	struct srun *r;
	int64_t id;
	int rc;

	if (!s)
		return -ESHUTDOWN;
	if ((rc = arg_run(args, &id, err)) < 0)
		return rc;
	if (!(r = sched_run(s, id)))
		return control_error(err, -ENOENT, PROTO_ESTATE,
		                     "run %" PRId64 " is not queued or running", id);
	if (sched_cancel(s, r, "cancelled by the operator") < 0)
		return control_error(err, -EALREADY, PROTO_ESTATE,
		                     "run %" PRId64 " is being cancelled already", id);
	/* R is freed at once unless a task still has to stop. */
	r = sched_run(s, id);
	*result = json_pack("{s:I, s:s}", "run_id", (json_int_t)id,
	                    "state", r ? "cancelling" : "cancelled");
	return 0;
}

static int pause_or_resume(struct denverd *d, json_t *args, bool paused, json_t **result,
                           struct control_error *err)
{
	struct sched *s = engine(d, true, err);
	struct target *t;
	int rc;

	if (!s)
		return -ESHUTDOWN;
	if ((rc = find_target(s, args, true, &t, err)) < 0)
		return rc;
	if ((rc = sched_pause(s, t, paused)) < 0)
		return control_error(err, rc, PROTO_EINTERNAL, "state store: %s",
		                     store_errmsg(d->store));
	*result = json_pack("{s:s, s:b}", "dataset", t->name, "paused", paused);
	return 0;
}

static int cmd_pause(struct denverd *d, struct control_client *c, json_t *args,
                     json_t **result, struct control_error *err)
{
	return pause_or_resume(d, args, true, result, err);
}

static int cmd_resume(struct denverd *d, struct control_client *c, json_t *args,
                      json_t **result, struct control_error *err)
{
	return pause_or_resume(d, args, false, result, err);
}

/* ---- schedule, watch ---- */

static json_t *fires_json(struct sched *s, const struct target *t, int64_t after, int n)
{
	json_t *fires = json_array();

	for (int i = 0; fires && i < n; i++) {
		char iso[32], date[11];
		int64_t next;
		if (sched_next_fire(s, t, after, &next) < 0)
			break;
		local_iso(s, next, iso);
		sched_exec_date(s, next, date);
		json_array_append_new(fires, json_pack("{s:s, s:I, s:s}", "at", iso,
		                                       "at_ms", (json_int_t)next * 1000,
		                                       "exec_date", date));
		after = next;
	}
	return fires;
}

static int cmd_schedule(struct denverd *d, struct control_client *c, json_t *args,
                        json_t **result, struct control_error *err)
{
	struct sched *s = engine(d, false, err);
	struct target *one = NULL;
	int64_t n, now_s = clock_now_ms() / 1000;
	json_t *list;
	int rc;

	if (!s)
		return -ESHUTDOWN;
	if (json_object_get(args, "dataset") &&
	    (rc = find_target(s, args, true, &one, err)) < 0)
		return rc;
	if ((rc = arg_int(args, "next", 1, SCHEDULE_MAX_NEXT, one ? 5 : 1, &n, err)) < 0)
		return rc;
	if (!(list = json_array()))
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	for (const struct target *t = s->targets; t; t = t->next) {
		if (t->kind != TK_DATASET || t->removed || !t->ds || (one && t != one))
			continue;
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:b, s:o}",
		        "name", t->name, "schedule", t->ds->schedule,
		        "missed", config_missed_name(t->ds->missed), "paused", t->paused,
		        "fires", fires_json(s, t, now_s, (int)n)));
	}
	*result = json_pack("{s:s, s:o}", "timezone", d->cfg->timezone, "datasets", list);
	return 0;
}

/* ---- status ----
 *
 * Adds to control.c's status: top level "running" (tasks with their
 * progress: bytes_done, bytes_total, rate for fetches), "running_count",
 * "queued" (tasks waiting for a slot), "retry_waiting"; per entry of
 * "datasets": next_fire (unix ms), next_fire_local, next_exec_date, paused,
 * last_run {id, exec_date, state}; and "scheduler" {active_runs, classes
 * {fetches, checks, jobs: {running, limit, queued}}, paused, next_due_ms}.
 */

static json_t *running_json(const struct sched *s, unsigned *waiting)
{
	json_t *running = json_array();

	*waiting = 0;
	for (const struct srun *r = s->runs; r; r = r->next) {
		for (size_t i = 0; i < r->n_tasks; i++) {
			const struct stask *t = &r->tasks[i];
			if (t->waiting)
				(*waiting)++;
			if (t->state != SS_RUNNING)
				continue;
			json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:i, s:I, s:o}",
			                      "run_id", (json_int_t)r->id, "target", r->target->name,
			                      "exec_date", r->exec_date, "task", t->name,
			                      "attempt", (int)t->n_attempts,
			                      "started_ms", (json_int_t)t->attempt_started,
			                      "pid", t->pid ? json_integer(t->pid) : json_null());
			if (o && t->kind->progress)
				t->kind->progress(t, o);
			json_array_append_new(running, o);
		}
	}
	return running;
}

/* The schedule of dataset DS, as members of its "datasets" entry. */
static void status_dataset(struct denverd *d, const struct cfg_dataset *ds,
                           struct jsonw *w)
{
	struct sched *s = d->sched;
	const struct target *t = s ? sched_target(s, ds->name) : NULL;
	char iso[32], date[11];

	if (!t || t->kind != TK_DATASET)
		return;
	jsonw_kbool(w, "paused", t->paused);
	if (t->next_fire) {
		local_iso(s, t->next_fire, iso);
		sched_exec_date(s, t->next_fire, date);
		jsonw_kint(w, "next_fire", t->next_fire * 1000);
		jsonw_kstr(w, "next_fire_local", iso);
		jsonw_kstr(w, "next_exec_date", date);
	}
	if (t->last_run_id) {
		jsonw_key(w, "last_run");
		jsonw_object(w);
		jsonw_kint(w, "id", t->last_run_id);
		jsonw_kstr(w, "exec_date", t->last_run_date);
		jsonw_kstr(w, "state", sstate_name(t->last_run_state));
		jsonw_end(w);
	}
}

static void status_top(struct denverd *d, struct jsonw *w)
{
	static const char *const class_names[TC_N] = { "fetches", "checks", "jobs" };
	struct sched *s = d->sched;
	unsigned waiting, queued = 0, running = 0;
	json_t *tasks;

	if (!s)
		return;
	for (int cl = 0; cl < TC_N; cl++) {
		queued += (unsigned)runq_len(&s->q[cl]);
		running += s->running[cl];
	}
	/* Few entries, and the task kinds add their progress as jansson. */
	tasks = running_json(s, &waiting);
	jsonw_key(w, "running");
	jsonw_json(w, tasks);
	json_decref(tasks);
	jsonw_kint(w, "running_count", running);
	jsonw_kint(w, "queued", queued);
	jsonw_kint(w, "retry_waiting", waiting);
	jsonw_key(w, "scheduler");
	jsonw_object(w);
	jsonw_kint(w, "active_runs", (int64_t)s->n_runs);
	jsonw_key(w, "classes");
	jsonw_object(w);
	for (int cl = 0; cl < TC_N; cl++) {
		jsonw_key(w, class_names[cl]);
		jsonw_object(w);
		jsonw_kint(w, "running", s->running[cl]);
		jsonw_kint(w, "limit", sched_limit(s, (enum tclass)cl));
		jsonw_kint(w, "queued", (int64_t)runq_len(&s->q[cl]));
		jsonw_end(w);
	}
	jsonw_end(w);
	jsonw_key(w, "paused");
	jsonw_array(w);
	for (size_t i = 0; i < d->cfg->n_datasets; i++) {
		const struct target *t = sched_target(s, d->cfg->datasets[i].name);
		if (t && t->kind == TK_DATASET && t->paused)
			jsonw_str(w, t->name);
	}
	jsonw_end(w);
	jsonw_key(w, "next_due_ms");
	if (s->next_due)
		jsonw_int(w, s->next_due);
	else
		jsonw_null(w);
	jsonw_end(w);
}

static const struct control_status_ops status_ops = {
	.dataset = status_dataset,
	.top = status_top,
};

static const struct control_cmd sched_cmds[] = {
	{ .name = "backfill", .fn = cmd_backfill, .mutating = true },
	{ .name = "cancel", .fn = cmd_cancel, .mutating = true },
	{ .name = "pause", .fn = cmd_pause, .mutating = true },
	{ .name = "resume", .fn = cmd_resume, .mutating = true },
	{ .name = "retry", .fn = cmd_retry, .mutating = true },
	{ .name = "runs", .fn = cmd_runs },
	{ .name = "schedule", .fn = cmd_schedule },
	{ .name = "show", .fn = cmd_show },
	{ .name = "trigger", .fn = cmd_trigger, .mutating = true },
};

int sched_control_init(struct sched *s)
{
	int rc;

	if (!s->d->control)
		return 0;
	if ((rc = control_register(s->d->control, sched_cmds,
	                           sizeof sched_cmds / sizeof sched_cmds[0])) < 0)
		return rc;
	return control_add_status(s->d->control, &status_ops);
}
