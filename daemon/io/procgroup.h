/*
 * procgroup.h - process groups of children a previous denverd left behind.
 *
 * Every job (job.c) leads its own process group, and sched records the
 * leader's pid and start time (/proc/<pid>/stat field 22, clock ticks since
 * boot) with the attempt.  After a crash, a restart kills such a group only
 * when it is provably the one it started (denverd(8), CRASH RECOVERY):
 *  - the leader still exists: its pid, process group and start time must all
 *    equal the recorded ones (a reused pid has a later start time);
 *  - the leader is gone but members of group <pid> remain: the group number
 *    cannot have been reused while they exist, and each member must carry the
 *    attempt's marker in its initial environment (DENVERD_ATTEMPT=...), which
 *    every job is started with.
 * Anything else is left alone.
 */
#ifndef DENVERD_PROCGROUP_H
#define DENVERD_PROCGROUP_H

#include <stdint.h>
#include <sys/types.h>

struct procgroup_stat {
	pid_t pgrp;
	uint64_t start_ticks;
	char state;              /* R S D Z ... */
};

/* Read /proc/<PID>/stat.  0, -ENOENT when there is no such process, -EIO
 * when the file cannot be parsed. */
int procgroup_stat(pid_t pid, struct procgroup_stat *out);

/* True when /proc/<PID>/environ holds the entry MARKER ("NAME=value"). */
int procgroup_has_env(pid_t pid, const char *marker);

/*
 * Send SIG to group PGID if it is the one recorded (rules above; MARKER may
 * be NULL to accept a live leader on its start time alone and nothing else).
 * Returns 1 when the group was signalled, 0 when nothing of it is left or it
 * is not ours, or a negative errno from kill().
 */
int procgroup_kill_orphan(pid_t pgid, uint64_t start_ticks, const char *marker, int sig);

/* Wait until no live (non-zombie) process is left in group PGID, at most
 * TIMEOUT_MS.  0 when it is gone, -ETIMEDOUT otherwise.  (The processes of
 * an orphaned group are not our children: they cannot be waited for.) */
int procgroup_wait_gone(pid_t pgid, int timeout_ms);

/* The environment entry every job attempt is started with, so that a later
 * denverd can recognise its processes: "DENVERD_ATTEMPT=<state_dir>#<id>". */
int procgroup_marker(const char *state_dir, int64_t attempt_id, char *out, size_t len);

#endif
