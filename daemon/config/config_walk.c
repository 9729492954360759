/*
 * config_walk.c - the key-table walker: one mapping of the file into one
 * struct, by a table of struct keydef (config_int.h).  Unknown, misplaced,
 * duplicate and missing keys are reported here, with a hint at the nearest
 * known key; the values themselves go through config_values.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

#define MAX_TABLE_KEYS 256          /* keys in one settings mapping (duplicate
                                       checks are pairwise) */

/* ---- key tables -------------------------------------------------------- */

static unsigned key_phase(const struct keydef *k)
{
	return (k->flags & KEY_PHASE2) ? 2 : (k->flags & KEY_PHASE1) ? 1 : 0;
}

static bool key_applies(const struct keydef *k, const struct mapctx *mc)
{
	return !k->only || (k->only & mc->type_bit);
}

static const struct keydef *find_key(const struct keydef *defs, size_t n, const char *name,
                                     const struct mapctx *mc, bool *applies)
{
	const struct keydef *any = NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(defs[i].name, name) == 0) {
			if (key_applies(&defs[i], mc)) {
				*applies = true;
				return &defs[i];
			}
			any = &defs[i];
		}
	*applies = false;
	return any;
}

/* The distinct key names that apply here, for hints and lists. */
static size_t key_names(const struct keydef *defs, size_t n, const struct mapctx *mc,
                        const char **names)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		if (!key_applies(&defs[i], mc))
			continue;
		for (size_t j = 0; j < k; j++)
			dup |= strcmp(names[j], defs[i].name) == 0;
		if (!dup)
			names[k++] = defs[i].name;
	}
	return k;
}

const char *conf_join_names(const char *const *names, size_t n, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? ", " : "", names[i]);
	return buf;
}

/* KEY is unknown (D NULL), or known but not for this check type (D). */
static void report_misplaced_key(struct parser *p, const struct node *key,
                                 const struct keydef *d, const struct keydef *defs, size_t n,
                                 const struct mapctx *mc)
{
	const char *names[64];
	char list[1024];
	size_t k = key_names(defs, n, mc, names);
	const char *pick = conf_nearest(key->text, names, k);

	if (d)
		conf_report(p, key, "'%s' does not apply to a %s check; it takes: %s", d->name,
		            mc->type_name, conf_join_names(names, k, list, sizeof list));
	else if (pick)
		conf_report(p, key, "unknown key '%s', did you mean '%s'?", SHOW(key->text), pick);
	else
		conf_report(p, key, "unknown key '%s'; expected one of: %s", SHOW(key->text),
		            conf_join_names(names, k, list, sizeof list));
}

struct keyref {
	const char *text;
	size_t pair;
};

static int keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = strcmp(x->text, y->text);
	return c ? c : x->pair < y->pair ? -1 : 1;
}

size_t *conf_first_keys(struct parser *p, const struct node *map)
{
	size_t pairs = map->kind == NODE_MAP ? conf_map_pairs(map) : 0, k = 0;
	struct keyref *refs = conf_xcalloc(p, pairs, sizeof(*refs));
	size_t *first = conf_xcalloc(p, pairs, sizeof(*first));

	if (!refs || !first) {
		free(refs);
		free(first);
		return NULL;
	}
	for (size_t i = 0; i < pairs; i++) {
		const struct node *key = map->kids[2 * i];
		first[i] = SIZE_MAX;
		if (key->kind == NODE_SCALAR)
			refs[k++] = (struct keyref){ key->text, i };
	}
	qsort(refs, k, sizeof(*refs), keyref_cmp);
	for (size_t j = 1, head = 0; j < k; j++) {
		if (strcmp(refs[j].text, refs[head].text) != 0)
			head = j;
		else
			first[refs[j].pair] = refs[head].pair;
	}
	free(refs);
	return first;
}

bool conf_usable_key(struct parser *p, const struct node *map, size_t i, const size_t *first,
                     bool quiet)
{
	const struct node *k = map->kids[2 * i];

	if (k->kind != NODE_SCALAR) {
		if (!quiet && k->kind != NODE_BAD)
			conf_report(p, k, "keys must be strings, not %s", conf_kind_word(k));
		return false;
	}
	if (first[i] != SIZE_MAX) {
		if (!quiet)
			conf_report(p, k, "duplicate key '%s', first set at line %d", SHOW(k->text),
			            map->kids[2 * first[i]]->line);
		return false;
	}
	return true;
}

static void apply_key(struct parser *p, const struct keydef *d, const struct node *key,
                      const struct node *val, void *obj)
{
	void *field = (char *)obj + d->off;
	const char *s;
	uint64_t u;

	switch (d->kind) {
	case K_OPT_STRING:
		if (conf_is_null(val)) {
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		}
		/* fall through */
	case K_STRING:
	case K_PATH:
		if (!(s = conf_want_string(p, d->name, val)))
			break;
		if (d->kind == K_PATH && s[0] != '/') {
			conf_report(p, val, "%s: expected an absolute path, not '%s'", d->name,
			            SHOW(s));
			break;
		}
		conf_set_string(p, field, s);
		break;
	case K_BOOL:
		conf_want_bool(p, d->name, val, field);
		break;
	case K_UINT:
		if (conf_want_u64(p, d->name, val, d->lo, d->hi, &u) == 0)
			*(unsigned *)field = (unsigned)u;
		break;
	case K_COUNT:
		conf_want_u64(p, d->name, val, d->lo, d->hi, field);
		break;
	case K_NUMBER:
		conf_want_number(p, d->name, val, field);
		break;
	case K_DURATION:
		conf_want_duration(p, d->name, val, d->lo, d->hi, field);
		break;
	case K_SIZE:
		conf_want_size(p, d->name, val, d->lo, d->hi, field);
		break;
	case K_PERCENT:
		conf_want_percent(p, d->name, val, d->hi, field);
		break;
	case K_LIST:
		conf_set_list(p, d->name, val, field);
		break;
	case K_FN:
		d->fn(p, key, val, obj);
		break;
	}
}

void conf_walk_map(struct parser *p, const struct node *map, const struct keydef *defs,
                   size_t n_defs, void *obj, const struct mapctx *mc)
{
	size_t pairs = map->kind == NODE_MAP ? conf_map_pairs(map) : 0, *first;
	uint64_t seen = 0;

	if (pairs > MAX_TABLE_KEYS) {
		conf_report(p, map, "too many keys (%zu) in %s; the limit is %d", pairs, mc->what,
		            MAX_TABLE_KEYS);
		return;
	}
	if (!(first = conf_first_keys(p, map)))
		return;
	for (unsigned phase = 0; phase < 3; phase++)
		for (size_t i = 0; i < pairs; i++) {
			const struct node *key = map->kids[2 * i], *val = map->kids[2 * i + 1];
			const struct keydef *d;
			bool applies;

			if (!conf_usable_key(p, map, i, first, phase > 0))
				continue;
			d = find_key(defs, n_defs, key->text, mc, &applies);
			if (!d || !applies) {
				if (phase == 0)
					report_misplaced_key(p, key, d, defs, n_defs, mc);
				continue;
			}
			seen |= 1ull << (d - defs);
			if (key_phase(d) == phase)
				apply_key(p, d, key, val, obj);
		}
	free(first);
	for (size_t i = 0; i < n_defs; i++)
		if ((defs[i].flags & KEY_REQUIRED) && key_applies(&defs[i], mc) &&
		    !(seen & (1ull << i)))
			conf_report(p, mc->owner ? mc->owner : map, "missing key '%s' in %s",
			            defs[i].name, mc->what);
}

bool conf_want_entry(struct parser *p, const struct node *key, const struct node *val,
                     const char *like)
{
	if (val->kind == NODE_MAP)
		return true;
	if (val->kind != NODE_BAD)
		conf_report(p, val, "%s: expected a mapping %s, not %s", SHOW(key->text), like,
		            conf_kind_word(val));
	return false;
}

void conf_walk_named(struct parser *p, const char *key, const struct node *map, size_t cap,
                     const char *kind, bool (*alloc)(struct parser *, size_t, void *),
                     entry_fn *fn, void *arg)
{
	size_t pairs, *first;

	if (!conf_want_map(p, key, map))
		return;
	pairs = map->kind == NODE_MAP ? conf_map_pairs(map) : 0;
	if (pairs > cap) {
		conf_report(p, map, "%s: too many %ss (%zu); the limit is %zu", key, kind, pairs,
		            cap);
		return;
	}
	if (!alloc(p, pairs, arg) || !(first = conf_first_keys(p, map)))
		return;
	for (size_t i = 0; i < pairs; i++) {
		const struct node *k = map->kids[2 * i];
		if (!conf_usable_key(p, map, i, first, false))
			continue;
		if (k->len > CONFIG_MAX_NAME)
			conf_report(p, k, "%s name '%s' is longer than %d bytes", kind,
			            SHOW(k->text),
			            CONFIG_MAX_NAME);
		else if (!config_name_valid(k->text))
			conf_report(p, k, "%s name '%s' must match [a-z0-9_]+ (it becomes a path)",
			            kind,
			            SHOW(k->text));
		fn(p, k, map->kids[2 * i + 1], arg);
	}
	free(first);
}

