/*
 * config_keys.c - the key tables as a whole, read only, once a parse is
 * done: which restart-only keys differ between two configurations
 * (config_restart_diff(), for a reload) and the listing of every row
 * (config_keys_foreach(), for the man-page test).  Pure; no allocation.
 */
#include <stdio.h>
#include <string.h>

#include "base/macro.h"
#include "config/config_int.h"

/* ---- restart-only keys -------------------------------------------------- */

static bool same_string(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

static bool same_list(const struct strlist *a, const struct strlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!same_string(a->items[i], b->items[i]))
			return false;
	return true;
}

/* Row D's field is the same in A and B (two structs of its table).  A row
 * read by a function cannot be compared: it always differs, so a K_FN row
 * marked KEY_RESTART refuses every reload instead of allowing a change. */
static bool same_value(const struct keydef *d, const void *a, const void *b)
{
	const void *x = (const char *)a + d->off, *y = (const char *)b + d->off;

	switch (d->kind) {
	case K_STRING:
	case K_OPT_STRING:
	case K_PATH: return same_string(*(char *const *)x, *(char *const *)y);
	case K_BOOL: return *(const bool *)x == *(const bool *)y;
	case K_UINT:
	case K_MODE: return *(const unsigned *)x == *(const unsigned *)y;
	case K_ENUM: return *(const int *)x == *(const int *)y;
	case K_COUNT:
	case K_DURATION:
	case K_SIZE: return *(const uint64_t *)x == *(const uint64_t *)y;
	case K_NUMBER:
	case K_PERCENT: return memcmp(x, y, sizeof(double)) == 0;
	case K_LIST: return same_list(x, y);
	case K_SECTION:
	case K_FN: break;
	}
	return false;
}

/* The first KEY_RESTART row of T, or of the sections in T, whose value
 * differs between A and B: its dotted name into NAME. */
static bool restart_diff(const struct keytable *t, const void *a, const void *b, char *name,
                         size_t size)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct keydef *d = &t->keys[i];
		if (d->kind == K_SECTION) {
			if (restart_diff(d->sub, (const char *)a + d->off, (const char *)b + d->off,
			                 name, size))
				return true;
		} else if ((d->flags & KEY_RESTART) && !same_value(d, a, b)) {
			snprintf(name, size, "%s%s%s", t->path, *t->path ? "." : "", d->name);
			return true;
		}
	}
	return false;
}

const char *config_restart_diff(const struct config *old, const struct config *new)
{
	static _Thread_local char name[2 * CONFIG_MAX_NAME + 2];

	return restart_diff(&conf_top_table, old, new, name, sizeof name) ? name : NULL;
}

/* ---- the key tables, read only ------------------------------------------ */

static const char *const kind_types[] = {
	[K_STRING] = "string", [K_OPT_STRING] = "string", [K_PATH] = "path",
	[K_BOOL] = "bool", [K_UINT] = "integer", [K_COUNT] = "integer",
	[K_NUMBER] = "number", [K_DURATION] = "duration", [K_SIZE] = "size",
	[K_PERCENT] = "percentage", [K_ENUM] = "enum", [K_MODE] = "mode",
	[K_LIST] = "list", [K_SECTION] = "mapping", [K_FN] = NULL,
};
STATIC_ASSERT(ARRAY_SIZE(kind_types) == K_FN + 1, "a type word for every key kind");

static int keys_foreach(const struct keytable *t, config_key_fn *fn, void *arg)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct keydef *d = &t->keys[i];
		struct config_key k = {
			.table = t->path, .name = d->name, .type = kind_types[d->kind],
			.lo = d->lo, .hi = d->hi, .dflt = d->dflt, .dflt_list = d->dflt_list,
			.names = d->names, .n_names = d->n_names,
			.required = d->flags & KEY_REQUIRED, .restart = d->flags & KEY_RESTART,
			.only = d->only,
		};
		int rc = fn(arg, &k);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct keydef *d = &t->keys[i];
		int rc = d->sub ? keys_foreach(d->sub, fn, arg) : 0;
		if (rc < 0)
			return rc;
	}
	return 0;
}

int config_keys_foreach(config_key_fn *fn, void *arg)
{
	return keys_foreach(&conf_top_table, fn, arg);
}
