/*
 * cmd_alerts.h - the `alerts` control command (denverd(8), CONTROL
 * PROTOCOL): {dataset?, limit? (20, 1..1000)} -> {alerts: the newest
 * notifications from the store, firing: what fires now}.
 */
#ifndef DENVERD_API_CMD_ALERTS_H
#define DENVERD_API_CMD_ALERTS_H

struct denverd;

/* Register `alerts` with d->control.  Call after control_init(); the
 * command reads d->alerts when it runs.  0 or a negative errno. */
int cmd_alerts_init(struct denverd *d);

#endif
