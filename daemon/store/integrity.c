/*
 * integrity.c - the state store's integrity check (PRAGMA quick_check),
 * once per start, on the thread pool, while the daemon already serves.
 *
 * Why not before READY=1: quick_check reads every page of state.db, so its
 * cost grows with history (150 ms for 100,000 runs, 65 MB); start-up must
 * not.  Nothing is lost by running it beside the loop: SQLite reports
 * damage in any page a statement touches (that statement fails with
 * SQLITE_CORRUPT), and the check finds damage in the pages the daemon has
 * not read yet.  When it finds some, the daemon says what SQLite found and
 * stops with status 1, so that nothing more is written to a damaged store;
 * the operator restores state.db or recovers it (sqlite3 .recover).
 *
 * Threads: the worker uses only its own reader connection; everything else
 * happens on the loop thread.
 */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "base/clock.h"
#include "base/denverd.h"
#include "base/log.h"
#include "store/store.h"
#include "store/integrity.h"

struct integrity_check {
	struct denverd *d;
	uv_work_t work;
	struct store *reader;      /* its own connection: the loop keeps d->store */
	bool closing;              /* fini ran while the worker was busy */
	int rc;                    /* worker's result: 0, -EIO, -EINTR, ... */
	char *problems;            /* quick_check's complaints, when rc == -EIO */
	char errmsg[512];          /* why the check itself failed */
	int64_t took_ms;
};

static struct integrity_check *running;     /* the check under way, or NULL */

static void check_work(uv_work_t *w)
{
	struct integrity_check *c = container_of(w, struct integrity_check, work);
	int64_t t0 = clock_mono_ms();

	c->rc = store_quick_check(c->reader, &c->problems);
	if (c->rc < 0 && !c->problems)
		snprintf(c->errmsg, sizeof c->errmsg, "%s",
		         c->rc == -EIO ? store_errmsg(c->reader) : strerror(-c->rc));
	c->took_ms = clock_mono_ms() - t0;
}

static void check_free(struct integrity_check *c)
{
	store_close(c->reader);
	free(c->problems);
	free(c);
}

static void check_done(uv_work_t *w, int status)
{
	struct integrity_check *c = container_of(w, struct integrity_check, work);
	struct denverd *d = c->d;

	running = NULL;
	if (status == UV_ECANCELED || c->rc == -EINTR) {
		/* Stopped before it could tell: the next start checks again. */
	} else if (status < 0) {
		log_err(NULL, "state store: integrity check not run: %s", uv_strerror(status));
	} else if (c->rc == 0) {
		log_info(NULL, "state store: integrity check ok (%lld ms)", (long long)c->took_ms);
	} else if (c->problems) {
		log_msg(LOG_CRIT, NULL, "state store: integrity check failed: %s; stopping so "
		        "that nothing more is written to it: restore state.db from a backup, "
		        "or recover it with sqlite3's .recover", c->problems);
		d->exit_status = 1;
		if (!c->closing && !d->stopping)
			d->stop(d);
	} else {
		log_err(NULL, "state store: integrity check could not run: %s", c->errmsg);
	}
	check_free(c);
	malloc_trim(0);            /* the reader's page cache, freed just now */
}

int store_integrity_init(struct denverd *d)
{
	struct integrity_check *c;
	int rc;

	if (running)
		return -EALREADY;
	if (!(c = calloc(1, sizeof *c)))
		return -ENOMEM;
	c->d = d;
	if ((rc = store_reader_open(d->store, &c->reader)) < 0) {
		log_err(NULL, "state store: integrity check: %s", store_errmsg(d->store));
		free(c);
		return rc;
	}
	if ((rc = uv_queue_work(d->loop, &c->work, check_work, check_done)) < 0) {
		check_free(c);
		return rc;
	}
	running = c;
	return 0;
}

void store_integrity_fini(struct denverd *d)
{
	struct integrity_check *c = running;

	(void)d;
	if (!c)
		return;
	running = NULL;
	c->closing = true;          /* check_done frees it, after the worker */
	/* Not started yet: never will.  Running: stops at its next step. */
	if (uv_cancel((uv_req_t *)&c->work) < 0)
		store_interrupt(c->reader);
}
