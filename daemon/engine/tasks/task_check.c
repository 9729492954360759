/*
 * task_check.c - the check task: dq_run() of the run's snapshot on a libuv
 * worker thread (uv_queue_work), never on the loop thread; then, on the
 * loop, the counts go to the snapshot row (the convert task compares its
 * rows with them), the results and the diff to the store as rows
 * (task_check_save, for `denverctl dq` and `diff`), and a `fail` outcome
 * quarantines the snapshot: its
 * partition directory moves to quarantine/<dataset>/exec_date=<D>/, the run
 * fails with the reasons, and nothing downstream runs.
 *
 * The worker reads only what the attempt owns or borrows for its whole
 * life (the dataset's configuration stays alive across a reload until the
 * attempt ends: sched_reload).  Cancel sets dq's cancel flag.
 *
 * storage: s3 (a snapshot path "s3://<bucket>/<key>"): the object is read
 * back first by a streaming GET into work/check-<run>.spool (io/s3_spool.h:
 * bounded memory, written and hashed on the thread pool), and its size and
 * content hash must be the ones the fetch published; the scan then runs on
 * that file as on a local snapshot, which is removed when the attempt
 * ends.  The key index stays local, in the partition's mirror under
 * state_dir (<area>/<dataset>/exec_date=D/.keys, the layout of local
 * mode), where the next run's diff finds it.  A `fail` moves the object
 * to <prefix>/quarantine/... (io/s3_objects.h: a conditional server-side
 * copy, then the delete; exec_date=D.<ms> when that key is taken) and the
 * mirror directory with it.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/fsutil.h"
#include "config/config.h"
#include "io/s3.h"
#include "io/s3_objects.h"
#include "io/s3_spool.h"
#include "quality/dq.h"
#include "engine/task.h"
#include "engine/tasks/tasks.h"
#include "engine/tasks/task_check.h"
#include "store/store.h"

struct check_task {
	struct stask *t;
	uv_work_t work;
	struct dq_input in;
	char path[PATH_MAX], keys_out[PATH_MAX], prev_keys[PATH_MAX];
	int64_t snapshot_id, prev_run_id;
	uint64_t bytes;
	/* storage: s3 */
	char key[PATH_MAX];           /* the snapshot's object; "" in local mode */
	char spool[PATH_MAX];         /* what dq_run reads */
	char mirror[PATH_MAX];        /* the local partition directory of .keys */
	char hash[33];                /* what the fetch published */
	struct s3_spool *sp;          /* the read-back while it runs */
	struct task_outcome o;        /* kept across the quarantine move */
	char msg[2048];
	char dst[PATH_MAX];           /* its quarantine key */
	bool aside;                   /* the move's second try */
	atomic_int cancel;
	atomic_uint_least64_t progress;
	/* the worker's answer */
	struct dq_report *report;
	char *err;
	int rc;
};

static void check_free(struct check_task *ct)
{
	if (!ct)
		return;
	if (ct->key[0])
		unlink(ct->spool);
	dq_report_free(ct->report);
	free(ct->err);
	free(ct);
}

static void work_cb(uv_work_t *w)
{
	struct check_task *ct = container_of(w, struct check_task, work);

	ct->rc = dq_run(&ct->in, &ct->report, &ct->err);
}

/* quarantine/<dataset>/ under STATE_DIR, made if missing (STATE_DIR itself
 * never is), into OUT. */
static int quarantine_dir(const char *state_dir, const char *dataset, char *out, size_t len)
{
	char rel[PATH_MAX];
	int n = snprintf(out, len, "%s/quarantine/%s", state_dir, dataset);

	if (n < 0 || (size_t)n >= len ||
	    snprintf(rel, sizeof rel, "quarantine/%s", dataset) >= (int)sizeof rel)
		return -ENAMETOOLONG;
	return mkdir_below(state_dir, rel, 0750);
}

/*
 * Move the snapshot's partition to quarantine/<dataset>/exec_date=<D>/.  A
 * partition quarantined there before (an earlier run of the same date) is
 * kept under exec_date=<D>.<unix ms>, never deleted.  *NEW_PATH gets the
 * snapshot file's new path.
 */
static int quarantine(const struct task_info *ti, const char *path, char *new_path,
                      size_t len)
{
	char from[PATH_MAX], qdir[PATH_MAX], to[PATH_MAX], aside[PATH_MAX + 32];
	const char *file = strrchr(path, '/');
	int rc;

	if (!file || path_parent(path, from, sizeof from) < 0)
		return -EINVAL;
	if ((rc = quarantine_dir(ti->cfg->state_dir, ti->target, qdir, sizeof qdir)) < 0)
		return rc;
	if (snprintf(to, sizeof to, "%s/exec_date=%s", qdir, ti->exec_date) >= (int)sizeof to)
		return -ENAMETOOLONG;
	if (strcmp(from, to) == 0) {
		/* A retried run checked its snapshot where the first failure
		 * put it: it stays there. */
		if (snprintf(new_path, len, "%s", path) >= (int)len)
			return -ENAMETOOLONG;
		return 0;
	}
	snprintf(aside, sizeof aside, "%s.%" PRId64, to, clock_now_ms());
	if (rename(to, aside) < 0 && errno != ENOENT)
		return -errno;
	if (rename(from, to) < 0)
		return -errno;
	if (snprintf(new_path, len, "%s%s", to, file) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* "rows: 3 rows (passes: >= 1000); ..." for the results with OUTCOME. */
static void list_results(const struct dq_report *r, enum dq_outcome outcome, char *buf,
                         size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->n_results && used + 1 < len; i++) {
		const struct dq_result *x = &r->results[i];
		int n;
		if (x->outcome != outcome)
			continue;
		n = snprintf(buf + used, len - used, "%s%s: %s%s%s%s", used ? "; " : "", x->name,
		             x->detail ? x->detail : dq_outcome_name(x->outcome),
		             x->threshold ? " (passes: " : "", x->threshold ? x->threshold : "",
		             x->threshold ? ")" : "");
		if (n < 0)
			break;
		used += (size_t)n < len - used ? (size_t)n : len - used - 1;
	}
}

/* ---- the report as the store's rows ---- */

/* X's first offending lines as the JSON text the store keeps ("[3,17]");
 * NULL when out of memory. */
static char *lines_json(const struct dq_result *x)
{
	json_t *a = json_array();
	char *text;

	for (size_t i = 0; a && i < x->n_lines; i++)
		json_array_append_new(a, json_integer((json_int_t)x->lines[i]));
	text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return text;
}

/* D's examples and unchanged count as the JSON text the store keeps:
 * {"added":[keys],"removed":[..],"changed":[..],"aged_out":[..],
 * "withdrawn":[..],"unchanged":N}; its window start into WINDOW (NULL:
 * unknown; caller frees). */
static char *examples_json(const struct dq_diff *d, char **window)
{
	json_t *j = dq_diff_json(d), *ex = j ? json_object_get(j, "examples") : NULL;
	const char *w = json_string_value(json_object_get(j, "window_start"));
	char *text = NULL;

	*window = NULL;
	if (ex && json_object_set_new(ex, "unchanged",
	                              json_integer((json_int_t)d->unchanged)) == 0 &&
	    (!w || (*window = strdup(w))))
		text = json_dumps(ex, JSON_COMPACT);
	json_decref(j);
	return text;
}

static struct store_dq_result result_row(const struct dq_result *x)
{
	return (struct store_dq_result){
		.name = x->name,
		.type = config_check_type_name(x->type),
		.severity = config_severity_name(x->severity),
		.outcome = dq_outcome_name(x->outcome),
		.observed = x->observed,
		.threshold = x->threshold,
		.detail = x->detail,
		.lines = lines_json(x),
	};
}

int task_check_save(struct store *st, int64_t run_id, int64_t prev_run_id,
                    const struct dq_report *r)
{
	struct store_dq_result *rows = calloc(r->n_results + 1, sizeof *rows);   /* +1: never 0 */
	struct store_dq_diff diff = { .prev_run_id = prev_run_id, .added = r->diff.added,
	                              .removed = r->diff.removed, .changed = r->diff.changed,
	                              .split = r->diff.split, .aged_out = r->diff.aged_out,
	                              .withdrawn = r->diff.withdrawn };
	char *examples = NULL, *window = NULL;
	int rc = rows ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < r->n_results; i++)
		if (!(rows[i] = result_row(&r->results[i])).lines)
			rc = -ENOMEM;
	if (rc == 0 && r->diff.done && !(diff.examples = examples = examples_json(&r->diff, &window)))
		rc = -ENOMEM;
	diff.window_start = window;
	if (rc == 0)
		rc = store_dq_save(st, run_id, rows, r->n_results, r->diff.done ? &diff : NULL);
	for (size_t i = 0; rows && i < r->n_results; i++)
		free((char *)rows[i].lines);       /* ours: made by lines_json */
	free(rows);
	free(examples);
	free(window);
	return rc;
}

/* ---- storage: s3 ---- */

/* Where the key index of PATH's partition is: its directory for a local
 * snapshot; for an object, the partition's mirror under state_dir (the key
 * without the client's prefix, to its last '/'); REL (may be NULL) gets
 * the mirror relative to state_dir. */
static int partition_dir(const struct task_info *ti, const char *path, char *out, size_t len,
                         char *rel, size_t rlen)
{
	const char *key = s3_uri_key(ti->s3, path), *r, *slash;

	if (!key)
		return path_parent(path, out, len);
	if (!(r = s3_key_rel(ti->s3, key)) || !(slash = strrchr(r, '/')))
		return -EINVAL;
	if (rel && snprintf(rel, rlen, "%.*s", (int)(slash - r), r) >= (int)rlen)
		return -ENAMETOOLONG;
	return snprintf(out, len, "%s/%.*s", ti->cfg->state_dir, (int)(slash - r), r) >=
	       (int)len ? -ENAMETOOLONG : 0;
}

static void end(struct check_task *ct)
{
	struct stask *t = ct->t;

	task_set_impl(t, NULL);
	task_done(t, &ct->o);          /* borrows ct->msg */
	check_free(ct);
}

static void append(struct check_task *ct, const char *what, const char *why)
{
	size_t used = strlen(ct->msg);

	snprintf(ct->msg + used, sizeof ct->msg - used, " (%s failed: %s)", what, why);
}

static int s3_quarantine(struct check_task *ct);
static void after_cb(uv_work_t *w, int status);

/* The object has moved (or not): its row and its mirror follow. */
static void s3_quarantined(void *arg, int rc, const char *error)
{
	struct check_task *ct = arg;
	const struct task_info *ti = task_info(ct->t);
	char *uri = NULL, local[PATH_MAX], qlocal[PATH_MAX];
	const char *file = strrchr(ct->key, '/');

	if (rc == -EEXIST && !ct->aside) {
		ct->aside = true;           /* an earlier quarantine of the date */
		if ((rc = s3_quarantine(ct)) == 0)
			return;
		error = strerror(-rc);
	}
	if (rc < 0) {
		append(ct, "moving it to quarantine", error);
	} else if (s3_uri(ti->s3, ct->dst, &uri) < 0 ||
	           store_snapshot_quarantined(ti->d->store, ct->snapshot_id, uri) < 0) {
		log_err(&ti->log, "state store: %s", store_errmsg(ti->d->store));
	}
	/* The key index goes with it (a local rename of the mirror). */
	if (rc == 0 && snprintf(local, sizeof local, "%s%s", ct->mirror, file) < (int)sizeof local &&
	    (rc = quarantine(ti, local, qlocal, sizeof qlocal)) < 0)
		log_warn(&ti->log, "moving the key index %s to quarantine: %s", ct->mirror,
		         strerror(-rc));
	free(uri);
	end(ct);
}

/* Move the object to <prefix>/quarantine/<dataset>/exec_date=D[.<ms>]/. */
static int s3_quarantine(struct check_task *ct)
{
	const struct task_info *ti = task_info(ct->t);
	const char *file = strrchr(ct->key, '/');
	char rel[PATH_MAX], *full = NULL;
	int rc;

	if (ct->aside)
		snprintf(rel, sizeof rel, "quarantine/%s/exec_date=%s.%" PRId64 "%s", ti->target,
		         ti->exec_date, clock_now_ms(), file);
	else
		snprintf(rel, sizeof rel, "quarantine/%s/exec_date=%s%s", ti->target,
		         ti->exec_date, file);
	if ((rc = s3_key(ti->s3, rel, &full)) < 0)
		return rc;
	snprintf(ct->dst, sizeof ct->dst, "%s", full);
	free(full);
	if (strcmp(ct->dst, ct->key) == 0)
		return -EALREADY;         /* a retried run's: it is there already */
	return s3_move(ti->s3, ct->key, ct->dst, NULL, s3_quarantined, ct);
}

/* The object is read back: checked against what the fetch published, then
 * scanned as a local file. */
static void spool_done(void *arg, const struct s3_spool_result *r)
{
	struct check_task *ct = arg;
	const struct task_info *ti = task_info(ct->t);
	int rc;

	ct->sp = NULL;
	ct->o = (struct task_outcome){ .outcome = TO_FAILED, .error = ct->msg, .retryable = true };
	if (r->rc == -ECANCELED || atomic_load(&ct->cancel)) {
		ct->o.outcome = TO_CANCELLED;
		ct->o.error = NULL;
		end(ct);
		return;
	}
	if (r->rc < 0) {
		snprintf(ct->msg, sizeof ct->msg, "reading the snapshot back: %s", r->error);
		ct->o.retryable = r->rc != -ENOENT;
		end(ct);
		return;
	}
	if (r->bytes != ct->bytes || (ct->hash[0] && strcmp(ct->hash, r->hash) != 0)) {
		snprintf(ct->msg, sizeof ct->msg, "the snapshot read back is not the one published: "
		         "%" PRIu64 " bytes with hash %s, published %" PRIu64 " bytes with hash %s",
		         r->bytes, r->hash, ct->bytes, ct->hash);
		end(ct);
		return;
	}
	log_info(&ti->log, "read back %" PRIu64 " bytes from S3 in %.2fs (%.0f MB/s)", r->bytes,
	         r->seconds, r->seconds > 0 ? (double)r->bytes / 1e6 / r->seconds : 0.0);
	if ((rc = uv_queue_work(ti->d->loop, &ct->work, work_cb, after_cb)) < 0) {
		snprintf(ct->msg, sizeof ct->msg, "cannot queue the check: %s", uv_strerror(rc));
		end(ct);
	}
}

/* The read-back file, the mirror for .keys; then the GET.  0 or -errno
 * with ERR. */
static int s3_start(struct check_task *ct, const struct task_info *ti, char *err,
                    size_t errlen)
{
	char rel[PATH_MAX];
	int rc;

	if ((rc = partition_dir(ti, ct->path, ct->mirror, sizeof ct->mirror, rel, sizeof rel)) < 0 ||
	    snprintf(ct->keys_out, sizeof ct->keys_out, "%s/.keys", ct->mirror) >=
	    (int)sizeof ct->keys_out ||
	    snprintf(ct->spool, sizeof ct->spool, "%s/work/check-%" PRId64 ".spool",
	             ti->cfg->state_dir, ti->run_id) >= (int)sizeof ct->spool) {
		snprintf(err, errlen, "%s: not a snapshot key of this storage", ct->path);
		return rc < 0 ? rc : -ENAMETOOLONG;
	}
	if ((rc = mkdir_below(ti->cfg->state_dir, "work", 0750)) < 0 ||
	    (rc = mkdir_below(ti->cfg->state_dir, rel, 0750)) < 0) {
		snprintf(err, errlen, "%s: %s", ti->cfg->state_dir, strerror(-rc));
		return rc;
	}
	unlink(ct->spool);                /* an earlier attempt's, cut short */
	ct->in.path = ct->spool;
	if ((rc = s3_spool(ti->d->loop, ti->s3, ct->key, ct->spool, spool_done, ct, &ct->sp)) < 0)
		snprintf(err, errlen, "reading %s back: %s", ct->path, strerror(-rc));
	return rc;
}

/* ---- the task ---- */

static void after_cb(uv_work_t *w, int status)
{
	struct check_task *ct = container_of(w, struct check_task, work);
	struct stask *t = ct->t;
	const struct task_info *ti = task_info(t);
	struct store *st = ti->d->store;
	char *buf = ct->msg, qpath[PATH_MAX];
	size_t len = sizeof ct->msg;
	int rc;

	ct->o = (struct task_outcome){ .outcome = TO_FAILED };
	task_set_impl(t, NULL);
	if (status == UV_ECANCELED || ct->rc == -ECANCELED) {
		ct->o.outcome = TO_CANCELLED;
		goto out;
	}
	if (ct->rc < 0) {
		snprintf(buf, len, "%s", ct->err ? ct->err : strerror(-ct->rc));
		ct->o.error = buf;
		ct->o.retryable = ct->rc != -EINVAL;
		goto out;
	}
	const struct dq_report *r = ct->report;
	if (store_snapshot_checked(st, ct->snapshot_id, (int64_t)r->rows, r->encoding,
	                           r->line_ending) < 0 ||
	    task_check_save(st, ti->run_id, ct->prev_run_id, r) < 0) {
		snprintf(buf, len, "state store: %s", store_errmsg(st));
		ct->o.error = buf;
		ct->o.retryable = true;
		goto out;
	}
	if (r->outcome == DQ_WARN) {
		list_results(r, DQ_WARN, buf, len);
		log_warn(&ti->log, "checks warn: %s", buf);
	}
	if (r->outcome != DQ_FAIL) {
		log_info(&ti->log, "checked %" PRIu64 " rows (%s, %s) in %.2fs: %s", r->rows,
		         r->encoding, r->line_ending, r->seconds, dq_outcome_name(r->outcome));
		ct->o.outcome = TO_SUCCEEDED;
		goto out;
	}
	int n = snprintf(buf, len, "checks failed, snapshot quarantined: ");
	list_results(r, DQ_FAIL, buf + n, len - (size_t)n);
	ct->o.error = buf;
	if (ct->key[0]) {
		if ((rc = s3_quarantine(ct)) == 0)
			return;                   /* s3_quarantined() ends it */
		if (rc != -EALREADY)
			append(ct, "moving it to quarantine", strerror(-rc));
	} else if ((rc = quarantine(ti, ct->path, qpath, sizeof qpath)) < 0) {
		append(ct, "moving it to quarantine", strerror(-rc));
	} else if (store_snapshot_quarantined(st, ct->snapshot_id, qpath) < 0) {
		log_err(&ti->log, "state store: %s", store_errmsg(st));
	}
out:
	task_done(t, &ct->o);
	check_free(ct);
}

/* The previous snapshot still in staging, other than this run's: its rows
 * and key index feed the row_count change and the diff. */
static void previous(struct check_task *ct, const struct task_info *ti)
{
	struct store_snapshot *list = NULL;
	size_t n = 0;
	char dir[PATH_MAX];

	ct->in.prev_rows = -1;
	ct->in.prev_keys = NULL;
	if (store_snapshots_published(ti->d->store, ti->target, &list, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (list[i].run_id == ti->run_id || list[i].id == ct->snapshot_id ||
		    strcmp(list[i].exec_date, ti->exec_date) > 0)
			continue;
		ct->in.prev_rows = list[i].rows;
		ct->prev_run_id = list[i].run_id;
		if (partition_dir(ti, list[i].path, dir, sizeof dir, NULL, 0) == 0 &&
		    snprintf(ct->prev_keys, sizeof ct->prev_keys, "%s/.keys", dir) <
		    (int)sizeof ct->prev_keys)
			ct->in.prev_keys = ct->prev_keys;
		break;
	}
	store_snapshots_free(list, n);
}

static int check_start(struct stask *t, char *err, size_t errlen, bool *retryable)
{
	const struct task_info *ti = task_info(t);
	struct check_task *ct = calloc(1, sizeof *ct);
	struct store_snapshot_ref snap;
	const char *key;
	char dir[PATH_MAX];
	int rc;

	*retryable = false;
	if (!ct) {
		*retryable = true;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((rc = store_snapshot_of_run(ti->d->store, ti->run_id, &snap)) < 0) {
		if (rc == -ENOENT)
			snprintf(err, errlen, "no snapshot recorded for run %" PRId64, ti->run_id);
		else
			snprintf(err, errlen, "state store: %s", store_errmsg(ti->d->store));
		*retryable = rc != -ENOENT;
		free(ct);
		return rc;
	}
	ct->t = t;
	ct->snapshot_id = snap.id;
	ct->bytes = snap.bytes;
	key = s3_uri_key(ti->s3, snap.path);
	snprintf(ct->hash, sizeof ct->hash, "%s", snap.hash ? snap.hash : "");
	rc = snprintf(ct->path, sizeof ct->path, "%s", snap.path) >= (int)sizeof ct->path ||
	     (key && snprintf(ct->key, sizeof ct->key, "%s", key) >= (int)sizeof ct->key) ||
	     (!key && (path_parent(snap.path, dir, sizeof dir) < 0 ||
	               snprintf(ct->keys_out, sizeof ct->keys_out, "%s/.keys", dir) >=
	               (int)sizeof ct->keys_out)) ? -ENAMETOOLONG : 0;
	store_snapshot_ref_clear(&snap);
	if (rc < 0) {
		snprintf(err, errlen, "snapshot path too long");
		free(ct);
		return rc;
	}
	previous(ct, ti);
	ct->in.path = ct->path;
	ct->in.dataset = ti->dataset;
	ct->in.exec_date = ti->exec_date;
	ct->in.keys_out = ct->keys_out;
	ct->in.cancel = &ct->cancel;
	ct->in.progress = &ct->progress;
	ct->in.threads = ti->cfg->limits.check_threads;
	if (ct->key[0])
		rc = s3_start(ct, ti, err, errlen);
	else if ((rc = uv_queue_work(ti->d->loop, &ct->work, work_cb, after_cb)) < 0)
		snprintf(err, errlen, "cannot queue the check: %s", uv_strerror(rc));
	if (rc < 0) {
		*retryable = true;
		check_free(ct);
		return rc;
	}
	task_set_impl(t, ct);
	return 0;
}

static void check_cancel(struct stask *t)
{
	struct check_task *ct = task_impl(t);

	if (!ct)
		return;
	atomic_store(&ct->cancel, 1);
	if (ct->sp)
		s3_spool_cancel(ct->sp);
	else
		uv_cancel((uv_req_t *)&ct->work);   /* only if it has not started */
}

static void check_progress(const struct stask *t, json_t *out)
{
	struct check_task *ct = task_impl(t);

	if (!ct)
		return;
	json_object_set_new(out, "bytes_done", json_integer((json_int_t)atomic_load(&ct->progress)));
	json_object_set_new(out, "bytes_total", json_integer((json_int_t)ct->bytes));
}

const struct task_kind task_kind_check = {
	.name = "check",
	.cls = TC_CHECK,
	.start = check_start,
	.cancel = check_cancel,
	.progress = check_progress,
};
