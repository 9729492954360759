/*
 * task_check.h - how the check task saves a report in the store, exported
 * for the tests that save real reports the way the task does.
 */
#ifndef DENVERD_TASK_CHECK_H
#define DENVERD_TASK_CHECK_H

#include <stdint.h>

struct dq_report;
struct store;

/*
 * Save R, the report of RUN_ID, as the store's rows (store_dq_save): each
 * result with its type, severity and outcome by name and its first lines as
 * JSON text; the diff against the snapshot of PREV_RUN_ID (0: not known)
 * when R has one, its examples and unchanged count as JSON text.  On the
 * loop thread.  0, -ENOMEM, or -EIO (store_errmsg says why).
 */
int task_check_save(struct store *st, int64_t run_id, int64_t prev_run_id,
                    const struct dq_report *r);

#endif
