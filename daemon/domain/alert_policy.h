/*
 * alert_policy.h - when an observed condition becomes a notification.
 *
 * Per (dataset, reason) denverd remembers whether the condition holds (an
 * episode is open) and when it last notified.  A firing notification is sent
 * at most once per min_interval per key; one the rate limit holds back is
 * sent when the interval has passed if its episode is still open (nothing
 * is lost, only delayed); an episode that was notified gets exactly one
 * recovery notification when it ends, and one that was never notified ends
 * quietly.  So one key sends at most two notifications per min_interval
 * however much its condition flaps.  Pure: no I/O, no clock.
 */
#ifndef DENVERD_ALERT_POLICY_H
#define DENVERD_ALERT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

struct alert_key {
	bool firing;          /* the condition holds (an episode is open) */
	bool notified;        /* this episode's firing was notified */
	int64_t last_sent;    /* unix ms of the last notification; 0 = never */
	int64_t last_row;     /* id of the key's newest alerts row; 0 = none */
};

enum alert_verdict {
	ALERT_QUIET,          /* nothing to send or count */
	ALERT_SUPPRESS,       /* a firing the rate limit holds back: count it
	                         on last_row */
	ALERT_NOTIFY,         /* send one notification (see *recovery) */
};

/*
 * The condition of K was observed at NOW: PROBLEM says whether it holds.
 * Updates K and returns what to do; on ALERT_NOTIFY *recovery tells a
 * recovery (true) from a firing (false).  The caller sets K->last_row once
 * it has recorded a notification.
 */
enum alert_verdict alert_observe(struct alert_key *k, bool problem, int64_t now,
                                 uint64_t min_interval_ms, bool *recovery);

/* When the held-back firing of K may be sent (unix ms), or 0 when none is
 * pending; the caller observes K again (PROBLEM true) at that time. */
int64_t alert_pending_at(const struct alert_key *k, uint64_t min_interval_ms);

#endif
