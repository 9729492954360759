/* test_config_types.c - the names of the configuration's enums (every
 * value named, once; "?" outside the range) and the rule for names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/macro.h"
#include "domain/config_types.h"

/* Every value of a table has a distinct name. */
static void check_table(const char *const *table, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!table[i] || !*table[i])
			fail_msg("value %zu has no name", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(table[i], table[j]) == 0)
				fail_msg("'%s' names values %zu and %zu", table[i], j, i);
	}
}

static void test_every_value_named(void **state)
{
	check_table(missed_table, ARRAY_SIZE(missed_table));
	check_table(col_type_table, ARRAY_SIZE(col_type_table));
	check_table(severity_table, ARRAY_SIZE(severity_table));
	check_table(check_type_table, ARRAY_SIZE(check_type_table));
}

static void test_names(void **state)
{
	assert_string_equal(config_missed_name(MISSED_LATEST), "latest");
	assert_string_equal(config_missed_name(MISSED_NONE), "none");
	assert_string_equal(config_col_type_name(COL_STRING), "string");
	assert_string_equal(config_col_type_name(COL_TIMESTAMP), "timestamp");
	assert_string_equal(config_col_type_name(COL_BOOL), "bool");
	assert_string_equal(config_severity_name(SEV_FAIL), "fail");
	assert_string_equal(config_severity_name(SEV_WARN), "warn");
	assert_string_equal(config_check_type_name(CHECK_COLUMNS), "columns");
	assert_string_equal(config_check_type_name(CHECK_ROW_COUNT), "row_count");
	assert_string_equal(config_check_type_name(CHECK_ALLOWED), "allowed");
}

static void test_out_of_range(void **state)
{
	assert_string_equal(config_missed_name((enum missed_policy)MISSED_COUNT), "?");
	assert_string_equal(config_col_type_name((enum col_type)COL_TYPE_COUNT), "?");
	assert_string_equal(config_severity_name((enum severity)SEVERITY_COUNT), "?");
	assert_string_equal(config_check_type_name((enum check_type)-1), "?");
}

static void test_name_rule(void **state)
{
	static const char *const good[] = {
		"a", "traffic_accidents", "service_requests_311", "_",
		"0123456789012345678901234567890123456789012345678901234567890123",
	};
	static const char *const bad[] = {
		"", "Traffic", "a-b", "a b", "a/b", "..", "é",
		"01234567890123456789012345678901234567890123456789012345678901234",
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_true(config_name_valid(good[i]));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_false(config_name_valid(bad[i]));
	assert_false(config_name_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_value_named),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_name_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
