/*
 * cmd_dq.c - control commands over the data-quality results in the store:
 *   dq {"dataset", "runs"?}      each check's observed values over the last runs
 *   diff {"dataset", "date"?}    what changed, by key, in a run's snapshot
 *   promote {"run", "reason"?}   accept a quarantined snapshot (mutating)
 * Handlers run on the loop thread: one indexed query each, or two renames.
 * With storage: s3 a quarantined object is promoted by a server-side move
 * (io/s3_objects.h) and the reply waits for it (control_defer).
 * The store hands back rows (store_dq_history, store_dq_diff); their reply
 * JSON is built here, and only here.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "notify/alerts.h"
#include "api/args.h"
#include "base/clock.h"
#include "api/control.h"
#include "base/denverd.h"
#include "base/fsutil.h"
#include "denverd/protocol.h"
#include "api/cmd_dq.h"
#include "base/log.h"
#include "engine/engine.h"
#include "io/s3.h"
#include "io/s3_objects.h"
#include "store/store.h"

/* ---- promote: files first, then the store ---- */

/* Both directories of a rename, so that it is durable; best effort: the
 * rename itself has happened, and the store records it next. */
static void sync_dirs(const char *a, const char *b)
{
	(void)fsync_dir(a);
	(void)fsync_dir(b);
}

#define PROMOTE_ERR(rc, ...) (snprintf(err, errlen, __VA_ARGS__), (rc))

/* Why snapshot Q of run RUN_ID cannot be promoted, or 0. */
static int promote_refusal(const struct store_dq_snapshot *q, int64_t run_id, char *err,
                           size_t errlen)
{
	if (strcmp(q->kind, "dataset") != 0)
		return PROMOTE_ERR(-EINVAL, "run %" PRId64 " is a job run; only a dataset's "
		                   "snapshot can be promoted", run_id);
	if (!q->snapshot_id)
		return PROMOTE_ERR(-ENOENT, "run %" PRId64 " has no snapshot", run_id);
	if (strcmp(q->state, "quarantined") != 0)
		return PROMOTE_ERR(-EALREADY, "the snapshot of run %" PRId64 " is %s, not "
		                   "quarantined", run_id, q->state);
	return 0;
}

/* What a promotion renames: the partition directory FROM (under
 * quarantine/<dataset>, FROM_UP) becomes TO (under staging/<dataset>,
 * TO_UP). */
struct promote_paths {
	char from[4096], from_up[4096], to[4096], to_up[4096];
};

/* P for snapshot Q, and the snapshot file's path after the move into
 * OUT->path; -EEXIST when staging already holds the exec date. */
static int promote_paths(const struct denverd *d, const struct store_dq_snapshot *q,
                         struct promote_paths *p, struct cmd_dq_promoted *out, char *err,
                         size_t errlen)
{
	const char *file = strrchr(q->path, '/');

	if (!file || path_parent(q->path, p->from, sizeof p->from) < 0 ||
	    path_parent(p->from, p->from_up, sizeof p->from_up) < 0 ||
	    snprintf(p->to_up, sizeof p->to_up, "%s/staging/%s", d->cfg->state_dir,
	             q->dataset) >= (int)sizeof p->to_up ||
	    snprintf(p->to, sizeof p->to, "%s/exec_date=%s", p->to_up, q->exec_date) >=
	    (int)sizeof p->to ||
	    snprintf(out->path, sizeof out->path, "%s%s", p->to, file) >= (int)sizeof out->path)
		return PROMOTE_ERR(-ENAMETOOLONG, "snapshot path too long: %s", q->path);
	if (access(p->to, F_OK) == 0)
		return PROMOTE_ERR(-EEXIST, "%s already exists: a snapshot of %s %s is in staging",
		                   p->to, q->dataset, q->exec_date);
	return 0;
}

/* staging/ and staging/<dataset>/ (P->to_up), made when missing. */
static int promote_dirs(const struct denverd *d, const struct promote_paths *p, char *err,
                        size_t errlen)
{
	char staging[4096];
	int rc;

	snprintf(staging, sizeof staging, "%s/staging", d->cfg->state_dir);
	if ((rc = make_dir(staging, 0750)) < 0 || (rc = make_dir(p->to_up, 0750)) < 0)
		return PROMOTE_ERR(rc, "%s: %s", p->to_up, strerror(-rc));
	return 0;
}

int cmd_dq_promote(struct denverd *d, int64_t run_id, const char *reason,
                   struct cmd_dq_promoted *out, char *err, size_t errlen)
{
	struct store_dq_snapshot q;
	struct promote_paths p;
	char msg[600];
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = store_dq_quarantined(d->store, run_id, &q)) < 0)
		return rc == -ENOENT ? PROMOTE_ERR(rc, "no run %" PRId64, run_id)
		                     : PROMOTE_ERR(rc, "state store: %s", store_errmsg(d->store));
	if ((rc = promote_refusal(&q, run_id, err, errlen)) < 0 ||
	    (rc = promote_paths(d, &q, &p, out, err, errlen)) < 0 ||
	    (rc = promote_dirs(d, &p, err, errlen)) < 0)
		goto out;
	if (rename(p.from, p.to) < 0) {
		rc = PROMOTE_ERR(-errno, "moving %s to %s: %s", p.from, p.to, strerror(errno));
		goto out;
	}
	sync_dirs(p.to_up, p.from_up);
	snprintf(msg, sizeof msg, "quarantined snapshot promoted to staging by the operator%s%.400s",
	         reason ? ": " : "", reason ? reason : "");
	if ((rc = store_dq_promote(d->store, q.snapshot_id, out->path, clock_now_ms(), msg)) < 0) {
		/* Keep files and state in agreement: the snapshot stays quarantined. */
		snprintf(err, errlen, "state store: %s", store_errmsg(d->store));
		if (rename(p.to, p.from) == 0)
			sync_dirs(p.from_up, p.to_up);
		goto out;
	}
	out->snapshot_id = q.snapshot_id;
	snprintf(out->dataset, sizeof out->dataset, "%s", q.dataset);
	snprintf(out->exec_date, sizeof out->exec_date, "%s", q.exec_date);
out:
	store_dq_snapshot_clear(&q);
	return rc;
}

/* ---- arguments ---- */

/* "dataset": a configured dataset's name. */
static int arg_dataset(struct denverd *d, json_t *args, const char **name,
                       struct control_error *err)
{
	int rc = arg_string(args, "dataset", true, name, err);

	if (rc == 0 && !config_dataset(d->cfg, *name))
		return control_error(err, -ENOENT, PROTO_ENOENT, "no dataset named \"%s\"", *name);
	return rc;
}

static int store_error(struct denverd *d, int rc, const char *what, struct control_error *err)
{
	if (rc == -ENOMEM)
		return control_error(err, rc, PROTO_EINTERNAL, "%s: out of memory", what);
	return control_error(err, rc, PROTO_EINTERNAL, "%s: state store: %s", what,
	                     store_errmsg(d->store));
}

/* ---- replies: the store's rows as the protocol's JSON ---- */

static json_t *str_or_null(const char *t)
{
	return t ? json_string(t) : json_null();
}

static json_t *real_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

/* JSON text the store keeps for its writer (dq_results.lines,
 * diffs.examples), parsed; an empty array when missing or unreadable. */
static json_t *stored_json(const char *text)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	return j ? j : json_array();
}

/*
 * The `dq` reply, filled one store row at a time:
 * {"dataset", "runs":[{"run_id","exec_date","state"}],
 *  "checks":[{"name","type","severity",
 *             "values":[{"run_id","exec_date","outcome","observed",
 *                        "threshold","detail","lines"}]}]}
 * Runs newest first; checks in the order they are first seen (the newest
 * run's order, then checks only older runs had); values newest first.
 */
struct history {
	json_t *res, *runs, *checks;
	int64_t last_run;              /* run of the previous row; 0 = none yet */
};

/* The entry of X's check in CHECKS, appended when new; NULL: no memory. */
static json_t *history_check(json_t *checks, const struct store_dq_result *x)
{
	size_t i;
	json_t *c;

	if (!x->name)
		return NULL;
	json_array_foreach(checks, i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")), x->name) == 0)
			return c;
	c = json_pack("{s:s, s:o, s:o, s:[]}", "name", x->name, "type", str_or_null(x->type),
	              "severity", str_or_null(x->severity), "values");
	if (!c || json_array_append_new(checks, c) < 0)
		return NULL;
	return c;
}

static int history_row(void *arg, const struct store_dq_value *v)
{
	struct history *h = arg;
	const struct store_dq_result *x = &v->result;
	json_t *c = history_check(h->checks, x), *o;

	if (v->run_id != h->last_run && json_array_append_new(h->runs, json_pack("{s:I, s:o, s:o}",
	        "run_id", (json_int_t)v->run_id, "exec_date", str_or_null(v->exec_date),
	        "state", str_or_null(v->run_state))) < 0)
		c = NULL;
	h->last_run = v->run_id;
	o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "run_id", (json_int_t)v->run_id,
	              "exec_date", str_or_null(v->exec_date), "outcome", str_or_null(x->outcome),
	              "observed", real_or_null(x->observed), "threshold", str_or_null(x->threshold),
	              "detail", str_or_null(x->detail), "lines", stored_json(x->lines));
	if (!c || !o) {
		json_decref(o);
		return -ENOMEM;
	}
	return json_array_append_new(json_object_get(c, "values"), o) < 0 ? -ENOMEM : 0;
}

/* The `dq` reply for DATASET's last RUNS runs into *OUT (a new reference).
 * 0, -ENOMEM or the store's -EIO. */
static int history_json(struct store *st, const char *dataset, unsigned runs, json_t **out)
{
	struct history h = { .res = json_pack("{s:s, s:[], s:[]}", "dataset", dataset,
	                                      "runs", "checks") };
	int rc;

	*out = NULL;
	if (!h.res)
		return -ENOMEM;
	h.runs = json_object_get(h.res, "runs");
	h.checks = json_object_get(h.res, "checks");
	if ((rc = store_dq_history(st, dataset, runs, history_row, &h)) < 0) {
		json_decref(h.res);
		return rc;
	}
	*out = h.res;
	return 0;
}

/*
 * The `diff` reply: {"dataset","run_id","exec_date","prev_run_id",
 * "prev_exec_date","added","removed","changed","unchanged","aged_out",
 * "withdrawn","window_start","examples":{"added","removed","changed",
 * "aged_out","withdrawn"}}; "unchanged" is kept inside the stored examples
 * and moves out of them here.  aged_out and withdrawn are null when the
 * diff did not split the removed keys (dq.h), window_start when unknown;
 * examples saved before the split lack their two lists.
 */
struct diff_reply {
	const char *dataset;
	json_t *out;
};

static int diff_row(void *arg, const struct store_dq_diff_row *d)
{
	struct diff_reply *r = arg;
	json_t *ex = stored_json(d->diff.examples), *unchanged = json_object_get(ex, "unchanged");

	r->out = json_pack("{s:s, s:I, s:o, s:o, s:o, s:I, s:I, s:I, s:O, s:o, s:o, s:o, s:o}",
	        "dataset", r->dataset,
	        "run_id", (json_int_t)d->run_id,
	        "exec_date", str_or_null(d->exec_date),
	        "prev_run_id", d->diff.prev_run_id ? json_integer(d->diff.prev_run_id)
	                                           : json_null(),
	        "prev_exec_date", str_or_null(d->prev_exec_date),
	        "added", (json_int_t)d->diff.added,
	        "removed", (json_int_t)d->diff.removed,
	        "changed", (json_int_t)d->diff.changed,
	        "unchanged", unchanged ? unchanged : json_null(),
	        "aged_out", d->diff.split ? json_integer((json_int_t)d->diff.aged_out) : json_null(),
	        "withdrawn", d->diff.split ? json_integer((json_int_t)d->diff.withdrawn)
	                                   : json_null(),
	        "window_start", str_or_null(d->diff.window_start),
	        "examples", ex);
	if (!r->out)
		return -ENOMEM;
	json_object_del(json_object_get(r->out, "examples"), "unchanged");
	return 0;
}

/* ---- handlers ---- */

static int cmd_dq(struct denverd *d, struct control_client *c, json_t *args,
                  json_t **result, struct control_error *err)
{
	const char *name;
	int64_t n;
	int rc;

	if ((rc = arg_dataset(d, args, &name, err)) < 0 ||
	    (rc = arg_int(args, "runs", 1, STORE_DQ_MAX_RUNS, CMD_DQ_RUNS_DEFAULT, &n, err)) < 0)
		return rc;
	if ((rc = history_json(d->store, name, (unsigned)n, result)) < 0)
		return store_error(d, rc, "dq", err);
	return 0;
}

static int cmd_diff(struct denverd *d, struct control_client *c, json_t *args,
                    json_t **result, struct control_error *err)
{
	struct diff_reply r = { NULL, NULL };
	const char *day;
	int64_t n;
	int rc;

	if ((rc = arg_dataset(d, args, &r.dataset, err)) < 0 ||
	    (rc = arg_date(args, "date", false, &n, &day, err)) < 0)
		return rc;
	rc = store_dq_diff(d->store, r.dataset, day, diff_row, &r);
	if (rc == -ENOENT)
		return control_error(err, rc, PROTO_ENOENT, "no diff recorded for %s%s%s",
		                     r.dataset, day ? " on " : "", day ? day : "");
	if (rc < 0) {
		json_decref(r.out);
		return store_error(d, rc, "diff", err);
	}
	*result = r.out;
	return 0;
}

/* The promotion is recorded: the alert recovers, the run goes on, the
 * reply says so.  0 or -ENOMEM. */
static int promoted(struct denverd *d, struct log_ctx *ctx, const struct cmd_dq_promoted *p,
                    json_t **result)
{
	int rc;

	ctx->dataset = p->dataset;
	ctx->exec_date = p->exec_date;
	log_msg(LOG_NOTICE, ctx, "quarantined snapshot promoted to staging: %s", p->path);
	/* The run goes on with convert; the promotion stands even if it cannot
	 * (the operator can `retry` the run), so this is not an error reply. */
	alerts_promoted(d, ctx->run_id);     /* its quarantine alert recovers */
	rc = sched_promoted(d, ctx->run_id);
	if (rc < 0)
		log_warn(ctx, "promoted, but the run could not be resumed: %s", strerror(-rc));
	*result = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:b}", "run_id", (json_int_t)ctx->run_id,
	                    "snapshot_id", (json_int_t)p->snapshot_id, "dataset", p->dataset,
	                    "exec_date", p->exec_date, "path", p->path, "state", "promoted",
	                    "resumed", rc == 0);
	return *result ? 0 : -ENOMEM;
}

/* ---- promote on S3: the object moves back, then the row ---- */

struct s3_promote {
	struct denverd *d;
	struct control_pending *pend;
	struct log_ctx ctx;
	struct cmd_dq_promoted out;
	char *reason;
	char src[4096], dst[4096];
	char mirror_from[4096], mirror_to[4096];
};

static void s3_promote_moved(void *arg, int rc, const char *error)
{
	struct s3_promote *sp = arg;
	struct denverd *d = sp->d;
	struct control_error err = { PROTO_EINTERNAL, "" };
	json_t *result = NULL;
	char msg[600], *uri = NULL;

	if (rc == -EEXIST)
		control_error(&err, rc, PROTO_ESTATE, "%s already exists: a snapshot of %s %s is "
		              "in staging", sp->dst, sp->out.dataset, sp->out.exec_date);
	else if (rc < 0)
		control_error(&err, rc, PROTO_EINTERNAL, "moving %s to %s: %s", sp->src, sp->dst,
		              error);
	if (rc < 0)
		goto out;
	/* The key index's mirror follows (best effort: a diff without it is
	 * skipped, never wrong). */
	if (rename(sp->mirror_from, sp->mirror_to) < 0 && errno != ENOENT)
		log_warn(&sp->ctx, "moving the key index %s: %s", sp->mirror_from, strerror(errno));
	snprintf(msg, sizeof msg, "quarantined snapshot promoted to staging by the operator%s%.400s",
	         sp->reason ? ": " : "", sp->reason ? sp->reason : "");
	if (s3_uri(sched_storage(d->sched), sp->dst, &uri) < 0 ||
	    snprintf(sp->out.path, sizeof sp->out.path, "%s", uri) >= (int)sizeof sp->out.path ||
	    store_dq_promote(d->store, sp->out.snapshot_id, sp->out.path, clock_now_ms(), msg) < 0) {
		/* The object is in staging, the row says quarantine: said loudly;
		 * a second promote finds the key taken (ESTATE) and says where. */
		control_error(&err, -EIO, PROTO_EINTERNAL, "promoted %s to %s, but the state store "
		              "could not record it: %s", sp->src, sp->dst, store_errmsg(d->store));
		log_err(&sp->ctx, "%s", err.message);
		rc = -EIO;
		goto out;
	}
	if (promoted(d, &sp->ctx, &sp->out, &result) < 0)
		control_error(&err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
out:
	control_answer(sp->pend, result, result ? NULL : &err);
	json_decref(result);
	free(uri);
	free(sp->reason);
	free(sp);
}

/* Promote the quarantined object Q (its KEY) of run CTX->run_id: 0 when the
 * move started (the reply is deferred), or a negative errno with ERR. */
static int s3_promote(struct denverd *d, struct control_client *c,
                      const struct store_dq_snapshot *q, const char *key, const char *reason,
                      struct log_ctx *ctx, struct control_error *err)
{
	struct s3_client *s3 = sched_storage(d->sched);
	const char *file = strrchr(key, '/'), *rel = s3_key_rel(s3, key);
	struct s3_promote *sp = calloc(1, sizeof *sp);
	char *dst = NULL, to[512], up[4096];
	int rc;

	if (!sp || (reason && !(sp->reason = strdup(reason)))) {
		free(sp);
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	}
	sp->d = d;
	sp->ctx = *ctx;
	sp->out.snapshot_id = q->snapshot_id;
	snprintf(sp->out.dataset, sizeof sp->out.dataset, "%s", q->dataset);
	snprintf(sp->out.exec_date, sizeof sp->out.exec_date, "%s", q->exec_date);
	snprintf(to, sizeof to, "staging/%s/exec_date=%s%s", q->dataset, q->exec_date,
	         file ? file : "");
	if (!file || !rel || s3_key(s3, to, &dst) < 0 ||
	    snprintf(sp->src, sizeof sp->src, "%s", key) >= (int)sizeof sp->src ||
	    snprintf(sp->dst, sizeof sp->dst, "%s", dst) >= (int)sizeof sp->dst ||
	    snprintf(sp->mirror_from, sizeof sp->mirror_from, "%s/%.*s", d->cfg->state_dir,
	             (int)(strrchr(rel, '/') - rel), rel) >= (int)sizeof sp->mirror_from ||
	    snprintf(sp->mirror_to, sizeof sp->mirror_to, "%s/staging/%s/exec_date=%s",
	             d->cfg->state_dir, q->dataset, q->exec_date) >= (int)sizeof sp->mirror_to) {
		free(dst);
		free(sp->reason);
		free(sp);
		return control_error(err, -EINVAL, PROTO_EINTERNAL, "%s: not a snapshot key of this "
		                     "storage", key);
	}
	free(dst);
	if (path_parent(sp->mirror_to, up, sizeof up) == 0)
		(void)mkdir_p(up, 0750);          /* staging/<dataset>, for the rename */
	if (!(sp->pend = control_defer(c)) ||
	    (rc = s3_move(s3, sp->src, sp->dst, NULL, s3_promote_moved, sp)) < 0) {
		if (sp->pend)
			control_undefer(sp->pend);
		free(sp->reason);
		free(sp);
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "promote: cannot start the move");
	}
	return CONTROL_DEFERRED;
}

static int cmd_promote(struct denverd *d, struct control_client *c, json_t *args,
                       json_t **result, struct control_error *err)
{
	struct cmd_dq_promoted p;
	struct log_ctx ctx = { .task = "check" };
	const char *reason;
	char msg[512];
	int rc;

	if ((rc = arg_run(args, &ctx.run_id, err)) < 0 ||
	    (rc = arg_string(args, "reason", false, &reason, err)) < 0)
		return rc;
	struct s3_client *s3 = d->sched ? sched_storage(d->sched) : NULL;
	if (s3) {
		struct store_dq_snapshot q;
		const char *key;
		if ((rc = store_dq_quarantined(d->store, ctx.run_id, &q)) == 0 &&
		    (rc = promote_refusal(&q, ctx.run_id, msg, sizeof msg)) == 0 &&
		    (key = s3_uri_key(s3, q.path))) {
			rc = s3_promote(d, c, &q, key, reason, &ctx, err);
			store_dq_snapshot_clear(&q);
			return rc;
		}
		store_dq_snapshot_clear(&q);      /* a local snapshot, or refused below */
	}
	rc = cmd_dq_promote(d, ctx.run_id, reason, &p, msg, sizeof msg);
	if (rc == -ENOENT)
		return control_error(err, rc, PROTO_ENOENT, "%s", msg);
	if (rc == -EINVAL || rc == -EALREADY || rc == -EEXIST)
		return control_error(err, rc, PROTO_ESTATE, "%s", msg);
	if (rc < 0) {
		log_err(&ctx, "promote: %s", msg);
		return control_error(err, rc, PROTO_EINTERNAL, "%s", msg);
	}
	if (promoted(d, &ctx, &p, result) < 0)
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	return 0;
}

static const struct control_cmd dq_cmds[] = {
	{ .name = "dq", .fn = cmd_dq },
	{ .name = "diff", .fn = cmd_diff },
	{ .name = "promote", .fn = cmd_promote, .mutating = true },
};

int cmd_dq_init(struct denverd *d)
{
	return control_register(d->control, dq_cmds, sizeof dq_cmds / sizeof dq_cmds[0]);
}
