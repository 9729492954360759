/*
 * task_check.c - the check task: dq_run() on a worker thread (uv_queue_work),
 * results to the store, quarantine on a `fail`.
 *
 * Built against dq.h when the data-quality module is part of the tree; a
 * build without it fails check tasks with a message that says so.
 */
#include <errno.h>
#include <stdio.h>

#include "sched_int.h"

#if __has_include("dq.h")
#error "dq.h is present: wire task_check.c to it"
#else

static int check_unavailable(struct stask *t, char *err, size_t errlen, bool *retryable)
{
	*retryable = false;
	snprintf(err, errlen, "this denverd was built without the data-quality module");
	return -ENOSYS;
}

static void check_nothing_to_cancel(struct stask *t)
{
}

const struct task_kind task_kind_check = {
	.name = "check",
	.cls = TC_CHECK,
	.start = check_unavailable,
	.cancel = check_nothing_to_cancel,
};

#endif
