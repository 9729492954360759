/*
 * task_convert.c - the convert task: write the spec for jobs/convert.py,
 * run it through job.c (with spark-submit, or in Spark modes managed and
 * external as a Connect client: `<spark.python> convert.py --spec F` with
 * SPARK_REMOTE in its environment, task_proc.c), check the manifest it
 * leaves (CONTRACTS.md section 4).
 *
 * With storage: s3 the spec names the snapshot and the datastore by their
 * s3a:// URIs and says where the bucket is (`storage`); the keys reach the
 * job in its environment only (task_proc.c), the s3a settings on
 * spark-submit's command line (jobspec.h), or the managed server's.
 *
 * Files: state_dir/work/run-<id>/convert.json (spec, written atomically
 * before each attempt) and manifest.json (written by the job; a stale one
 * from an earlier attempt is removed first, so a manifest always belongs to
 * the attempt that just ended).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "io/job.h"
#include "store/store.h"
#include "engine/tasks/jobspec.h"
#include "engine/tasks/task_proc.h"
#include "engine/tasks/tasks.h"

#define MANIFEST_MAX (1024 * 1024)
#define CONVERT_KILL_GRACE_MS 30000   /* Spark gets time to clean up */

struct convert_ctx {
	int64_t rows_checked;
	char manifest[PATH_MAX];
};

static json_t *strlist_json(const struct strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++)
		json_array_append_new(a, json_string(l->items[i]));
	return a;
}

/* The spec of CONTRACTS.md section 4: INPUT is the snapshot as the job
 * reads it (a local path, or s3a://), DATASTORE the dataset's root, and
 * `storage` says which (never a secret: the keys are in the job's
 * environment). */
static json_t *spec_json(const struct task_info *ti, const struct store_snapshot_ref *snap,
                         const char *input, const char *datastore, const char *manifest)
{
	const struct cfg_dataset *ds = ti->dataset;
	const struct cfg_schema *sc = &ds->schema;
	json_t *cols = json_array(), *spec;

	for (size_t i = 0; cols && i < sc->n_columns; i++) {
		const struct cfg_column *c = &sc->columns[i];
		json_array_append_new(cols, json_pack("{s:s, s:s, s:o, s:o, s:b, s:o}",
		        "name", c->name, "type", config_col_type_name(c->type),
		        "aliases", strlist_json(&c->aliases), "formats", strlist_json(&c->formats),
		        "required", c->required, "nulls", strlist_json(&c->nulls)));
	}
	spec = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o,"
	                 " s:s, s:s}",
	                 "version", 1, "dataset", ds->name, "exec_date", ti->exec_date,
	                 "run_id", (json_int_t)ti->run_id, "timezone", ti->cfg->timezone,
	                 "input", input,
	                 "encoding", snap->encoding ? snap->encoding : "utf-8",
	                 "line_ending", snap->line_ending ? snap->line_ending : "lf",
	                 "rows_checked", (json_int_t)snap->rows,
	                 "key", strlist_json(&sc->key),
	                 "event_time", sc->event_time ? json_string(sc->event_time) : json_null(),
	                 "timestamp_formats", strlist_json(&sc->timestamp_formats),
	                 "columns", cols ? cols : json_null(),
	                 "datastore", datastore, "manifest", manifest);
	/* what the datastore's provenance record names (jobs/datastore.py):
	 * the snapshot as fetched */
	if (spec) {
		json_object_set_new(spec, "snapshot_id", json_integer((json_int_t)snap->id));
		json_object_set_new(spec, "snapshot_hash",
		                    snap->hash ? json_string(snap->hash) : json_null());
		json_object_set_new(spec, "snapshot_bytes", json_integer((json_int_t)snap->bytes));
		json_object_set_new(spec, "storage", jobspec_storage(ti->cfg));
		/* the window that tells aged-out rows from withdrawn ones (jobs/
		 * convert.py, "Removed rows"); null: from the earliest event */
		json_object_set_new(spec, "window_seconds",
		                    ds->window_ms ? json_integer((json_int_t)(ds->window_ms / 1000))
		                                  : json_null());
	}
	return spec;
}

static void convert_after(struct stask *t, void *arg, struct task_outcome *o, char *buf,
                          size_t len)
{
	struct convert_ctx *c = arg;
	json_error_t jerr;
	json_t *m = json_load_file(c->manifest, JSON_REJECT_DUPLICATES, &jerr);
	json_t *rows = m ? json_object_get(m, "rows_read") : NULL;
	struct stat st;

	o->outcome = TO_FAILED;
	o->retryable = false;
	o->error = buf;
	if (stat(c->manifest, &st) == 0 && st.st_size > MANIFEST_MAX) {
		snprintf(buf, len, "manifest %s is %lld bytes (over %d)", c->manifest,
		         (long long)st.st_size, MANIFEST_MAX);
	} else if (!m) {
		snprintf(buf, len, "convert exited 0 but left no readable manifest %s: %s",
		         c->manifest, jerr.text);
	} else if (json_integer_value(json_object_get(m, "version")) != 1 ||
	           !json_is_integer(rows)) {
		snprintf(buf, len, "manifest %s: not version 1 with an integer rows_read",
		         c->manifest);
	} else if (json_integer_value(rows) != c->rows_checked) {
		snprintf(buf, len, "convert read %" PRId64 " rows but the check counted %" PRId64
		         " (manifest %s)", (int64_t)json_integer_value(rows), c->rows_checked,
		         c->manifest);
	} else {
		o->outcome = TO_SUCCEEDED;
		o->error = NULL;
	}
	json_decref(m);
}

/* The programs of a conversion into PROG and SCRIPT (PATH_MAX bytes each):
 * spark-submit (found in PATH), or with a Connect endpoint (REMOTE) the
 * Python of spark.python (default python3), and jobs_dir's convert.py. */
static int find_programs(const struct cfg_spark *sp, bool remote, char *prog, char *script,
                         char *err, size_t errlen)
{
	const char *py = sp->python ? sp->python : "python3";

	if (remote && proc_which(py, prog, PATH_MAX) < 0) {
		snprintf(err, errlen, "%s not found (spark.python): the convert job runs as a "
		         "Spark Connect client with it; set spark.python to the Python that has "
		         "pyspark[connect]", py);
		return -ENOENT;
	}
	if (!remote && proc_which(sp->submit, prog, PATH_MAX) < 0) {
		snprintf(err, errlen, "spark-submit not found (spark.submit: \"%s\"): install "
		         "PySpark (scripts/setup puts it in the project's .venv) and put its bin/ "
		         "in PATH, or set spark.submit to the path of spark-submit", sp->submit);
		return -ENOENT;
	}
	snprintf(script, PATH_MAX, "%s/convert.py", sp->jobs_dir ? sp->jobs_dir : ".");
	if (access(script, R_OK) < 0) {
		snprintf(err, errlen, "%s: %s (spark.jobs_dir)", script, strerror(errno));
		return -ENOENT;
	}
	return 0;
}

/* The attempt's files (state_dir/work/run-<id>/): the directory
 * made, C's manifest path with no stale manifest there, the spec written
 * to SPEC_PATH (PATH_MAX) from SNAP.  0, or -errno with ERR set and
 * *RETRYABLE. */
static int write_spec(const struct task_info *ti, const struct store_snapshot_ref *snap,
                      struct convert_ctx *c, char *spec_path, char *err, size_t errlen,
                      bool *retryable)
{
	const char *state_dir = ti->cfg->state_dir;
	char dir[PATH_MAX], datastore[PATH_MAX], *input = NULL;
	json_t *spec;
	int rc;

	if (jobspec_path(dir, sizeof dir, "%s/work/run-%" PRId64, state_dir, ti->run_id) < 0 ||
	    jobspec_datastore(ti->cfg, ti->dataset->name, datastore, sizeof datastore) < 0 ||
	    jobspec_path(spec_path, PATH_MAX, "%s/convert.json", dir) < 0 ||
	    jobspec_path(c->manifest, sizeof c->manifest, "%s/manifest.json", dir) < 0) {
		snprintf(err, errlen, "state_dir path too long");
		return -ENAMETOOLONG;
	}
	if ((rc = mkdir_below(state_dir, dir + strlen(state_dir) + 1, 0750)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		*retryable = true;
		return rc;
	}
	if (unlink(c->manifest) < 0 && errno != ENOENT) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", c->manifest, strerror(errno));
		return rc;
	}
	if (jobspec_input(snap->path, &input) < 0) {
		snprintf(err, errlen, "out of memory");
		*retryable = true;
		return -ENOMEM;
	}
	spec = spec_json(ti, snap, input, datastore, c->manifest);
	free(input);
	rc = spec ? jobspec_write(spec_path, spec) : -ENOMEM;
	json_decref(spec);
	if (rc < 0) {
		snprintf(err, errlen, "writing %s: %s", spec_path, strerror(-rc));
		*retryable = true;
	}
	return rc;
}

/* The argv for SCRIPT on SPEC_PATH into A (A->failed on ENOMEM): PROG is
 * spark-submit (with spark.conf and, in storage: s3, the s3a settings as
 * --conf: jobspec.h), or with REMOTE (a Connect endpoint) the Python that
 * runs the script as a thin client; the session's settings are then the
 * server's (spark.conf and the s3a settings are on its command line). */
static void build_argv(const struct config *cfg, bool remote, const char *prog,
                       const char *script, const char *spec_path, struct argv_buf *a)
{
	const struct cfg_spark *sp = &cfg->spark;

	argv_push(a, prog);
	if (!remote) {
		argv_push(a, "--master");
		argv_push(a, sp->master ? sp->master : "local[2]");
		argv_push(a, "--driver-memory");
		argv_pushf(a, "%" PRIu64 "m", sp->driver_memory / (1024 * 1024));
		jobspec_push_conf(cfg, a);
	}
	argv_push(a, script);
	argv_push(a, "--spec");
	argv_push(a, spec_path);
}

/* The snapshot of the attempt's run, with its checked row count. */
static int checked_snapshot(const struct task_info *ti, struct store_snapshot_ref *snap,
                            char *err, size_t errlen, bool *retryable)
{
	int rc = store_snapshot_of_run(ti->d->store, ti->run_id, snap);

	if (rc < 0) {
		if (rc == -ENOENT)
			snprintf(err, errlen, "no snapshot recorded for run %" PRId64
			         " (the fetch task records it)", ti->run_id);
		else
			snprintf(err, errlen, "state store: %s", store_errmsg(ti->d->store));
		*retryable = rc != -ENOENT;
		return rc;
	}
	if (snap->rows < 0) {
		snprintf(err, errlen, "the check task has not recorded a row count for %s",
		         snap->path);
		store_snapshot_ref_clear(snap);
		return -ENODATA;
	}
	return 0;
}

static int convert_start(struct stask *t, char *err, size_t errlen, bool *retryable)
{
	const struct task_info *ti = task_info(t);
	const struct cfg_spark *sp = &ti->cfg->spark;
	struct store_snapshot_ref snap;
	struct argv_buf a = { 0 };
	struct convert_ctx *c = NULL;
	char spec_path[PATH_MAX], prog[PATH_MAX], script[PATH_MAX];
	bool remote = ti->spark_remote != NULL;
	int rc;

	*retryable = false;
	if ((rc = checked_snapshot(ti, &snap, err, errlen, retryable)) < 0)
		return rc;
	if ((rc = find_programs(sp, remote, prog, script, err, errlen)) < 0)
		goto out;
	if (!(c = calloc(1, sizeof *c))) {
		rc = -ENOMEM;
		*retryable = true;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	c->rows_checked = snap.rows;
	if ((rc = write_spec(ti, &snap, c, spec_path, err, errlen, retryable)) < 0)
		goto out;
	build_argv(ti->cfg, remote, prog, script, spec_path, &a);
	if (a.failed) {
		rc = -ENOMEM;
		*retryable = true;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	struct proc_launch l = {
		.argv = a.v, .env = NULL, .spec = spec_path, .timeout_ms = ti->dataset->convert_timeout_ms,
		.kill_grace_ms = CONVERT_KILL_GRACE_MS, .after = convert_after, .ctx = c,
		.ctx_free = free,
	};
	a.v = NULL;
	c = NULL;
	rc = proc_start(t, &l, err, errlen, retryable);
out:
	job_strv_free(a.v);
	free(c);
	store_snapshot_ref_clear(&snap);
	return rc;
}

const struct task_kind task_kind_convert = {
	.name = "convert",
	.cls = TC_PROC,
	.start = convert_start,
	.cancel = proc_cancel,
};
