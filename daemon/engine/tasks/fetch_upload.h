/*
 * fetch_upload.h - the fetch task's side of an S3 snapshot (fetch_upload.c):
 * the resume state kept in state.db as io/fetch_s3.c reports it, and the
 * request fields of storage: s3.  For task_fetch.c.
 */
#ifndef DENVERD_ENGINE_TASKS_FETCH_UPLOAD_H
#define DENVERD_ENGINE_TASKS_FETCH_UPLOAD_H

#include "engine/task.h"
#include "io/arcgis.h"
#include "io/fetch.h"

struct upload_hold;

/*
 * In S3 mode (ti->s3), make REQ stream to S3: the client, the part size,
 * the stored upload of this dataset and exec date (if any) as the resume,
 * and the callback that keeps the upload in the store (it uses TI, which
 * outlives the fetch).  *HOLD owns the resume's copies until
 * upload_hold_free, right after fetch_start (which copies them).  Local
 * mode: nothing changes.  0 or -ENOMEM.
 */
int upload_request(const struct task_info *ti, struct fetch_request *req,
                   struct upload_hold **hold);
void upload_hold_free(struct upload_hold *hold);   /* accepts NULL */

/*
 * fetch_start of REQ as upload_request makes it (S3 mode: streamed into
 * the stored or a new upload; local mode: REQ as it is): 0 and *OUT, or
 * fetch_start's errors (*ERR as it says).  DONE and ARG as fetch_start's.
 */
int upload_fetch_start(const struct task_info *ti, struct fetch_request *req,
                       fetch_done_cb done, void *arg, struct fetch **out, char **err);

/*
 * S3 mode, source arcgis: upload the held snapshot HELD (io/arcgis.h) as
 * FILE_NAME of TI's dataset and exec date, through the fetch above with
 * HELD's file:// URL as the source: not conditional (the pager decided it
 * changed), the same parts, MD5s, resume and If-None-Match as a download.
 * The caller removes HELD once DONE reports it published and recorded.
 */
int upload_held_start(const struct task_info *ti, const struct arcgis_held *held,
                      const char *file_name, fetch_done_cb done, void *arg,
                      struct fetch **out, char **err);

#endif
