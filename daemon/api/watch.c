/*
 * watch.c - typed events to the protocol's event objects (watch.h).  The
 * members and their order are the protocol's: changing them changes what
 * every `denverctl watch` and script sees.
 */
#include "api/control.h"
#include "api/watch.h"
#include "base/denverd.h"
#include "engine/engine.h"
#include "notify/alerts.h"

/* A progress event: the task kind's figures, then where they come from. */
static json_t *progress_json(const struct engine_event *ev)
{
	json_t *o = json_deep_copy(ev->fields);

	if (!o)
		return NULL;
	json_object_set_new(o, "ts", json_integer(ev->ts));
	json_object_set_new(o, "type", json_string(ev->type));
	if (ev->dataset)
		json_object_set_new(o, "dataset", json_string(ev->dataset));
	json_object_set_new(o, "run_id", json_integer(ev->run_id));
	json_object_set_new(o, "exec_date", json_string(ev->exec_date));
	json_object_set_new(o, "task", json_string(ev->task));
	return o;
}

json_t *watch_engine_json(const struct engine_event *ev)
{
	json_t *o;

	if (ev->kind == ENGINE_EV_PROGRESS)
		return progress_json(ev);
	o = json_pack("{s:I, s:s, s:s, s:s}", "ts", (json_int_t)ev->ts, "type", ev->type,
	              "level", engine_level_to_string(ev->priority), "message", ev->message);
	if (!o)
		return NULL;
	if (ev->dataset)
		json_object_set_new(o, "dataset", json_string(ev->dataset));
	if (ev->job)
		json_object_set_new(o, "job", json_string(ev->job));
	if (ev->task)
		json_object_set_new(o, "task", json_string(ev->task));
	if (ev->run_id) {
		json_object_set_new(o, "run_id", json_integer(ev->run_id));
		json_object_set_new(o, "exec_date", json_string(ev->exec_date));
		json_object_set_new(o, "state", json_string(run_state_to_string(ev->state)));
	}
	return o;
}

json_t *watch_alert_json(const struct alert_event *ev)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I}", "ts", (json_int_t)ev->ts,
	                      "type", "alert", "dataset", ev->dataset, "reason", ev->reason,
	                      "state", ev->state, "message", ev->message,
	                      "alert_id", (json_int_t)ev->alert_id);

	if (o && ev->run_id > 0)
		json_object_set_new(o, "run_id", json_integer(ev->run_id));
	if (o && ev->exec_date)
		json_object_set_new(o, "exec_date", json_string(ev->exec_date));
	return o;
}

/* Broadcast O (taken) to D's watchers. */
static void broadcast(struct denverd *d, json_t *o)
{
	if (o)
		control_broadcast(d->control, o);
	json_decref(o);
}

void watch_engine_event(void *arg, const struct engine_event *ev)
{
	struct denverd *d = arg;

	if (d->control)
		broadcast(d, watch_engine_json(ev));
}

void watch_alert_event(void *arg, const struct alert_event *ev)
{
	struct denverd *d = arg;

	if (d->control)
		broadcast(d, watch_alert_json(ev));
}
