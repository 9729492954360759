/*
 * alert_policy.c - rate limit and episodes of one alert key.
 */
#include "domain/alert_policy.h"

enum alert_verdict alert_observe(struct alert_key *k, bool problem, int64_t now,
                                 uint64_t min_interval_ms, bool *recovery)
{
	*recovery = false;
	if (!problem) {
		bool was_notified = k->firing && k->notified;
		k->firing = false;
		k->notified = false;
		if (!was_notified)
			return ALERT_QUIET;
		k->last_sent = now;
		*recovery = true;
		return ALERT_NOTIFY;
	}
	if (!k->firing)
		k->notified = false;      /* a new episode */
	k->firing = true;
	if (k->last_sent && now - k->last_sent < (int64_t)min_interval_ms)
		return ALERT_SUPPRESS;
	k->notified = true;
	k->last_sent = now;
	return ALERT_NOTIFY;
}

int64_t alert_pending_at(const struct alert_key *k, uint64_t min_interval_ms)
{
	if (!k->firing || k->notified)
		return 0;
	return k->last_sent + (int64_t)min_interval_ms;
}
