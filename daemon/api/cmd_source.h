/*
 * cmd_source.h - the `source` control command (denverd(8), CONTROL
 * PROTOCOL): {dataset} -> the dataset's observed cadence from its recorded
 * source changes (notify/source_cadence.h): the last change, weekdays and
 * typical local time of change, median and p95 gap, whether it is late and
 * by when the next change is expected, and its newest changes.
 */
#ifndef DENVERD_API_CMD_SOURCE_H
#define DENVERD_API_CMD_SOURCE_H

struct denverd;

/* Register `source` with d->control.  Call after control_init(); the
 * command reads d->sched (the time zone) when it runs.  0 or a negative
 * errno. */
int cmd_source_init(struct denverd *d);

#endif
