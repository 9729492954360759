/*
 * sched_hint.c - SCHED_IDLE or SCHED_BATCH for the calling thread
 * (sched_hint.h).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/sched_hint.h"

#define FALLBACK_NICE 5

void sched_hint_idle(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
		sched_hint_batch();
}

int sched_hint_unidle(pthread_t t)
{
	struct sched_param sp = { .sched_priority = 0 };

	return pthread_setschedparam(t, SCHED_BATCH, &sp);
}

void sched_hint_batch(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp) == 0)
		return;
	id_t tid = (id_t)syscall(SYS_gettid);
	errno = 0;
	int now = getpriority(PRIO_PROCESS, tid);
	if (now != -1 || errno == 0)
		(void)setpriority(PRIO_PROCESS, tid, now + FALLBACK_NICE);
}
