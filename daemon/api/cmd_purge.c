/*
 * cmd_purge.c - the `purge` control command (cmd_purge.h): its arguments,
 * the purge started (purge.h) and the reply deferred until it is done
 * (control_defer), then the outcome as the protocol's JSON:
 *   {"dataset","before","dry_run",
 *    "partitions":[{"area","name","exec_date","path","files","bytes",
 *                   "snapshots":[ids],"removed","error"?}],
 *    "kept":[{... the same, "reason","run_id"}],
 *    "missing":[ids], "removed","bytes","failed","error"?}
 * "partitions" are those before the date that go (with "yes") or would
 * go; "removed" counts those gone, "bytes" sums the partitions listed,
 * "failed" counts removals that failed (each with its "error").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/args.h"
#include "api/cmd_purge.h"
#include "api/control.h"
#include "api/purge.h"
#include "base/denverd.h"
#include "base/log.h"
#include "config/config.h"
#include "denverd/protocol.h"
#include "engine/engine.h"

static void keep_reason(const struct purge_part *x, char *buf, size_t n)
{
	switch (x->keep) {
	case PURGE_KEEP_NEWEST:
		snprintf(buf, n, "the newest published snapshot: the next run's diff baseline");
		break;
	case PURGE_KEEP_ACTIVE:
		snprintf(buf, n, "run %" PRId64 " of this exec date is active", x->run_id);
		break;
	case PURGE_KEEP_BASELINE:
		snprintf(buf, n, "the diff baseline of active run %" PRId64, x->run_id);
		break;
	case PURGE_GOES:
		buf[0] = '\0';
		break;
	}
}

static json_t *ids_json(const int64_t *ids, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)ids[i]));
	return a;
}

static json_t *part_json(const struct purge_part *x)
{
	char reason[128];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o}",
	                      "area", purge_area_name(x->area), "name", x->name,
	                      "exec_date", x->exec_date, "path", x->path,
	                      "files", (json_int_t)x->files, "bytes", (json_int_t)x->bytes,
	                      "snapshots", ids_json(x->ids, x->n_ids));

	if (!o)
		return NULL;
	if (x->keep != PURGE_GOES) {
		keep_reason(x, reason, sizeof reason);
		json_object_set_new(o, "reason", json_string(reason));
		json_object_set_new(o, "run_id", x->run_id ? json_integer(x->run_id) : json_null());
		return o;
	}
	json_object_set_new(o, "removed", json_boolean(x->removed));
	if (x->err)
		json_object_set_new(o, "error", json_string(strerror(-x->err)));
	return o;
}

/* The reply of P; counts into *REMOVED, *FAILED and *BYTES. */
static json_t *purge_json(const struct purge *p, size_t *removed, size_t *failed,
                          uint64_t *bytes)
{
	json_t *r = json_pack("{s:s, s:s, s:b, s:[], s:[], s:o}", "dataset", p->dataset,
	                      "before", p->before, "dry_run", !p->act, "partitions", "kept",
	                      "missing", ids_json(p->missing, p->n_missing));

	*removed = *failed = 0;
	*bytes = 0;
	if (!r)
		return NULL;
	for (size_t i = 0; i < p->n_parts; i++) {
		const struct purge_part *x = &p->parts[i];
		json_t *o = part_json(x);
		if (!o || json_array_append_new(json_object_get(r, x->keep == PURGE_GOES ?
		                                "partitions" : "kept"), o) < 0) {
			json_decref(r);
			return NULL;
		}
		if (x->keep != PURGE_GOES)
			continue;
		*bytes += x->bytes;
		*removed += x->removed;
		*failed += p->act && !x->removed;
	}
	json_object_set_new(r, "removed", json_integer((json_int_t)*removed));
	json_object_set_new(r, "bytes", json_integer((json_int_t)*bytes));
	json_object_set_new(r, "failed", json_integer((json_int_t)*failed));
	if (p->err)
		json_object_set_new(r, "error", json_string(p->errmsg));
	return r;
}

/* The purge is done: log what it changed, answer the request (PEND). */
static void purge_done(struct purge *p, void *arg)
{
	struct control_pending *pend = arg;
	struct log_ctx ctx = { .dataset = p->dataset, .task = "purge" };
	struct control_error err = { PROTO_EINTERNAL, "" };
	size_t removed, failed;
	uint64_t bytes;
	json_t *r = purge_json(p, &removed, &failed, &bytes);

	if (p->act && (removed || failed || p->n_missing))
		log_msg(failed || p->err ? LOG_WARNING : LOG_NOTICE, &ctx,
		        "purge before %s: removed %zu partitions (%" PRIu64 " bytes), %zu failed, %zu rows "
		        "without files marked removed%s%s", p->before, removed,
		        bytes, failed, p->n_missing,
		        p->err ? "; " : "", p->err ? p->errmsg : "");
	if (!r)
		control_error(&err, -ENOMEM, PROTO_EINTERNAL, "purge: out of memory");
	else if (p->err && !removed)
		control_error(&err, p->err, PROTO_EINTERNAL, "purge: %s", p->errmsg);
	control_answer(pend, r, r && !(p->err && !removed) ? NULL : &err);
	json_decref(r);
	purge_free(p);
}

static int cmd_purge(struct denverd *d, struct control_client *c, json_t *args,
                     json_t **result, struct control_error *err)
{
	const char *name, *before;
	struct control_pending *pend;
	char msg[300];
	int64_t day;
	bool yes;
	int rc;

	if ((rc = arg_string(args, "dataset", true, &name, err)) < 0 ||
	    (rc = arg_date(args, "before", true, &day, &before, err)) < 0 ||
	    (rc = arg_bool(args, "yes", &yes, err)) < 0)
		return rc;
	if (!config_dataset(d->cfg, name))
		return control_error(err, -ENOENT, PROTO_ENOENT, "no dataset named \"%s\"", name);
	if (d->stopping || (d->sched && !sched_accepting(d->sched)))
		return control_error(err, -ESHUTDOWN, PROTO_ESTATE, "denverd is stopping");
	if (!(pend = control_defer(c)))
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	if ((rc = purge_start(d, name, before, yes, purge_done, pend, msg, sizeof msg)) < 0) {
		/* Not answered yet: the error reply goes out now, in order. */
		control_error(err, rc, PROTO_EINTERNAL, "purge: %s", msg);
		control_undefer(pend);
		return rc;
	}
	return CONTROL_DEFERRED;
}

static const struct control_cmd purge_cmds[] = {
	{ .name = "purge", .fn = cmd_purge, .mutating = true },
};

int cmd_purge_init(struct denverd *d)
{
	return control_register(d->control, purge_cmds, sizeof purge_cmds / sizeof purge_cmds[0]);
}
