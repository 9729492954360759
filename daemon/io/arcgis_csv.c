/*
 * arcgis_csv.c - the canonical CSV of an ArcGIS layer (io/arcgis.h), the
 * digest of its rows and the stamp as a validator string.  Pure: no I/O,
 * no clock; any thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#define XXH_STATIC_LINKING_ONLY   /* XXH3_state_t on the stack, one per row */
#include <xxhash.h>

#include "domain/tz.h"
#include "io/arcgis_int.h"

void ag_csv_field(struct buf *b, const char *v, size_t n)
{
	if (strcspn(v, ",\"\r\n") >= n && memchr(v, '\0', n) == NULL) {
		buf_put(b, v, n);
		return;
	}
	buf_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '"')
			buf_put(b, "\"", 1);
		buf_put(b, v + i, 1);
	}
	buf_put(b, "\"", 1);
}

void ag_csv_header(struct buf *b, const struct ag_layer *l)
{
	for (size_t i = 0; i < l->n_fields; i++) {
		if (i)
			buf_put(b, ",", 1);
		ag_csv_field(b, l->fields[i].name, strlen(l->fields[i].name));
	}
	if (l->geometry)
		buf_put(b, l->n_fields ? ",x,y" : "x,y", l->n_fields ? 4 : 3);
	buf_put(b, "\r\n", 2);
}

void ag_csv_date(const struct tz *tz, int64_t ms, char *out, size_t n)
{
	int64_t s = ms / 1000, frac = ms % 1000;
	struct civil c;
	char fr[8] = "";

	if (frac < 0) {
		frac += 1000;
		s -= 1;
	}
	tz_civil(tz, s, &c);
	if (frac)
		snprintf(fr, sizeof fr, ".%03d", (int)frac);
	int off = c.utc_offset < 0 ? -c.utc_offset : c.utc_offset;
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d", c.year, c.month, c.day,
	         c.hour, c.minute, c.second, fr, c.utc_offset < 0 ? '-' : '+', off / 3600,
	         off % 3600 / 60);
}

void ag_csv_number(double v, char *out, size_t n)
{
	/* Whole numbers without an exponent (3148840, not 3.14884e+06). */
	if (v == (double)(int64_t)v && v > -1e15 && v < 1e15) {
		snprintf(out, n, "%" PRId64, (int64_t)v);
		return;
	}
	/* From 15 digits up: a value that some precision p <= 15 reads back
	 * exactly prints at 15 as those p digits (every double is within half
	 * a unit of the 15th digit of its nearest p-digit decimal) and %g drops
	 * the trailing zeros, so this is the shortest text, in the same style
	 * (a non-whole value below 1e15 never takes the exponent form here),
	 * for one to three snprintf/strtod pairs instead of up to 17. */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, n, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* One attribute value as canonical text into B. */
static void put_value(struct buf *b, const struct tz *tz, enum ag_ftype type, json_t *v)
{
	char tmp[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		ag_csv_field(b, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		if (type == AG_F_DATE)
			ag_csv_date(tz, json_integer_value(v), tmp, sizeof tmp);
		else
			snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		if (type == AG_F_DATE)
			ag_csv_date(tz, (int64_t)json_real_value(v), tmp, sizeof tmp);
		else
			ag_csv_number(json_real_value(v), tmp, sizeof tmp);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(tmp, sizeof tmp, "%s", json_is_true(v) ? "true" : "false");
		break;
	case JSON_NULL:
		return;
	default: {
		/* An object or array in an attribute: its compact JSON text. */
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (s)
			ag_csv_field(b, s, strlen(s));
		else
			b->err = ENOMEM;
		free(s);
		return;
	}
	}
	buf_put(b, tmp, strlen(tmp));
}

/* A number of the geometry, or nothing when absent. */
static void put_coord(struct buf *b, json_t *geom, const char *key)
{
	json_t *v = json_object_get(geom, key);
	char tmp[40];
	if (!json_is_number(v))
		return;
	ag_csv_number(json_number_value(v), tmp, sizeof tmp);
	buf_put(b, tmp, strlen(tmp));
}

static void hash_row(const char *p, size_t len, size_t a, size_t z, struct ag_digest *out)
{
	XXH3_state_t st;
	XXH3_128bits_reset(&st);
	XXH3_128bits_update(&st, p, a);
	XXH3_128bits_update(&st, p + z, len - z);
	XXH128_hash_t h = XXH3_128bits_digest(&st);
	out->hi = h.high64;
	out->lo = h.low64;
}

int ag_csv_row(const struct ag_layer *l, const struct tz *tz, json_t *feature,
               struct ag_row *row)
{
	json_t *attrs = json_object_get(feature, "attributes");
	json_t *oid = json_object_get(attrs, l->oid_name);
	struct buf b;
	size_t oid_a = 0, oid_z = 0;

	if (!json_is_object(attrs) || !json_is_integer(oid))
		return -EINVAL;
	row->oid = json_integer_value(oid);
	buf_init(&b, 512, AG_BODY_MAX);
	for (size_t i = 0; i < l->n_fields; i++) {
		if (i)
			buf_put(&b, ",", 1);
		if (i == l->oid_index)
			oid_a = b.len;
		put_value(&b, tz, l->fields[i].type, json_object_get(attrs, l->fields[i].name));
		if (i == l->oid_index)
			oid_z = b.len;
	}
	if (l->geometry) {
		json_t *g = json_object_get(feature, "geometry");
		buf_put(&b, l->n_fields ? "," : "", l->n_fields ? 1 : 0);
		put_coord(&b, g, "x");
		buf_put(&b, ",", 1);
		put_coord(&b, g, "y");
	}
	buf_put(&b, "\r\n", 2);
	if (b.err) {
		buf_free(&b);
		return -ENOMEM;
	}
	hash_row(b.p, b.len, oid_a, oid_z, &row->h);
	row->line = buf_take(&b, &row->len);
	return 0;
}

void ag_digest_add(struct ag_digest *d, const struct ag_digest *x)
{
	uint64_t lo = d->lo + x->lo;
	d->hi += x->hi + (lo < d->lo);
	d->lo = lo;
}

void ag_digest_hex(const struct ag_digest *d, char out[ARCGIS_DIGEST_HEX])
{
	snprintf(out, ARCGIS_DIGEST_HEX, "%016" PRIx64 "%016" PRIx64, d->hi, d->lo);
}

int ag_digest_parse(const char *hex, struct ag_digest *d)
{
	char hi[17], *end;
	if (strlen(hex) != 32 || strspn(hex, "0123456789abcdef") != 32)
		return -EINVAL;
	memcpy(hi, hex, 16);
	hi[16] = '\0';
	d->hi = strtoull(hi, &end, 16);
	d->lo = strtoull(hex + 16, &end, 16);
	return 0;
}

/* ---- the stamp as a validator (arcgis.h) ---- */

void arcgis_stamp_format(const struct arcgis_stamp *s, char *buf, size_t n)
{
	snprintf(buf, n, "arcgis1;data=%" PRId64 ";schema=%" PRId64 ";count=%" PRId64
	         ";digest=%s", s->data_edit_ms, s->schema_edit_ms, s->count, s->digest);
}

static int parse_int(const char **p, const char *key, int64_t *out)
{
	size_t k = strlen(key);
	char *end;
	if (strncmp(*p, key, k) != 0)
		return -EINVAL;
	errno = 0;
	long long v = strtoll(*p + k, &end, 10);
	if (errno || end == *p + k || *end != ';' || v < -1)
		return -EINVAL;
	*out = v;
	*p = end + 1;
	return 0;
}

int arcgis_stamp_parse(const char *text, struct arcgis_stamp *s)
{
	struct arcgis_stamp t = { .data_edit_ms = -1, .schema_edit_ms = -1, .count = -1 };
	const char *p = text;
	struct ag_digest d;

	*s = t;
	if (!text || strncmp(p, "arcgis1;", 8) != 0)
		return -EINVAL;
	p += 8;
	if (parse_int(&p, "data=", &t.data_edit_ms) < 0 ||
	    parse_int(&p, "schema=", &t.schema_edit_ms) < 0 ||
	    parse_int(&p, "count=", &t.count) < 0 || strncmp(p, "digest=", 7) != 0)
		return -EINVAL;
	p += 7;
	if (*p && ag_digest_parse(p, &d) < 0)
		return -EINVAL;
	snprintf(t.digest, sizeof t.digest, "%s", p);
	*s = t;
	return 0;
}
