/*
 * config_schema.c - a dataset's schema: its columns (names, types,
 * aliases, null values, timestamp formats), the key and the event time,
 * and the rule that no header name may match two columns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "config/config_int.h"

/* ---- timestamp formats ------------------------------------------------- */

#define FORMAT_CONVERSIONS "%Y %m %d %H %I %M %S %p %f %z"

static bool check_format(struct parser *p, const char *key, const struct node *at,
                         const char *f)
{
	bool seen[128] = { false };

	for (const char *s = f; *s; s++) {
		unsigned char c;
		if (*s != '%')
			continue;
		c = (unsigned char)*++s;
		if (c == '%')
			continue;
		if (c == '\0') {
			conf_report(p, at, "%s: '%s' ends with a lone '%%'", key, SHOW(f));
			return false;
		}
		if (c >= 128 || !strchr("YmdHIMSpfz", c)) {
			conf_report(p, at, "%s: '%s' uses %%%c; supported: %s", key, SHOW(f),
			            c >= 128 ? '?' : c, FORMAT_CONVERSIONS);
			return false;
		}
		seen[c] = true;
	}
	if (!seen['Y'] || !seen['m'] || !seen['d']) {
		conf_report(p, at, "%s: '%s' needs %%Y, %%m and %%d", key, SHOW(f));
		return false;
	}
	if (seen['I'] != seen['p']) {
		conf_report(p, at, "%s: '%s': %%I (12-hour clock) and %%p (AM/PM) go together", key,
		            SHOW(f));
		return false;
	}
	if (seen['H'] && seen['I']) {
		conf_report(p, at, "%s: '%s' uses both %%H and %%I", key, SHOW(f));
		return false;
	}
	return true;
}

/* Each item of format list V (already stored) is a usable format. */
static void check_formats(struct parser *p, const char *key, const struct node *v)
{
	if (v->kind != NODE_LIST)
		return;
	for (size_t i = 0; i < v->n; i++)
		if (v->kids[i]->kind == NODE_SCALAR && !conf_is_null(v->kids[i]))
			check_format(p, key, v->kids[i], v->kids[i]->text);
}

/* ---- the schema -------------------------------------------------------- */

bool conf_is_time_type(enum col_type t)
{
	return t == COL_TIMESTAMP || t == COL_DATE;
}

static bool check_column_name(struct parser *p, const struct node *k, const struct node *v,
                              void *obj)
{
	if (config_name_valid(v->text))
		return true;
	conf_report(p, v, "name: column name '%s' must match [a-z0-9_]+ and be at most %d bytes "
	            "(it becomes a Parquet column)", SHOW(v->text), CONFIG_MAX_NAME);
	return false;
}

static bool check_column_formats(struct parser *p, const struct node *k, const struct node *v,
                                 void *obj)
{
	const struct cfg_column *c = obj;

	check_formats(p, "formats", v);
	if (!conf_is_time_type(c->type) && v->kind == NODE_LIST && v->n > 0)
		conf_report(p, k, "formats: only timestamp and date columns take formats, "
		            "not %s columns", col_type_table[c->type]);
	return true;
}

static const struct keydef column_keys[] = {
	{ .name = "name", .kind = K_STRING, .off = offsetof(struct cfg_column, name),
	  .check = check_column_name, .flags = KEY_REQUIRED },
	{ .name = "type", .kind = K_ENUM, .off = offsetof(struct cfg_column, type),
	  .names = col_type_table, .n_names = ARRAY_SIZE(col_type_table), .dflt = "string" },
	{ .name = "aliases", .kind = K_LIST, .off = offsetof(struct cfg_column, aliases) },
	{ .name = "formats", .kind = K_LIST, .off = offsetof(struct cfg_column, formats),
	  .check = check_column_formats, .flags = KEY_PHASE1 },
	{ .name = "required", .kind = K_BOOL, .off = offsetof(struct cfg_column, required),
	  .dflt = "true" },
	{ .name = "nulls", .kind = K_LIST, .off = offsetof(struct cfg_column, nulls) },
};
KEY_TABLE(conf_column_table, "datasets.*.schema.columns", column_keys);

/* Header names match ignoring case, with ' ' and '_' alike. */
static int header_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		char x = *a == ' ' ? '_' : conf_lower(*a), y = *b == ' ' ? '_' : conf_lower(*b);
		if (x != y || !x)
			return (unsigned char)x - (unsigned char)y;
	}
}

struct colname {
	const struct node *at;     /* the name or alias */
	const struct node *col;    /* the column's name node */
	bool alias;
};

static int colname_cmp(const void *a, const void *b)
{
	const struct colname *x = a, *y = b;
	int c = header_cmp(x->at->text, y->at->text);
	if (c)
		return c;
	if (x->at->line != y->at->line)
		return x->at->line < y->at->line ? -1 : 1;
	return x->at->col < y->at->col ? -1 : x->at->col > y->at->col;
}

/* No two columns may be matched by the same header name. */
static void check_column_names(struct parser *p, const struct node *list)
{
	struct colname *all;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < list->n; i++) {
		const struct node *al = conf_map_get(list->kids[i], "aliases");
		cap += 1 + (al && al->kind == NODE_LIST ? al->n : 0);
	}
	if (!(all = conf_xcalloc(p, cap, sizeof(*all))))
		return;
	for (size_t i = 0; i < list->n; i++) {
		const struct node *name = conf_map_get(list->kids[i], "name");
		const struct node *al = conf_map_get(list->kids[i], "aliases");
		if (!name || name->kind != NODE_SCALAR || conf_is_null(name))
			continue;
		all[n++] = (struct colname){ name, name, false };
		for (size_t j = 0; al && al->kind == NODE_LIST && j < al->n; j++)
			if (al->kids[j]->kind == NODE_SCALAR && !conf_is_null(al->kids[j]))
				all[n++] = (struct colname){ al->kids[j], name, true };
	}
	qsort(all, n, sizeof(*all), colname_cmp);
	for (size_t i = 1, first = 0; i < n; i++) {
		const struct colname *a = &all[first], *b = &all[i];
		if (header_cmp(a->at->text, b->at->text) != 0) {
			first = i;
			continue;
		}
		if (a->col == b->col)
			continue;      /* an alias repeating its own column: harmless */
		if (!a->alias && !b->alias)
			conf_report(p, b->at, "duplicate column '%s', first at line %d",
			            SHOW(b->at->text),
			            a->at->line);
		else
			conf_report(p, b->at,
			            "'%s' would match both column '%s' (line %d) and column '%s'; "
			            "names and aliases are compared ignoring case, with ' ' "
			            "and '_' alike", SHOW(b->at->text), SHOW(a->col->text),
			            a->at->line, SHOW(b->col->text));
	}
	free(all);
}

static void key_columns(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	struct cfg_schema *s = obj;

	if (!conf_want_list(p, "columns", v) || v->kind != NODE_LIST)
		return;
	if (v->n > CONFIG_MAX_COLUMNS) {
		conf_report(p, v, "columns: too many columns (%zu); the limit is %d", v->n,
		            CONFIG_MAX_COLUMNS);
		return;
	}
	if (!(s->columns = conf_xcalloc(p, v->n, sizeof(*s->columns))))
		return;
	for (size_t i = 0; i < v->n; i++) {
		const struct node *item = v->kids[i];
		struct cfg_column *c = &s->columns[s->n_columns++];
		struct mapctx mc = { .what = "this column", .owner = item };

		conf_table_defaults(p, &conf_column_table, c);
		if (item->kind != NODE_MAP) {
			if (item->kind != NODE_BAD)
				conf_report(p, item, "columns: expected a mapping like "
				            "{name: x, type: int}, not %s", conf_kind_word(item));
			continue;
		}
		conf_walk_map(p, item, &conf_column_table, c, &mc);
	}
	check_column_names(p, v);
}

static const char *const *column_names(const struct cfg_schema *s, const char **buf)
{
	for (size_t i = 0; i < s->n_columns; i++)
		buf[i] = s->columns[i].name ? s->columns[i].name : "";
	return buf;
}

const struct cfg_column *conf_check_column_ref(struct parser *p, const struct cfg_schema *s,
                                               const char *key, const struct node *at,
                                               unsigned types, const char *want)
{
	const struct cfg_column *c = config_column(s, at->text);

	if (!c) {
		const char *names[CONFIG_MAX_COLUMNS];
		column_names(s, names);
		conf_report(p, at, "%s: no column '%s' in the schema%s", key, SHOW(at->text),
		            HINT(at->text, names, s->n_columns));
		return NULL;
	}
	if (types && !(types & (1u << c->type))) {
		conf_report(p, at, "%s: column '%s' is %s %s; %s", key, c->name,
		            c->type == COL_INT ? "an" : "a", col_type_table[c->type], want);
		return NULL;
	}
	return c;
}

/* key: columns of the schema, each once, each required. */
static bool check_schema_key(struct parser *p, const struct node *k, const struct node *v,
                             void *obj)
{
	const struct cfg_schema *s = obj;

	if (v->kind != NODE_LIST)
		return true;
	for (size_t i = 0; i < v->n; i++) {
		const struct node *item = v->kids[i];
		const struct cfg_column *c;
		if (item->kind != NODE_SCALAR || conf_is_null(item))
			continue;
		if (conf_list_repeats(v, i)) {
			conf_report(p, item, "key: column '%s' is listed twice", SHOW(item->text));
			continue;
		}
		c = conf_check_column_ref(p, s, "key", item, 0, NULL);
		if (c && !c->required)
			conf_report(p, item, "key: column '%s' is required: false, but a key "
			            "column must be in every file", c->name);
	}
	return true;
}

static bool check_event_time(struct parser *p, const struct node *k, const struct node *v,
                             void *obj)
{
	return conf_check_column_ref(p, obj, "event_time", v, TIME_TYPES,
	                             "the event time must be a timestamp or date column") != NULL;
}

static bool check_timestamp_formats(struct parser *p, const struct node *k,
                                    const struct node *v, void *obj)
{
	check_formats(p, "timestamp_formats", v);
	return true;
}

static const char *const default_timestamp_formats[] = {
	"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d", NULL,
};

static const struct keydef schema_keys[] = {
	{ .name = "columns", .kind = K_FN, .fn = key_columns, .sub = &conf_column_table },
	{ .name = "timestamp_formats", .kind = K_LIST,
	  .off = offsetof(struct cfg_schema, timestamp_formats),
	  .check = check_timestamp_formats, .dflt_list = default_timestamp_formats },
	{ .name = "key", .kind = K_LIST, .off = offsetof(struct cfg_schema, key),
	  .check = check_schema_key, .flags = KEY_PHASE1 },
	{ .name = "event_time", .kind = K_STRING, .off = offsetof(struct cfg_schema, event_time),
	  .check = check_event_time, .flags = KEY_PHASE1 },
};
KEY_TABLE(conf_schema_table, "datasets.*.schema", schema_keys);
