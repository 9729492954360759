/*
 * config_checks.c - a dataset's data-quality checks: one key table for
 * every check type (each key says which types it applies to), then the
 * cross-checks against the dataset's schema.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/macro.h"
#include "config/config_int.h"

/* ---- checks ------------------------------------------------------------ */

#define T(x) (1u << (x))

/*
 * Every key of every check type; `only` says which types take it, so one
 * name can mean different things (row_count's min is a count, range's a
 * number).  Defaults are set for all rows, whatever the type.  type is read
 * (and reported when missing or bad) by parse_check() before the walk.
 */
static const struct keydef check_keys[] = {
	{ .name = "type", .kind = K_ENUM, .off = offsetof(struct cfg_check, type),
	  .names = check_type_table, .n_names = ARRAY_SIZE(check_type_table),
	  .flags = KEY_REQUIRED },
	{ .name = "severity", .kind = K_ENUM, .off = offsetof(struct cfg_check, severity),
	  .names = severity_table, .n_names = ARRAY_SIZE(severity_table), .dflt = "fail" },
	{ .name = "columns", .kind = K_LIST, .off = offsetof(struct cfg_check, columns),
	  .flags = KEY_REQUIRED,
	  .only = T(CHECK_NULLS) | T(CHECK_RANGE) | T(CHECK_ALLOWED) },
	{ .name = "columns", .kind = K_LIST, .off = offsetof(struct cfg_check, columns),
	  .only = T(CHECK_TIMESTAMPS) },
	{ .name = "min", .kind = K_COUNT, .off = offsetof(struct cfg_check, min_rows),
	  .lo = 0, .hi = UINT64_MAX, .dflt = "0", .only = T(CHECK_ROW_COUNT) },
	{ .name = "max", .kind = K_COUNT, .off = offsetof(struct cfg_check, max_rows),
	  .lo = 0, .hi = UINT64_MAX, .dflt = "0", .only = T(CHECK_ROW_COUNT) },
	{ .name = "max_change", .kind = K_PERCENT,
	  .off = offsetof(struct cfg_check, max_change), .lo = 0, .hi = 1000, .dflt = "off",
	  .only = T(CHECK_ROW_COUNT) },
	{ .name = "min", .kind = K_NUMBER, .off = offsetof(struct cfg_check, min),
	  .dflt = "-inf", .only = T(CHECK_RANGE) },
	{ .name = "max", .kind = K_NUMBER, .off = offsetof(struct cfg_check, max),
	  .dflt = "inf", .only = T(CHECK_RANGE) },
	{ .name = "lat", .kind = K_STRING, .off = offsetof(struct cfg_check, lat),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "lon", .kind = K_STRING, .off = offsetof(struct cfg_check, lon),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "min_lat", .kind = K_NUMBER, .off = offsetof(struct cfg_check, min_lat),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "max_lat", .kind = K_NUMBER, .off = offsetof(struct cfg_check, max_lat),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "min_lon", .kind = K_NUMBER, .off = offsetof(struct cfg_check, min_lon),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "max_lon", .kind = K_NUMBER, .off = offsetof(struct cfg_check, max_lon),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "zero_is_null", .kind = K_BOOL,
	  .off = offsetof(struct cfg_check, zero_is_null), .dflt = "true",
	  .only = T(CHECK_COORDINATES) },
	{ .name = "max_null", .kind = K_PERCENT,
	  .off = offsetof(struct cfg_check, max_fraction), .lo = 0, .hi = 100,
	  .only = T(CHECK_NULLS) },
	{ .name = "max_bad", .kind = K_PERCENT,
	  .off = offsetof(struct cfg_check, max_fraction), .lo = 0, .hi = 100,
	  .only = T(CHECK_RANGE) | T(CHECK_COORDINATES) | T(CHECK_ALLOWED) },
	{ .name = "max_withdrawn", .kind = K_PERCENT,
	  .off = offsetof(struct cfg_check, max_fraction), .lo = 0, .hi = 100,
	  .flags = KEY_REQUIRED, .only = T(CHECK_WITHDRAWN) },
	{ .name = "max_unparsed", .kind = K_PERCENT,
	  .off = offsetof(struct cfg_check, max_fraction), .lo = 0, .hi = 100,
	  .only = T(CHECK_TIMESTAMPS) },
	{ .name = "future_slack", .kind = K_DURATION,
	  .off = offsetof(struct cfg_check, future_slack_ms), .lo = 0, .hi = 30 * MS_D,
	  .dflt = "0", .only = T(CHECK_TIMESTAMPS) },
	{ .name = "max_age", .kind = K_DURATION,
	  .off = offsetof(struct cfg_check, max_age_ms), .lo = MS_S, .hi = MAX_PERIOD,
	  .flags = KEY_REQUIRED, .only = T(CHECK_FRESHNESS) },
	{ .name = "values", .kind = K_LIST, .off = offsetof(struct cfg_check, values),
	  .flags = KEY_REQUIRED, .only = T(CHECK_ALLOWED) },
};
KEY_TABLE(conf_check_table, "datasets.*.checks.*", check_keys);

/* Column references of a check, checked against the schema. */
static void check_columns_of(struct parser *p, const struct cfg_dataset *d,
                             const struct node *list, const char *key, unsigned types,
                             const char *want)
{
	if (!list || list->kind != NODE_LIST)
		return;
	for (size_t i = 0; i < list->n; i++)
		if (list->kids[i]->kind == NODE_SCALAR && !conf_is_null(list->kids[i]))
			conf_check_column_ref(p, &d->schema, key, list->kids[i], types, want);
}

static void check_box(struct parser *p, const struct node *map, const char *lo_key,
                      double lo, const char *hi_key, double hi, double limit)
{
	const struct node *at = conf_map_get(map, lo_key);
	if (fabs(lo) > limit || fabs(hi) > limit)
		conf_report(p, fabs(lo) > limit ? at : conf_map_get(map, hi_key),
		            "%s: must be between %g and %g", fabs(lo) > limit ? lo_key : hi_key,
		            -limit, limit);
	else if (lo >= hi)
		conf_report(p, at, "%s (%g) must be less than %s (%g)", lo_key, lo, hi_key, hi);
}

/* A check being cross-checked once every key has been read: the check,
 * the mapping it was read from, the key naming it, and its dataset. */
struct finish {
	struct parser *p;
	const struct cfg_dataset *d;
	const struct cfg_check *ck;
	const struct node *key, *map;
};

/* A columns list that is given must name a column. */
static void finish_columns_given(const struct finish *f)
{
	const struct node *cols = conf_map_get(f->map, "columns");

	if (cols && cols->kind == NODE_LIST && cols->n == 0)
		conf_report(f->p, cols, "columns: must name at least one column");
}

static void finish_row_count(const struct finish *f)
{
	const struct cfg_check *ck = f->ck;

	if (ck->max_rows && ck->min_rows > ck->max_rows)
		conf_report(f->p, conf_map_get(f->map, "min"),
		            "min (%llu) is greater than max (%llu)",
		            (unsigned long long)ck->min_rows, (unsigned long long)ck->max_rows);
	if (!ck->min_rows && !ck->max_rows && ck->max_change < 0)
		conf_report(f->p, f->key, "check '%s': a row_count check needs min, max or "
		            "max_change", ck->name);
}

/* nulls and allowed: any column of the schema. */
static void finish_listed(const struct finish *f)
{
	check_columns_of(f->p, f->d, conf_map_get(f->map, "columns"), "columns", 0, NULL);
	finish_columns_given(f);
	if (f->ck->type == CHECK_ALLOWED && f->ck->values.items && f->ck->values.n == 0)
		conf_report(f->p, conf_map_get(f->map, "values"),
		            "values: must list at least one value");
}

static void finish_range(const struct finish *f)
{
	const struct cfg_check *ck = f->ck;

	check_columns_of(f->p, f->d, conf_map_get(f->map, "columns"), "columns", NUMERIC_TYPES,
	                 "a range check needs int or float columns");
	finish_columns_given(f);
	if (isinf(ck->min) && isinf(ck->max))
		conf_report(f->p, f->key, "check '%s': a range check needs min or max", ck->name);
	else if (ck->min > ck->max)
		conf_report(f->p, conf_map_get(f->map, "min"), "min (%g) is greater than max (%g)",
		            ck->min, ck->max);
}

static void finish_coordinates(const struct finish *f)
{
	const struct node *lat = conf_map_get(f->map, "lat"), *lon = conf_map_get(f->map, "lon");
	const char *want = "coordinates need int or float columns";
	const struct cfg_check *ck = f->ck;

	if (ck->lat && lat)
		conf_check_column_ref(f->p, &f->d->schema, "lat", lat, NUMERIC_TYPES, want);
	if (ck->lon && lon)
		conf_check_column_ref(f->p, &f->d->schema, "lon", lon, NUMERIC_TYPES, want);
	if (conf_map_get(f->map, "min_lat") && conf_map_get(f->map, "max_lat"))
		check_box(f->p, f->map, "min_lat", ck->min_lat, "max_lat", ck->max_lat, 90);
	if (conf_map_get(f->map, "min_lon") && conf_map_get(f->map, "max_lon"))
		check_box(f->p, f->map, "min_lon", ck->min_lon, "max_lon", ck->max_lon, 180);
}

/* The columns listed, or else some timestamp or date column. */
static void finish_timestamps(const struct finish *f)
{
	const struct node *cols = conf_map_get(f->map, "columns");
	const struct cfg_schema *s = &f->d->schema;
	bool has_time = false;

	if (cols) {
		check_columns_of(f->p, f->d, cols, "columns", TIME_TYPES,
		                 "a timestamps check needs timestamp or date columns");
		return;
	}
	for (size_t i = 0; i < s->n_columns; i++)
		has_time |= conf_is_time_type(s->columns[i].type);
	if (!has_time)
		conf_report(f->p, f->key, "check '%s': a timestamps check needs a timestamp or "
		            "date column in the schema", f->ck->name);
}

/* What a check type needs of the dataset's schema, and its keys of each
 * other, once every key has been read. */
static void check_finish(const struct finish *f)
{
	const struct cfg_schema *s = &f->d->schema;
	const char *name = f->ck->name;
	struct parser *p = f->p;

	switch (f->ck->type) {
	case CHECK_COLUMNS:
		if (s->n_columns == 0)
			conf_report(p, f->key, "check '%s': a columns check needs schema.columns",
			            name);
		break;
	case CHECK_UNIQUE:
		if (s->key.n == 0)
			conf_report(p, f->key, "check '%s': a unique check needs schema.key", name);
		break;
	case CHECK_FRESHNESS:
		if (!s->event_time)
			conf_report(p, f->key, "check '%s': a freshness check needs "
			            "schema.event_time", name);
		break;
	case CHECK_WITHDRAWN:
		if (!s->event_time || s->key.n == 0)
			conf_report(p, f->key, "check '%s': a withdrawn check needs schema.key "
			            "and schema.event_time", name);
		break;
	case CHECK_ROW_COUNT: finish_row_count(f); break;
	case CHECK_NULLS:
	case CHECK_ALLOWED: finish_listed(f); break;
	case CHECK_RANGE: finish_range(f); break;
	case CHECK_COORDINATES: finish_coordinates(f); break;
	case CHECK_TIMESTAMPS: finish_timestamps(f); break;
	}
}

static void parse_check(struct parser *p, const struct node *key, const struct node *val,
                        void *arg)
{
	struct cfg_dataset *d = arg;
	struct cfg_check *ck = &d->checks[d->n_checks++];
	const struct node *type;
	char what[CONFIG_MAX_NAME + 48], tname[32];
	int t;

	conf_table_defaults(p, &conf_check_table, ck);
	if (!(ck->name = conf_xstrdup(p, key->text)))
		return;
	if (!conf_want_entry(p, key, val, "like {type: nulls, ...}"))
		return;
	if (!(type = conf_map_get(val, "type"))) {
		char list[256];
		conf_report(p, key, "missing key 'type' in check '%s' (one of: %s)",
		            SHOW(key->text),
		            conf_join_names(check_type_table, ARRAY_SIZE(check_type_table), list,
		                            sizeof list));
		return;
	}
	if (conf_want_enum(p, "type", type, check_type_table, ARRAY_SIZE(check_type_table), &t) < 0)
		return;
	ck->type = (enum check_type)t;
	snprintf(what, sizeof what, "check '%s'", key->text);
	snprintf(tname, sizeof tname, "%s", check_type_table[t]);
	struct mapctx mc = { .what = what, .owner = key, .type_bit = T(t), .type_name = tname };
	conf_walk_map(p, val, &conf_check_table, ck, &mc);
	check_finish(&(struct finish){ p, d, ck, key, val });
}

static bool alloc_checks(struct parser *p, size_t n, void *arg)
{
	struct cfg_dataset *d = arg;
	return (d->checks = conf_xcalloc(p, n, sizeof(*d->checks))) != NULL;
}

void conf_key_checks(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	conf_walk_named(p, "checks", v, CONFIG_MAX_CHECKS, "check", alloc_checks, parse_check, obj);
}
