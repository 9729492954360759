/*
 * sched_hint.h - mark the calling thread as work that runs only on CPU
 * time nobody else wants, so that the threads that answer people (the
 * loop thread, a denverctl client) run at once when they are ready.
 *
 * SCHED_IDLE: any thread of a normal policy that becomes runnable on the
 * CPU preempts it at once, and the scheduler treats a CPU that runs only
 * SCHED_IDLE threads as free when it places a waking thread.  The price:
 * while other work keeps every CPU busy, the thread gets almost nothing
 * (its weight is 3 against a nice-0 thread's 1024), so its caller must
 * make progress without it (quality/dq_par.c: the calling thread scans
 * too, at its own priority).  Where SCHED_IDLE is refused (a seccomp
 * filter, an old kernel), SCHED_BATCH; where that is refused too, the
 * thread is left as it was.  Thread-local; nothing to undo or free: call
 * it in a thread of one's own, never on a pool thread.
 */
#ifndef DENVERD_SCHED_HINT_H
#define DENVERD_SCHED_HINT_H

void sched_hint_idle(void);

#endif
