/*
 * config_int.h - what the files of config/ share, and nothing outside
 * config/ may include (the public API is config/config.h).
 *
 * How a file becomes a struct config (config_parse() in config.c):
 *
 *   config_tree.c     YAML text -> a tree of nodes that remember their line
 *                     and column (the only yaml.h user), in an mmap arena
 *   config_walk.c     tree -> struct, one mapping at a time, driven by key
 *                     tables (struct keydef below)
 *   config_values.c   the scalar validators the walker and the key
 *                     functions use (conf_want_*())
 *   config_units.c    durations, sizes, percentages, numbers (exported ones
 *                     are in config.h)
 *   config_report.c   messages, out-of-memory, did-you-mean
 *   config_keys.c     the tables as a whole: restart-only keys that differ,
 *                     the listing of every row (config_keys_foreach())
 *   config.c, config_spark.c, config_datasets.c, config_schema.c,
 *   config_checks.c   the key tables of denverd's settings and the rules
 *                     that cross keys
 *
 * Conventions.  Every problem is reported with conf_report() and the walk
 * goes on, so one run lists them all; a function that "wants" a value
 * returns it (or 0) when it is good and NULL (or -EINVAL) after reporting.
 * Out of memory sets p->oom and is reported by config_parse() as -ENOMEM.
 * Nothing here logs, blocks on anything but reading zoneinfo (timezone),
 * or keeps state between two parses.  Functions shared between the files
 * are prefixed conf_ (config_ is the public API).
 */
#ifndef DENVERD_CONFIG_INT_H
#define DENVERD_CONFIG_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/macro.h"
#include "config/config.h"

#define MAX_STRING    4096          /* bytes of one value */

#define MS_S  1000ull
#define MS_M  (60 * MS_S)
#define MS_H  (60 * MS_M)
#define MS_D  (24 * MS_H)
#define KIB   1024ull
#define MIB   (1024 * KIB)
#define GIB   (1024 * MIB)
#define MAX_PERIOD (3650 * MS_D)    /* the longest freshness window */

/* ---- the tree (config_tree.c) ------------------------------------------ */

enum node_kind {
	NODE_SCALAR,
	NODE_LIST,
	NODE_MAP,
	NODE_BAD,        /* an alias or a value already reported: skip quietly */
};

/* One value of the file.  Nodes live in the parser's arena: never freed one
 * by one, all gone when config_parse() returns. */
struct node {
	enum node_kind kind;
	int line, col;            /* 1-based */
	bool plain;               /* a scalar written without quotes */
	char *text;               /* scalar: its value, NUL-terminated */
	size_t len;
	struct node **kids;       /* list: items; map: key, value, key, value */
	size_t n;
};

/*
 * The tree lives in an arena of anonymous mappings, unmapped in one go when
 * parsing ends: a reload's transient tree (tens of MB for thousands of
 * datasets) goes back to the system instead of staying in the heap.
 */
struct arena {
	struct chunk *head;
};

/* The state of one config_parse(). */
struct parser {
	const char *name;         /* path used in messages */
	const char *src;
	size_t src_len;
	struct msg *msgs;         /* config_report.c */
	size_t n_msgs, cap_msgs, dropped;
	size_t n_nodes;
	bool oom;
	struct arena arena;       /* the tree */
	struct config *cfg;       /* being filled; keys may read what earlier
	                             phases set (allow_file_urls, datasets) */
};

size_t conf_map_pairs(const struct node *map);
/* The value of KEY in MAP (first occurrence), or NULL; MAP may be NULL. */
const struct node *conf_map_get(const struct node *map, const char *key);
/* Item I of LIST (a scalar) repeats the text of an earlier scalar item. */
bool conf_list_repeats(const struct node *list, size_t i);
/* An empty plain scalar, ~ or null: "no value". */
bool conf_is_null(const struct node *n);
/* "a list", "a mapping", "an empty value" or "a string", for messages. */
const char *conf_kind_word(const struct node *n);

/* Build the tree of the first document in p->arena.  0 (with *root NULL
 * for an empty stream), or -EINVAL after reporting why, or -ENOMEM. */
int conf_load_tree(struct parser *p, struct node **root);
/* Unmap the arena: every node is gone. */
void conf_arena_free(struct arena *a);

/* ---- messages and failure (config_report.c) ---------------------------- */

/* Record a message at node AT (NULL: about the whole file) or at LINE:COL
 * (0:0 the same).  At most MAX_ERRORS are kept; the rest are counted. */
__attribute__((format(printf, 3, 4)))
void conf_report(struct parser *p, const struct node *at, const char *fmt, ...);
__attribute__((format(printf, 4, 5)))
void conf_report_pos(struct parser *p, int line, int col, const char *fmt, ...);
/* All messages, sorted by position, one "name:line:col: text\n" each;
 * the caller frees.  NULL when out of memory. */
char *conf_join_msgs(struct parser *p);
/* Free the messages (not the arena). */
void conf_msgs_free(struct parser *p);

/* VALUE as quoted in a message: at most 40 bytes (cut on a character
 * boundary), control characters shown as '?'.  BUF must hold 48 bytes. */
const char *conf_show(const char *value, char *buf);
#define SHOW(v) conf_show((v), (char[48]){ 0 })

char conf_lower(char c);
/* The candidate closest to WORD, when it is close enough to be a typo. */
const char *conf_nearest(const char *word, const char *const *cands, size_t n);
/* ", did you mean 'x'?" or "" - for appending to a message. */
const char *conf_hint(const char *word, const char *const *cands, size_t n, char *buf,
                      size_t size);
#define HINT(w, c, n) conf_hint((w), (c), (n), (char[96]){ 0 }, 96)

/* strdup / calloc that set p->oom on failure (calloc of 0 items gives 1). */
char *conf_xstrdup(struct parser *p, const char *s);
void *conf_xcalloc(struct parser *p, size_t n, size_t size);
void conf_strlist_free(struct strlist *l);

/* ---- numbers (config_units.c) ------------------------------------------ */

bool conf_is_digit(char c);
/* Digits only: no sign, no spaces.  0, or -EINVAL (also on overflow).  With
 * END, *end is where the digits stop; without, the digits must end S. */
int conf_parse_u64(const char *s, const char **end, uint64_t *out);
/* A decimal number, optionally signed, with an optional exponent
 * ("3.0e6", "-104.6"); no hex, inf or nan. */
int conf_parse_number(const char *s, double *out);
/* A file mode: three or four octal digits, four only with a leading 0
 * ("660", "0660"; so at most 0777). */
int conf_parse_mode(const char *s, unsigned *mode);

/* ---- scalar values (config_values.c) ----------------------------------- */

/* The text of scalar V, or NULL after reporting that KEY wanted EXPECTED. */
const char *conf_want_scalar(struct parser *p, const char *key, const struct node *v,
                             const char *expected);
/* True when V is a mapping, or an empty value (meaning "all defaults"). */
bool conf_want_map(struct parser *p, const char *key, const struct node *v);
/* True when V is a list, or an empty value (an empty list). */
bool conf_want_list(struct parser *p, const char *key, const struct node *v);
/* A non-empty string of at most MAX_STRING bytes, or NULL after reporting. */
const char *conf_want_string(struct parser *p, const char *key, const struct node *v);
int conf_want_bool(struct parser *p, const char *key, const struct node *v, bool *out);
int conf_want_u64(struct parser *p, const char *key, const struct node *v, uint64_t lo,
                  uint64_t hi, uint64_t *out);
int conf_want_number(struct parser *p, const char *key, const struct node *v, double *out);
/* A duration (ms) or a size (bytes) in [LO, HI]; the message for a value out
 * of range shows the bounds in the unit's own style. */
int conf_want_duration(struct parser *p, const char *key, const struct node *v, uint64_t lo,
                       uint64_t hi, uint64_t *out);
int conf_want_size(struct parser *p, const char *key, const struct node *v, uint64_t lo,
                   uint64_t hi, uint64_t *out);
/* HI is in whole percent (100 for a share, more for a change). */
int conf_want_percent(struct parser *p, const char *key, const struct node *v, uint64_t hi,
                      double *out);
/* One of NAMES (index in *out), or a message listing them with a hint. */
int conf_want_enum(struct parser *p, const char *key, const struct node *v,
                   const char *const *names, size_t n, int *out);
/* A file mode as conf_parse_mode() reads it. */
int conf_want_mode(struct parser *p, const char *key, const struct node *v, unsigned *out);
/* *FIELD = a copy of VALUE (the old one freed); unchanged when out of memory. */
void conf_set_string(struct parser *p, char **field, const char *value);
/* A list of strings into *L (replacing it); bad items are reported and left
 * out.  An empty value is an empty list. */
void conf_set_list(struct parser *p, const char *key, const struct node *v,
                   struct strlist *l);

/* ---- key tables (config_walk.c) ---------------------------------------- */

/*
 * One row per key of a settings mapping: what the key holds, its bounds,
 * its default, and whether it may change on a reload.  The rows are the one
 * place a key is defined; denverd.yaml(5) documents each row, and
 * tests/unit/config/test_config_man.c holds the two against each other
 * (through config_keys_foreach()).
 */
enum key_kind {
	K_STRING,        /* char *, non-empty */
	K_OPT_STRING,    /* char *, an empty value sets NULL */
	K_PATH,          /* char *, absolute */
	K_BOOL,          /* bool */
	K_UINT,          /* unsigned, in [lo, hi] */
	K_COUNT,         /* uint64_t, in [lo, hi] */
	K_NUMBER,        /* double */
	K_DURATION,      /* uint64_t ms, in [lo, hi] */
	K_SIZE,          /* uint64_t bytes, in [lo, hi] */
	K_PERCENT,       /* double fraction, at most hi percent */
	K_ENUM,          /* an enum (stored as int): the index of the word in names[] */
	K_MODE,          /* unsigned: a file mode, 3 or 4 octal digits ("0660") */
	K_LIST,          /* struct strlist */
	K_SECTION,       /* a mapping: walked with the table sub into the struct at off */
	K_FN,            /* fn() does it all */
};

struct keydef;
struct keytable;
typedef void key_fn(struct parser *p, const struct node *key, const struct node *val,
                    void *obj);
/*
 * A rule of one key beyond its kind's (a URL's scheme, a column that must
 * exist).  String kinds run it on a good string before storing it: false
 * (after reporting) leaves the field as it was.  K_LIST runs it after the
 * list is stored, to report bad items; its return is then ignored.
 */
typedef bool key_check_fn(struct parser *p, const struct node *key, const struct node *val,
                          void *obj);

struct keydef {
	const char *name;
	enum key_kind kind;
	size_t off;              /* of the field in the walked struct */
	uint64_t lo, hi;         /* K_UINT, K_COUNT, K_DURATION, K_SIZE: the range;
	                            K_PERCENT: hi in whole percent */
	/*
	 * The value when the key is absent, written as in the file ("36h",
	 * "1KiB", "latest", "0660") and read by the kind's own parser; NULL =
	 * zero (false, none, empty).  K_NUMBER also takes "-inf" and "inf" (no
	 * bound), K_PERCENT "off" (stored as -1); K_FN calls fn on it as a
	 * scalar at line 0, with no key node.  K_LIST uses dflt_list instead
	 * (NULL-terminated).
	 */
	const char *dflt;
	const char *const *dflt_list;
	const char *const *names;      /* K_ENUM: the words, index = value */
	size_t n_names;
	const struct keytable *sub;    /* K_SECTION: the mapping's table; K_FN: the
	                                  table fn walks each entry with (datasets,
	                                  jobs, checks, columns), for listings */
	key_fn *fn;                    /* K_FN */
	key_check_fn *check;           /* optional, see key_check_fn */
	unsigned flags;
	unsigned only;           /* check types (bits) the key applies to; 0 = any */
};

#define KEY_REQUIRED 0x1u
#define KEY_PHASE1   0x2u    /* after the other keys of the same mapping */
#define KEY_PHASE2   0x4u    /* after those */
#define KEY_RESTART  0x8u    /* bound at start: a reload must not change it
                                (config_restart_diff()) */

/* A key table and where its mapping sits in the file, dotted ("limits",
 * "datasets.*.fetch"; "" is the top level), for config_keys_foreach() and
 * the names config_restart_diff() returns. */
struct keytable {
	const char *path;
	const struct keydef *keys;
	size_t n;
};

/* The most rows one table may have (conf_walk_map() tracks the keys it saw
 * in one 64-bit word); KEY_TABLE() checks it when the table is defined. */
#define KEY_TABLE_MAX 64
#define KEY_TABLE(var, path, rows)                                                 \
	STATIC_ASSERT(ARRAY_SIZE(rows) <= KEY_TABLE_MAX,                               \
	              #rows " has more rows than conf_walk_map() can track");          \
	const struct keytable var = { path, rows, ARRAY_SIZE(rows) }

/* The tables, in the files that own their keys. */
extern const struct keytable conf_top_table, conf_limit_table, conf_spark_table,
	conf_alert_table, conf_dataset_table, conf_fetch_table, conf_arcgis_table,
	conf_schema_table, conf_column_table, conf_check_table, conf_job_table,
	conf_lineage_table, conf_connect_table, conf_storage_table;

/* A spark.conf key that would hold an S3 secret (config_spark.c). */
bool conf_secret_setting(const char *key);

/* storage: type s3 has what it needs (config_storage.c), after the walk. */
void conf_check_storage(struct parser *p, const struct cfg_storage *s);

/* Set every row of T that has a default in OBJ (K_SECTION rows: their
 * table's defaults, in the struct at off), before the mapping is walked;
 * the keys present then replace them. */
void conf_table_defaults(struct parser *p, const struct keytable *t, void *obj);

/* How one mapping is walked: what it is called in "missing key" messages,
 * where those are reported, and which check type it is (for `only`). */
struct mapctx {
	const char *what;
	const struct node *owner;
	unsigned type_bit;
	const char *type_name;
};

/*
 * Walk mapping MAP with the key table T into OBJ: unknown, duplicate,
 * misplaced and missing keys are reported; each known key is applied in its
 * phase (so a key can rely on others of the same mapping being done).  MAP
 * may be an empty value: then only the missing required keys are reported.
 * Defaults are not set here (conf_table_defaults()).
 */
void conf_walk_map(struct parser *p, const struct node *map, const struct keytable *t,
                   void *obj, const struct mapctx *mc);

/* The settings of entry KEY must be a mapping; LIKE hints at its keys. */
bool conf_want_entry(struct parser *p, const struct node *key, const struct node *val,
                     const char *like);

typedef void entry_fn(struct parser *p, const struct node *key, const struct node *val,
                      void *arg);
/*
 * Walk a mapping from names to entries (datasets, jobs, checks): names must
 * be [a-z0-9_]+ and unique.  Calls FN for each usable entry; ALLOC is called
 * first with the number of entries so arrays can be sized once.
 */
void conf_walk_named(struct parser *p, const char *key, const struct node *map, size_t cap,
                     const char *kind, bool (*alloc)(struct parser *, size_t, void *),
                     entry_fn *fn, void *arg);

/*
 * For each pair of MAP, the index of the first pair with the same key, or
 * SIZE_MAX when it is the first (one sort: mappings of thousands of
 * datasets stay fast).  Caller frees; NULL when out of memory (p->oom set).
 */
size_t *conf_first_keys(struct parser *p, const struct node *map);
/* Report a key that is not a string, or repeats an earlier one (FIRST from
 * conf_first_keys()); true when pair I of MAP can be used. */
bool conf_usable_key(struct parser *p, const struct node *map, size_t i, const size_t *first,
                     bool quiet);
/* "a, b, c" into BUF. */
const char *conf_join_names(const char *const *names, size_t n, char *buf, size_t size);

/* ---- settings (config.c, config_datasets.c, config_schema.c, ----------- */
/* ---- config_checks.c) --------------------------------------------------- */

/* V names an IANA time zone that tz_load() reads (reported as KEY's). */
bool conf_check_zone(struct parser *p, const char *key, const struct node *v);
/* http(s) always, file:// only when ALLOW_FILE; no spaces or control bytes. */
bool conf_check_url(struct parser *p, const char *key, const struct node *at, const char *url,
                    bool allow_file);
/* The items of argv template V (already stored by K_LIST) use only the
 * placeholders VARS; REQUIRED: it must not be empty. */
void conf_check_command(struct parser *p, const char *key, const struct node *v,
                        const char *const *vars, size_t n_vars, bool required);

bool conf_is_time_type(enum col_type t);
#define TIME_TYPES    ((1u << COL_TIMESTAMP) | (1u << COL_DATE))
#define NUMERIC_TYPES ((1u << COL_INT) | (1u << COL_FLOAT))
/*
 * Column NAME (from node AT of KEY) must exist in schema S; with TYPES (a
 * bit per col_type, 0 = any), its type must be one of them (WANT says which,
 * in words).  Returns the column or NULL after reporting.
 */
const struct cfg_column *conf_check_column_ref(struct parser *p, const struct cfg_schema *s,
                                               const char *key, const struct node *at,
                                               unsigned types, const char *want);

/* The rules of the spark section that cross keys (config_spark.c), once
 * the whole file ROOT is walked into CFG. */
void conf_check_spark(struct parser *p, const struct node *root, const struct config *cfg);

/* The keys whose values are mappings of named entries. */
key_fn conf_key_datasets, conf_key_jobs, conf_key_checks;

#endif
