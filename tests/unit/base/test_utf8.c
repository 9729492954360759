/* test_utf8.c - sanitizing bytes into valid UTF-8, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/utf8.h"

static const struct {
	const char *in;
	size_t len;
	const char *want;
	size_t bad;
} cases[] = {
	{ "plain ascii", 11, "plain ascii", 0 },
	{ "caf\xc3\xa9", 5, "caf\xc3\xa9", 0 },                       /* U+00E9 */
	{ "\xe2\x82\xac", 3, "\xe2\x82\xac", 0 },                      /* U+20AC */
	{ "\xf0\x9f\x9a\x97", 4, "\xf0\x9f\x9a\x97", 0 },              /* U+1F697 */
	{ "\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf", 0 },              /* U+10FFFF */
	{ "caf\xe9", 4, "caf?", 1 },                                   /* windows-1252 */
	{ "a\0b", 3, "a?b", 1 },                                       /* NUL */
	{ "\xc0\xaf", 2, "??", 2 },                                    /* overlong '/' */
	{ "\xe0\x80\xaf", 3, "???", 3 },                               /* overlong */
	{ "\xed\xa0\x80", 3, "???", 3 },                               /* surrogate */
	{ "\xf4\x90\x80\x80", 4, "????", 4 },                          /* > U+10FFFF */
	{ "\xf5\x80", 2, "??", 2 },
	{ "x\xe2\x82", 3, "x??", 2 },                                  /* cut short */
	{ "\x80z", 2, "?z", 1 },                                       /* stray continuation */
	{ "\xe2\x28\xa1", 3, "?(?", 2 },
	{ "", 0, "", 0 },
};

static void test_sanitize_table(void **state)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[16];
		memcpy(buf, cases[i].in, cases[i].len);
		assert_int_equal(utf8_sanitize(buf, cases[i].len), cases[i].bad);
		assert_memory_equal(buf, cases[i].want, cases[i].len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
