/* test_arcgis.c - the pure parts of the ArcGIS pager (io/arcgis_int.h):
 * CSV escaping, dates with their offsets across DST, numbers, the digest
 * (order-independent, blind to the object id), the stamp text, and the
 * judging and parsing of answers.  Transfers: tests/integration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "domain/tz.h"
#include "io/arcgis_int.h"

static char *field(const char *v)
{
	struct buf b;
	size_t n;
	buf_init(&b, 16, 1024);
	ag_csv_field(&b, v, strlen(v));
	return buf_take(&b, &n);
}

static void test_csv_field_escaping(void **state)
{
	static const char *const cases[][2] = {
		{ "plain", "plain" }, { "", "" }, { "  ", "  " },
		{ "a,b", "\"a,b\"" }, { "say \"hi\"", "\"say \"\"hi\"\"\"" },
		{ "two\nlines", "\"two\nlines\"" }, { "cr\r", "\"cr\r\"" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = field(cases[i][0]);
		assert_string_equal(s, cases[i][1]);
		free(s);
	}
}

static void test_dates_across_dst(void **state)
{
	struct tz *tz;
	char out[48];
	(void)state;
	assert_int_equal(tz_load("America/Denver", &tz), 0);
	ag_csv_date(tz, 1541976240000LL, out, sizeof out);      /* November: MST */
	assert_string_equal(out, "2018-11-11T15:44:00-07:00");
	ag_csv_date(tz, 1531322640000LL, out, sizeof out);      /* July: MDT */
	assert_string_equal(out, "2018-07-11T09:24:00-06:00");
	ag_csv_date(tz, 1741510799000LL, out, sizeof out);      /* 2025-03-09 01:59:59 MST */
	assert_string_equal(out, "2025-03-09T01:59:59-07:00");
	ag_csv_date(tz, 1741510800000LL, out, sizeof out);      /* a second later: MDT */
	assert_string_equal(out, "2025-03-09T03:00:00-06:00");
	ag_csv_date(tz, -1LL, out, sizeof out);                  /* before 1970, with ms */
	assert_string_equal(out, "1969-12-31T16:59:59.999-07:00");
	tz_free(tz);
	assert_int_equal(tz_load("UTC", &tz), 0);
	ag_csv_date(tz, 0, out, sizeof out);
	assert_string_equal(out, "1970-01-01T00:00:00+00:00");
	tz_free(tz);
}

static void test_numbers_shortest(void **state)
{
	char out[40];
	(void)state;
	ag_csv_number(311.0, out, sizeof out);
	assert_string_equal(out, "311");
	ag_csv_number(3148840.0, out, sizeof out);
	assert_string_equal(out, "3148840");
	ag_csv_number(-104.9705536, out, sizeof out);
	assert_string_equal(out, "-104.9705536");
	ag_csv_number(0.1, out, sizeof out);
	assert_string_equal(out, "0.1");
	ag_csv_number(1e300, out, sizeof out);
	assert_string_equal(out, "1e+300");
}

static struct ag_layer layer(void)
{
	static struct ag_field f[] = {
		{ "OBJECTID", AG_F_OID }, { "Name", AG_F_TEXT }, { "When", AG_F_DATE },
		{ "N", AG_F_NUMBER },
	};
	struct ag_layer l = { .fields = f, .n_fields = 4, .oid_index = 0,
	                      .oid_name = (char *)"OBJECTID", .geometry = true };
	return l;
}

static struct ag_row row_of(const char *json)
{
	struct ag_layer l = layer();
	struct tz *tz;
	struct ag_row r;
	json_t *f = json_loads(json, 0, NULL);
	assert_non_null(f);
	assert_int_equal(tz_load("America/Denver", &tz), 0);
	assert_int_equal(ag_csv_row(&l, tz, f, &r), 0);
	json_decref(f);
	tz_free(tz);
	return r;
}

static void test_row_and_header(void **state)
{
	struct ag_layer l = layer();
	struct buf b;
	size_t n;
	(void)state;
	buf_init(&b, 16, 1024);
	ag_csv_header(&b, &l);
	char *h = buf_take(&b, &n);
	assert_string_equal(h, "OBJECTID,Name,When,N,x,y\r\n");
	free(h);
	struct ag_row r = row_of("{\"attributes\":{\"OBJECTID\":7,\"Name\":\"a, b\","
	                         "\"When\":1541976240000,\"N\":null},"
	                         "\"geometry\":{\"x\":-104.5,\"y\":39.75}}");
	assert_int_equal(r.oid, 7);
	assert_string_equal(r.line, "7,\"a, b\",2018-11-11T15:44:00-07:00,,-104.5,39.75\r\n");
	free(r.line);
	r = row_of("{\"attributes\":{\"OBJECTID\":8,\"Name\":\"  \",\"When\":null,\"N\":2.5}}");
	assert_string_equal(r.line, "8,  ,,2.5,,\r\n");
	free(r.line);
}

static void test_digest_order_and_oid(void **state)
{
	const char *a = "{\"attributes\":{\"OBJECTID\":1,\"Name\":\"x\",\"When\":0,\"N\":1}}";
	const char *b = "{\"attributes\":{\"OBJECTID\":2,\"Name\":\"y\",\"When\":0,\"N\":2}}";
	const char *a2 = "{\"attributes\":{\"OBJECTID\":91,\"Name\":\"x\",\"When\":0,\"N\":1}}";
	const char *b2 = "{\"attributes\":{\"OBJECTID\":90,\"Name\":\"y\",\"When\":0,\"N\":2}}";
	const char *c = "{\"attributes\":{\"OBJECTID\":2,\"Name\":\"z\",\"When\":0,\"N\":2}}";
	struct ag_row ra = row_of(a), rb = row_of(b), ra2 = row_of(a2), rb2 = row_of(b2),
	              rc = row_of(c);
	struct ag_digest d1 = { 0 }, d2 = { 0 }, d3 = { 0 };
	char h1[ARCGIS_DIGEST_HEX], h2[ARCGIS_DIGEST_HEX], h3[ARCGIS_DIGEST_HEX];
	(void)state;
	ag_digest_add(&d1, &ra.h);
	ag_digest_add(&d1, &rb.h);
	ag_digest_add(&d2, &rb2.h);    /* other order, fresh ids */
	ag_digest_add(&d2, &ra2.h);
	ag_digest_add(&d3, &ra.h);
	ag_digest_add(&d3, &rc.h);
	ag_digest_hex(&d1, h1);
	ag_digest_hex(&d2, h2);
	ag_digest_hex(&d3, h3);
	assert_string_equal(h1, h2);
	assert_string_not_equal(h1, h3);
	assert_int_equal(strlen(h1), 32);
	struct ag_digest back;
	assert_int_equal(ag_digest_parse(h1, &back), 0);
	assert_memory_equal(&back, &d1, sizeof back);
	/* The sum carries into the high half. */
	struct ag_digest s = { 0, UINT64_MAX }, one = { 0, 1 };
	ag_digest_add(&s, &one);
	assert_true(s.hi == 1 && s.lo == 0);
	free(ra.line); free(rb.line); free(ra2.line); free(rb2.line); free(rc.line);
}

static void test_stamp_format_parse(void **state)
{
	struct arcgis_stamp s = { 1764547200000LL, 1704067200000LL, 290000,
	                          "00112233445566778899aabbccddeeff" }, t;
	char text[ARCGIS_STAMP_MAX];
	(void)state;
	arcgis_stamp_format(&s, text, sizeof text);
	assert_string_equal(text, "arcgis1;data=1764547200000;schema=1704067200000;"
	                    "count=290000;digest=00112233445566778899aabbccddeeff");
	assert_int_equal(arcgis_stamp_parse(text, &t), 0);
	assert_true(t.data_edit_ms == s.data_edit_ms && t.schema_edit_ms == s.schema_edit_ms &&
	            t.count == s.count);
	assert_string_equal(t.digest, s.digest);
	struct arcgis_stamp u = { -1, -1, -1, "" };
	arcgis_stamp_format(&u, text, sizeof text);
	assert_int_equal(arcgis_stamp_parse(text, &t), 0);
	assert_true(t.data_edit_ms == -1 && t.count == -1 && t.digest[0] == '\0');
	assert_int_equal(arcgis_stamp_parse("\"abc\"", &t), -EINVAL);   /* an ETag */
	assert_true(t.data_edit_ms == -1 && t.schema_edit_ms == -1 && t.count == -1);
	assert_int_equal(arcgis_stamp_parse("arcgis1;data=x;schema=1;count=1;digest=", &t),
	                 -EINVAL);
	assert_int_equal(arcgis_stamp_parse("arcgis1;data=1;schema=1;count=1;digest=zz", &t),
	                 -EINVAL);
}

static int judge(const char *body, bool *retryable, char *msg)
{
	json_t *doc;
	int rc = ag_judge_body(body, strlen(body), &doc, retryable, msg);
	json_decref(doc);
	return rc;
}

static void test_judge_bodies(void **state)
{
	char msg[AG_ERR_MAX];
	bool r;
	(void)state;
	assert_int_equal(judge("{\"features\":[]}", &r, msg), 0);
	assert_int_equal(judge("<html>busy</html>", &r, msg), -EIO);
	assert_true(r);
	assert_int_equal(judge("", &r, msg), -EIO);
	assert_true(r);
	assert_int_equal(judge("{\"features\":[{\"attr", &r, msg), -EIO);
	assert_true(r);
	assert_int_equal(judge("{\"error\":{\"code\":500,\"message\":\"Error performing query "
	                       "operation.\",\"details\":[]}}", &r, msg), -EIO);
	assert_true(r);
	assert_int_equal(judge("{\"error\":{\"code\":429,\"message\":\"Too many\"}}", &r, msg),
	                 -EIO);
	assert_true(r);
	assert_int_equal(judge("{\"error\":{\"code\":400,\"message\":\"Invalid URL\","
	                       "\"details\":[\"Invalid URL\"]}}", &r, msg), -EIO);
	assert_false(r);
	assert_string_equal(msg, "ArcGIS error 400: Invalid URL");
	assert_int_equal(judge("{\"error\":{\"code\":400,\"message\":\"Unable to complete  "
	                       "operation.\",\"details\":[\"'geometry' parameter is invalid\"]}}",
	                       &r, msg), -EIO);
	assert_false(r);
	assert_non_null(strstr(msg, "'geometry' parameter is invalid"));
}

/* Which judged errors count as a heavy page (the halving of arcgis.c). */
static void test_heavy_errors(void **state)
{
	char msg[AG_ERR_MAX];
	bool r;
	(void)state;
	judge("{\"error\":{\"code\":500,\"message\":\"Error performing query operation.\"}}",
	      &r, msg);
	assert_true(ag_error_heavy(msg));
	judge("{\"error\":{\"code\":504,\"message\":\"Gateway Timeout\"}}", &r, msg);
	assert_true(ag_error_heavy(msg));
	judge("{\"error\":{\"code\":400,\"message\":\"Error performing query operation\"}}",
	      &r, msg);
	assert_true(ag_error_heavy(msg));
	judge("{\"error\":{\"code\":503,\"message\":\"Service not started \"}}", &r, msg);
	assert_false(ag_error_heavy(msg));
	judge("{\"error\":{\"code\":429,\"message\":\"Too many\"}}", &r, msg);
	assert_false(ag_error_heavy(msg));
	judge("<html>busy</html>", &r, msg);
	assert_false(ag_error_heavy(msg));
}

static void test_parse_layer_count_ids(void **state)
{
	const char *doc = "{\"type\":\"Feature Layer\",\"geometryType\":\"esriGeometryPoint\","
	                  "\"objectIdField\":\"object_id\",\"maxRecordCount\":2000,"
	                  "\"fields\":[{\"name\":\"object_id\",\"type\":\"esriFieldTypeOID\"},"
	                  "{\"name\":\"d\",\"type\":\"esriFieldTypeDate\"},"
	                  "{\"name\":\"s\",\"type\":\"esriFieldTypeString\"}],"
	                  "\"editingInfo\":{\"lastEditDate\":5,\"schemaLastEditDate\":3,"
	                  "\"dataLastEditDate\":4}}";
	char msg[AG_ERR_MAX];
	struct ag_layer l;
	json_t *o = json_loads(doc, 0, NULL);
	int64_t n, *ids;
	size_t k;
	(void)state;
	assert_int_equal(ag_parse_layer(o, &l, msg), 0);
	assert_int_equal(l.n_fields, 3);
	assert_int_equal(l.oid_index, 0);
	assert_int_equal(l.fields[1].type, AG_F_DATE);
	assert_true(l.geometry);
	assert_int_equal(l.max_records, 2000);
	assert_true(l.data_edit_ms == 4 && l.schema_edit_ms == 3);
	ag_layer_free(&l);
	json_decref(o);
	o = json_loads("{\"type\":\"Table\",\"fields\":[{\"name\":\"OBJECTID\",\"type\":"
	               "\"esriFieldTypeOID\"}],\"editingInfo\":{\"lastEditDate\":9}}", 0, NULL);
	assert_int_equal(ag_parse_layer(o, &l, msg), 0);
	assert_false(l.geometry);
	assert_true(l.data_edit_ms == 9 && l.schema_edit_ms == -1);
	ag_layer_free(&l);
	json_decref(o);
	o = json_loads("{\"count\":290000}", 0, NULL);
	assert_int_equal(ag_parse_count(o, &n, msg), 0);
	assert_int_equal(n, 290000);
	json_decref(o);
	o = json_loads("{\"objectIdFieldName\":\"x\",\"objectIds\":[5,3,9,3,1]}", 0, NULL);
	assert_int_equal(ag_parse_ids(o, &ids, &k, msg), 0);
	assert_int_equal(k, 4);
	assert_true(ids[0] == 1 && ids[1] == 3 && ids[2] == 5 && ids[3] == 9);
	free(ids);
	json_decref(o);
	o = json_loads("{\"objectIdFieldName\":\"x\",\"objectIds\":null}", 0, NULL);
	assert_int_equal(ag_parse_ids(o, &ids, &k, msg), 0);
	assert_int_equal(k, 0);
	json_decref(o);
}

static void test_form_encoding(void **state)
{
	const char *names[] = { "where", "f" };
	const char *values[] = { "(1=1) AND object_id >= 5 & 'a'", "json" };
	char *s = ag_form(names, values, 2);
	(void)state;
	assert_string_equal(s, "where=%281%3D1%29%20AND%20object_id%20%3E%3D%205%20%26%20%27a%27"
	                    "&f=json");
	free(s);
	assert_string_equal(arcgis_outcome_name(ARCGIS_UNCHANGED), "unchanged");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_field_escaping),
		cmocka_unit_test(test_dates_across_dst),
		cmocka_unit_test(test_numbers_shortest),
		cmocka_unit_test(test_row_and_header),
		cmocka_unit_test(test_digest_order_and_oid),
		cmocka_unit_test(test_stamp_format_parse),
		cmocka_unit_test(test_judge_bodies),
		cmocka_unit_test(test_heavy_errors),
		cmocka_unit_test(test_parse_layer_count_ids),
		cmocka_unit_test(test_form_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
