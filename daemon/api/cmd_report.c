/*
 * cmd_report.c - the `report` control command (cmd_report.h): reads
 * state_dir/reports/exec_date=D/report.json, takes its `state` (per
 * dataset: the fingerprint and commit records of the datastore as the
 * report job read it, jobs/report/queries.py) and sets beside it the
 * datastore's state now (fingerprint.c), so the reader learns whether the
 * report still describes the datastore.
 *
 * With storage: s3 the datastore is in the bucket and its state now is
 * not read (that would be network I/O, which the loop thread must not
 * wait on; issue 14): the reply carries the report's state with
 * "now_read": false, "changed": null (top and per dataset, never a guess)
 * and "datastore" naming where it lives, and denverctl says so in words.
 *
 * Blocking: the handler reads report.json and fingerprints each dataset
 * on the loop thread: one directory listing per month and one footer read
 * per Parquet file (a few hundred small reads for years of data), the same
 * order of cost as the store's queries that other commands make.
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
#include "base/denverd.h"
#include "base/macro.h"
#include "denverd/protocol.h"
#include "domain/config_types.h"
#include "domain/s3a.h"

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

/* The reply's entry of dataset NAME when the datastore is on S3: the
 * report's state THEN, the state now unknown ("changed" and "now" null). */
static int s3_dataset_entry(const char *name, json_t *then, json_t **out,
                            struct control_error *err)
{
	json_t *o;

	if (!good_name(name) || !json_is_object(then))
		return control_error(err, -EINVAL, PROTO_EINTERNAL,
		                     "report.json: state: bad dataset entry \"%s\"", name);
	o = json_deep_copy(then);
	if (!o || json_object_set_new(o, "name", json_string(name)) < 0 ||
	    json_object_set_new(o, "changed", json_null()) < 0 ||
	    json_object_set_new(o, "now", json_null()) < 0) {
		json_decref(o);
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	}
	*out = o;
	return 0;
}

/* The reply's entry of dataset NAME, whose state in the report is THEN;
 * *CHANGED set when the datastore is no longer in it. */
static int dataset_entry(const char *state_dir, const char *name, json_t *then, json_t **out,
                         bool *changed, struct control_error *err)
{
	json_int_t then_seq = json_integer_value(json_object_get(then, "commit_count"));
	const char *then_fp = json_string_value(json_object_get(then, "fingerprint"));
	struct fingerprint fp;
	char dir[PATH_MAX];
	int64_t last = 0;
	json_t *newer, *o;
	int rc;

	if (!good_name(name) || !json_is_object(then))
		return control_error(err, -EINVAL, PROTO_EINTERNAL,
		                     "report.json: state: bad dataset entry \"%s\"", name);
	if (snprintf(dir, sizeof dir, "%s/datastore/%s", state_dir, name) >= (int)sizeof dir)
		return control_error(err, -ENAMETOOLONG, PROTO_EINTERNAL, "%s: path too long", name);
	if ((rc = datastore_fingerprint(dir, &fp)) < 0)
		return control_error(err, rc, PROTO_EINTERNAL, "%s: fingerprint: %s", dir,
		                     strerror(-rc));
	if (!(newer = json_array()))
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	if ((rc = datastore_commits(dir, then_seq, NEWER_MAX, &last, newer)) < 0) {
		json_decref(newer);
		return control_error(err, rc, PROTO_EINTERNAL, "%s/_denverd/commits: %s", dir,
		                     strerror(-rc));
	}
	*changed = !then_fp || strcmp(then_fp, fp.digest) != 0 || last != then_seq;
	o = json_deep_copy(then);
	if (!o || json_object_set_new(o, "name", json_string(name)) < 0 ||
	    json_object_set_new(o, "changed", json_boolean(*changed)) < 0 ||
	    json_object_set_new(o, "newer_commits",
	                        json_integer(last > then_seq ? last - then_seq : 0)) < 0 ||
	    json_object_set_new(o, "newer", newer) < 0 ||
	    json_object_set_new(o, "now", json_pack("{s:s, s:I, s:I, s:I}",
	            "fingerprint", fp.digest, "files", (json_int_t)fp.files,
	            "bytes", (json_int_t)fp.bytes, "commit_count", (json_int_t)last)) < 0) {
		json_decref(o);
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	}
	*out = o;
	return 0;
}

static int cmd_report(struct denverd *d, struct control_client *c, json_t *args,
                      json_t **result, struct control_error *err)
{
	const char *state_dir = d->cfg->state_dir, *given, *name;
	const bool on_s3 = d->cfg->storage.type == STORAGE_S3;
	char reports[PATH_MAX], path[PATH_MAX], date[11] = "", *where = NULL;
	json_t *report, *state, *then, *list;
	bool any_changed = false;
	json_error_t jerr;
	struct stat st;
	int64_t day;
	int rc;

	if ((rc = arg_date(args, "date", false, &day, &given, err)) < 0)
		return rc;
	if (snprintf(reports, sizeof reports, "%s/reports", state_dir) >= (int)sizeof reports)
		return control_error(err, -ENAMETOOLONG, PROTO_EINTERNAL, "state_dir too long");
	if (given) {
		snprintf(date, sizeof date, "%s", given);
	} else if ((rc = newest_report(reports, date)) < 0) {
		return control_error(err, rc, rc == -ENOENT ? PROTO_ENOENT : PROTO_EINTERNAL,
		                     "no report under %s%s%s", reports, rc == -ENOENT ? "" : ": ",
		                     rc == -ENOENT ? "" : strerror(-rc));
	}
	if (snprintf(path, sizeof path, "%s/" DIR_PREFIX "%s/report.json", reports, date) >=
	    (int)sizeof path)
		return control_error(err, -ENAMETOOLONG, PROTO_EINTERNAL, "state_dir too long");
	if (stat(path, &st) < 0)
		return control_error(err, -errno, errno == ENOENT ? PROTO_ENOENT : PROTO_EINTERNAL,
		                     "%s: %s", path, strerror(errno));
	if (st.st_size > REPORT_JSON_MAX)
		return control_error(err, -EFBIG, PROTO_EINTERNAL, "%s: %lld bytes (over %d)", path,
		                     (long long)st.st_size, REPORT_JSON_MAX);
	report = json_load_file(path, 0, &jerr);
	if (!json_is_object(report)) {
		json_decref(report);
		return control_error(err, -EBADMSG, PROTO_EINTERNAL, "%s: %s", path,
		                     report ? "not an object" : jerr.text);
	}
	state = json_object_get(report, "state");
	list = json_array();
	rc = list ? 0 : control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	json_object_foreach(json_is_object(state) ? state : NULL, name, then) {
		json_t *entry = NULL;
		bool changed = false;

		if (rc < 0)
			break;
		if (on_s3)
			rc = s3_dataset_entry(name, then, &entry, err);
		else
			rc = dataset_entry(state_dir, name, then, &entry, &changed, err);
		if (rc < 0)
			break;
		any_changed |= changed;
		json_array_append_new(list, entry);
	}
	if (rc == 0 && (on_s3 ? s3a_datastore(&d->cfg->storage, NULL, &where) < 0
	                      : asprintf(&where, "%s/datastore", state_dir) < 0)) {
		where = NULL;
		rc = control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	}
	if (rc == 0) {
		*result = json_pack("{s:s, s:s, s:b, s:o, s:b, s:s?, s:O}", "exec_date", date,
		                    "path", path, "state_recorded", json_is_object(state),
		                    "changed", on_s3 ? json_null() : json_boolean(any_changed),
		                    "now_read", !on_s3, "datastore", where, "datasets", list);
		if (!*result)
			rc = control_error(err, -ENOMEM, PROTO_EINTERNAL, "out of memory");
	}
	free(where);
	json_decref(list);
	json_decref(report);
	return rc;
}

static const struct control_cmd report_cmds[] = {
	{ .name = "report", .fn = cmd_report },
};

int cmd_report_init(struct denverd *d)
{
	return control_register(d->control, report_cmds, ARRAY_SIZE(report_cmds));
}
