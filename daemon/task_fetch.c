/*
 * task_fetch.c - the fetch task: one download through fetch.h.
 *
 * Built against fetch.h when the fetch module is part of the tree; a build
 * without it fails fetch tasks with a message that says so (never silently).
 */
#include <errno.h>
#include <stdio.h>

#include "sched_int.h"

#if __has_include("fetch.h")
#error "fetch.h is present: wire task_fetch.c to it"
#else

static int fetch_unavailable(struct stask *t, char *err, size_t errlen, bool *retryable)
{
	*retryable = false;
	snprintf(err, errlen, "this denverd was built without the fetch module");
	return -ENOSYS;
}

static void fetch_nothing_to_cancel(struct stask *t)
{
}

const struct task_kind task_kind_fetch = {
	.name = "fetch",
	.cls = TC_FETCH,
	.start = fetch_unavailable,
	.cancel = fetch_nothing_to_cancel,
};

#endif
