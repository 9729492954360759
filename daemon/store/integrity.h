/*
 * integrity.h - the state store's integrity check, run once per start on
 * the thread pool (see integrity.c for why not before READY=1).
 */
#ifndef DENVERD_STORE_INTEGRITY_H
#define DENVERD_STORE_INTEGRITY_H

struct denverd;

/* Start the check on its own reader connection, on the loop thread.  When
 * it finds damage it logs what SQLite found, sets d->exit_status to 1 and
 * stops the daemon.  Returns 0 or a negative errno (the reader could not be
 * opened: logged; or the pool refused the job); -EALREADY while one runs. */
int store_integrity_init(struct denverd *d);
/* Interrupt a check still running; its memory is freed when the worker
 * returns (loop_drain waits for that). */
void store_integrity_fini(struct denverd *d);

#endif
