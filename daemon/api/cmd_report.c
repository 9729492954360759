/*
 * cmd_report.c - the `report` control command (cmd_report.h): reads
 * state_dir/reports/exec_date=D/report.json, takes its `state` (per
 * dataset: the fingerprint and commit records of the datastore as the
 * report job read it, jobs/report/queries.py) and sets beside it the
 * datastore's state now (fingerprint.c), so the reader learns whether the
 * report still describes the datastore.
 *
 * With storage: s3 the datastore is in the bucket: the reply is deferred
 * (control_defer) and the datasets are read one after the other by S3
 * requests on the loop (fingerprint_s3.h), never waited for.  Without the
 * engine's S3 client (none made) the state now is not read: the reply
 * carries the report's state with "now_read": false and "changed": null
 * (top and per dataset, never a guess), and denverctl says so in words.
 *
 * Blocking: the handler reads report.json on the loop thread, and in local
 * mode fingerprints each dataset there too: one directory listing per
 * month and one footer read per Parquet file (a few hundred small reads
 * for years of data), the same order of cost as the store's queries that
 * other commands make.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/args.h"
#include "api/cmd_report.h"
#include "api/control.h"
#include "api/fingerprint.h"
#include "api/fingerprint_s3.h"
#include "base/denverd.h"
#include "base/macro.h"
#include "denverd/protocol.h"
#include "domain/config_types.h"
#include "domain/s3a.h"
#include "engine/engine.h"

#define REPORT_JSON_MAX (64 * 1024 * 1024)
#define NEWER_MAX       20      /* newer commit records in the reply, the newest */
#define DIR_PREFIX      "exec_date="

/* The newest exec_date=D directory of REPORTS holding a report.json, its
 * date into DATE (11 bytes).  0, -ENOENT when there is none. */
static int newest_report(const char *reports, char *date)
{
	DIR *dir = opendir(reports);
	struct dirent *e;
	int rc = -ENOENT;

	if (!dir)
		return errno == ENOENT ? -ENOENT : -errno;
	while ((e = readdir(dir))) {
		const char *d = e->d_name + strlen(DIR_PREFIX);
		char path[PATH_MAX];
		struct stat st;

		if (strncmp(e->d_name, DIR_PREFIX, strlen(DIR_PREFIX)) != 0 || strlen(d) != 10)
			continue;
		if (snprintf(path, sizeof path, "%s/%s/report.json", reports, e->d_name) >=
		        (int)sizeof path || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (rc < 0 || strcmp(d, date) > 0) {
			memcpy(date, d, 11);
			rc = 0;
		}
	}
	closedir(dir);
	return rc;
}

/* A dataset name as the configuration allows it (and safe in a path). */
static bool good_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* A reply being built: the report read, the entries so far. */
struct rep {
	json_t *report;              /* owned */
	json_t *state;               /* its "state", or NULL */
	char date[11], path[PATH_MAX];
	char *where;                 /* the datastore's root, owned */
	bool now_read, any_changed;
	json_t *list;                /* the entries, owned */
	/* S3: the request deferred, and the dataset being read */
	struct control_pending *pend;
	struct s3_client *s3;
	void *iter;                  /* into state */
};

static void rep_free(struct rep *r)
{
	json_decref(r->report);
	json_decref(r->list);
	free(r->where);
	free(r);
}

/* Is NAME's state THEN an entry the reply can be made of? */
static int check_entry(const char *name, json_t *then, struct control_error *err)
{
	if (!good_name(name) || !json_is_object(then))
		return control_error(err, -EINVAL, PROTO_EINTERNAL,
		                     "report.json: state: bad dataset entry \"%s\"", name);
	return 0;
}

/* The reply's entry of dataset NAME, whose state in the report is THEN,
 * appended to R's list: with the state now (FP, LAST, NEWER: borrowed)
 * or, FP NULL, "changed" and "now" null (not read). */
static int add_entry(struct rep *r, const char *name, json_t *then,
                     const struct fingerprint *fp, int64_t last, json_t *newer,
                     struct control_error *err)
{
	json_int_t then_seq = json_integer_value(json_object_get(then, "commit_count"));
	const char *then_fp = json_string_value(json_object_get(then, "fingerprint"));
	bool changed = fp && (!then_fp || strcmp(then_fp, fp->digest) != 0 || last != then_seq);
	json_t *o = json_deep_copy(then);
	int bad = !o || json_object_set_new(o, "name", json_string(name)) < 0 ||
	          json_object_set_new(o, "changed", fp ? json_boolean(changed) : json_null()) < 0;

	if (!bad && !fp)
		bad = json_object_set_new(o, "now", json_null()) < 0;
	else if (!bad)
		bad = json_object_set_new(o, "newer_commits",
		                          json_integer(last > then_seq ? last - then_seq : 0)) < 0 ||
		      json_object_set(o, "newer", newer) < 0 ||
		      json_object_set_new(o, "now", json_pack("{s:s, s:I, s:I, s:I}",
		              "fingerprint", fp->digest, "files", (json_int_t)fp->files,
		              "bytes", (json_int_t)fp->bytes, "commit_count", (json_int_t)last)) < 0;
	if (bad || json_array_append_new(r->list, o) < 0) {
		if (bad)
			json_decref(o);
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	}
	r->any_changed |= changed;
	return 0;
}

/* The entry of dataset NAME read from DIR on the local file system. */
static int local_entry(struct rep *r, const char *state_dir, const char *name, json_t *then,
                       struct control_error *err)
{
	json_int_t then_seq = json_integer_value(json_object_get(then, "commit_count"));
	struct fingerprint fp;
	char dir[PATH_MAX];
	int64_t last = 0;
	json_t *newer;
	int rc;

	if (snprintf(dir, sizeof dir, "%s/datastore/%s", state_dir, name) >= (int)sizeof dir)
		return control_error(err, -ENAMETOOLONG, PROTO_EINTERNAL, "%s: path too long", name);
	if ((rc = datastore_fingerprint(dir, &fp)) < 0)
		return control_error(err, rc, PROTO_EINTERNAL, "%s: fingerprint: %s", dir,
		                     strerror(-rc));
	if (!(newer = json_array()))
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	if ((rc = datastore_commits(dir, then_seq, NEWER_MAX, &last, newer)) < 0)
		rc = control_error(err, rc, PROTO_EINTERNAL, "%s/_denverd/commits: %s", dir,
		                   strerror(-rc));
	else
		rc = add_entry(r, name, then, &fp, last, newer, err);
	json_decref(newer);
	return rc;
}

/* R's reply into *RESULT (caller's). */
static int rep_result(const struct rep *r, json_t **result, struct control_error *err)
{
	*result = json_pack("{s:s, s:s, s:b, s:o, s:b, s:s, s:O}", "exec_date", r->date,
	                    "path", r->path, "state_recorded", json_is_object(r->state),
	                    "changed", r->now_read ? json_boolean(r->any_changed) : json_null(),
	                    "now_read", r->now_read, "datastore", r->where, "datasets", r->list);
	return *result ? 0 : control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
}

static int s3_next(struct rep *r, struct control_error *err);

/* One dataset read from S3: its entry, then the next, or the answer. */
static void s3_read(void *arg, int rc, const char *error, const struct fingerprint *fp,
                    int64_t last, json_t *newer)
{
	struct rep *r = arg;
	struct control_error err = { PROTO_EINTERNAL, "" };
	const char *name = json_object_iter_key(r->iter);
	json_t *result = NULL;

	if (rc < 0)
		rc = control_error(&err, rc, PROTO_EINTERNAL, "%s: fingerprint on S3: %s", name,
		                   error);
	else
		rc = add_entry(r, name, json_object_iter_value(r->iter), fp, last, newer, &err);
	if (rc == 0) {
		r->iter = json_object_iter_next(r->state, r->iter);
		if ((rc = s3_next(r, &err)) == CONTROL_DEFERRED)
			return;
	}
	if (rc == 0)
		rc = rep_result(r, &result, &err);
	control_answer(r->pend, result, rc < 0 ? &err : NULL);
	json_decref(result);
	rep_free(r);
}

/* Start reading the dataset at R's iter: CONTROL_DEFERRED; 0 when none is
 * left; or a negative errno with ERR. */
static int s3_next(struct rep *r, struct control_error *err)
{
	const char *name = json_object_iter_key(r->iter);
	json_t *then = json_object_iter_value(r->iter);
	int rc;

	if (!r->iter)
		return 0;
	rc = datastore_fingerprint_s3(r->s3, name, json_integer_value(json_object_get(then,
	                              "commit_count")), NEWER_MAX, s3_read, r);
	if (rc < 0)
		return control_error(err, rc, PROTO_EINTERNAL, "%s: fingerprint on S3: %s", name,
		                     strerror(-rc));
	return CONTROL_DEFERRED;
}

/* report.json of R's date (or the newest) into R. */
static int read_report(struct rep *r, const char *state_dir, json_t *args,
                       struct control_error *err)
{
	char reports[PATH_MAX];
	const char *given;
	json_error_t jerr;
	struct stat st;
	int64_t day;
	int rc;

	if ((rc = arg_date(args, "date", false, &day, &given, err)) < 0)
		return rc;
	if (snprintf(reports, sizeof reports, "%s/reports", state_dir) >= (int)sizeof reports)
		return control_error(err, -ENAMETOOLONG, PROTO_EINTERNAL, "state_dir too long");
	if (given) {
		snprintf(r->date, sizeof r->date, "%s", given);
	} else if ((rc = newest_report(reports, r->date)) < 0) {
		return control_error(err, rc, rc == -ENOENT ? PROTO_ENOENT : PROTO_EINTERNAL,
		                     "no report under %s%s%s", reports, rc == -ENOENT ? "" : ": ",
		                     rc == -ENOENT ? "" : strerror(-rc));
	}
	if (snprintf(r->path, sizeof r->path, "%s/" DIR_PREFIX "%s/report.json", reports,
	             r->date) >= (int)sizeof r->path)
		return control_error(err, -ENAMETOOLONG, PROTO_EINTERNAL, "state_dir too long");
	if (stat(r->path, &st) < 0)
		return control_error(err, -errno, errno == ENOENT ? PROTO_ENOENT : PROTO_EINTERNAL,
		                     "%s: %s", r->path, strerror(errno));
	if (st.st_size > REPORT_JSON_MAX)
		return control_error(err, -EFBIG, PROTO_EINTERNAL, "%s: %lld bytes (over %d)",
		                     r->path, (long long)st.st_size, REPORT_JSON_MAX);
	r->report = json_load_file(r->path, 0, &jerr);
	if (!json_is_object(r->report))
		return control_error(err, -EBADMSG, PROTO_EINTERNAL, "%s: %s", r->path,
		                     r->report ? "not an object" : jerr.text);
	r->state = json_object_get(r->report, "state");
	if (!json_is_object(r->state))
		r->state = NULL;
	return 0;
}

static int cmd_report(struct denverd *d, struct control_client *c, json_t *args,
                      json_t **result, struct control_error *err)
{
	const char *state_dir = d->cfg->state_dir, *name;
	const bool on_s3 = d->cfg->storage.type == STORAGE_S3;
	struct rep *r = calloc(1, sizeof *r);
	json_t *then;
	int rc;

	if (!r || !(r->list = json_array())) {
		free(r);
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	}
	r->s3 = on_s3 && d->sched ? sched_storage(d->sched) : NULL;
	r->now_read = !on_s3 || r->s3;
	if ((rc = read_report(r, state_dir, args, err)) < 0)
		goto out;
	if (on_s3 ? s3a_datastore(&d->cfg->storage, NULL, &r->where) < 0
	          : asprintf(&r->where, "%s/datastore", state_dir) < 0) {
		r->where = NULL;
		rc = control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
		goto out;
	}
	json_object_foreach(r->state, name, then) {
		if ((rc = check_entry(name, then, err)) < 0)
			goto out;
		if (!on_s3)
			rc = local_entry(r, state_dir, name, then, err);
		else if (!r->s3)
			rc = add_entry(r, name, then, NULL, 0, NULL, err);
		if (rc < 0)
			goto out;
	}
	if (r->s3 && r->state && (r->iter = json_object_iter(r->state))) {
		/* as purge: nothing new on S3 once stopping (the client goes) */
		if (d->stopping || !sched_accepting(d->sched)) {
			rc = control_error(err, -ESHUTDOWN, PROTO_ESTATE, "denverd is stopping");
			goto out;
		}
		if (!(r->pend = control_defer(c))) {
			rc = control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
			goto out;
		}
		if ((rc = s3_next(r, err)) == CONTROL_DEFERRED)
			return rc;               /* s3_read answers and frees R */
		control_undefer(r->pend);
		goto out;
	}
	rc = rep_result(r, result, err);
out:
	rep_free(r);
	return rc;
}

static const struct control_cmd report_cmds[] = {
	{ .name = "report", .fn = cmd_report },
};

int cmd_report_init(struct denverd *d)
{
	return control_register(d->control, report_cmds, ARRAY_SIZE(report_cmds));
}
