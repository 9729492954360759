/* test_array.c - growing arrays by doubling (common/array.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "common/array.h"

static void test_grows_by_doubling_from_first(void **state)
{
	int *v = NULL;
	size_t cap = 0;
	for (size_t n = 0; n < 100; n++) {
		assert_int_equal(ARRAY_RESERVE(v, n + 1, cap, 16), 0);
		v[n] = (int)n;
		assert_true(cap >= n + 1);
	}
	assert_int_equal(cap, 128);            /* 16, 32, 64, 128 */
	for (size_t n = 0; n < 100; n++)
		assert_int_equal(v[n], (int)n);
	assert_int_equal(ARRAY_RESERVE(v, 50, cap, 16), 0);   /* room already: no change */
	assert_int_equal(cap, 128);
	assert_int_equal(ARRAY_RESERVE(v, 1000, cap, 16), 0); /* more than twice: NEED */
	assert_int_equal(cap, 1000);
	free(v);
}

static void test_refuses_overflow_and_keeps_the_array(void **state)
{
	int *v = NULL, *before;
	size_t cap = 0;
	assert_int_equal(ARRAY_RESERVE(v, 4, cap, 4), 0);
	before = v;
	assert_int_equal(ARRAY_RESERVE(v, SIZE_MAX / 2, cap, 4), -ENOMEM);
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 4);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_by_doubling_from_first),
		cmocka_unit_test(test_refuses_overflow_and_keeps_the_array),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
