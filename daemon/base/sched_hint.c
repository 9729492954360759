/*
 * sched_hint.c - SCHED_BATCH for the calling thread (sched_hint.h).  The
 * system call, not glibc's pthread_setschedparam: both act on the calling
 * thread alone (pid 0), and this keeps <sched.h> out of base/.
 */
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/sched.h>        /* SCHED_BATCH */
#include <linux/sched/types.h>  /* struct sched_param */

#include "base/sched_hint.h"

#define FALLBACK_NICE 5

void sched_hint_batch(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &sp) == 0)
		return;
	id_t tid = (id_t)syscall(SYS_gettid);
	errno = 0;
	int now = getpriority(PRIO_PROCESS, tid);
	if (now != -1 || errno == 0)
		(void)setpriority(PRIO_PROCESS, tid, now + FALLBACK_NICE);
}
