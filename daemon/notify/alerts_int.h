/*
 * alerts_int.h - what alerts.c (judging, rate limits, freshness) and
 * deliver.c (alerts.command, alerts.webhook) share.  Not for other modules:
 * they use alerts.h.  Loop thread only.
 */
#ifndef DENVERD_ALERTS_INT_H
#define DENVERD_ALERTS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/list.h"
#include "notify/alerts.h"

#define MESSAGE_MAX 1024          /* an alert's words */

struct akey;                      /* alerts.c: one (target, reason) */
struct fresh;                     /* alerts.c: one freshness SLA */
struct late;                      /* alerts.c: one cadence watched */
struct job;
struct webhook;

/* An alerts.command child still running (deliver.c). */
struct command {
	struct alerts *a;
	struct job *job;
	int64_t alert_id;
	LIST_FIELDS(struct command, commands);   /* in alerts->commands */
};

struct alerts {
	struct denverd *d;
	uv_timer_t timer;
	struct webhook *webhook;
	struct akey *keys;
	size_t n_keys, cap_keys;
	struct fresh *fresh;
	size_t n_fresh;
	struct late *late;
	size_t n_late;
	struct command *commands;
	unsigned n_commands;
	int64_t started;
	bool timer_open, closing;
	/* alerts.c's: frees A once closing and nothing of it runs.  deliver.c
	 * calls it when a command ends, through this pointer, so that it stays
	 * below alerts.c. */
	void (*maybe_free)(struct alerts *a);
	struct {
		alerts_event_fn fn;
		void *arg;
	} subs[ALERTS_MAX_SUBSCRIBERS];
	size_t n_subs;
};

/* deliver.c: send the recorded notification EV to alerts.webhook (a JSON
 * POST, retried as configured) or to alerts.command (a child, at most
 * ALERTS_MAX_COMMANDS at once).  Never fail: problems are logged.  A
 * success sets the row's `delivered` time. */
void deliver_webhook(struct alerts *a, const struct alert_event *ev);
void deliver_command(struct alerts *a, const struct alert_event *ev);


#endif
