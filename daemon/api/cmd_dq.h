/*
 * cmd_dq.h - the data-quality control commands (dq, diff, promote) and the
 * file and store side of promoting a quarantined snapshot.
 */
#ifndef DENVERD_CMD_DQ_H
#define DENVERD_CMD_DQ_H

#include <stddef.h>
#include <stdint.h>

struct denverd;

#define CMD_DQ_RUNS_DEFAULT 10      /* `dq` without "runs" */

/* Register dq, diff and promote with d->control.  0 or a negative errno. */
int cmd_dq_init(struct denverd *d);

/* What cmd_dq_promote did, for the reply and the log. */
struct cmd_dq_promoted {
	int64_t snapshot_id;
	char dataset[65], exec_date[11];
	char path[4096];              /* the snapshot file, back in staging */
};

/*
 * Accept the quarantined snapshot of run RUN_ID deliberately: its partition
 * directory moves from quarantine/<dataset>/exec_date=<D>/ back to
 * staging/<dataset>/exec_date=<D>/ (with its .keys), and the snapshot row
 * becomes "promoted" with an event "snapshot.promoted" carrying REASON
 * (may be NULL), in that order; a store failure moves the files back.
 * Resuming the run (convert and what follows) is the scheduler's: it does
 * so once this returns 0.
 * Returns 0; -ENOENT (no such run, or no snapshot), -EINVAL (a job run),
 * -EALREADY (not quarantined), -EEXIST (staging already holds that exec
 * date), -EIO (store) or another -errno of the move; ERR (ERRLEN bytes)
 * says which for the operator.
 */
int cmd_dq_promote(struct denverd *d, int64_t run_id, const char *reason,
                   struct cmd_dq_promoted *out, char *err, size_t errlen);

#endif
