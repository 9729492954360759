/*
 * config_walk.c - the key-table walker: one mapping of the file into one
 * struct, by a table of struct keydef (config_int.h).  Unknown, misplaced,
 * duplicate and missing keys are reported here, with a hint at the nearest
 * known key; the values themselves go through config_values.c.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

#define MAX_TABLE_KEYS 256          /* keys in one settings mapping (duplicate
                                       checks are pairwise) */

STATIC_ASSERT(KEY_TABLE_MAX <= 64, "conf_walk_map() tracks the rows seen in a uint64_t");
/* K_ENUM stores an int into an enum field. */
STATIC_ASSERT(sizeof(enum missed_policy) == sizeof(int) &&
              sizeof(enum col_type) == sizeof(int) && sizeof(enum severity) == sizeof(int) &&
              sizeof(enum check_type) == sizeof(int) &&
              sizeof(enum source_kind) == sizeof(int), "enum_is_int");

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
                                 const struct keydef *d, const struct keytable *t,
                                 const struct mapctx *mc)
{
	const char *names[KEY_TABLE_MAX];
	char list[1024];
	size_t k = key_names(t->keys, t->n, mc, names);
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

/* A string kind: empty values (K_OPT_STRING), absolute paths, the row's
 * check, then the copy. */
static void apply_string(struct parser *p, const struct keydef *d, const struct node *key,
                         const struct node *val, void *obj)
{
	char **field = (char **)((char *)obj + d->off);
	const char *s;

	if (d->kind == K_OPT_STRING && conf_is_null(val)) {
		free(*field);
		*field = NULL;
		return;
	}
	if (!(s = conf_want_string(p, d->name, val)))
		return;
	if (d->kind == K_PATH && s[0] != '/') {
		conf_report(p, val, "%s: expected an absolute path, not '%s'", d->name, SHOW(s));
		return;
	}
	if (!d->check || d->check(p, key, val, obj))
		conf_set_string(p, field, s);
}

static void apply_section(struct parser *p, const struct keydef *d, const struct node *key,
                          const struct node *val, void *obj)
{
	struct mapctx mc = { .what = d->name, .owner = key };

	if (conf_want_map(p, d->name, val))
		conf_walk_map(p, val, d->sub, (char *)obj + d->off, &mc);
}

static void apply_key(struct parser *p, const struct keydef *d, const struct node *key,
                      const struct node *val, void *obj)
{
	void *field = (char *)obj + d->off;
	uint64_t u;
	int i;

	switch (d->kind) {
	case K_STRING:
	case K_OPT_STRING:
	case K_PATH:
		apply_string(p, d, key, val, obj);
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
	case K_ENUM:         /* the enums are int-sized (enum_is_int) */
		if (conf_want_enum(p, d->name, val, d->names, d->n_names, &i) == 0)
			*(int *)field = i;
		break;
	case K_MODE:
		conf_want_mode(p, d->name, val, field);
		break;
	case K_LIST:
		conf_set_list(p, d->name, val, field);
		if (d->check)
			d->check(p, key, val, obj);
		break;
	case K_SECTION:
		apply_section(p, d, key, val, obj);
		break;
	case K_FN:
		d->fn(p, key, val, obj);
		break;
	}
}

void conf_walk_map(struct parser *p, const struct node *map, const struct keytable *t,
                   void *obj, const struct mapctx *mc)
{
	size_t pairs = map->kind == NODE_MAP ? conf_map_pairs(map) : 0, *first;
	uint64_t seen = 0;     /* bit i: row i was given (KEY_TABLE_MAX rows) */

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
			d = find_key(t->keys, t->n, key->text, mc, &applies);
			if (!d || !applies) {
				if (phase == 0)
					report_misplaced_key(p, key, d, t, mc);
				continue;
			}
			seen |= 1ull << (d - t->keys);
			if (key_phase(d) == phase)
				apply_key(p, d, key, val, obj);
		}
	free(first);
	for (size_t i = 0; i < t->n; i++)
		if ((t->keys[i].flags & KEY_REQUIRED) && key_applies(&t->keys[i], mc) &&
		    !(seen & (1ull << i)))
			conf_report(p, mc->owner ? mc->owner : map, "missing key '%s' in %s",
			            t->keys[i].name, mc->what);
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


/* ---- defaults from the tables ------------------------------------------ */

/* K_LIST: a copy of the NULL-terminated DFLT. */
static int default_list(struct parser *p, const char *const *dflt, struct strlist *l)
{
	size_t n = 0;

	while (dflt[n])
		n++;
	conf_strlist_free(l);
	if (!(l->items = conf_xcalloc(p, n + 1, sizeof(char *))))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((l->items[l->n] = conf_xstrdup(p, dflt[i])))
			l->n++;
	return 0;
}

/* K_NUMBER: a number, or "-inf"/"inf" for no bound. */
static int default_number(const char *s, double *out)
{
	if (strcmp(s, "-inf") == 0 || strcmp(s, "inf") == 0) {
		*out = s[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	return conf_parse_number(s, out);
}

/* K_ENUM: the index of S in the row's words. */
static int default_enum(const struct keydef *d, const char *s, int *out)
{
	for (size_t i = 0; i < d->n_names; i++)
		if (strcmp(d->names[i], s) == 0)
			return *out = (int)i, 0;
	return -EINVAL;
}

static int default_bool(const char *s, bool *out)
{
	if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
		return -EINVAL;
	*out = s[0] == 't';
	return 0;
}

static int default_uint(const char *s, unsigned *out)
{
	uint64_t u;

	if (conf_parse_u64(s, NULL, &u) < 0 || u > UINT_MAX)
		return -EINVAL;
	*out = (unsigned)u;
	return 0;
}

/* K_FN: the row's function on the text as a scalar (at line 0). */
static int default_fn(struct parser *p, const struct keydef *d, void *obj)
{
	struct node v = { .kind = NODE_SCALAR, .text = (char *)d->dflt, .len = strlen(d->dflt) };
	size_t before = p->n_msgs;

	d->fn(p, NULL, &v, obj);
	return p->n_msgs == before ? 0 : -EINVAL;
}

/* Row D's default into OBJ, by the row's kind; -EINVAL when it does not
 * parse (a bug in the table, which test_config.c would catch). */
static int set_default(struct parser *p, const struct keydef *d, void *obj)
{
	void *field = (char *)obj + d->off;
	const char *s = d->dflt;

	switch (d->kind) {
	case K_STRING:
	case K_OPT_STRING:
	case K_PATH:
		conf_set_string(p, field, s);
		return 0;
	case K_BOOL: return default_bool(s, field);
	case K_UINT: return default_uint(s, field);
	case K_COUNT: return conf_parse_u64(s, NULL, field);
	case K_NUMBER: return default_number(s, field);
	case K_DURATION: return config_parse_duration(s, field);
	case K_SIZE: return config_parse_size(s, field);
	case K_PERCENT:
		if (strcmp(s, "off") == 0)
			return *(double *)field = -1, 0;
		return config_parse_percent(s, field);
	case K_ENUM: return default_enum(d, s, field);
	case K_MODE: return conf_parse_mode(s, field);
	case K_LIST: return default_list(p, d->dflt_list, field);
	case K_SECTION:
		conf_table_defaults(p, d->sub, field);
		return 0;
	case K_FN: return default_fn(p, d, obj);
	}
	return -EINVAL;
}

void conf_table_defaults(struct parser *p, const struct keytable *t, void *obj)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct keydef *d = &t->keys[i];
		if (!d->dflt && !d->dflt_list && d->kind != K_SECTION)
			continue;
		if (set_default(p, d, obj) < 0)
			conf_report_pos(p, 0, 0, "%s%s%s: the built-in default '%s' does not parse",
			                t->path, *t->path ? "." : "", d->name,
			                d->dflt ? d->dflt : "(list)");
	}
}
