/*
 * arcgis_dom.c - the pager's page path before arcgis_page.c, kept only as
 * the reference the streaming parser is compared with (test_arcgis.c,
 * tests/fuzz/fuzz_arcgis_page.c include this file): ag_judge_body's
 * jansson tree of the whole page, then each feature's attributes looked up
 * by name (json_object_get), each row rendered into its own buffer and
 * hashed with XXH3's streaming state.  Slow by design; never linked into
 * the daemon.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "domain/tz.h"
#include "io/arcgis_int.h"

/* One attribute value as canonical text into B. */
static void dom_value(struct buf *b, const struct tz *tz, enum ag_ftype type, json_t *v)
{
	char tmp[64];

	/* Absent: empty.  (The pager before arcgis_page.c took json_typeof of
	 * the NULL json_object_get gives for an absent attribute: a crash.) */
	if (!v)
		return;
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
			ag_csv_date(tz, ag_date_ms(json_real_value(v)), tmp, sizeof tmp);
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

static void dom_coord(struct buf *b, json_t *geom, const char *key)
{
	json_t *v = json_object_get(geom, key);
	char tmp[40];
	if (!json_is_number(v))
		return;
	ag_csv_number(json_number_value(v), tmp, sizeof tmp);
	buf_put(b, tmp, strlen(tmp));
}

/* FEATURE's row: its line appended to TEXT.  0, -EINVAL, -ENOMEM. */
static int dom_row(const struct ag_layer *l, const struct tz *tz, json_t *feature,
                   struct ag_row *row, struct buf *text)
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
		dom_value(&b, tz, l->fields[i].type, json_object_get(attrs, l->fields[i].name));
		if (i == l->oid_index)
			oid_z = b.len;
	}
	if (l->geometry) {
		json_t *g = json_object_get(feature, "geometry");
		buf_put(&b, l->n_fields ? "," : "", l->n_fields ? 1 : 0);
		dom_coord(&b, g, "x");
		buf_put(&b, ",", 1);
		dom_coord(&b, g, "y");
	}
	buf_put(&b, "\r\n", 2);
	if (b.err) {
		buf_free(&b);
		return -ENOMEM;
	}
	XXH3_state_t st;
	XXH3_128bits_reset(&st);
	XXH3_128bits_update(&st, b.p, oid_a);
	XXH3_128bits_update(&st, b.p + oid_z, b.len - oid_z);
	XXH128_hash_t h = XXH3_128bits_digest(&st);
	row->h.hi = h.high64;
	row->h.lo = h.low64;
	row->off = text->len;
	row->len = b.len;
	buf_put(text, b.p, b.len);
	buf_free(&b);
	return text->err ? -ENOMEM : 0;
}

static ssize_t dom_index(const struct ag_chunk *c, int64_t oid)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->ids[i] == oid)
			return (ssize_t)i;
	return -1;
}

/* What the pager did with a page body before arcgis_page.c (ag_page_parse's
 * contract). */
static int dom_page(const struct ag_layer *l, const struct tz *tz, const char *p, size_t n,
                    struct ag_chunk *c, bool *retryable, char *msg)
{
	json_t *doc, *feats, *f;
	size_t i;
	int rc = ag_judge_body(p, n, &doc, retryable, msg);

	if (rc < 0)
		return rc;
	*retryable = true;
	feats = json_object_get(doc, "features");
	if (!json_is_array(feats)) {
		snprintf(msg, AG_ERR_MAX, "the page has no features");
		json_decref(doc);
		return -EIO;
	}
	json_array_foreach(feats, i, f) {
		struct ag_row r;
		size_t len0 = c->text->len;
		rc = dom_row(l, tz, f, &r, c->text);
		if (rc == -ENOMEM)
			break;
		if (rc < 0) {
			snprintf(msg, AG_ERR_MAX, "feature %zu of the page has no integer %s", i,
			         l->oid_name);
			rc = -EIO;
			break;
		}
		ssize_t k = dom_index(c, r.oid);
		if (k < 0 || c->have[k]) {
			c->text->len = len0;
			continue;
		}
		c->have[k] = true;
		c->rows[c->n_rows++] = r;
	}
	json_decref(doc);
	return rc;
}
