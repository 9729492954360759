/* test_jsonw.c - the JSON writer: exact text for structures and escapes,
 * agreement with jansson's parser on every string, and its failures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/jsonw.h"

/* The writer's text, taken; asserts that it did not fail. */
static char *take(struct jsonw *w)
{
	size_t len = 0;
	char *p;
	assert_int_equal(w->buf.err, 0);
	assert_int_equal(w->depth, 0);
	p = jsonw_take(w, &len);
	assert_non_null(p);
	assert_int_equal(strlen(p), len);
	return p;
}

static void test_structure_and_commas(void **state)
{
	struct jsonw w;
	json_t *v = json_pack("{s:[i,s]}", "x", 1, "é");
	char *p;

	jsonw_init(&w, 0, 1 << 20);
	jsonw_object(&w);
	jsonw_kint(&w, "v", 1);
	jsonw_key(&w, "id");
	jsonw_null(&w);
	jsonw_kbool(&w, "ok", true);
	jsonw_key(&w, "list");
	jsonw_array(&w);
	jsonw_array(&w);
	jsonw_end(&w);
	jsonw_object(&w);
	jsonw_end(&w);
	jsonw_int(&w, INT64_MIN);
	jsonw_int(&w, INT64_MAX);
	jsonw_int(&w, 0);
	jsonw_bool(&w, false);
	jsonw_str(&w, NULL);
	jsonw_json(&w, v);
	jsonw_json(&w, NULL);
	jsonw_end(&w);
	jsonw_kstr(&w, "s", "a\"b\\c");
	jsonw_end(&w);
	p = take(&w);
	assert_string_equal(p, "{\"v\":1,\"id\":null,\"ok\":true,\"list\":[[],{},"
	                    "-9223372036854775808,9223372036854775807,0,false,null,"
	                    "{\"x\":[1,\"\\u00E9\"]},null],\"s\":\"a\\\"b\\\\c\"}");
	free(p);
	json_decref(v);
}

/* Each input string, written and parsed back by jansson, gives EXPECT
 * (the input itself when it is valid UTF-8), and the text is ASCII. */
static void test_strings_round_trip_through_jansson(void **state)
{
	static const struct {
		const char *in, *expect, *text;
	} cases[] = {
		{ "", "", "\"\"" },
		{ "plain ascii 0-9 ~", NULL, "\"plain ascii 0-9 ~\"" },
		{ "tab\tnl\ncr\r", NULL, "\"tab\\tnl\\ncr\\r\"" },
		{ "\x01\x1f\x7f", NULL, "\"\\u0001\\u001F\\u007F\"" },
		{ "Zürich", NULL, "\"Z\\u00FCrich\"" },
		{ "€", NULL, "\"\\u20AC\"" },
		{ "𝄞", NULL, "\"\\uD834\\uDD1E\"" },                  /* a surrogate pair */
		{ "\xff", "\xef\xbf\xbd", "\"\\uFFFD\"" },             /* not UTF-8 */
		{ "a\xc3", "a\xef\xbf\xbd", "\"a\\uFFFD\"" },          /* cut short at the end */
		{ "\xc3(", "\xef\xbf\xbd(", "\"\\uFFFD(\"" },          /* bad continuation */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
		  "\"\\uFFFD\\uFFFD\\uFFFD\"" },                        /* an encoded surrogate */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", "\"\\uFFFD\\uFFFD\"" },  /* overlong */
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct jsonw w;
		json_error_t e;
		json_t *v;
		char *p;

		jsonw_init(&w, 4, 1 << 20);
		jsonw_str(&w, cases[i].in);
		p = take(&w);
		assert_string_equal(p, cases[i].text);
		for (const char *c = p; *c; c++)
			assert_true((unsigned char)*c < 0x80);
		v = json_loads(p, JSON_DECODE_ANY, &e);
		assert_non_null(v);
		assert_string_equal(json_string_value(v),
		                    cases[i].expect ? cases[i].expect : cases[i].in);
		json_decref(v);
		free(p);
	}
}

static void test_a_large_document_parses_back(void **state)
{
	struct jsonw w;
	json_t *v;
	char name[32], *p;

	jsonw_init(&w, 0, 64 << 20);
	jsonw_array(&w);
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "ds_%05d", i);
		jsonw_object(&w);
		jsonw_kstr(&w, "name", name);
		jsonw_kint(&w, "n", -i);
		jsonw_end(&w);
	}
	jsonw_end(&w);
	p = take(&w);
	v = json_loads(p, 0, NULL);
	assert_non_null(v);
	assert_int_equal(json_array_size(v), 20000);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 19999), "name")),
	                    "ds_19999");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 7), "n")), -7);
	json_decref(v);
	free(p);
}

static void test_failures_stick(void **state)
{
	struct jsonw w;
	size_t len;

	/* Past the size cap. */
	jsonw_init(&w, 0, 10);
	jsonw_str(&w, "0123456789");
	assert_int_equal(w.buf.err, -E2BIG);
	jsonw_int(&w, 1);                   /* nothing more is written */
	assert_int_equal(w.buf.err, -E2BIG);
	assert_null(jsonw_take(&w, &len));
	jsonw_free(&w);

	/* A key in an array, two keys in a row, an end with nothing open. */
	jsonw_init(&w, 0, 100);
	jsonw_array(&w);
	jsonw_key(&w, "k");
	assert_int_equal(w.buf.err, -EINVAL);
	jsonw_free(&w);
	jsonw_init(&w, 0, 100);
	jsonw_object(&w);
	jsonw_key(&w, "a");
	jsonw_key(&w, "b");
	assert_int_equal(w.buf.err, -EINVAL);
	jsonw_free(&w);
	jsonw_init(&w, 0, 100);
	jsonw_end(&w);
	assert_int_equal(w.buf.err, -EINVAL);
	jsonw_free(&w);

	/* Too deep. */
	jsonw_init(&w, 0, 1000);
	for (int i = 0; i < JSONW_MAX_DEPTH; i++)
		jsonw_array(&w);
	assert_int_equal(w.buf.err, -EINVAL);
	jsonw_free(&w);

	/* Nothing written: an empty text. */
	jsonw_init(&w, 0, 100);
	char *p = jsonw_take(&w, &len);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure_and_commas),
		cmocka_unit_test(test_strings_round_trip_through_jansson),
		cmocka_unit_test(test_a_large_document_parses_back),
		cmocka_unit_test(test_failures_stick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
