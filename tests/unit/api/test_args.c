/* test_args.c - the control commands' argument readers (api/args.h): one
 * rule for every key (absent and null are "not given"), types, ranges,
 * defaults, and the messages an operator reads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "api/args.h"
#include "api/control.h"

/* ARGS as JSON text (a new object; the test leaks nothing: it decrefs). */
static json_t *args_of(const char *text)
{
	json_t *a = json_loads(text, 0, NULL);
	assert_non_null(a);
	return a;
}

static void expect_einval(int rc, const struct control_error *err, const char *message)
{
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err->code, "EINVAL");
	assert_string_equal(err->message, message);
}

static void test_string(void **state)
{
	json_t *a = args_of("{\"s\": \"x\", \"n\": null, \"i\": 5}");
	struct control_error err = { 0 };
	const char *v = "unset";

	assert_int_equal(arg_string(a, "s", true, &v, &err), 0);
	assert_string_equal(v, "x");
	assert_int_equal(arg_string(a, "n", false, &v, &err), 0);
	assert_null(v);
	assert_int_equal(arg_string(a, "absent", false, &v, &err), 0);
	assert_null(v);
	expect_einval(arg_string(a, "n", true, &v, &err), &err, "missing argument \"n\"");
	expect_einval(arg_string(a, "absent", true, &v, &err), &err,
	              "missing argument \"absent\"");
	expect_einval(arg_string(a, "i", false, &v, &err), &err, "\"i\" must be a string");
	json_decref(a);
}

static void test_int(void **state)
{
	json_t *a = args_of("{\"limit\": 5, \"zero\": 0, \"null\": null, \"text\": \"5\","
	                    " \"real\": 5.0, \"big\": 1001}");
	struct control_error err = { 0 };
	int64_t v = -1;

	assert_int_equal(arg_int(a, "limit", 1, 1000, 20, &v, &err), 0);
	assert_int_equal(v, 5);
	assert_int_equal(arg_int(a, "null", 1, 1000, 20, &v, &err), 0);
	assert_int_equal(v, 20);                       /* null: the default */
	assert_int_equal(arg_int(a, "absent", 1, 1000, 20, &v, &err), 0);
	assert_int_equal(v, 20);
	assert_int_equal(arg_int(a, "big", 1, 1001, 20, &v, &err), 0);   /* MAX included */
	assert_int_equal(v, 1001);
	expect_einval(arg_int(a, "zero", 1, 1000, 20, &v, &err), &err,
	              "\"zero\" must be an integer from 1 to 1000");
	expect_einval(arg_int(a, "big", 1, 1000, 20, &v, &err), &err,
	              "\"big\" must be an integer from 1 to 1000");
	expect_einval(arg_int(a, "text", 1, 1000, 20, &v, &err), &err,
	              "\"text\" must be an integer from 1 to 1000");
	expect_einval(arg_int(a, "real", 1, 1000, 20, &v, &err), &err,
	              "\"real\" must be an integer from 1 to 1000");
	json_decref(a);
}

static void test_bool(void **state)
{
	json_t *a = args_of("{\"t\": true, \"f\": false, \"n\": null, \"one\": 1}");
	struct control_error err = { 0 };
	bool v = false;

	assert_int_equal(arg_bool(a, "t", &v, &err), 0);
	assert_true(v);
	assert_int_equal(arg_bool(a, "f", &v, &err), 0);
	assert_false(v);
	v = true;
	assert_int_equal(arg_bool(a, "n", &v, &err), 0);
	assert_false(v);
	v = true;
	assert_int_equal(arg_bool(a, "absent", &v, &err), 0);
	assert_false(v);
	expect_einval(arg_bool(a, "one", &v, &err), &err, "\"one\" must be true or false");
	json_decref(a);
}

static void test_date(void **state)
{
	json_t *a = args_of("{\"d\": \"2026-03-08\", \"next\": \"2026-03-09\","
	                    " \"bad\": \"2026-3-8\", \"feb\": \"2026-02-30\", \"n\": null,"
	                    " \"i\": 20260308}");
	struct control_error err = { 0 };
	const char *text = "unset";
	int64_t day = -1, next = -1;

	assert_int_equal(arg_date(a, "d", true, &day, &text, &err), 0);
	assert_string_equal(text, "2026-03-08");
	assert_int_equal(arg_date(a, "next", true, &next, &text, &err), 0);
	assert_int_equal(next, day + 1);               /* day numbers */
	assert_int_equal(arg_date(a, "n", false, &day, &text, &err), 0);
	assert_null(text);
	assert_int_equal(arg_date(a, "absent", false, &day, &text, &err), 0);
	assert_null(text);
	expect_einval(arg_date(a, "n", true, &day, &text, &err), &err, "missing argument \"n\"");
	expect_einval(arg_date(a, "bad", false, &day, &text, &err), &err,
	              "\"bad\": \"2026-3-8\" is not a date (YYYY-MM-DD)");
	expect_einval(arg_date(a, "feb", false, &day, &text, &err), &err,
	              "\"feb\": \"2026-02-30\" is not a date (YYYY-MM-DD)");
	expect_einval(arg_date(a, "i", false, &day, &text, &err), &err, "\"i\" must be a string");
	json_decref(a);
}

static void test_run(void **state)
{
	static const char *const bad[] = {
		"{}", "{\"run\": null}", "{\"run\": 0}", "{\"run\": -3}", "{\"run\": \"7\"}",
		"{\"run\": 7.5}",
	};
	struct control_error err = { 0 };
	int64_t id = -1;
	json_t *a = args_of("{\"run\": 7}");

	assert_int_equal(arg_run(a, &id, &err), 0);
	assert_int_equal(id, 7);
	json_decref(a);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		a = args_of(bad[i]);
		expect_einval(arg_run(a, &id, &err), &err,
		              "\"run\" must be a run id (a positive integer)");
		json_decref(a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
