/*
 * sched_hint.c - SCHED_IDLE for the calling thread (sched_hint.h).  The
 * system call, not glibc's pthread_setschedparam: both act on the calling
 * thread alone (pid 0), and this keeps <sched.h> out of base/.
 */
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/sched.h>        /* SCHED_IDLE, SCHED_BATCH */
#include <linux/sched/types.h>  /* struct sched_param */

#include "base/sched_hint.h"

void sched_hint_idle(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (syscall(SYS_sched_setscheduler, 0, SCHED_IDLE, &sp) == 0)
		return;
	(void)syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &sp);
}
