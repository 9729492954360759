/*
 * sched_hint.h - mark the calling thread as CPU-bound work, so that the
 * scheduler does not favour it when it wakes and the threads that answer
 * people (the loop thread, a denverctl client) may preempt it.
 *
 * SCHED_BATCH at the thread's nice level: it keeps its full share of the
 * CPU on a busy machine, as other processes' threads get.  Measured and
 * rejected (README: socket_latency_bench, dq_bench):
 *   - nice +5 gave a third of a nice-0 thread's share;
 *   - SCHED_IDLE answered `status` sooner while a big file was checked
 *     (p99 0.7-3.1 ms against 4.5-5.6 ms), but on a host whose CPUs other
 *     work kept busy a helper got almost nothing and held up the check
 *     that waited for its part: 7-14 s for a 1 GB file instead of 0.6 s.
 * Where SCHED_BATCH is refused (a seccomp filter), nice +5.  Thread-local;
 * nothing to undo or free: call it in a thread of one's own, never on a
 * pool thread.
 */
#ifndef DENVERD_SCHED_HINT_H
#define DENVERD_SCHED_HINT_H

void sched_hint_batch(void);

#endif
