/*
 * run_state.h - the states of runs and tasks and their names: the words the
 * store's rows, the control protocol, the journal and `denverctl` use
 * (denverd(8), SCHEDULING).  In domain/ so that the engine, the alerts and
 * api/ read one list.
 *
 * A run and each of its tasks is queued, then running, then ends in one
 * of the final states.  A task that is not final when its run ends becomes
 * skipped (cancelled when the run is).
 */
#ifndef DENVERD_DOMAIN_RUN_STATE_H
#define DENVERD_DOMAIN_RUN_STATE_H

#include <stdbool.h>

enum run_state {
	RUN_QUEUED,
	RUN_RUNNING,
	RUN_SUCCEEDED,     /* the first final state: see run_state_final() */
	RUN_FAILED,
	RUN_UNCHANGED,
	RUN_SKIPPED,
	RUN_CANCELLED,
	_RUN_STATE_MAX,
};

/* "queued" ... "cancelled"; NULL outside the enum. */
const char *run_state_to_string(enum run_state s);
/* The state named NAME, or -1 when NAME (or NULL) names none. */
int run_state_from_string(const char *name);

static inline bool run_state_final(enum run_state s)
{
	return s >= RUN_SUCCEEDED;
}

#endif
