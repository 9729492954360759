/* test_sched_hint.c - sched_hint_idle and sched_hint_batch
 * (base/sched_hint.h) in a thread of the test's own: that thread runs
 * under SCHED_IDLE or SCHED_BATCH afterwards, as the kernel reports it,
 * and the thread that started it keeps its policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>

#include "base/sched_hint.h"

struct hint {
	void (*fn)(void);
	int policy;             /* as the hinted thread sees itself */
};

static void *hinted(void *arg)
{
	struct hint *h = arg;
	h->fn();
	h->policy = sched_getscheduler(0);    /* 0: the calling thread */
	return NULL;
}

/* FN in a new thread: the policy it left that thread in. */
static int policy_after(void (*fn)(void))
{
	struct hint h = { fn, -1 };
	pthread_t t;
	int before = sched_getscheduler(0);

	assert_int_equal(pthread_create(&t, NULL, hinted, &h), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(sched_getscheduler(0), before);
	return h.policy;
}

static void test_batch_in_own_thread(void **state)
{
	(void)state;
	assert_int_not_equal(sched_getscheduler(0), SCHED_BATCH);
	assert_int_equal(policy_after(sched_hint_batch), SCHED_BATCH);
}

static void test_idle_in_own_thread(void **state)
{
	(void)state;
	assert_int_not_equal(sched_getscheduler(0), SCHED_IDLE);
	assert_int_equal(policy_after(sched_hint_idle), SCHED_IDLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_in_own_thread),
		cmocka_unit_test(test_idle_in_own_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
