/*
 * task_convert.c - the convert task: write the spec for jobs/convert.py,
 * run spark-submit through job.c, check the manifest it leaves
 * (CONTRACTS.md section 4).
 *
 * Files: state_dir/work/run-<id>/convert.json (spec, written atomically
 * before each attempt) and manifest.json (written by the job; a stale one
 * from an earlier attempt is removed first, so a manifest always belongs to
 * the attempt that just ended).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/job.h"
#include "store/store.h"
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

/* The spec of CONTRACTS.md section 4. */
static json_t *spec_json(const struct task_info *ti, const struct store_snapshot_ref *snap,
                         const char *datastore, const char *manifest)
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
	                 "input", snap->path,
	                 "encoding", snap->encoding ? snap->encoding : "utf-8",
	                 "line_ending", snap->line_ending ? snap->line_ending : "lf",
	                 "rows_checked", (json_int_t)snap->rows,
	                 "key", strlist_json(&sc->key),
	                 "event_time", sc->event_time ? json_string(sc->event_time) : json_null(),
	                 "timestamp_formats", strlist_json(&sc->timestamp_formats),
	                 "columns", cols ? cols : json_null(),
	                 "datastore", datastore, "manifest", manifest);
	return spec;
}

/* snprintf into a path buffer; -ENAMETOOLONG when it does not fit. */
static int path_fmt(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int path_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* mkdir -p for the two levels under state_dir. */
static int make_dir(const char *path)
{
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Write J to PATH atomically (temp file, fsync, rename). */
static int write_json(const char *path, json_t *j)
{
	char tmp[PATH_MAX];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (json_dumpfd(j, fd, JSON_INDENT(1) | JSON_SORT_KEYS) < 0)
		rc = -EIO;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
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

static int convert_start(struct stask *t, char *err, size_t errlen, bool *retryable)
{
	const struct task_info *ti = task_info(t);
	const struct config *cfg = ti->cfg;
	const struct cfg_spark *sp = &cfg->spark;
	struct store_snapshot_ref snap;
	struct argv_buf a = { 0 };
	struct convert_ctx *c = NULL;
	char work[PATH_MAX], dir[PATH_MAX], spec_path[PATH_MAX], datastore[PATH_MAX];
	char submit[PATH_MAX], script[PATH_MAX];
	json_t *spec = NULL;
	int rc;

	*retryable = false;
	rc = store_snapshot_of_run(ti->d->store, ti->run_id, &snap);
	if (rc < 0) {
		if (rc == -ENOENT)
			snprintf(err, errlen, "no snapshot recorded for run %" PRId64
			         " (the fetch task records it)", ti->run_id);
		else
			snprintf(err, errlen, "state store: %s", store_errmsg(ti->d->store));
		*retryable = rc != -ENOENT;
		return rc;
	}
	if (snap.rows < 0) {
		snprintf(err, errlen, "the check task has not recorded a row count for %s",
		         snap.path);
		rc = -ENODATA;
		goto out;
	}
	if (proc_which(sp->submit, submit, sizeof submit) < 0) {
		snprintf(err, errlen, "spark-submit not found (spark.submit: \"%s\"): install "
		         "PySpark (scripts/setup puts it in the project's .venv) and put its bin/ "
		         "in PATH, or set spark.submit to the path of spark-submit", sp->submit);
		rc = -ENOENT;
		goto out;
	}
	snprintf(script, sizeof script, "%s/convert.py", sp->jobs_dir ? sp->jobs_dir : ".");
	if (access(script, R_OK) < 0) {
		snprintf(err, errlen, "%s: %s (spark.jobs_dir)", script, strerror(errno));
		rc = -ENOENT;
		goto out;
	}
	if (!(c = calloc(1, sizeof *c))) {
		rc = -ENOMEM;
		*retryable = true;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	c->rows_checked = snap.rows;
	if (path_fmt(work, sizeof work, "%s/work", cfg->state_dir) < 0 ||
	    path_fmt(dir, sizeof dir, "%s/run-%" PRId64, work, ti->run_id) < 0 ||
	    path_fmt(datastore, sizeof datastore, "%s/datastore/%s", cfg->state_dir,
	             ti->dataset->name) < 0 ||
	    path_fmt(spec_path, sizeof spec_path, "%s/convert.json", dir) < 0 ||
	    path_fmt(c->manifest, sizeof c->manifest, "%s/manifest.json", dir) < 0) {
		snprintf(err, errlen, "state_dir path too long");
		rc = -ENAMETOOLONG;
		goto out;
	}
	if ((rc = make_dir(work)) < 0 || (rc = make_dir(dir)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		*retryable = true;
		goto out;
	}
	if (unlink(c->manifest) < 0 && errno != ENOENT) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", c->manifest, strerror(errno));
		goto out;
	}
	spec = spec_json(ti, &snap, datastore, c->manifest);
	if (!spec || (rc = write_json(spec_path, spec)) < 0) {
		rc = spec ? rc : -ENOMEM;
		snprintf(err, errlen, "writing %s: %s", spec_path, strerror(-rc));
		*retryable = true;
		goto out;
	}
	argv_push(&a, submit);
	argv_push(&a, "--master");
	argv_push(&a, sp->master ? sp->master : "local[2]");
	argv_push(&a, "--driver-memory");
	argv_pushf(&a, "%" PRIu64 "m", sp->driver_memory / (1024 * 1024));
	for (size_t i = 0; i < sp->n_conf; i++) {
		argv_push(&a, "--conf");
		argv_pushf(&a, "%s=%s", sp->conf_keys[i], sp->conf_values[i]);
	}
	argv_push(&a, script);
	argv_push(&a, "--spec");
	argv_push(&a, spec_path);
	if (a.failed) {
		rc = -ENOMEM;
		*retryable = true;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	struct proc_launch l = {
		.argv = a.v, .env = NULL, .timeout_ms = ti->dataset->convert_timeout_ms,
		.kill_grace_ms = CONVERT_KILL_GRACE_MS, .after = convert_after, .ctx = c,
		.ctx_free = free,
	};
	a.v = NULL;
	c = NULL;
	rc = proc_start(t, &l, err, errlen, retryable);
out:
	job_strv_free(a.v);
	free(c);
	json_decref(spec);
	store_snapshot_ref_free(&snap);
	return rc;
}

const struct task_kind task_kind_convert = {
	.name = "convert",
	.cls = TC_PROC,
	.start = convert_start,
	.cancel = proc_cancel,
};
