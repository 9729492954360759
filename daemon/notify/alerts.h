/*
 * alerts.h - alerts: failed runs, failed and warning checks, quarantined
 * snapshots and freshness SLA misses (max_age), each notified once more on
 * recovery, rate-limited per dataset and reason (alert_policy.h), recorded
 * in the store's alerts table, sent to alerts.command (through job.c) and
 * alerts.webhook (a JSON POST through webhook.c), broadcast to watchers as
 * "alert" events and listed by the `alerts` control command.
 *
 * Reasons: run_failed (a dataset or job run failed for another reason than
 * its checks), check_failed (a check of severity fail failed and the
 * snapshot was not quarantined), quarantined, check_warned (a check of
 * severity warn, when alerts.on_warn), stale (no succeeded or unchanged run
 * of a dataset for max_age).  One run raises at most one of run_failed,
 * check_failed and quarantined, plus check_warned.
 */
#ifndef DENVERD_ALERTS_H
#define DENVERD_ALERTS_H

#include <stdint.h>

struct denverd;

/* Caps: alert keys remembered, alert commands running at once. */
#define ALERTS_MAX_KEYS     32768
#define ALERTS_MAX_COMMANDS 8

/*
 * Resume the rate-limit state from the store, start the freshness timer
 * and register the `alerts` command.  Needs d->store, d->cfg and
 * d->control.  0 or a negative errno (start-up fatal).
 */
int alerts_init(struct denverd *d);

/* Stop the timer, drop pending webhook deliveries and cancel running alert
 * commands; the memory goes once they have ended (the loop must run on,
 * as loop_drain does).  Call before store_close.  Accepts d->alerts NULL. */
void alerts_fini(struct denverd *d);

/* The configuration was swapped: take the new datasets' max_age. */
void alerts_reload(struct denverd *d);

/*
 * Judge run RUN_ID, which has just reached its final state (committed).
 * The scheduler calls this for every dataset and job run that ends.
 * Never fails: problems are logged.
 */
void alerts_run_finished(struct denverd *d, int64_t run_id);

/* The quarantined snapshot of run RUN_ID was promoted by the operator: its
 * dataset's quarantine alert recovers (api/cmd_dq.c calls this after a
 * successful `promote`).  Never fails: problems are logged. */
void alerts_promoted(struct denverd *d, int64_t run_id);

#endif
