/*
 * cmd_report.h - the `report` control command (denverd(8), CONTROL
 * PROTOCOL): {date?} -> the state the report of that exec date (default:
 * the newest under state_dir/reports) read, and whether the datastore is
 * still in it.
 */
#ifndef DENVERD_API_CMD_REPORT_H
#define DENVERD_API_CMD_REPORT_H

struct denverd;

/* Register `report` with d->control.  Call after control_init().  0 or a
 * negative errno. */
int cmd_report_init(struct denverd *d);

#endif
