/*
 * lineage.h - OpenLineage run events (https://openlineage.io, spec 2-0-2)
 * for every task of every run, to the transports of the configuration's
 * `lineage:` section (denverd.yaml(5), LINEAGE): a file of newline-
 * delimited JSON and an HTTP endpoint.
 *
 * app/main.c hands each task state the engine announces to
 * lineage_task_state(); an event is built there (from the event, the
 * configuration and what the store holds of the run), appended to the
 * file, and queued for HTTP.  Delivery runs on the loop through
 * io/http.h: one POST in flight, retried with domain/backoff, at most
 * lineage.queue events waiting (the oldest is dropped when full).  Nothing
 * here fails, delays or blocks a run: every error is counted, and logged
 * once until things work again.  lineage.url and lineage.header may hold
 * a secret and are never logged.
 *
 * Loop thread only.
 */
#ifndef DENVERD_LINEAGE_H
#define DENVERD_LINEAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/run_state.h"

struct denverd;
struct lineage;

/* A task changed state (the engine's task.state event, in notify's words).
 * Strings are borrowed for the call. */
struct lineage_task_event {
	int64_t ts;                  /* unix ms */
	const char *dataset;         /* the target when a dataset, else NULL */
	const char *job;             /* the target when a job, else NULL */
	const char *task;            /* fetch check convert, or the job's name */
	int64_t run_id;
	const char *exec_date;
	enum run_state state;        /* the task's new state */
	const char *message;         /* the engine's words; may be NULL */
};

/* Since start. */
struct lineage_counts {
	uint64_t emitted;            /* events built */
	uint64_t delivered;          /* POSTs answered 2xx */
	uint64_t dropped;            /* pushed out of a full queue, or left at stop */
	uint64_t failed;             /* not delivered after every retry, or refused */
	uint64_t file_errors;        /* events the file did not get */
	unsigned queued;             /* waiting now, the one in flight included */
};

/* Make d->lineage (always, even with both transports off, so a reload can
 * turn them on).  0, -ENOMEM or -EIO (libcurl); nothing logged. */
int lineage_init(struct denverd *d);

/* Drop what waits (counted), cancel the POST in flight, free d->lineage
 * once its handles closed (the loop must run again).  Accepts NULL. */
void lineage_fini(struct denverd *d);

/* Emit the event of EV, if its state gives one (lineage_int.h).  Reads
 * d->cfg each time, so a reload applies at the next event. */
void lineage_task_state(struct lineage *l, const struct lineage_task_event *ev);

/* Zeros when L is NULL. */
void lineage_counts(const struct lineage *l, struct lineage_counts *out);

#endif
