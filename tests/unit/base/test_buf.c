/* test_buf.c - the capped text buffer (base/buf.h): growth, the sticky
 * error at the cap, handing the text over, and cutting at the cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

/* Take B's text and check it is WANT, length included. */
static void expect_text(struct buf *b, const char *want)
{
	size_t len;
	char *text = buf_take(b, &len);

	assert_non_null(text);
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	free(text);
}

static void test_grows_and_hands_over(void **state)
{
	struct buf b;
	char *text;
	size_t len;

	buf_init(&b, 0, 1 << 20);
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%03d,", i);
	buf_put(&b, "end", 3);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 4003);
	assert_int_equal(b.p[b.len], '\0');
	text = buf_take(&b, &len);
	assert_int_equal(len, 4003);
	assert_memory_equal(text, "000,001,", 8);
	assert_string_equal(text + 3996, "999,end");
	assert_null(b.p);
	free(text);
	buf_free(&b);

	/* Nothing written: an empty text, not NULL. */
	buf_init(&b, 0, 16);
	expect_text(&b, "");
}

static void test_cap_is_a_sticky_error(void **state)
{
	struct buf b;
	size_t len;

	buf_init(&b, 4, 8);
	buf_put(&b, "12345678", 8);            /* exactly the cap: fine */
	assert_int_equal(b.err, 0);
	assert_false(buf_reserve(&b, 1));
	assert_int_equal(b.err, -E2BIG);
	buf_printf(&b, "%s", "");              /* dropped after the failure */
	assert_int_equal(b.len, 8);
	assert_null(buf_take(&b, &len));
	assert_null(b.p);
}

static void test_cut_put(void **state)
{
	struct buf b;

	buf_init(&b, 0, 10);
	buf_set_cut(&b, "...");
	buf_put(&b, "abcdef", 6);
	buf_put(&b, "ghijkl", 6);              /* 12 bytes: the first 7 and "..." */
	assert_true(b.cut);
	assert_int_equal(b.err, 0);
	buf_put(&b, "x", 1);                   /* dropped once cut */
	assert_false(buf_reserve(&b, 0));
	expect_text(&b, "abcdefg...");
}

static void test_cut_printf(void **state)
{
	struct buf b;

	/* Exactly the cap is not cut. */
	buf_init(&b, 0, 10);
	buf_set_cut(&b, "...");
	buf_printf(&b, "%s-%d", "abcd", 12345);
	assert_false(b.cut);
	assert_int_equal(b.len, 10);
	/* One byte more cuts; the mark may overwrite earlier writes. */
	buf_printf(&b, "%c", 'z');
	assert_true(b.cut);
	expect_text(&b, "abcd-12...");

	/* A write far past the cap keeps what fits. */
	buf_init(&b, 0, 8);
	buf_set_cut(&b, "...");
	buf_printf(&b, "%s", "ab");
	buf_printf(&b, "%0100d", 7);
	expect_text(&b, "ab000...");

	/* buf_reserve never cuts: past the cap it fails as in any buffer. */
	buf_init(&b, 0, 8);
	buf_set_cut(&b, "...");
	assert_false(buf_reserve(&b, 9));
	assert_int_equal(b.err, -E2BIG);
	assert_false(b.cut);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_and_hands_over),
		cmocka_unit_test(test_cap_is_a_sticky_error),
		cmocka_unit_test(test_cut_put),
		cmocka_unit_test(test_cut_printf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
