/*
 * tasks.h - the task kinds this build has, one file each under
 * engine/tasks/.  Only lifecycle.c, which puts them in the engine's table
 * (s->kinds[]), includes this; everything else finds a kind there by name.
 */
#ifndef DENVERD_ENGINE_TASKS_H
#define DENVERD_ENGINE_TASKS_H

#include "engine/task.h"

extern const struct task_kind task_kind_fetch;     /* task_fetch.c */
extern const struct task_kind task_kind_check;     /* task_check.c */
extern const struct task_kind task_kind_convert;   /* task_convert.c */
extern const struct task_kind task_kind_job;       /* task_proc.c */

/* ---- S3 storage (fetch_upload.c) ---- */

struct http;
struct s3_client;
struct fetch_request;

/* storage: s3: the client for D's configuration, credentials read now
 * (io/s3_creds.h), and the same credentials as the AWS_* entries of the
 * children's environment (*env, s3_creds_env: the engine keeps them for
 * its life and frees them with job_strv_free); *out and *env NULL for
 * storage: local.  0, or a negative errno after logging why (never a
 * secret). */
int upload_client_new(struct denverd *d, struct http *h, struct s3_client **out,
                      char ***env);
void upload_client_free(struct s3_client *c);     /* accepts NULL */

/* At start: abort the multipart uploads under <prefix>/staging/ that were
 * begun before this start and that no row of state.db owns (a crash's
 * leftovers); runs in the background, logs what it did. */
void upload_sweep(struct denverd *d, struct s3_client *c);

#endif
