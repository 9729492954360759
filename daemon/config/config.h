/*
 * config.h - reading the configuration file of denverd: parse, load, free,
 * look up.  The types it fills are in domain/config_types.h.
 *
 * config/ is the only folder that includes yaml.h (config_tree.c).
 */
#ifndef DENVERD_CONFIG_H
#define DENVERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/config_types.h"

/* The exit status of `denverd --check` on a bad file (sysexits.h EX_CONFIG). */
#define CONFIG_EX_CONFIG 78

/*
 * Parse and validate FILE.  On success returns 0 and *out owns a new config
 * (free with config_free).  On failure returns -EINVAL (or -errno when the
 * file cannot be read), *out is NULL and *errors holds every message, one
 * per line, each "path:line:column: message"; the caller frees *errors.
 */
int config_load(const char *path, struct config **out, char **errors);

/* Same, from a buffer; `name` is used as the path in messages. */
int config_parse(const char *name, const char *text, size_t len,
                 struct config **out, char **errors);

void config_free(struct config *cfg);

/*
 * The first setting that cannot change on a reload (bound at start: see
 * KEY_RESTART in denverd.yaml(5)) whose value differs between OLD and NEW,
 * as its dotted name ("timezone", "limits.fetches"), in the order the file
 * format lists them; NULL when none differs.  The name is in a
 * thread-local buffer, valid until the thread's next call.
 */
const char *config_restart_diff(const struct config *old, const struct config *new);

/* One key of the file as the parser's tables define it: for tests that hold
 * the tables against denverd.yaml(5), and for tools. */
struct config_key {
	const char *table;       /* the mapping it is in, dotted: "" (the top level),
	                            "limits", "datasets.*", "datasets.*.checks.*",
	                            "datasets.*.schema.columns" (each column) */
	const char *name;
	const char *type;        /* "string", "path", "bool", "integer", "number",
	                            "duration", "size", "percentage", "enum", "mode",
	                            "list", "mapping"; NULL: read by a function */
	uint64_t lo, hi;         /* integer, duration (ms), size (bytes): the range;
	                            percentage: hi in whole percent */
	const char *dflt;        /* the default as the file writes it; NULL: none
	                            (zero, false, empty); "off" (a percentage) and
	                            "-inf"/"inf" (a number) mean no limit */
	const char *const *dflt_list;  /* a list's default, NULL-terminated, or NULL */
	const char *const *names;      /* enum: the accepted words */
	size_t n_names;
	bool required;
	bool restart;            /* a reload must not change it */
	unsigned only;           /* check keys: the types (bit 1 << enum check_type)
	                            that take it; 0 = all */
};

/* Calls FN for every key of every table, each table's rows in order (the
 * top level first, then the tables below it); stops at and returns the
 * first negative return of FN, else 0.  The strings are static. */
typedef int config_key_fn(void *arg, const struct config_key *key);
int config_keys_foreach(config_key_fn *fn, void *arg);

/* The unit parsers of the file format, exported for the tests (denverctl
 * cannot link config/; it parses its own options).  Return 0 or -EINVAL;
 * never log. */
/* HOST is a loopback name or address (localhost, 127.x.y.z, ::1). */
bool config_is_loopback(const char *host);

int config_parse_duration(const char *s, uint64_t *ms);  /* 500ms 30s 5m 2h 1d 1w */
int config_parse_size(const char *s, uint64_t *bytes);   /* 512 64KiB 1GiB 1MB */
int config_parse_percent(const char *s, double *frac);   /* 2% 0.5% 100% */

#endif
