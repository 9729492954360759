/*
 * cmd_source.c - the `source` control command (cmd_source.h): the
 * dataset's cadence as the protocol's JSON.  Times are unix ms, durations
 * ms, null where the history is too short to say; the weekday histogram
 * and the typical time are in the configured time zone.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/args.h"
#include "api/cmd_source.h"
#include "api/control.h"
#include "base/clock.h"
#include "base/denverd.h"
#include "config/config.h"
#include "denverd/protocol.h"
#include "domain/tz.h"
#include "engine/engine.h"
#include "notify/source_cadence.h"
#include "store/store.h"

#define RECENT_MAX 10                /* the newest changes listed */

static const char *const weekday_names[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
                                               "Sat" };

static json_t *ms_or_null(bool known, int64_t v)
{
	return known ? json_integer((json_int_t)v) : json_null();
}

static int add_change(void *arg, const struct store_change *c)
{
	json_t *o = json_pack("{s:I, s:s, s:s?}", "observed_at", (json_int_t)c->observed_at,
	                      "kind", c->kind, "value", c->value);
	if (!o)
		return -ENOMEM;
	json_object_set_new(o, "run_id", c->run_id ? json_integer(c->run_id) : json_null());
	return json_array_append_new(arg, o) < 0 ? -ENOMEM : 0;
}

/* The cadence part of the reply, from SC at NOW. */
static json_t *cadence_json(const struct source_cadence *sc, int64_t now)
{
	const struct cadence *c = &sc->c;
	json_t *o = json_object(), *days = json_array(), *typical = json_array();
	char hhmm[24];

	if (!o || !days || !typical) {
		json_decref(o);
		json_decref(days);
		json_decref(typical);
		return NULL;
	}
	for (int d = 0; d < 7; d++) {
		json_array_append_new(days, json_integer(c->weekdays[d]));
		if (c->typical_weekdays & (1u << d))
			json_array_append_new(typical, json_string(weekday_names[d]));
	}
	snprintf(hhmm, sizeof hhmm, "%02d:%02d", c->typical_minute / 60, c->typical_minute % 60);
	json_object_set_new(o, "changes", json_integer((json_int_t)c->n_changes));
	json_object_set_new(o, "window", json_integer(CADENCE_MAX_CHANGES));
	json_object_set_new(o, "min_changes", json_integer(CADENCE_MIN_CHANGES));
	json_object_set_new(o, "enough", json_boolean(c->enough));
	json_object_set_new(o, "first_change", ms_or_null(c->n_changes, c->first_change));
	json_object_set_new(o, "weekdays", days);
	json_object_set_new(o, "typical_weekdays", typical);
	json_object_set_new(o, "typical_time",
	                    c->typical_minute >= 0 ? json_string(hhmm) : json_null());
	json_object_set_new(o, "median_gap_ms", ms_or_null(c->enough, c->median_gap_ms));
	json_object_set_new(o, "p95_gap_ms", ms_or_null(c->enough, c->p95_gap_ms));
	json_object_set_new(o, "late_after_ms", ms_or_null(c->enough, c->late_after_ms));
	json_object_set_new(o, "expected_by", ms_or_null(c->enough, c->expected_by));
	json_object_set_new(o, "late", json_boolean(cadence_late(c, now)));
	json_object_set_new(o, "overdue_ms", ms_or_null(cadence_late(c, now),
	                                                now - c->expected_by));
	if (c->n_changes) {
		json_t *last = json_pack("{s:I, s:s, s:s?}", "observed_at",
		                         (json_int_t)c->last_change, "kind", sc->last_kind,
		                         "value", sc->last_value[0] ? sc->last_value : NULL);
		if (last)
			json_object_set_new(last, "run_id", ms_or_null(sc->last_run_id,
			                                               sc->last_run_id));
		json_object_set_new(o, "last_change", last ? last : json_null());
	} else {
		json_object_set_new(o, "last_change", json_null());
	}
	return o;
}

static int cmd_source(struct denverd *d, struct control_client *cl, json_t *args,
                      json_t **result, struct control_error *err)
{
	const struct cfg_dataset *ds;
	struct source_cadence sc;
	const char *name;
	json_t *recent = NULL, *o;
	int64_t now = clock_now_ms();
	int rc;

	if ((rc = arg_string(args, "dataset", true, &name, err)) < 0)
		return rc;
	if (!(ds = config_dataset(d->cfg, name)))
		return control_error(err, -ENOENT, PROTO_ENOENT, "no dataset named \"%s\"", name);
	if (!d->sched)
		return control_error(err, -ESHUTDOWN, PROTO_ESTATE, "the scheduler is not running");
	if ((rc = source_cadence_read(d->store, name, sched_tz(d->sched),
	                              (int64_t)ds->cadence_margin_ms, &sc)) < 0 ||
	    !(recent = json_array()) ||
	    (rc = store_changes_recent(d->store, name, RECENT_MAX, add_change, recent)) < 0) {
		json_decref(recent);
		rc = rc < 0 ? rc : -ENOMEM;
		return control_error(err, rc, PROTO_EINTERNAL, "source: %s",
		                     rc == -EIO ? store_errmsg(d->store) : strerror(-rc));
	}
	if (!(o = cadence_json(&sc, now))) {
		json_decref(recent);
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	}
	json_object_set_new(o, "dataset", json_string(name));
	json_object_set_new(o, "timezone", json_string(tz_name(sched_tz(d->sched))));
	json_object_set_new(o, "margin_ms", json_integer((json_int_t)ds->cadence_margin_ms));
	json_object_set_new(o, "alert", json_boolean(ds->cadence_alert));
	json_object_set_new(o, "now", json_integer((json_int_t)now));
	json_object_set_new(o, "recent", recent);
	*result = o;
	return 0;
}

static const struct control_cmd source_cmds[] = {
	{ .name = "source", .fn = cmd_source },
};

int cmd_source_init(struct denverd *d)
{
	return control_register(d->control, source_cmds, ARRAY_SIZE(source_cmds));
}
