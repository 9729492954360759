/*
 * arcgis_json.c - what an ArcGIS answer says: an error or not (ARCGIS.md
 * 2.5: errors come as JSON, usually with HTTP 200; a body that is not JSON
 * is a retryable failure, never an empty page), the layer document (3.1),
 * a count and the object ids.  Pure; any thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "io/arcgis_int.h"

/* Whether an ArcGIS error code or message says "try again later". */
static bool error_retryable(json_int_t code, const char *msg)
{
	if (code == 429 || code == 408 || (code >= 500 && code <= 599))
		return true;
	return msg && strcasestr(msg, "Error performing query operation") != NULL;
}

bool ag_error_heavy(const char *msg)
{
	return strncmp(msg, "ArcGIS error 500:", 17) == 0 ||
	       strncmp(msg, "ArcGIS error 504:", 17) == 0 ||
	       strcasestr(msg, "Error performing query operation") != NULL;
}

int ag_judge_body(const char *p, size_t n, json_t **doc, bool *retryable, char *msg)
{
	json_error_t je;
	json_t *o, *e;
	size_t i = 0;

	*doc = NULL;
	*retryable = true;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i == n || (p[i] != '{' && p[i] != '[')) {
		/* P need not end in a NUL: at most the bytes there are. */
		snprintf(msg, AG_ERR_MAX, "the answer is not JSON (%zu bytes, starting \"%.*s\")",
		         n, (int)(n - i < 40 ? n - i : 40), i < n ? p + i : "");
		return -EIO;
	}
	o = json_loadb(p, n, 0, &je);
	if (!o) {
		snprintf(msg, AG_ERR_MAX, "the answer is broken JSON (%zu bytes): %s", n, je.text);
		return -EIO;
	}
	e = json_object_get(o, "error");
	if (json_is_object(e)) {
		json_int_t code = json_integer_value(json_object_get(e, "code"));
		const char *m = json_string_value(json_object_get(e, "message"));
		json_t *det = json_object_get(e, "details");
		const char *d0 = json_string_value(json_array_get(det, 0));
		*retryable = error_retryable(code, m);
		snprintf(msg, AG_ERR_MAX, "ArcGIS error %lld: %s%s%s", (long long)code,
		         m ? m : "(no message)", d0 && (!m || strcmp(d0, m)) ? " - " : "",
		         d0 && (!m || strcmp(d0, m)) ? d0 : "");
		json_decref(o);
		return -EIO;
	}
	*doc = o;
	return 0;
}

void ag_layer_free(struct ag_layer *l)
{
	for (size_t i = 0; i < l->n_fields; i++)
		free(l->fields[i].name);
	free(l->fields);
	free(l->oid_name);
	memset(l, 0, sizeof *l);
}

static enum ag_ftype field_type(const char *t)
{
	if (!t)
		return AG_F_OTHER;
	if (strncmp(t, "esriFieldType", 13) == 0)
		t += 13;
	if (strcmp(t, "OID") == 0)
		return AG_F_OID;
	if (strcmp(t, "Date") == 0)
		return AG_F_DATE;
	if (strcmp(t, "String") == 0 || strcmp(t, "GUID") == 0 || strcmp(t, "GlobalID") == 0 ||
	    strcmp(t, "DateOnly") == 0 || strcmp(t, "TimeOnly") == 0 ||
	    strcmp(t, "TimestampOffset") == 0)
		return AG_F_TEXT;
	if (strcmp(t, "SmallInteger") == 0 || strcmp(t, "Integer") == 0 ||
	    strcmp(t, "BigInteger") == 0 || strcmp(t, "Single") == 0 || strcmp(t, "Double") == 0)
		return AG_F_NUMBER;
	return AG_F_OTHER;
}

static int64_t stamp_of(json_t *info, const char *key)
{
	json_t *v = json_object_get(info, key);
	return json_is_integer(v) ? json_integer_value(v)
	       : json_is_real(v) ? (int64_t)json_real_value(v) : -1;
}

int ag_parse_layer(json_t *doc, struct ag_layer *l, char *msg)
{
	json_t *fields = json_object_get(doc, "fields"), *info, *v;
	const char *oid = json_string_value(json_object_get(doc, "objectIdField"));
	const char *type = json_string_value(json_object_get(doc, "type"));
	const char *gt = json_string_value(json_object_get(doc, "geometryType"));
	size_t i, n = json_array_size(fields);

	memset(l, 0, sizeof *l);
	if (!json_is_array(fields) || n == 0) {
		snprintf(msg, AG_ERR_MAX, "the layer document has no fields");
		return -EIO;
	}
	l->fields = calloc(n, sizeof *l->fields);
	if (!l->fields)
		goto nomem;
	l->oid_index = SIZE_MAX;
	for (i = 0; i < n; i++) {
		json_t *f = json_array_get(fields, i);
		const char *name = json_string_value(json_object_get(f, "name"));
		if (!name || !*name) {
			snprintf(msg, AG_ERR_MAX, "field %zu of the layer has no name", i);
			goto bad;
		}
		l->fields[i].type = field_type(json_string_value(json_object_get(f, "type")));
		if (!(l->fields[i].name = strdup(name)))
			goto nomem;
		l->n_fields++;
		/* objectIdField, else the first OID field (pyesridump's rule). */
		if (oid ? strcmp(name, oid) == 0
		        : l->fields[i].type == AG_F_OID && l->oid_index == SIZE_MAX)
			l->oid_index = i;
	}
	if (l->oid_index == SIZE_MAX) {
		snprintf(msg, AG_ERR_MAX, "the layer has no object id field%s%s",
		         oid ? " named " : "", oid ? oid : "");
		goto bad;
	}
	if (!(l->oid_name = strdup(l->fields[l->oid_index].name)))
		goto nomem;
	l->geometry = gt && *gt && !(type && strcmp(type, "Table") == 0);
	v = json_object_get(doc, "maxRecordCount");
	l->max_records = json_is_integer(v) && json_integer_value(v) > 0 &&
	                 json_integer_value(v) <= 1000000
	                 ? (unsigned)json_integer_value(v) : 1000;
	info = json_object_get(doc, "editingInfo");
	l->data_edit_ms = stamp_of(info, "dataLastEditDate");
	if (l->data_edit_ms < 0)
		l->data_edit_ms = stamp_of(info, "lastEditDate");
	l->schema_edit_ms = stamp_of(info, "schemaLastEditDate");
	return 0;
nomem:
	snprintf(msg, AG_ERR_MAX, "out of memory");
bad:
	ag_layer_free(l);
	return -EIO;
}

int ag_parse_count(json_t *doc, int64_t *out, char *msg)
{
	json_t *c = json_object_get(doc, "count");
	if (!json_is_integer(c) || json_integer_value(c) < 0) {
		snprintf(msg, AG_ERR_MAX, "the count answer has no count");
		return -EIO;
	}
	*out = json_integer_value(c);
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int ag_parse_ids(json_t *doc, int64_t **ids, size_t *n, char *msg)
{
	json_t *arr = json_object_get(doc, "objectIds");
	size_t i, k = 0, len;

	*ids = NULL;
	*n = 0;
	if (json_is_null(arr) || (!arr && json_object_get(doc, "objectIdFieldName")))
		return 0;     /* no row matches: ArcGIS sends null */
	if (!json_is_array(arr)) {
		snprintf(msg, AG_ERR_MAX, "the ids answer has no objectIds");
		return -EIO;
	}
	len = json_array_size(arr);
	if (len == 0)
		return 0;
	if (!(*ids = malloc(len * sizeof **ids))) {
		snprintf(msg, AG_ERR_MAX, "out of memory");
		return -EIO;
	}
	for (i = 0; i < len; i++) {
		json_t *v = json_array_get(arr, i);
		if (!json_is_integer(v)) {
			snprintf(msg, AG_ERR_MAX, "object id %zu is not an integer", i);
			free(*ids);
			*ids = NULL;
			return -EIO;
		}
		(*ids)[i] = json_integer_value(v);
	}
	qsort(*ids, len, sizeof **ids, cmp_id);
	for (i = 0; i < len; i++)
		if (k == 0 || (*ids)[i] != (*ids)[k - 1])
			(*ids)[k++] = (*ids)[i];
	*n = k;
	return 0;
}
