/*
 * cmd_purge.h - the `purge` control command (denverd(8), CONTROL
 * PROTOCOL): {dataset, before, yes} -> the snapshot partitions of the
 * dataset before the date that were removed (yes) or would be (a dry run,
 * the default), those that stay and why (purge.h).  Mutating.
 */
#ifndef DENVERD_API_CMD_PURGE_H
#define DENVERD_API_CMD_PURGE_H

struct denverd;

/* Register `purge` with d->control.  Call after control_init().  0 or a
 * negative errno. */
int cmd_purge_init(struct denverd *d);

#endif
