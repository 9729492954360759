/*
 * cmd_sched.c - the engine's control commands (denverd(8), CONTROL
 * PROTOCOL).  Every reply is JSON; times are unix milliseconds ("..._ms").
 * The engine is read through engine.h only; the history through the store.
 *
 *   runs     {dataset?, state?, limit? (20, <= 1000), before?}  -> {runs:[...]}
 *   show     {run}                       -> {run, tasks:[{..., attempts:[...]}], events}
 *   trigger  {dataset, date?, force?}    -> {run_id, created, exec_date}   mutating
 *   backfill {dataset, from, to}         -> {created, skipped, first_run_id, last_run_id}
 *   retry    {run}                       -> {run_id, state}                mutating
 *   cancel   {run}                       -> {run_id, state}                mutating
 *   pause    {dataset} / resume {dataset} -> {dataset, paused}             mutating
 * `trigger` and `backfill` take a job name as well as a dataset name.
 * `schedule` and the engine's part of `status` are cmd_status.c's; `watch`
 * is control.c's, and the events it streams are written by watch.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/args.h"
#include "api/cmd_sched.h"
#include "api/control.h"
#include "base/denverd.h"
#include "denverd/protocol.h"
#include "domain/execdate.h"
#include "engine/engine.h"
#include "store/store.h"

#define RUNS_DEFAULT 20
#define RUNS_MAX 1000
#define SHOW_EVENTS 100

static json_t *ms_or_null(int64_t ms)
{
	return ms ? json_integer(ms) : json_null();
}

static json_t *str_or_null(const char *v)
{
	return v ? json_string(v) : json_null();
}

struct sched *cmd_sched_engine(struct denverd *d, bool write, struct control_error *err)
{
	struct sched *s = d->sched;

	if (!s || (write && !sched_accepting(s))) {
		control_error(err, -ESHUTDOWN, PROTO_ESTATE, "denverd is stopping");
		return NULL;
	}
	return s;
}

int cmd_sched_target(struct sched *s, json_t *args, bool datasets_only, struct target **out,
                     struct sched_target_info *info, struct control_error *err)
{
	const char *name;
	int rc = arg_string(args, "dataset", true, &name, err);

	if (rc < 0)
		return rc;
	if ((*out = sched_target(s, name)))
		sched_target_info(*out, info);
	if (!*out || (datasets_only && info->job))
		return control_error(err, -ENOENT, PROTO_ENOENT, "no %s named \"%s\"",
		                     datasets_only ? "dataset" : "dataset or job", name);
	if (!info->job && !info->ds)
		return control_error(err, -EINVAL, PROTO_ESTATE,
		                     "dataset \"%s\" has no valid schedule", name);
	return 0;
}

/*
 * A control handler named NAME that gets the engine (refused while it is
 * gone, and while it stops when WRITE) and calls NAME##_with(s, d, args,
 * result, err): the one preamble of every command here.
 */
#define WITH_ENGINE(name, write) \
	static int name(struct denverd *d, struct control_client *c, json_t *args, \
	                json_t **result, struct control_error *err) \
	{ \
		struct sched *s = cmd_sched_engine(d, write, err); \
		return s ? name##_with(s, d, args, result, err) : -ESHUTDOWN; \
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

static int cmd_runs_with(struct sched *s, struct denverd *d, json_t *args, json_t **result,
                         struct control_error *err)
{
	struct store_run_filter f = { 0 };
	int64_t limit, before;
	json_t *runs;
	int rc;

	if ((rc = arg_string(args, "dataset", false, &f.target, err)) < 0 ||
	    (rc = arg_string(args, "state", false, &f.state, err)) < 0 ||
	    (rc = arg_int(args, "limit", 1, RUNS_MAX, RUNS_DEFAULT, &limit, err)) < 0 ||
	    (rc = arg_int(args, "before", 1, INT64_MAX, 0, &before, err)) < 0)
		return rc;
	if (f.state && run_state_from_string(f.state) < 0)
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
WITH_ENGINE(cmd_runs, false)

/* ---- show ---- */

struct show_ctx {
	struct denverd *d;
	struct sched *s;
	int64_t run_id;
	json_t *run, *tasks, *events;
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

/* What task T of the shown run is doing, when it runs: "progress". */
static void show_progress(struct show_ctx *sc, int64_t task_id, json_t *o)
{
	const struct stask *t = sched_running_task(sc->s, sc->run_id, task_id);
	json_t *p;

	if (!t || !(p = json_object()))
		return;
	if (sched_task_progress(t, p))
		json_object_set_new(o, "progress", p);
	else
		json_decref(p);
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
	if (o)
		show_progress(sc, t->id, o);
	return json_array_append_new(sc->tasks, o) < 0 ? -ENOMEM : 0;
}

static int show_event(void *arg, const struct store_event *e)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:s}", "ts", (json_int_t)e->ts,
	                      "level", e->level, "type", e->type, "task", str_or_null(e->task),
	                      "message", e->message);
	return json_array_append_new(arg, o) < 0 ? -ENOMEM : 0;
}

static int cmd_show_with(struct sched *s, struct denverd *d, json_t *args, json_t **result,
                         struct control_error *err)
{
	struct show_ctx sc = { .d = d, .s = s };
	int rc;

	if ((rc = arg_run(args, &sc.run_id, err)) < 0)
		return rc;
	rc = store_run_get(d->store, sc.run_id, show_run, &sc);
	if (rc == -ENOENT)
		return control_error(err, rc, PROTO_ENOENT, "no run %" PRId64, sc.run_id);
	sc.tasks = json_array();
	sc.events = json_array();
	if (rc == 0 && sc.tasks && sc.events)
		rc = store_tasks_each(d->store, sc.run_id, show_task, &sc);
	if (rc == 0)
		rc = store_events_of_run(d->store, sc.run_id, SHOW_EVENTS, show_event, sc.events);
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
WITH_ENGINE(cmd_show, false)

/* ---- trigger, backfill ---- */

static int refuse_paused(const struct sched_target_info *t, struct control_error *err)
{
	return control_error(err, -EBUSY, PROTO_ESTATE,
	                     "%s is paused; `denverctl resume %s` first", t->name, t->name);
}

static int cmd_trigger_with(struct sched *s, struct denverd *d, json_t *args,
                            json_t **result, struct control_error *err)
{
	struct target *t;
	struct sched_target_info ti;
	const char *date = NULL;
	char today[11];
	int64_t day, run_id;
	bool force, created;
	int rc;

	if ((rc = cmd_sched_target(s, args, false, &t, &ti, err)) < 0 ||
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
	if (ti.paused)
		return refuse_paused(&ti, err);
	rc = sched_trigger(s, t, date, "manual", force, &run_id, &created);
	if (rc == -EBUSY)
		return control_error(err, rc, PROTO_EBUSY, "%d runs are active already (the cap)",
		                     SCHED_MAX_ACTIVE);
	if (rc < 0)
		return control_error(err, rc, PROTO_EINTERNAL, "cannot create the run: %s",
		                     strerror(-rc));
	*result = json_pack("{s:I, s:b, s:s, s:s}", "run_id", (json_int_t)run_id,
	                    "created", created, "exec_date", date, "target", ti.name);
	return 0;
}
WITH_ENGINE(cmd_trigger, true)

/* FROM..TO (day numbers; texts FROM_S, TO_S) as one backfill may ask. */
static int check_span(struct sched *s, struct denverd *d, int64_t from, int64_t to,
                      const char *from_s, const char *to_s, struct control_error *err)
{
	char today[11];
	int64_t today_day;

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
	return 0;
}

static int cmd_backfill_with(struct sched *s, struct denverd *d, json_t *args,
                             json_t **result, struct control_error *err)
{
	struct target *t;
	struct sched_target_info ti;
	const char *from_s, *to_s;
	int64_t from, to, first, last;
	unsigned created, skipped;
	int rc;

	if ((rc = cmd_sched_target(s, args, false, &t, &ti, err)) < 0 ||
	    (rc = arg_date(args, "from", true, &from, &from_s, err)) < 0 ||
	    (rc = arg_date(args, "to", true, &to, &to_s, err)) < 0 ||
	    (rc = check_span(s, d, from, to, from_s, to_s, err)) < 0)
		return rc;
	if (ti.paused)
		return refuse_paused(&ti, err);
	rc = sched_backfill(s, t, from, to, &created, &skipped, &first, &last);
	if (rc == -EBUSY)
		return control_error(err, rc, PROTO_EBUSY,
		                     "that would exceed the cap of %d active runs", SCHED_MAX_ACTIVE);
	if (rc < 0)
		return control_error(err, rc, PROTO_EINTERNAL, "backfill failed: %s", strerror(-rc));
	*result = json_pack("{s:s, s:i, s:i, s:o, s:o}", "target", ti.name,
	                    "created", (int)created, "skipped", (int)skipped,
	                    "first_run_id", first ? json_integer(first) : json_null(),
	                    "last_run_id", last ? json_integer(last) : json_null());
	return 0;
}
WITH_ENGINE(cmd_backfill, true)

/* ---- retry, cancel, pause, resume ---- */

static int cmd_retry_with(struct sched *s, struct denverd *d, json_t *args, json_t **result,
                          struct control_error *err)
{
	int64_t id;
	int rc;

	if ((rc = arg_run(args, &id, err)) < 0)
		return rc;
	switch ((rc = sched_retry(s, id))) {
	case 0:
		break;
	case -ENOENT:
		return control_error(err, rc, PROTO_ENOENT,
		                     "no run %" PRId64 ", or its target is no longer configured", id);
	case -EBUSY:
		return control_error(err, rc, PROTO_ESTATE,
		                     "run %" PRId64 ", or another run of its date, is still active", id);
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
WITH_ENGINE(cmd_retry, true)

static int cmd_cancel_with(struct sched *s, struct denverd *d, json_t *args, json_t **result,
                           struct control_error *err)
{
	struct srun *r;
	int64_t id;
	int rc;

	if ((rc = arg_run(args, &id, err)) < 0)
		return rc;
	if (!(r = sched_run(s, id)))
		return control_error(err, -ENOENT, PROTO_ESTATE,
		                     "run %" PRId64 " is not queued or running", id);
	if (sched_cancel(s, r, "cancelled by the operator") < 0)
		return control_error(err, -EALREADY, PROTO_ESTATE,
		                     "run %" PRId64 " is being cancelled already", id);
	/* R is freed at once unless a task still has to stop. */
	*result = json_pack("{s:I, s:s}", "run_id", (json_int_t)id,
	                    "state", sched_run(s, id) ? "cancelling" : "cancelled");
	return 0;
}
WITH_ENGINE(cmd_cancel, true)

static int pause_or_resume(struct sched *s, struct denverd *d, json_t *args, bool paused,
                           json_t **result, struct control_error *err)
{
	struct target *t;
	struct sched_target_info ti;
	int rc;

	if ((rc = cmd_sched_target(s, args, true, &t, &ti, err)) < 0)
		return rc;
	if ((rc = sched_pause(s, t, paused)) < 0)
		return control_error(err, rc, PROTO_EINTERNAL, "state store: %s",
		                     store_errmsg(d->store));
	*result = json_pack("{s:s, s:b}", "dataset", ti.name, "paused", paused);
	return 0;
}

static int cmd_pause_with(struct sched *s, struct denverd *d, json_t *args, json_t **result,
                          struct control_error *err)
{
	return pause_or_resume(s, d, args, true, result, err);
}
WITH_ENGINE(cmd_pause, true)

static int cmd_resume_with(struct sched *s, struct denverd *d, json_t *args, json_t **result,
                           struct control_error *err)
{
	return pause_or_resume(s, d, args, false, result, err);
}
WITH_ENGINE(cmd_resume, true)

static const struct control_cmd sched_cmds[] = {
	{ .name = "backfill", .fn = cmd_backfill, .mutating = true },
	{ .name = "cancel", .fn = cmd_cancel, .mutating = true },
	{ .name = "pause", .fn = cmd_pause, .mutating = true },
	{ .name = "resume", .fn = cmd_resume, .mutating = true },
	{ .name = "retry", .fn = cmd_retry, .mutating = true },
	{ .name = "runs", .fn = cmd_runs },
	{ .name = "show", .fn = cmd_show },
	{ .name = "trigger", .fn = cmd_trigger, .mutating = true },
};

int cmd_sched_init(struct denverd *d)
{
	if (!d->control)
		return 0;
	return control_register(d->control, sched_cmds, ARRAY_SIZE(sched_cmds));
}
