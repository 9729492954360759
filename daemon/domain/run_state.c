/*
 * run_state.c - the names of run and task states (run_state.h).
 */
#include "base/strtable.h"
#include "domain/run_state.h"

static const char *const run_state_table[_RUN_STATE_MAX] = {
	[RUN_QUEUED] = "queued", [RUN_RUNNING] = "running", [RUN_SUCCEEDED] = "succeeded",
	[RUN_FAILED] = "failed", [RUN_UNCHANGED] = "unchanged", [RUN_SKIPPED] = "skipped",
	[RUN_CANCELLED] = "cancelled",
};

STRING_TABLE(run_state, enum run_state)
