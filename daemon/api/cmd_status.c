/*
 * cmd_status.c - what the engine shows about time and load: the `schedule`
 * command and the engine's part of `status` (denverd(8), CONTROL
 * PROTOCOL).  Times are unix milliseconds ("..._ms") and, where a person
 * reads them, also local ISO 8601 in the configured zone.
 *
 *   schedule {dataset?, next? (1..100)}  -> {timezone, datasets:[{name, schedule,
 *                                            missed, paused, fires:[{at, at_ms, exec_date}]}]}
 *
 * status: adds to control.c's reply top level "running" (tasks with their
 * progress: bytes_done, bytes_total, rate for fetches), "running_count",
 * "queued" (tasks waiting for a slot), "retry_waiting"; per entry of
 * "datasets": next_fire (unix ms), next_fire_local, next_exec_date, paused,
 * last_run {id, exec_date, state}; and "scheduler" {active_runs, classes
 * {fetches, checks, jobs: {running, limit, queued}}, paused, next_due_ms};
 * "spark" {mode, s3a (only with storage: s3: who gives Spark its s3a
 * settings, in words), and unless mode is submit: url, state, pid, started_ms,
 * uptime_ms (since it became ready), restarts, last_error, restart_pending}.
 * Written with jsonw straight into the reply: with 1,000 datasets status
 * must stay well under 5 ms (tests/bench/bench_sched.py).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/args.h"
#include "api/cmd_sched.h"
#include "api/control.h"
#include "api/jsonw.h"
#include "base/clock.h"
#include "base/denverd.h"
#include "denverd/protocol.h"
#include "domain/tz.h"
#include "engine/engine.h"

#define SCHEDULE_MAX_NEXT 100

/* "2026-11-24T06:15:00-07:00" of unix seconds T in the configured zone. */
static void local_iso(struct sched *s, int64_t t, char out[32])
{
	struct civil c;
	int off;

	tz_civil(sched_tz(s), t, &c);
	off = c.utc_offset;
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", c.year, c.month, c.day,
	         c.hour, c.minute, c.second, off < 0 ? '-' : '+', abs(off) / 3600,
	         abs(off) % 3600 / 60);
}

/* ---- schedule ---- */

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

struct schedule_ctx {
	struct sched *s;
	const struct target *one;        /* only this dataset, or NULL */
	int64_t now_s, n;
	json_t *list;
};

static int schedule_entry(void *arg, const struct target *t,
                          const struct sched_target_info *ti)
{
	struct schedule_ctx *c = arg;

	if (ti->job || !ti->ds || (c->one && t != c->one))
		return 0;
	json_array_append_new(c->list, json_pack("{s:s, s:s, s:s, s:b, s:o}",
	        "name", ti->name, "schedule", ti->ds->schedule,
	        "missed", config_missed_name(ti->ds->missed), "paused", ti->paused,
	        "fires", fires_json(c->s, t, c->now_s, (int)c->n)));
	return 0;
}

static int cmd_schedule(struct denverd *d, struct control_client *cl, json_t *args,
                        json_t **result, struct control_error *err)
{
	struct sched *s = cmd_sched_engine(d, false, err);
	struct schedule_ctx c = { .s = s, .now_s = clock_now_ms() / 1000 };
	struct target *one = NULL;
	struct sched_target_info ti;
	const char *name;
	int rc;

	if (!s)
		return -ESHUTDOWN;
	if ((rc = arg_string(args, "dataset", false, &name, err)) < 0 ||
	    (name && (rc = cmd_sched_target(s, args, true, &one, &ti, err)) < 0))
		return rc;
	c.one = one;
	if ((rc = arg_int(args, "next", 1, SCHEDULE_MAX_NEXT, one ? 5 : 1, &c.n, err)) < 0)
		return rc;
	if (!(c.list = json_array()))
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	sched_targets_each(s, schedule_entry, &c);
	*result = json_pack("{s:s, s:o}", "timezone", d->cfg->timezone, "datasets", c.list);
	return 0;
}

/* ---- status ---- */

static int running_entry(void *arg, const struct sched_task_info *ti)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:i, s:I, s:o}",
	                      "run_id", (json_int_t)ti->run_id, "target", ti->target,
	                      "exec_date", ti->exec_date, "task", ti->name,
	                      "attempt", (int)ti->attempt,
	                      "started_ms", (json_int_t)ti->started_ms,
	                      "pid", ti->pid ? json_integer(ti->pid) : json_null());
	if (o)
		sched_task_progress(ti->task, o);
	json_array_append_new(arg, o);
	return 0;
}

/* The schedule of dataset DS, as members of its "datasets" entry. */
static void status_dataset(struct denverd *d, const struct cfg_dataset *ds,
                           struct jsonw *w)
{
	struct sched *s = d->sched;
	const struct target *t = s ? sched_target(s, ds->name) : NULL;
	struct sched_target_info ti;
	char iso[32], date[11];

	if (!t)
		return;
	sched_target_info(t, &ti);
	if (ti.job)
		return;
	jsonw_kbool(w, "paused", ti.paused);
	if (ti.next_fire) {
		local_iso(s, ti.next_fire, iso);
		sched_exec_date(s, ti.next_fire, date);
		jsonw_kint(w, "next_fire", ti.next_fire * 1000);
		jsonw_kstr(w, "next_fire_local", iso);
		jsonw_kstr(w, "next_exec_date", date);
	}
	if (ti.last_run_id) {
		jsonw_key(w, "last_run");
		jsonw_object(w);
		jsonw_kint(w, "id", ti.last_run_id);
		jsonw_kstr(w, "exec_date", ti.last_run_date);
		jsonw_kstr(w, "state", run_state_to_string(ti.last_run_state));
		jsonw_end(w);
	}
}

/* "scheduler": the classes' load, the paused datasets, the next wake-up. */
static void status_scheduler(struct denverd *d, struct sched *s,
                             const struct sched_counts *n, struct jsonw *w)
{
	static const char *const class_names[_TC_MAX] = { "fetches", "checks", "jobs" };

	jsonw_key(w, "scheduler");
	jsonw_object(w);
	jsonw_kint(w, "active_runs", (int64_t)n->active_runs);
	jsonw_key(w, "classes");
	jsonw_object(w);
	for (int cl = 0; cl < _TC_MAX; cl++) {
		jsonw_key(w, class_names[cl]);
		jsonw_object(w);
		jsonw_kint(w, "running", n->cls[cl].running);
		jsonw_kint(w, "limit", n->cls[cl].limit);
		jsonw_kint(w, "queued", (int64_t)n->cls[cl].queued);
		jsonw_end(w);
	}
	jsonw_end(w);
	jsonw_key(w, "paused");
	jsonw_array(w);
	for (size_t i = 0; i < d->cfg->n_datasets; i++) {
		const struct target *t = sched_target(s, d->cfg->datasets[i].name);
		struct sched_target_info ti;
		if (!t)
			continue;
		sched_target_info(t, &ti);
		if (!ti.job && ti.paused)
			jsonw_str(w, ti.name);
	}
	jsonw_end(w);
	jsonw_key(w, "next_due_ms");
	if (n->next_due_ms)
		jsonw_int(w, n->next_due_ms);
	else
		jsonw_null(w);
	jsonw_end(w);
}

/* "spark": how jobs reach Spark.  Never the token: the URL is the one jobs
 * get as SPARK_REMOTE, which does not hold it. */
static void status_spark(struct sched *s, struct jsonw *w)
{
	struct sched_spark_info si;
	int64_t now = clock_now_ms();

	sched_spark_info(s, &si);
	jsonw_key(w, "spark");
	jsonw_object(w);
	jsonw_kstr(w, "mode", si.mode);
	if (si.s3a)
		jsonw_kstr(w, "s3a", si.s3a);
	if (si.state) {
		jsonw_kstr(w, "url", si.url);
		jsonw_kstr(w, "state", si.state);
		jsonw_key(w, "pid");
		if (si.pid > 0)
			jsonw_int(w, si.pid);
		else
			jsonw_null(w);
		jsonw_key(w, "started_ms");
		if (si.started_ms)
			jsonw_int(w, si.started_ms);
		else
			jsonw_null(w);
		jsonw_key(w, "uptime_ms");
		if (si.ready_ms && now >= si.ready_ms)
			jsonw_int(w, now - si.ready_ms);
		else
			jsonw_null(w);
		jsonw_kint(w, "restarts", si.restarts);
		jsonw_kstr(w, "last_error", si.last_error);
		jsonw_kbool(w, "restart_pending", si.restart_pending);
	}
	jsonw_end(w);
}

static void status_top(struct denverd *d, struct jsonw *w)
{
	struct sched *s = d->sched;
	struct sched_counts n;
	json_t *tasks;

	if (!s)
		return;
	sched_counts(s, &n);
	/* Few entries, and the task kinds add their progress as jansson. */
	tasks = json_array();
	sched_running_each(s, running_entry, tasks);
	jsonw_key(w, "running");
	jsonw_json(w, tasks);
	json_decref(tasks);
	jsonw_kint(w, "running_count", n.running);
	jsonw_kint(w, "queued", n.queued);
	jsonw_kint(w, "retry_waiting", n.retry_waiting);
	status_scheduler(d, s, &n, w);
	status_spark(s, w);
}

static const struct control_status_ops status_ops = {
	.dataset = status_dataset,
	.top = status_top,
};

static const struct control_cmd status_cmds[] = {
	{ .name = "schedule", .fn = cmd_schedule },
};

int cmd_status_init(struct denverd *d)
{
	int rc;

	if (!d->control)
		return 0;
	if ((rc = control_register(d->control, status_cmds, ARRAY_SIZE(status_cmds))) < 0)
		return rc;
	return control_add_status(d->control, &status_ops);
}
