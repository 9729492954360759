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

static char *two(char *o, int v)
{
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
	return o + 2;
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
	int off = c.utc_offset < 0 ? -c.utc_offset : c.utc_offset;
	if (c.year >= 0 && c.year <= 9999 && off < 100 * 3600 && n >= 32) {
		/* The usual case, by hand: it is most of a row's dates' cost. */
		char *o = out;
		o = two(two(o, c.year / 100), c.year % 100);
		*o++ = '-';
		o = two(o, c.month);
		*o++ = '-';
		o = two(o, c.day);
		*o++ = 'T';
		o = two(o, c.hour);
		*o++ = ':';
		o = two(o, c.minute);
		*o++ = ':';
		o = two(o, c.second);
		if (frac) {
			*o++ = '.';
			*o++ = (char)('0' + frac / 100);
			o = two(o, (int)(frac % 100));
		}
		*o++ = c.utc_offset < 0 ? '-' : '+';
		o = two(o, off / 3600);
		*o++ = ':';
		o = two(o, off % 3600 / 60);
		*o = '\0';
		return;
	}
	if (frac)
		snprintf(fr, sizeof fr, ".%03d", (int)frac);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d", c.year, c.month, c.day,
	         c.hour, c.minute, c.second, fr, c.utc_offset < 0 ? '-' : '+', off / 3600,
	         off % 3600 / 60);
}

void ag_csv_number(double v, char *out, size_t n)
{
	/* Whole numbers without an exponent (3148840, not 3.14884e+06). */
	if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v) {   /* range first: no UB */
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

int64_t ag_date_ms(double v)
{
	return v >= -9223372036854775808.0 && v < 9223372036854775808.0 ? (int64_t)v : INT64_MIN;
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
