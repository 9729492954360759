/* test_template.c - placeholder expansion, table-driven. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "domain/template.h"

static const struct template_var vars[] = {
	{ "dataset", "traffic_accidents" },
	{ "exec_date", "2026-11-24" },
	{ "year", "2026" },
	{ "empty", NULL },
};

static const struct {
	const char *tmpl;
	int rc;
	const char *want;     /* expansion, or NULL on error */
	size_t bad;           /* offset of the bad placeholder */
} cases[] = {
	{ "", 0, "", 0 },
	{ "plain text", 0, "plain text", 0 },
	{ "{dataset}", 0, "traffic_accidents", 0 },
	{ "x/{dataset}/exec_date={exec_date}/f.csv", 0,
	  "x/traffic_accidents/exec_date=2026-11-24/f.csv", 0 },
	{ "311_{year}.csv", 0, "311_2026.csv", 0 },
	{ "a{empty}b", 0, "ab", 0 },
	{ "{{literal}}", 0, "{literal}", 0 },
	{ "{{{year}}}", 0, "{2026}", 0 },
	{ "{nope}", -EINVAL, NULL, 0 },
	{ "ok {year} {dataset", -EINVAL, NULL, 10 },
	{ "stray } brace", -EINVAL, NULL, 6 },
	{ "{}", -EINVAL, NULL, 0 },
};

static void test_expand_table(void **state)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out = (char *)1;
		size_t bad = 999;
		int rc = template_expand(cases[i].tmpl, vars, 4, &out, &bad);
		assert_int_equal(rc, cases[i].rc);
		if (cases[i].want) {
			assert_string_equal(out, cases[i].want);
			free(out);
		} else {
			assert_null(out);
			assert_int_equal(bad, cases[i].bad);
		}
	}
}

static void test_check_names_only(void **state)
{
	const char *const names[] = { "year", "month" };
	size_t bad = 0;
	assert_int_equal(template_check("f_{year}_{month}.csv", names, 2, &bad), 0);
	assert_int_equal(template_check("f_{year}_{day}.csv", names, 2, &bad), -EINVAL);
	assert_int_equal(bad, 9);
}

static void test_output_is_capped(void **state)
{
	size_t big = TEMPLATE_MAX_OUT / 2 + 16;
	char *v = malloc(big);
	char *out;
	memset(v, 'x', big - 1);
	v[big - 1] = '\0';
	struct template_var one[] = { { "v", v } };
	assert_int_equal(template_expand("{v}{v}", one, 1, &out, NULL), -E2BIG);
	assert_null(out);
	assert_int_equal(template_expand("{v}", one, 1, &out, NULL), 0);
	assert_int_equal(strlen(out), big - 1);
	free(out);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_table),
		cmocka_unit_test(test_check_names_only),
		cmocka_unit_test(test_output_is_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
