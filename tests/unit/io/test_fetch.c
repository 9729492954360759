/* test_fetch.c - the pure parts of fetch.c: exec-date template variables
 * and URL expansion (the transfers are tested in tests/integration). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "io/fetch.h"

static const struct {
	const char *tmpl, *date;
	int rc;
	const char *want;
} cases[] = {
	{ "https://x/{year}/311_{year}.csv", "2026-11-24", 0, "https://x/2026/311_2026.csv" },
	{ "https://x/{exec_date}.csv", "2026-01-05", 0, "https://x/2026-01-05.csv" },
	{ "https://x/{year}{month}{day}", "2024-02-29", 0, "https://x/20240229" },
	{ "https://x/plain.csv", "2026-11-24", 0, "https://x/plain.csv" },
	{ "https://x/{dataset}", "2026-11-24", -EINVAL, NULL },     /* unknown name */
	{ "https://x/{year", "2026-11-24", -EINVAL, NULL },         /* unterminated */
	{ "https://x/{year}", "2023-02-29", -EINVAL, NULL },        /* not a leap year */
	{ "https://x/{year}", "2026-13-01", -EINVAL, NULL },
	{ "https://x/{year}", "2026-04-31", -EINVAL, NULL },
	{ "https://x/{year}", "2026-4-1", -EINVAL, NULL },
	{ "https://x/{year}", "2026-11-24x", -EINVAL, NULL },
	{ "https://x/{year}", "20a6-11-24", -EINVAL, NULL },
	{ "https://x/{year}", "", -EINVAL, NULL },
};

static void test_url_expand_table(void **state)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out = (char *)1;
		int rc = fetch_url_expand(cases[i].tmpl, cases[i].date, &out, NULL);
		if (rc != cases[i].rc)
			fail_msg("case %zu (%s, %s): rc %d, want %d", i, cases[i].tmpl,
			         cases[i].date, rc, cases[i].rc);
		if (cases[i].want)
			assert_string_equal(out, cases[i].want);
		else
			assert_null(out);
		free(out);
	}
}

static void test_date_vars(void **state)
{
	struct fetch_date_vars v;
	assert_int_equal(fetch_date_vars_init(&v, "2000-02-29"), 0);   /* 400-year leap */
	assert_string_equal(v.year, "2000");
	assert_string_equal(v.month, "02");
	assert_string_equal(v.day, "29");
	assert_string_equal(v.vars[0].name, "exec_date");
	assert_string_equal(v.vars[0].value, "2000-02-29");
	assert_int_equal(fetch_date_vars_init(&v, "1900-02-29"), -EINVAL);
	assert_int_equal(fetch_date_vars_init(&v, NULL), -EINVAL);
}

static void test_outcome_names(void **state)
{
	assert_string_equal(fetch_outcome_name(FETCH_PUBLISHED), "published");
	assert_string_equal(fetch_outcome_name(FETCH_UNCHANGED), "unchanged");
	assert_string_equal(fetch_outcome_name(FETCH_FAILED), "failed");
	assert_string_equal(fetch_outcome_name(FETCH_CANCELLED), "cancelled");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_expand_table),
		cmocka_unit_test(test_date_vars),
		cmocka_unit_test(test_outcome_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
