/* dq_fixture.h - the datasets test_dq*.c check files against, written as
 * tables and built into the struct cfg_dataset that config_parse() makes
 * of the same YAML (quality/ is below config/: its tests cannot parse).
 *
 * A fixture is the schema and checks of dataset d in
 *
 *   datasets:
 *     d:                                 # line 2
 *       url: https://example.org/d.csv
 *       schedule: "0 6 * * *"
 *       schema: ...
 *       checks: ...
 *
 * and fixture() returns what the parser would: the keys given, every other
 * key at the default of its row in daemon/config/config_datasets.c,
 * config_schema.c and config_checks.c (a check gets the defaults of every
 * row, whatever its type), file_name from the URL.  Each YAML key is its
 * field, the value in the field's unit:
 *
 *   - {name: n, type: int, required: false}
 *       COLUMN("n", COL_INT, .required = VAL(false))
 *   rows: {type: row_count, min: 5, max_change: 50%}
 *       CHECK("rows", CHECK_ROW_COUNT, .min_rows = 5, .max_change = VAL(PCT(50)))
 *   fresh: {type: freshness, max_age: 90m}
 *       CHECK("fresh", CHECK_FRESHNESS, .max_age_ms = MINUTES(90))
 *
 * VAL() marks a key given whose default is not zero (required and
 * zero_is_null: true; max_change: off; a range's min and max: unbounded).
 * A list left NULL was not given, and timestamp_formats then has the
 * parser's three.  max_null, max_bad and max_unparsed are the one field
 * max_fraction.  The YAML these tables replace: test_dq.c at 47bdbdc.
 */
#ifndef DENVERD_TEST_DQ_FIXTURE_H
#define DENVERD_TEST_DQ_FIXTURE_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/config_types.h"

#define LIST(...)      ((const char *const[]){ __VA_ARGS__, NULL })
#define VAL(x)         { .set = true, .v = (x) }
#define PCT(x)         ((x) / 100.0)
#define MINUTES(n)     ((uint64_t)(n) * 60 * 1000)
#define HOURS(n)       (60 * MINUTES(n))
#define DAYS(n)        (24 * HOURS(n))
/* The tables of a fixture, each ended by a row without a name, and their
 * rows: COLUMN(name, type, more keys...), CHECK(name, type, more keys...). */
#define COLUMNS(...)   .columns = (const struct fx_column[]){ __VA_ARGS__, { .name = NULL } }
#define CHECKS(...)    .checks = (const struct fx_check[]){ __VA_ARGS__, { .name = NULL } }
#define COLUMN(n, ...) { .name = (n), .type = __VA_ARGS__ }
#define CHECK(n, ...)  { .name = (n), .type = __VA_ARGS__ }

struct fx_bool { bool set, v; };
struct fx_num { bool set; double v; };

struct fx_column {
	const char *name;
	enum col_type type;
	const char *const *aliases, *const *formats, *const *nulls;
	struct fx_bool required;
};

struct fx_check {
	const char *name;
	enum check_type type;
	const char *const *columns;
	union {                     /* the one field, by the key of each type */
		double max_null, max_bad, max_unparsed, max_withdrawn;
	};
	enum severity severity;
	uint64_t min_rows, max_rows;
	struct fx_num max_change, min, max;
	const char *lat, *lon;
	double min_lat, max_lat, min_lon, max_lon;
	struct fx_bool zero_is_null;
	uint64_t future_slack_ms, max_age_ms;
	const char *const *values;
};

struct fx_dataset {
	const char *const *key;
	const char *event_time;
	uint64_t window_ms;
	const char *const *timestamp_formats;
	const struct fx_column *columns;
	const struct fx_check *checks;
};

/* ---- building ---------------------------------------------------------- */

static inline char *fx_strdup(const char *s)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		abort();
	return d;
}

/* A list given (L non-NULL, NULL-terminated) is allocated even when empty,
 * as the parser does; one not given stays { NULL, 0 }. */
static inline struct strlist fx_list(const char *const *l)
{
	struct strlist out = { NULL, 0 };

	if (!l)
		return out;
	while (l[out.n])
		out.n++;
	if (!(out.items = calloc(out.n + 1, sizeof *out.items)))
		abort();
	for (size_t i = 0; i < out.n; i++)
		out.items[i] = fx_strdup(l[i]);
	return out;
}

/* The array of a table given (GIVEN non-NULL), N rows of SIZE; NULL for
 * one not given (no columns: or checks: key). */
static inline void *fx_table(const void *given, size_t n, size_t size)
{
	void *m = given ? calloc(n ? n : 1, size) : NULL;
	if (given && !m)
		abort();
	return m;
}

static inline bool fx_bool_or(struct fx_bool b, bool dflt)
{
	return b.set ? b.v : dflt;
}

static inline double fx_num_or(struct fx_num n, double dflt)
{
	return n.set ? n.v : dflt;
}

static inline void fx_make_column(struct cfg_column *c, const struct fx_column *f)
{
	*c = (struct cfg_column){
		.name = fx_strdup(f->name), .type = f->type,
		.aliases = fx_list(f->aliases), .formats = fx_list(f->formats),
		.required = fx_bool_or(f->required, true), .nulls = fx_list(f->nulls),
	};
}

static inline void fx_make_check(struct cfg_check *c, const struct fx_check *f)
{
	*c = (struct cfg_check){
		.name = fx_strdup(f->name), .type = f->type, .severity = f->severity,
		.columns = fx_list(f->columns), .max_fraction = f->max_null,
		.min_rows = f->min_rows, .max_rows = f->max_rows,
		.max_change = fx_num_or(f->max_change, -1),
		.min = fx_num_or(f->min, -INFINITY), .max = fx_num_or(f->max, INFINITY),
		.lat = fx_strdup(f->lat), .lon = fx_strdup(f->lon),
		.min_lat = f->min_lat, .max_lat = f->max_lat,
		.min_lon = f->min_lon, .max_lon = f->max_lon,
		.zero_is_null = fx_bool_or(f->zero_is_null, true),
		.future_slack_ms = f->future_slack_ms, .max_age_ms = f->max_age_ms,
		.values = fx_list(f->values),
	};
}

/* Dataset d with the schema and checks of F; free with fixture_free(). */
static inline struct cfg_dataset *fixture(const struct fx_dataset *f)
{
	static const char *const default_formats[] = {
		"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d", NULL,
	};
	struct cfg_dataset *d = calloc(1, sizeof *d);
	size_t nc = 0, nk = 0;

	if (!d)
		abort();
	while (f->columns && f->columns[nc].name)
		nc++;
	while (f->checks && f->checks[nk].name)
		nk++;
	*d = (struct cfg_dataset){
		.name = fx_strdup("d"), .url = fx_strdup("https://example.org/d.csv"),
		.file_name = fx_strdup("d.csv"), .schedule = fx_strdup("0 6 * * *"),
		.missed = MISSED_LATEST, .max_catchup = 3, .keep_snapshots = 14,
		.max_age_ms = HOURS(36), .convert = true, .convert_timeout_ms = HOURS(2),
		.retry = { .retries = 3, .delay_ms = MINUTES(1), .max_delay_ms = HOURS(1) },
		.fetch = { .connect_timeout_ms = 30 * 1000, .low_speed_limit = 1024,
		           .low_speed_time_ms = 60 * 1000, .timeout_ms = HOURS(6),
		           .max_redirects = 5 },
		.schema = {
			.columns = fx_table(f->columns, nc, sizeof(struct cfg_column)),
			.n_columns = nc,
			.key = fx_list(f->key), .event_time = fx_strdup(f->event_time),
			.timestamp_formats = fx_list(f->timestamp_formats ? f->timestamp_formats
			                                                  : default_formats),
		},
		.checks = fx_table(f->checks, nk, sizeof(struct cfg_check)), .n_checks = nk,
		.window_ms = f->window_ms, .line = 2,
	};
	for (size_t i = 0; i < nc; i++)
		fx_make_column(&d->schema.columns[i], &f->columns[i]);
	for (size_t i = 0; i < nk; i++)
		fx_make_check(&d->checks[i], &f->checks[i]);
	return d;
}

static inline void fx_list_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
}

static inline void fixture_free(struct cfg_dataset *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->schema.n_columns; i++) {
		struct cfg_column *c = &d->schema.columns[i];
		free(c->name);
		fx_list_free(&c->aliases);
		fx_list_free(&c->formats);
		fx_list_free(&c->nulls);
	}
	for (size_t i = 0; i < d->n_checks; i++) {
		struct cfg_check *c = &d->checks[i];
		free(c->name);
		fx_list_free(&c->columns);
		free(c->lat);
		free(c->lon);
		fx_list_free(&c->values);
	}
	free(d->schema.columns);
	fx_list_free(&d->schema.key);
	free(d->schema.event_time);
	fx_list_free(&d->schema.timestamp_formats);
	free(d->checks);
	free(d->name);
	free(d->url);
	free(d->file_name);
	free(d->schedule);
	free(d);
}

#endif
