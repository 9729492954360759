/*
 * cmd_alerts.c - the `alerts` control command (cmd_alerts.h): the history
 * from the store's alerts table, what fires now from notify/alerts.c.
 */
#include <errno.h>
#include <string.h>

#include "api/args.h"
#include "api/cmd_alerts.h"
#include "api/control.h"
#include "base/denverd.h"
#include "denverd/protocol.h"
#include "notify/alerts.h"
#include "store/store.h"

#define LIST_DEFAULT 20
#define LIST_MAX     1000

static int add_row(void *arg, const struct store_alert *row)
{
	json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:I}",
	        "id", (json_int_t)row->id, "ts", (json_int_t)row->ts,
	        "dataset", row->dataset, "reason", row->reason, "state", row->state,
	        "message", row->message, "suppressed", (json_int_t)row->suppressed);
	if (!o)
		return -ENOMEM;
	json_object_set_new(o, "run_id", row->run_id ? json_integer(row->run_id) : json_null());
	json_object_set_new(o, "delivered",
	                    row->delivered ? json_integer(row->delivered) : json_null());
	return json_array_append_new(arg, o) < 0 ? -ENOMEM : 0;
}

static int add_firing(void *arg, const struct alert_firing *f)
{
	json_t *o = json_pack("{s:s, s:s, s:b}", "dataset", f->dataset, "reason", f->reason,
	                      "notified", f->notified);
	return json_array_append_new(arg, o) < 0 ? -ENOMEM : 0;
}

static int cmd_alerts(struct denverd *d, struct control_client *c, json_t *args,
                      json_t **result, struct control_error *err)
{
	const char *dataset;
	int64_t limit;
	json_t *rows, *firing;
	int rc;

	if ((rc = arg_string(args, "dataset", false, &dataset, err)) < 0 ||
	    (rc = arg_int(args, "limit", 1, LIST_MAX, LIST_DEFAULT, &limit, err)) < 0)
		return rc;
	if (!d->alerts)
		return control_error(err, -ESHUTDOWN, PROTO_ESTATE, "denverd is stopping");
	rows = json_array();
	firing = json_array();
	rc = rows && firing ? 0 : -ENOMEM;
	if (rc == 0)
		rc = store_alerts_list(d->store, dataset, (unsigned)limit, add_row, rows);
	if (rc == 0)
		rc = alerts_firing_each(d->alerts, dataset, add_firing, firing);
	if (rc < 0) {
		json_decref(rows);
		json_decref(firing);
		return control_error(err, rc, PROTO_EINTERNAL, "alerts: %s",
		                     rc == -EIO ? store_errmsg(d->store) : strerror(-rc));
	}
	*result = json_pack("{s:o, s:o}", "alerts", rows, "firing", firing);
	return *result ? 0 : control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
}

static const struct control_cmd alerts_cmds[] = {
	{ .name = "alerts", .fn = cmd_alerts },
};

int cmd_alerts_init(struct denverd *d)
{
	return control_register(d->control, alerts_cmds, ARRAY_SIZE(alerts_cmds));
}
