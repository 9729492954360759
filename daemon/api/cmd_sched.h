/*
 * cmd_sched.h - the engine's control commands: runs, show, trigger,
 * backfill, retry, cancel, pause, resume (cmd_sched.c), and schedule and
 * the engine's part of status (cmd_status.c).  They read the engine through
 * engine.h only.
 */
#ifndef DENVERD_API_CMD_SCHED_H
#define DENVERD_API_CMD_SCHED_H

#include <stdbool.h>
#include <jansson.h>

struct control_error;
struct denverd;
struct sched;
struct sched_target_info;
struct target;

/* Register the commands with d->control (none without it).  Call after
 * control_init(); the commands find the engine in d->sched when they run.
 * 0 or a negative errno. */
int cmd_sched_init(struct denverd *d);    /* cmd_sched.c */
int cmd_status_init(struct denverd *d);   /* cmd_status.c */

/* Shared by the two files. */

/* The engine for a command, or NULL with ERR set (ESTATE) when it is gone;
 * with WRITE also while it stops (nothing new may start then). */
struct sched *cmd_sched_engine(struct denverd *d, bool write, struct control_error *err);
/* The target named by ARGS' "dataset" (a dataset or, unless DATASETS_ONLY,
 * a job) and what it is: 0, or a control error (ENOENT; ESTATE for a
 * dataset without a valid schedule). */
int cmd_sched_target(struct sched *s, json_t *args, bool datasets_only, struct target **out,
                     struct sched_target_info *info, struct control_error *err);

#endif
