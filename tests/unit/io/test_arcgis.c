/* test_arcgis.c - the pure parts of the ArcGIS pager (io/arcgis_int.h):
 * CSV escaping, dates with their offsets across DST, numbers, the digest
 * (order-independent, blind to the object id), the stamp text, and the
 * judging and parsing of answers.  Transfers: tests/integration. */
#include <errno.h>
#include <inttypes.h>
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

#include "arcgis_dom.c"

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
	/* The hand-made text is printf's, from year 0 to 9999 and beyond. */
	static const char *const zones[] = { "America/Denver", "Asia/Kolkata", "UTC" };
	uint64_t x = 12345;
	for (size_t z = 0; z < 3; z++) {
		assert_int_equal(tz_load(zones[z], &tz), 0);
		for (int i = 0; i < 20000; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			int64_t ms = (int64_t)(x >> 1) % 700000000000000LL - 350000000000000LL;
			if (i % 3 == 0)
				ms = ms / 1000 * 1000;
			struct civil c;
			char want[64], fr[8] = "";
			int64_t s = ms / 1000, frac = ms % 1000;
			if (frac < 0) {
				frac += 1000;
				s -= 1;
			}
			tz_civil(tz, s, &c);
			if (frac)
				snprintf(fr, sizeof fr, ".%03d", (int)frac);
			int off = c.utc_offset < 0 ? -c.utc_offset : c.utc_offset;
			snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d", c.year,
			         c.month, c.day, c.hour, c.minute, c.second, fr,
			         c.utc_offset < 0 ? '-' : '+', off / 3600, off % 3600 / 60);
			ag_csv_date(tz, ms, out, sizeof out);
			assert_string_equal(out, want);
		}
		tz_free(tz);
	}
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

/* A row as the page parser renders it: FEATURE alone in a page. */
struct trow {
	int64_t oid;
	char *line;
	struct ag_digest h;
};

static struct trow row_of(const char *feature)
{
	struct ag_layer l = layer();
	struct tz *tz;
	struct buf text, page;
	int64_t ids[] = { 1, 2, 7, 8, 90, 91 };
	bool have[6] = { 0 }, retryable;
	struct ag_row rows[6];
	struct ag_chunk c = { ids, 6, have, rows, 0, &text };
	struct ag_pscan *ps = ag_pscan_new();
	char msg[AG_ERR_MAX];
	struct trow r;
	size_t n;

	assert_non_null(ps);
	buf_init(&text, 0, 1 << 20);
	buf_init(&page, 0, 1 << 20);
	buf_printf(&page, "{\"features\":[%s]}", feature);
	assert_int_equal(tz_load("America/Denver", &tz), 0);
	assert_int_equal(ag_page_parse(ps, &l, tz, page.p, page.len, &c, &retryable, msg), 0);
	assert_int_equal(c.n_rows, 1);
	r.oid = rows[0].oid;
	r.h = rows[0].h;
	r.line = buf_take(&text, &n);
	assert_int_equal(n, rows[0].len);
	buf_free(&page);
	ag_pscan_free(ps);
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
	struct trow r = row_of("{\"attributes\":{\"OBJECTID\":7,\"Name\":\"a, b\","
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
	struct trow ra = row_of(a), rb = row_of(b), ra2 = row_of(a2), rb2 = row_of(b2),
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

/* ---- the page parser against the DOM path (arcgis_dom.c) ---- */

static uint64_t rng_s = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
	rng_s ^= rng_s << 13;
	rng_s ^= rng_s >> 7;
	rng_s ^= rng_s << 17;
	return (unsigned)(rng_s % n);
}

static const char *const g_strings[] = {
	"plain", "", "  ", "a,b", "say \\\"hi\\\"", "two\\nlines", "cr\\r", "tab\\t",
	"back\\\\slash", "sl\\/ash", "\\u00e9t\\u00E9", "caf\xc3\xa9", "\xf0\x9f\x98\x80",
	"\\ud83d\\ude00 smile", "\\u0022q\\u002c", "\\b\\f", "\\u20ac5,00", "x\\u000Ay",
	"long text with, commas, and \\\"quotes\\\" and \xe2\x82\xac",
};
static const char *const g_numbers[] = {
	"0", "-0", "1", "-1", "42", "9223372036854775807", "-9223372036854775808",
	"999999999999999", "1000000000000000", "-1234567890123456", "0.0", "-0.0", "1.5",
	"-104.9705536", "39.7392", "100.000", "0.1", "0.0001", "0.00001", "0.000123456",
	"123456789012345.5", "12345678901234.5", "1e5", "1E-7", "2.5e+300", "-3.25E2",
	"1.7976931348623157e308", "5e-324", "1e-400", "0.30000000000000004",
	"3.141592653589793", "12.50", "7.0e0", "0e0", "-0.000", "1541976240000",
	"1541976240000.0", "-1.0", "1531322640123", "123.456789012345678",
};
static const char *const g_nested[] = {
	"[]", "{}", "[1,2.50,\"a\"]", "{\"a\":{\"b\":[null,true]},\"c\":\"\\u00e9\"}",
	"{\"k\":1,\"k\":2}", "[1e5,-0,0.1]",
};
static const char *const g_names[] = {
	"OBJECTID", "Name", "When", "N", "x", "caf\xc3\xa9", "a\"b", "a,b", "Geo", "N",
};

static void gen_value(struct buf *b, enum ag_ftype t)
{
	unsigned k = rnd(20);
	if (t == AG_F_DATE && k < 10) {
		buf_printf(b, "%" PRId64 "%s", (int64_t)1500000000000LL +
		           (int64_t)rnd(1000000) * 977777 - (int64_t)(rnd(9) == 0 ? 1600000000000LL : 0),
		           rnd(6) == 0 ? ".0" : "");
		return;
	}
	if (k < 3)
		buf_printf(b, "%s", "null");
	else if (k < 4)
		buf_printf(b, "%s", rnd(2) ? "true" : "false");
	else if (k < 10)
		buf_printf(b, "\"%s\"", g_strings[rnd(sizeof g_strings / sizeof *g_strings)]);
	else if (k < 13)
		buf_printf(b, "%s", g_numbers[rnd(sizeof g_numbers / sizeof *g_numbers)]);
	else if (k < 15)
		buf_printf(b, "%.17g", (rnd(2) ? -1 : 1) * (double)rnd(1u << 30) / (1 + rnd(100000)));
	else if (k < 17)
		buf_printf(b, "%.*f", (int)rnd(8), (rnd(2) ? -1 : 1) * (double)rnd(1u << 30) / 997);
	else if (k < 18)
		buf_printf(b, "%u", rnd(100000));
	else
		buf_printf(b, "%s", g_nested[rnd(sizeof g_nested / sizeof *g_nested)]);
}

/* A key, sometimes with an escape that decodes to the same text. */
static void gen_key(struct buf *b, const char *name)
{
	buf_printf(b, "%s", "\"");
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			buf_printf(b, "%s", "\\\"");
		else if (rnd(15) == 0 && (unsigned char)*p < 0x80)
			buf_printf(b, "\\u%04x", (unsigned char)*p);
		else
			buf_put(b, p, 1);
	}
	buf_printf(b, "%s", "\":");
}

static void gen_feature(struct buf *b, const struct ag_layer *l)
{
	unsigned order[3] = { 0, 1, 2 }, nkeys = 0;
	for (unsigned i = 0; i < 3; i++) {
		unsigned j = rnd(3), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	if (rnd(60) == 0) {
		buf_printf(b, "%s", rnd(2) ? "null" : "[1]");
		return;
	}
	buf_printf(b, "%s", "{");
	for (unsigned o = 0; o < 3; o++) {
		switch (order[o]) {
		case 0:                                           /* attributes */
			if (nkeys++)
				buf_printf(b, "%s", ",");
			buf_printf(b, "%s", "\"attributes\":");
			if (rnd(80) == 0) {
				buf_printf(b, "%s", "[]");
				break;
			}
			buf_printf(b, "%s", "{");
			size_t nf = l->n_fields, perm[16];
			for (size_t i = 0; i < nf; i++)
				perm[i] = i;
			if (rnd(3) == 0)
				for (size_t i = 0; i < nf; i++) {
					size_t j = rnd((unsigned)nf), t = perm[i];
					perm[i] = perm[j];
					perm[j] = t;
				}
			unsigned na = 0;
			for (size_t i = 0; i < nf; i++) {
				size_t f = perm[i];
				bool is_oid = f == l->oid_index;
				if (!is_oid && rnd(8) == 0)
					continue;                 /* missing */
				if (is_oid && rnd(100) == 0)
					continue;
				for (unsigned rep = rnd(12) == 0 ? 2 : 1; rep; rep--) {
					if (na++)
						buf_printf(b, "%s", ",");
					gen_key(b, l->fields[f].name);
					if (is_oid && rnd(80) != 0)
						buf_printf(b, "%u", rnd(48));
					else
						gen_value(b, l->fields[f].type);
				}
			}
			if (rnd(5) == 0)
				buf_printf(b, "%s\"extra\":%s", na ? "," : "", "{\"deep\":[[[]]]}");
			buf_printf(b, "%s", "}");
			break;
		case 1:                                           /* geometry */
			if (rnd(4) == 0)
				break;
			if (nkeys++)
				buf_printf(b, "%s", ",");
			buf_printf(b, "%s", "\"geometry\":");
			if (rnd(10) == 0) {
				buf_printf(b, "%s", "null");
				break;
			}
			buf_printf(b, "%s", "{");
			if (rnd(6))
				buf_printf(b, "\"x\":%s", g_numbers[rnd(sizeof g_numbers / sizeof *g_numbers)]);
			else
				buf_printf(b, "%s", "\"x\":\"s\"");
			buf_printf(b, ",\"y\":%.17g", (double)rnd(1u << 30) / 1024);
			if (rnd(5) == 0)
				buf_printf(b, "%s", ",\"spatialReference\":{\"wkid\":4326}");
			buf_printf(b, "%s", "}");
			break;
		default:
			if (rnd(3))
				break;
			if (nkeys++)
				buf_printf(b, "%s", ",");
			buf_printf(b, "%s", "\"symbol\":[1,{\"a\":\"b\"}]");
		}
	}
	buf_printf(b, "%s", "}");
}

static void gen_page(struct buf *b, const struct ag_layer *l)
{
	unsigned order[4] = { 0, 1, 2, 3 }, nk = 0;
	for (unsigned i = 0; i < 4; i++) {
		unsigned j = rnd(4), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	b->len = 0;
	buf_printf(b, "%s", rnd(10) == 0 ? " \r\n\t{" : "{");
	for (unsigned o = 0; o < 4; o++) {
		unsigned reps = order[o] == 0 && rnd(15) == 0 ? 2 : 1;
		for (; reps; reps--) {
			if (order[o] == 3 && rnd(3))
				continue;
			if (nk++)
				buf_printf(b, "%s", ", ");
			switch (order[o]) {
			case 0: {
				buf_printf(b, "%s", "\"features\" : [");
				unsigned nf = rnd(12);
				for (unsigned i = 0; i < nf; i++) {
					if (i)
						buf_printf(b, "%s", rnd(5) ? "," : " ,\n");
					gen_feature(b, l);
				}
				buf_printf(b, "%s", "]");
				break;
			}
			case 1:
				buf_printf(b, "\"exceededTransferLimit\":%s", rnd(2) ? "true" : "false");
				break;
			case 2:
				buf_printf(b, "%s", "\"fields\":[{\"name\":\"OBJECTID\",\"type\":\"esriFieldTypeOID\"}]");
				break;
			default:
				if (rnd(10) == 0)
					buf_printf(b, "%s", "\"error\":{\"code\":500,\"message\":\"x\"}");
				else
					buf_printf(b, "%s", "\"error\":null");
			}
		}
	}
	buf_printf(b, "%s", "}");
	if (rnd(10) == 0)
		buf_printf(b, "%s", "\n");
}

/* Byte damage: truncation, a byte replaced, inserted or removed. */
static void mutate(struct buf *b)
{
	static const char pick[] = "{}[]\",:\\0123456789.eE-+tfnu \x80\xc3\xed\xf4\xff\x01";
	size_t at = b->len ? rnd((unsigned)b->len) : 0;
	switch (rnd(4)) {
	case 0:
		b->len = at;
		break;
	case 1:
		if (b->len)
			b->p[at] = pick[rnd(sizeof pick - 1)];
		break;
	case 2:
		if (b->len)
			memmove(b->p + at, b->p + at + 1, b->len - at - 1), b->len--;
		break;
	default:
		if (buf_reserve(b, 1)) {
			memmove(b->p + at + 1, b->p + at, b->len - at);
			b->p[at] = pick[rnd(sizeof pick - 1)];
			b->len++;
		}
	}
}

/* Both paths over BODY into their chunks: the same verdict, rows, text. */
static unsigned pages_with_rows, pages_rejected;

static void compare_paths(struct ag_pscan *ps, const struct ag_layer *l, const struct tz *tz,
                          const char *body, size_t n, struct ag_chunk *cd, struct ag_chunk *cs)
{
	char md[AG_ERR_MAX] = "", ms[AG_ERR_MAX] = "";
	bool rd = false, rs = false;
	int a = dom_page(l, tz, body, n, cd, &rd, md);
	int b = ag_page_parse(ps, l, tz, body, n, cs, &rs, ms);
	if (a != b || (a < 0 && (strcmp(md, ms) != 0 || rd != rs)))
		fail_msg("verdicts differ: dom %d \"%s\", stream %d \"%s\" on %.*s", a, md, b, ms,
		         (int)n, body);
	assert_int_equal(cd->n_rows, cs->n_rows);
	pages_with_rows += a == 0 && cs->n_rows;
	pages_rejected += a < 0;
	for (size_t i = 0; i < cd->n_rows; i++) {
		const struct ag_row *x = &cd->rows[i], *y = &cs->rows[i];
		assert_true(x->oid == y->oid);
		if (x->len != y->len || memcmp(cd->text->p + x->off, cs->text->p + y->off, x->len))
			fail_msg("rows differ:\n%.*s\n%.*s\non %.*s", (int)x->len, cd->text->p + x->off,
			         (int)y->len, cs->text->p + y->off, (int)n, body);
		assert_true(x->h.hi == y->h.hi && x->h.lo == y->h.lo);
	}
	assert_memory_equal(cd->have, cs->have, cd->n);
}

static void test_stream_matches_dom(void **state)
{
	struct ag_field f[10];
	struct ag_layer l;
	struct tz *tz;
	int64_t ids[40];
	bool hd[40], hs[40];
	struct ag_row rd[40], rs[40];
	struct buf td, ts, page;
	struct ag_pscan *ps = ag_pscan_new();
	static const enum ag_ftype types[] = { AG_F_TEXT, AG_F_DATE, AG_F_NUMBER, AG_F_OTHER };
	(void)state;

	assert_non_null(ps);
	assert_int_equal(tz_load("America/Denver", &tz), 0);
	for (size_t i = 0; i < 40; i++)
		ids[i] = (int64_t)i + 3;
	buf_init(&td, 0, 1 << 24);
	buf_init(&ts, 0, 1 << 24);
	buf_init(&page, 0, 1 << 24);
	for (unsigned round = 0; round < 4000; round++) {
		size_t nf = 1 + rnd(10);
		for (size_t i = 0; i < nf; i++) {
			f[i].name = (char *)(i < 4 || rnd(4) ? g_names[i] : g_names[rnd(10)]);
			f[i].type = i == 0 ? AG_F_OID : types[rnd(4)];
		}
		l = (struct ag_layer){ .fields = f, .n_fields = nf, .oid_index = 0,
		                       .oid_name = f[0].name, .geometry = rnd(3) != 0 };
		struct ag_chunk cd = { ids, 40, hd, rd, 0, &td }, cs = { ids, 40, hs, rs, 0, &ts };
		memset(hd, 0, sizeof hd);
		memset(hs, 0, sizeof hs);
		td.len = ts.len = 0;
		for (unsigned pg = 0; pg < 3; pg++) {   /* pages into one chunk */
			gen_page(&page, &l);
			for (unsigned m = rnd(4) == 0 ? 1 + rnd(3) : 0; m; m--)
				mutate(&page);
			compare_paths(ps, &l, tz, page.p, page.len, &cd, &cs);
		}
	}
	/* Most pages are whole and give rows, some are damaged. */
	print_message("%u pages with rows, %u rejected\n", pages_with_rows, pages_rejected);
	assert_true(pages_with_rows > 6000 && pages_rejected > 1000);
	/* Edges of the grammar that the generator does not reach. */
	static const char *const edge[] = {
		"", " ", "[]", "{}", "[{\"features\":[]}]", "{\"features\":[]}x",
		"{\"features\":[],}", "{\"features\":[,]}", "{\"features\":{}}", "{\"features\":null}",
		"{\"features\":[{\"attributes\":{\"OBJECTID\":3}}]", "{\"features\":[{\"attributes\":"
		"{\"OBJECTID\":3,\"Name\":\"\\ud800\"}}]}", "{\"features\":[{\"attributes\":{\"OBJECTID\""
		":3,\"Name\":\"\\udc00\\ud800\"}}]}", "{\"features\":[{\"attributes\":{\"OBJECTID\":3,"
		"\"Name\":\"\\u0000\"}}]}", "{\"feat\\u0000\":1}", "{\"features\":[{\"attributes\":"
		"{\"OBJECTID\":03}}]}", "{\"features\":[{\"attributes\":{\"OBJECTID\":9223372036854775808}}]}",
		"{\"features\":[{\"attributes\":{\"OBJECTID\":3,\"N\":1e999}}]}",
		"{\"features\":[{\"attributes\":{\"OBJECTID\":3,\"N\":-}}]}",
		"{\"features\":[{\"attributes\":{\"OBJECTID\":3,\"N\":1.}}]}",
		"{\"features\":[{\"attributes\":{\"OBJECTID\":3,\"N\":.5}}]}",
		"{\"features\":[{\"attributes\":{\"OBJECTID\":3,\"N\":tru}}]}",
		"{\"features\":[{\"attributes\":{\"OBJECTID\":3,\"N\":nulls}}]}",
		"{\"features\":[{\"attributes\":{\"OBJECTID\":3.0}}]}",
		"{\"features\":[{\"attributes\":{\"OBJECTID\":\"3\"}}]}",
		"{\"error\":{\"code\":400,\"message\":\"bad\",\"details\":[\"d\"]},\"features\":[]}",
		"{\"features\":[],\"error\":{\"code\":504}}", "{\"features\":[] , \"error\":[]}",
		"\xef\xbb\xbf{\"features\":[]}", "{\"features\":[]}\x00", "<html>",
	};
	f[0] = (struct ag_field){ "OBJECTID", AG_F_OID };
	f[1] = (struct ag_field){ "Name", AG_F_TEXT };
	f[2] = (struct ag_field){ "N", AG_F_NUMBER };
	l = (struct ag_layer){ .fields = f, .n_fields = 3, .oid_index = 0,
	                       .oid_name = f[0].name, .geometry = true };
	for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
		struct ag_chunk cd = { ids, 40, hd, rd, 0, &td }, cs = { ids, 40, hs, rs, 0, &ts };
		memset(hd, 0, sizeof hd);
		memset(hs, 0, sizeof hs);
		td.len = ts.len = 0;
		size_t n = strlen(edge[i]) + (strcmp(edge[i], "{\"features\":[]}") == 0);
		compare_paths(ps, &l, tz, edge[i], n ? n : 0, &cd, &cs);
	}
	/* jansson skips one NUL right after a number or literal, not two */
#define E(x) { x, sizeof x - 1 }
	static const struct { const char *p; size_t n; } nul_edge[] = {
		E("{\"features\":[{\"attributes\":{\"OBJECTID\":3\0}}]}"),
		E("{\"features\":[{\"attributes\":{\"OBJECTID\":3,\"N\":true\0}}]}"),
		E("{\"features\":[{\"attributes\":{\"OBJECTID\":3\0\0}}]}"),
		E("{\"features\":[{\"attributes\":{\"OBJECTID\":3,\"Name\":\"a\"\0}}]}"),
	};
#undef E
	for (size_t i = 0; i < sizeof nul_edge / sizeof *nul_edge; i++) {
		struct ag_chunk cd = { ids, 40, hd, rd, 0, &td }, cs = { ids, 40, hs, rs, 0, &ts };
		memset(hd, 0, sizeof hd);
		memset(hs, 0, sizeof hs);
		td.len = ts.len = 0;
		compare_paths(ps, &l, tz, nul_edge[i].p, nul_edge[i].n, &cd, &cs);
		assert_int_equal(cs.n_rows, i < 2 ? 1 : 0);   /* the first two pass */
	}
	/* Deep nesting: 2048 levels pass, 2049 do not (jansson's limit). */
	for (int depth = 2046; depth <= 2050; depth++) {
		struct ag_chunk cd = { ids, 40, hd, rd, 0, &td }, cs = { ids, 40, hs, rs, 0, &ts };
		page.len = 0;
		buf_put(&page, "{\"features\":[{\"attributes\":{\"OBJECTID\":4,\"Name\":", 48);
		for (int i = 5; i <= depth; i++)
			buf_put(&page, "[", 1);
		for (int i = 5; i <= depth; i++)
			buf_put(&page, "]", 1);
		buf_put(&page, "}}]}", 4);
		memset(hd, 0, sizeof hd);
		memset(hs, 0, sizeof hs);
		td.len = ts.len = 0;
		compare_paths(ps, &l, tz, page.p, page.len, &cd, &cs);
	}
	buf_free(&td);
	buf_free(&ts);
	buf_free(&page);
	ag_pscan_free(ps);
	tz_free(tz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_field_escaping),
		cmocka_unit_test(test_dates_across_dst),
		cmocka_unit_test(test_numbers_shortest),
		cmocka_unit_test(test_row_and_header),
		cmocka_unit_test(test_stream_matches_dom),
		cmocka_unit_test(test_digest_order_and_oid),
		cmocka_unit_test(test_stamp_format_parse),
		cmocka_unit_test(test_judge_bodies),
		cmocka_unit_test(test_heavy_errors),
		cmocka_unit_test(test_parse_layer_count_ids),
		cmocka_unit_test(test_form_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
