/*
 * dq_cmds.c - control commands over the data-quality results in the store:
 *   dq {"dataset", "runs"?}      each check's observed values over the last runs
 *   diff {"dataset", "date"?}    what changed, by key, in a run's snapshot
 *   promote {"run", "reason"?}   accept a quarantined snapshot (mutating)
 * Handlers run on the loop thread: one indexed query each, or two renames.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "notify/alerts.h"
#include "api/args.h"
#include "base/clock.h"
#include "api/control.h"
#include "base/denverd.h"
#include "denverd/protocol.h"
#include "api/cmd_dq.h"
#include "base/log.h"
#include "engine/engine.h"
#include "store/store.h"

/* ---- promote: files first, then the store ---- */

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int make_dir(const char *path)
{
	return mkdir(path, 0750) < 0 && errno != EEXIST ? -errno : 0;
}

/* The parent directory of PATH into OUT. */
static int parent(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path || (size_t)(slash - path) >= len)
		return -EINVAL;
	memcpy(out, path, (size_t)(slash - path));
	out[slash - path] = 0;
	return 0;
}

#define PROMOTE_ERR(rc, ...) (snprintf(err, errlen, __VA_ARGS__), (rc))

int dq_promote(struct denverd *d, int64_t run_id, const char *reason,
               struct dq_promoted *out, char *err, size_t errlen)
{
	struct store_dq_snapshot q;
	char from[4096], from_up[4096], to_up[4096], to[4096], msg[600];
	const char *file;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = store_dq_quarantined(d->store, run_id, &q)) < 0)
		return rc == -ENOENT ? PROMOTE_ERR(rc, "no run %" PRId64, run_id)
		                     : PROMOTE_ERR(rc, "state store: %s", store_errmsg(d->store));
	if (strcmp(q.kind, "dataset") != 0) {
		rc = PROMOTE_ERR(-EINVAL, "run %" PRId64 " is a job run; only a dataset's "
		                 "snapshot can be promoted", run_id);
		goto out;
	}
	if (!q.snapshot_id) {
		rc = PROMOTE_ERR(-ENOENT, "run %" PRId64 " has no snapshot", run_id);
		goto out;
	}
	if (strcmp(q.state, "quarantined") != 0) {
		rc = PROMOTE_ERR(-EALREADY, "the snapshot of run %" PRId64 " is %s, not "
		                 "quarantined", run_id, q.state);
		goto out;
	}
	file = strrchr(q.path, '/');
	if (!file || parent(q.path, from, sizeof from) < 0 ||
	    parent(from, from_up, sizeof from_up) < 0 ||
	    snprintf(to_up, sizeof to_up, "%s/staging/%s", d->cfg->state_dir, q.dataset) >=
	    (int)sizeof to_up ||
	    snprintf(to, sizeof to, "%s/exec_date=%s", to_up, q.exec_date) >= (int)sizeof to ||
	    snprintf(out->path, sizeof out->path, "%s%s", to, file) >= (int)sizeof out->path) {
		rc = PROMOTE_ERR(-ENAMETOOLONG, "snapshot path too long: %s", q.path);
		goto out;
	}
	if (access(to, F_OK) == 0) {
		rc = PROMOTE_ERR(-EEXIST, "%s already exists: a snapshot of %s %s is in staging",
		                 to, q.dataset, q.exec_date);
		goto out;
	}
	{
		char staging[4096];
		snprintf(staging, sizeof staging, "%s/staging", d->cfg->state_dir);
		if ((rc = make_dir(staging)) < 0 || (rc = make_dir(to_up)) < 0) {
			rc = PROMOTE_ERR(rc, "%s: %s", to_up, strerror(-rc));
			goto out;
		}
	}
	if (rename(from, to) < 0) {
		rc = PROMOTE_ERR(-errno, "moving %s to %s: %s", from, to, strerror(errno));
		goto out;
	}
	sync_dir(to_up);
	sync_dir(from_up);
	snprintf(msg, sizeof msg, "quarantined snapshot promoted to staging by the operator%s%.400s",
	         reason ? ": " : "", reason ? reason : "");
	if ((rc = store_dq_promote(d->store, q.snapshot_id, out->path, clock_now_ms(), msg)) < 0) {
		/* Keep files and state in agreement: the snapshot stays quarantined. */
		snprintf(err, errlen, "state store: %s", store_errmsg(d->store));
		if (rename(to, from) == 0) {
			sync_dir(from_up);
			sync_dir(to_up);
		}
		goto out;
	}
	out->snapshot_id = q.snapshot_id;
	snprintf(out->dataset, sizeof out->dataset, "%s", q.dataset);
	snprintf(out->exec_date, sizeof out->exec_date, "%s", q.exec_date);
	rc = 0;
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

/* ---- handlers ---- */

static int cmd_dq(struct denverd *d, struct control_client *c, json_t *args,
                  json_t **result, struct control_error *err)
{
	const char *name;
	int64_t n;
	int rc;

	if ((rc = arg_dataset(d, args, &name, err)) < 0 ||
	    (rc = arg_int(args, "runs", 1, STORE_DQ_MAX_RUNS, DQ_RUNS_DEFAULT, &n, err)) < 0)
		return rc;
	if ((rc = store_dq_history(d->store, name, (unsigned)n, result)) < 0)
		return store_error(d, rc, "dq", err);
	return 0;
}

static int cmd_diff(struct denverd *d, struct control_client *c, json_t *args,
                    json_t **result, struct control_error *err)
{
	const char *name, *day;
	int64_t n;
	int rc;

	if ((rc = arg_dataset(d, args, &name, err)) < 0 ||
	    (rc = arg_date(args, "date", false, &n, &day, err)) < 0)
		return rc;
	rc = store_dq_diff(d->store, name, day, result);
	if (rc == -ENOENT)
		return control_error(err, rc, PROTO_ENOENT, "no diff recorded for %s%s%s", name,
		                     day ? " on " : "", day ? day : "");
	if (rc < 0)
		return store_error(d, rc, "diff", err);
	return 0;
}

static int cmd_promote(struct denverd *d, struct control_client *c, json_t *args,
                       json_t **result, struct control_error *err)
{
	struct dq_promoted p;
	struct log_ctx ctx = { .task = "check" };
	const char *reason;
	char msg[512];
	int rc;

	if ((rc = arg_run(args, &ctx.run_id, err)) < 0 ||
	    (rc = arg_string(args, "reason", false, &reason, err)) < 0)
		return rc;
	rc = dq_promote(d, ctx.run_id, reason, &p, msg, sizeof msg);
	if (rc == -ENOENT)
		return control_error(err, rc, PROTO_ENOENT, "%s", msg);
	if (rc == -EINVAL || rc == -EALREADY || rc == -EEXIST)
		return control_error(err, rc, PROTO_ESTATE, "%s", msg);
	if (rc < 0) {
		log_err(&ctx, "promote: %s", msg);
		return control_error(err, rc, PROTO_EINTERNAL, "%s", msg);
	}
	ctx.dataset = p.dataset;
	ctx.exec_date = p.exec_date;
	log_msg(LOG_NOTICE, &ctx, "quarantined snapshot promoted to staging: %s", p.path);
	/* The run goes on with convert; the promotion stands even if it cannot
	 * (the operator can `retry` the run), so this is not an error reply. */
	alerts_promoted(d, ctx.run_id);      /* its quarantine alert recovers */
	rc = sched_promoted(d, ctx.run_id);
	if (rc < 0)
		log_warn(&ctx, "promoted, but the run could not be resumed: %s", strerror(-rc));
	*result = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:b}", "run_id", (json_int_t)ctx.run_id,
	                    "snapshot_id", (json_int_t)p.snapshot_id, "dataset", p.dataset,
	                    "exec_date", p.exec_date, "path", p.path, "state", "promoted",
	                    "resumed", rc == 0);
	return *result ? 0 : control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
}

static const struct control_cmd dq_cmds[] = {
	{ .name = "dq", .fn = cmd_dq },
	{ .name = "diff", .fn = cmd_diff },
	{ .name = "promote", .fn = cmd_promote, .mutating = true },
};

int dq_cmds_init(struct denverd *d)
{
	return control_register(d->control, dq_cmds, sizeof dq_cmds / sizeof dq_cmds[0]);
}
