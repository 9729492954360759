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

/* Lookups by name; NULL when absent.  The result lives as long as cfg. */
const struct cfg_dataset *config_dataset(const struct config *cfg, const char *name);
const struct cfg_job *config_job(const struct config *cfg, const char *name);
const struct cfg_column *config_column(const struct cfg_schema *s, const char *name);

/* Unit parsers, exported for the tests and for denverctl's options.
 * Return 0 or -EINVAL; never log. */
int config_parse_duration(const char *s, uint64_t *ms);  /* 500ms 30s 5m 2h 1d 1w */
int config_parse_size(const char *s, uint64_t *bytes);   /* 512 64KiB 1GiB 1MB */
int config_parse_percent(const char *s, double *frac);   /* 2% 0.5% 100% */

#endif
