/*
 * alerts.h - alerts: failed runs, failed and warning checks, quarantined
 * snapshots and freshness SLA misses (max_age), each notified once more on
 * recovery, rate-limited per dataset and reason (alert_policy.h), recorded
 * in the store's alerts table, sent to alerts.command (through job.c) and
 * alerts.webhook (a JSON POST through webhook.c) and announced as a struct
 * alert_event to the subscribers (app/main.c subscribes the control
 * watchers: api/watch.c).  The `alerts` control command is
 * api/cmd_alerts.c's; it reads the store and alerts_firing_each().
 *
 * Reasons: run_failed (a dataset or job run failed for another reason than
 * its checks), check_failed (a check of severity fail failed and the
 * snapshot was not quarantined), quarantined, check_warned (a check of
 * severity warn, when alerts.on_warn), stale (no succeeded or unchanged run
 * of a dataset for max_age), late (a dataset with cadence_alert and enough
 * recorded source changes has not changed for longer than its p95 gap plus
 * cadence_margin: notify/source_cadence.h; it recovers when a run records
 * a change).  One run raises at most one of run_failed,
 * check_failed and quarantined, plus check_warned.
 */
#ifndef DENVERD_ALERTS_H
#define DENVERD_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

struct alerts;
struct denverd;

/* Caps: alert keys remembered, alert commands running at once, subscribers. */
#define ALERTS_MAX_KEYS     32768
#define ALERTS_MAX_COMMANDS 8
#define ALERTS_MAX_SUBSCRIBERS 4

/*
 * Resume the rate-limit state from the store and start the freshness
 * timer (nothing is sent before the loop runs).  Needs d->store and d->cfg;
 * sets d->alerts.  0 or a negative errno (start-up fatal).
 */
int alerts_init(struct denverd *d);

/* One notification, committed to the store before it is announced.  The
 * strings are borrowed for the call. */
struct alert_event {
	int64_t ts;                  /* unix ms */
	int64_t alert_id;            /* its row in the store's alerts table */
	const char *dataset;         /* the dataset or job */
	const char *reason;          /* run_failed check_failed check_warned quarantined stale
	                                late */
	const char *state;           /* firing or recovered */
	const char *message;
	int64_t run_id;              /* the run that raised it; 0 = none (stale) */
	const char *exec_date;       /* its exec date, or NULL */
};

/* A subscriber; called on the loop thread after the notification is
 * recorded and logged, before it is delivered.  Must not call back into
 * the alerts. */
typedef void (*alerts_event_fn)(void *arg, const struct alert_event *ev);

/* Add FN(ARG, event) for every later notification.  0, or -ENOSPC past
 * ALERTS_MAX_SUBSCRIBERS. */
int alerts_subscribe(struct alerts *a, alerts_event_fn fn, void *arg);

/* An alert firing now: NOTIFIED is false while the rate limit holds its
 * notification back.  Borrowed for the call. */
struct alert_firing {
	const char *dataset, *reason;
	bool notified;
};

/* FN for every alert firing now (only DATASET's, unless NULL), until FN
 * returns non-zero (returned). */
int alerts_firing_each(struct alerts *a, const char *dataset,
                       int (*fn)(void *arg, const struct alert_firing *f), void *arg);

/* Stop the timer, drop pending webhook deliveries and cancel running alert
 * commands; the memory goes once they have ended (the loop must run on,
 * as loop_drain does).  Call before store_close.  Accepts d->alerts NULL. */
void alerts_fini(struct denverd *d);

/* The configuration was swapped: take the new datasets' max_age,
 * cadence_margin and cadence_alert. */
void alerts_reload(struct denverd *d);

/*
 * Judge run RUN_ID, which has just reached its final state (committed).
 * Called for every dataset and job run that ends (app/main.c subscribes it
 * to the engine's final run.state events).  Never fails: problems are
 * logged.
 */
void alerts_run_finished(struct denverd *d, int64_t run_id);

/* The quarantined snapshot of run RUN_ID was promoted by the operator: its
 * dataset's quarantine alert recovers (api/cmd_dq.c calls this after a
 * successful `promote`).  Never fails: problems are logged. */
void alerts_promoted(struct denverd *d, int64_t run_id);

#endif
