/*
 * jobspec.h - where the jobs find the data, for both storage types
 * (jobspec.c): the datastore root and the snapshot as the jobs name them
 * (a path under state_dir, or s3a://), the spec's `storage` object, the
 * spark-submit --conf pairs (spark.conf, then the s3a settings of
 * domain/s3a.h in storage: s3), and the spec file of a configured job.
 * For task_convert.c and task_proc.c (the contract of jobs/README.md:
 * never a secret in any of it).
 */
#ifndef DENVERD_ENGINE_TASKS_JOBSPEC_H
#define DENVERD_ENGINE_TASKS_JOBSPEC_H

#include <jansson.h>
#include <stddef.h>

#include "engine/task.h"
#include "engine/tasks/task_proc.h"

/* The datastore root, or with DATASET that dataset's: local
 * <state_dir>/datastore[/<dataset>], s3 s3a://<bucket>[/<prefix>]/datastore
 * [/<dataset>], into OUT (LEN bytes).  0, -ENAMETOOLONG, -ENOMEM. */
int jobspec_datastore(const struct config *cfg, const char *dataset, char *out, size_t len);

/* A snapshot's stored path as the jobs read it: s3://b/k as s3a://b/k, a
 * local path as it is, into *OUT (caller frees).  0 or -ENOMEM. */
int jobspec_input(const char *path, char **out);

/* The spec's `storage`: JSON null for local, else {type, endpoint, region,
 * path_style} (new reference; NULL when out of memory). */
json_t *jobspec_storage(const struct config *cfg);

/* jobspec_storage as compact JSON text ("null" for local) into OUT (LEN
 * bytes), for {storage}.  0, -ENAMETOOLONG, -ENOMEM. */
int jobspec_storage_text(const struct config *cfg, char *out, size_t len);

/* "--conf" "k=v" onto A for each spark.conf entry, then for each derived
 * s3a setting the operator did not set (storage: s3). */
void jobspec_push_conf(const struct config *cfg, struct argv_buf *a);

/* Write J to PATH atomically (fsutil.h: temp file, fsync, rename), mode
 * 0640.  0 or -errno.  Blocks on the disk. */
int jobspec_write(const char *path, json_t *j);

/* snprintf into a path buffer; -ENAMETOOLONG when it does not fit. */
int jobspec_path(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The spec of a configured job's attempt, written to
 * <state_dir>/work/run-<id>/spec.json (its path into SPEC, PATH_MAX bytes):
 * {version 1, job, exec_date, run_id, timezone, datastore (the root),
 * storage}.  0, or -errno with ERR set. */
int jobspec_job(const struct task_info *ti, const char *datastore, char *spec, char *err,
                size_t errlen);

#endif
