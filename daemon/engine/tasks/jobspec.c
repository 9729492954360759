/*
 * jobspec.c - where the jobs find the data (jobspec.h): local paths under
 * state_dir, or with storage: s3 the s3a:// names of domain/s3a.h, and the
 * spec file a configured job (the report) reads them from.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "domain/s3a.h"
#include "engine/tasks/jobspec.h"

int jobspec_path(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int jobspec_datastore(const struct config *cfg, const char *dataset, char *out, size_t len)
{
	char *uri;
	int rc;

	if (cfg->storage.type != STORAGE_S3)
		return jobspec_path(out, len, "%s/datastore%s%s", cfg->state_dir,
		                    dataset ? "/" : "", dataset ? dataset : "");
	if ((rc = s3a_datastore(&cfg->storage, dataset, &uri)) < 0)
		return rc;
	rc = jobspec_path(out, len, "%s", uri);
	free(uri);
	return rc;
}

int jobspec_input(const char *path, char **out)
{
	if (strncmp(path, "s3://", 5) == 0)
		return s3a_uri(path, out);
	return (*out = strdup(path)) ? 0 : -ENOMEM;
}

json_t *jobspec_storage(const struct config *cfg)
{
	const struct cfg_storage *st = &cfg->storage;

	if (st->type != STORAGE_S3)
		return json_null();
	return json_pack("{s:s, s:s, s:s, s:b}", "type", "s3", "endpoint", st->endpoint,
	                 "region", st->region ? st->region : "us-east-1",
	                 "path_style", st->path_style);
}

int jobspec_storage_text(const struct config *cfg, char *out, size_t len)
{
	json_t *j = jobspec_storage(cfg);
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	int rc = text ? jobspec_path(out, len, "%s", text) : -ENOMEM;

	free(text);
	json_decref(j);
	return rc;
}

void jobspec_push_conf(const struct config *cfg, struct argv_buf *a)
{
	const struct cfg_spark *sp = &cfg->spark;
	struct s3a_conf c;

	for (size_t i = 0; i < sp->n_conf; i++) {
		argv_push(a, "--conf");
		argv_pushf(a, "%s=%s", sp->conf_keys[i], sp->conf_values[i]);
	}
	if (s3a_conf_build(&cfg->storage, sp, &c) < 0) {
		a->failed = true;
		return;
	}
	for (size_t i = 0; i < c.n; i++) {
		argv_push(a, "--conf");
		argv_pushf(a, "%s=%s", c.keys[i], c.values[i]);
	}
	s3a_conf_free(&c);
}

int jobspec_write(const char *path, json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = write_atomic(path, text, strlen(text), 0640);
	free(text);
	return rc;
}

int jobspec_job(const struct task_info *ti, const char *datastore, char *spec, char *err,
                size_t errlen)
{
	const char *state_dir = ti->cfg->state_dir;
	char dir[PATH_MAX];
	json_t *j;
	int rc;

	if (jobspec_path(dir, sizeof dir, "%s/work/run-%" PRId64, state_dir, ti->run_id) < 0 ||
	    jobspec_path(spec, PATH_MAX, "%s/spec.json", dir) < 0) {
		snprintf(err, errlen, "state_dir path too long");
		return -ENAMETOOLONG;
	}
	if ((rc = mkdir_below(state_dir, dir + strlen(state_dir) + 1, 0750)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	j = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:o}", "version", 1, "job", ti->target,
	              "exec_date", ti->exec_date, "run_id", (json_int_t)ti->run_id,
	              "timezone", ti->cfg->timezone, "datastore", datastore,
	              "storage", jobspec_storage(ti->cfg));
	rc = j ? jobspec_write(spec, j) : -ENOMEM;
	json_decref(j);
	if (rc < 0)
		snprintf(err, errlen, "writing %s: %s", spec, strerror(-rc));
	return rc;
}
