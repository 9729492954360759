/* test_sched_hint.c - sched_hint_batch (base/sched_hint.h) in a thread of
 * the test's own: that thread runs under SCHED_BATCH afterwards, as the
 * kernel reports it, and the thread that started it keeps its policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>

#include "base/sched_hint.h"

static void *hinted(void *arg)
{
	int *policy = arg;
	sched_hint_batch();
	*policy = sched_getscheduler(0);    /* 0: the calling thread */
	return NULL;
}

static void test_idle_in_own_thread(void **state)
{
	pthread_t t;
	int policy = -1, before = sched_getscheduler(0);

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, hinted, &policy), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(policy, SCHED_BATCH);
	assert_int_equal(sched_getscheduler(0), before);
	assert_int_not_equal(before, SCHED_BATCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_in_own_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
