/*
 * sched_hint.h - mark the calling thread as CPU-bound work, so that the
 * threads that answer people (the loop thread, a denverctl client) run
 * first when they wake.
 *
 * sched_hint_idle: SCHED_IDLE.  Any runnable normal thread preempts it at
 * once, so `status` is answered while a big file is checked on every CPU
 * (socket_latency_bench: check p99 0.7-3.2 ms, against 4.5-5.6 ms under
 * SCHED_BATCH, where a client the loop thread had preempted waited for
 * the next tick).  On a host whose CPUs other work keeps busy it gets
 * almost no CPU: use it only for work someone else can take over (the
 * check's scan helpers: the merging thread scans a part a starved helper
 * holds, quality/dq_par.c).  Where SCHED_IDLE is refused, SCHED_BATCH.
 *
 * sched_hint_batch: SCHED_BATCH at the thread's nice level, a full share of
 * a busy machine's CPU, never favoured at wake-up.  For work nobody takes
 * over.  Nice +5 gave a third of a nice-0 thread's share, so it is only
 * the fallback where SCHED_BATCH is refused (a seccomp filter).
 *
 * Both are thread-local; nothing to undo or free: call them in a thread
 * of one's own, never on a pool thread.
 *
 * sched_hint_unidle: thread T from SCHED_IDLE to SCHED_BATCH, so that what
 * is left of its work (a starved helper about to exit, which a join waits
 * for: up to 1.5 s beside two CPU hogs) gets a full share.  The kernel
 * allows it only with CAP_SYS_NICE or an RLIMIT_NICE of at least 20 (a
 * nice of 0; systemd: LimitNICE=+0, as denverd.service sets); 0 or the
 * errno (EPERM: T stays idle).
 *
 * Under systemd, SystemCallFilter=~@resources refuses all three
 * (sched_setscheduler, setpriority): denverd.service allows them again.
 */
#ifndef DENVERD_SCHED_HINT_H
#define DENVERD_SCHED_HINT_H

#include <pthread.h>

void sched_hint_idle(void);
void sched_hint_batch(void);
int sched_hint_unidle(pthread_t t);

#endif
