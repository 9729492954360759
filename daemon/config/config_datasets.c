/*
 * config_datasets.c - the datasets and jobs mappings: what to fetch from
 * where (URLs, their placeholders, the file names they publish), when
 * (cron), how it is retried, and the jobs that run after datasets.
 *
 * A dataset's source is one file over HTTP (the default; its url is a
 * template), an ArcGIS FeatureServer layer or table (source: arcgis; its
 * url is the layer's, .../FeatureServer/<id>, and the arcgis: mapping says
 * how it is queried), or the export file of an ArcGIS Hub (source:
 * arcgis_hub; its url is a Hub download URL, and the hub: mapping says how
 * it is waited for).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/macro.h"
#include "common/fmt.h"
#include "config/config_int.h"
#include "domain/cron.h"
#include "domain/template.h"

#define MAX_FILE_NAME 255

/* ---- templates, URLs, file names ---------------------------------------- */

static const char *const url_vars[] = { "year", "month", "day", "exec_date" };
static const char *const job_vars[] = {
	"dataset", "exec_date", "year", "month", "day", "run_id", "state_dir", "job",
	"input", "output", "datastore", "spec", "storage", "spark_conf",
};

/* Check the placeholders of TEXT against VARS; report the first bad one. */
static bool check_template(struct parser *p, const char *key, const struct node *at,
                           const char *text, const char *const *vars, size_t n)
{
	char allowed[256];
	size_t bad = 0, off = 0, len;
	const char *b;

	if (template_check(text, vars, n, &bad) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(allowed + off, sizeof allowed - off, "%s{%s}",
		                        i ? " " : "", vars[i]);
	b = text + bad;
	if (*b == '}') {
		conf_report(p, at, "%s: stray '}' (write '}}' for a literal brace)", key);
	} else if (!strchr(b, '}')) {
		conf_report(p, at,
		            "%s: unterminated placeholder '%s' (write '{{' for a literal brace)",
		            key, SHOW(b));
	} else {
		len = (size_t)(strchr(b, '}') - b) + 1;
		char name[48];
		if (len >= sizeof name)
			len = sizeof name - 1;
		memcpy(name, b, len);
		name[len] = '\0';
		conf_report(p, at, "%s: unknown placeholder '%s'; allowed: %s", key, SHOW(name),
		            allowed);
	}
	return false;
}

/* Scheme of URL in lower case into BUF; the rest after "://" in *rest. */
static bool url_scheme(const char *url, char *buf, size_t size, const char **rest)
{
	const char *sep = strstr(url, "://");
	size_t n;

	if (!sep || sep == url || (size_t)(sep - url) >= size)
		return false;
	for (n = 0; url + n < sep; n++) {
		char c = conf_lower(url[n]);
		if (!((c >= 'a' && c <= 'z') ||
		      (n > 0 && (conf_is_digit(c) || c == '+' || c == '-' || c == '.'))))
			return false;
		buf[n] = c;
	}
	buf[n] = '\0';
	*rest = sep + 3;
	return true;
}

bool conf_check_url(struct parser *p, const char *key, const struct node *at, const char *url,
                    bool allow_file)
{
	char scheme[16];
	const char *rest;

	for (const unsigned char *s = (const unsigned char *)url; *s; s++)
		if (*s <= 0x20 || *s == 0x7f) {
			conf_report(p, at, "%s: URLs cannot contain spaces or control characters "
			            "(encode a space as %%20)", key);
			return false;
		}
	if (!url_scheme(url, scheme, sizeof scheme, &rest)) {
		conf_report(p, at, "%s: expected an absolute URL like https://host/path, not '%s'",
		            key,
		            SHOW(url));
		return false;
	}
	if (strcmp(scheme, "file") == 0) {
		if (!allow_file) {
			conf_report(p, at, "%s: file:// URLs need allow_file_urls: true "
			            "(meant for the bundled demo)", key);
			return false;
		}
		if (rest[0] != '/') {
			conf_report(p, at, "%s: a file:// URL needs an absolute path, "
			            "like file:///srv/x.csv", key);
			return false;
		}
		return true;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		conf_report(p, at, "%s: scheme '%s' is not supported; use https or http%s", key,
		            SHOW(scheme), allow_file ? " (or file)" : "");
		return false;
	}
	if (rest[0] == '\0' || rest[0] == '/' || rest[0] == '?' || rest[0] == '#') {
		conf_report(p, at, "%s: the URL has no host", key);
		return false;
	}
	return true;
}

/* A plain file name: it is joined to a directory under state_dir. */
static bool check_file_name(struct parser *p, const char *key, const struct node *at,
                            const char *name)
{
	if (strlen(name) > MAX_FILE_NAME) {
		conf_report(p, at, "%s: a file name is at most %d bytes", key, MAX_FILE_NAME);
		return false;
	}
	if (strchr(name, '/') || name[0] == '.' || name[0] == '\0') {
		conf_report(p, at,
		            "%s: '%s' is not a plain file name (no '/', not starting with '.')",
		            key, SHOW(name));
		return false;
	}
	for (const unsigned char *s = (const unsigned char *)name; *s; s++)
		if (*s < 0x20 || *s == 0x7f) {
			conf_report(p, at, "%s: the file name contains control characters", key);
			return false;
		}
	return check_template(p, key, at, name, url_vars, ARRAY_SIZE(url_vars));
}

/* The last path segment of URL (without query or fragment), or NULL. */
static char *url_file_name(struct parser *p, const char *url)
{
	char scheme[16];
	const char *rest, *path, *end, *last;

	if (!url_scheme(url, scheme, sizeof scheme, &rest))
		return NULL;
	end = rest + strcspn(rest, "?#");
	path = strchr(rest, '/');
	if (!path || path >= end)
		return NULL;
	for (last = end; last > path && last[-1] != '/'; last--)
		;
	if (last == end)
		return NULL;
	char *name = strndup(last, (size_t)(end - last));
	if (!name)
		p->oom = true;
	return name;
}

/* ---- datasets ---------------------------------------------------------- */

/* PATH (after the host) ends in /FeatureServer/<digits>, with nothing after. */
static bool is_layer_path(const char *path)
{
	static const char tail[] = "/FeatureServer/";
	const char *s = strstr(path, tail), *last = NULL;

	for (; s; s = strstr(s + 1, tail))
		last = s;
	if (!last)
		return false;
	s = last + strlen(tail);
	if (!conf_is_digit(*s))
		return false;
	while (conf_is_digit(*s))
		s++;
	return *s == '\0';
}

/* SCHEME (of url V) is https, or http with MAP.allow_http (ALLOW_HTTP);
 * else reported for WHAT. */
static bool https_or_allowed(struct parser *p, const struct node *v, const char *scheme,
                             bool allow_http, const char *what, const char *map)
{
	if (strcmp(scheme, "https") == 0 || allow_http)
		return true;
	conf_report(p, v, "url: %s must be https (http needs %s.allow_http: true, meant for "
	            "tests and the demo)", what, map);
	return false;
}

/* An arcgis source's url: a layer or table of a FeatureServer, https (or
 * http when the dataset's arcgis.allow_http says so), no query, fragment
 * or placeholder. */
static bool check_layer_url(struct parser *p, const struct node *v, const struct cfg_dataset *d)
{
	char scheme[16];
	const char *rest, *path;

	if (!conf_check_url(p, "url", v, v->text, false))
		return false;
	url_scheme(v->text, scheme, sizeof scheme, &rest);
	path = strchr(rest, '/');
	if (!path || strpbrk(v->text, "?#{}") || !is_layer_path(path)) {
		conf_report(p, v, "url: an arcgis source needs a FeatureServer layer or table URL "
		            "ending in /FeatureServer/<id> (no query), not '%s'", SHOW(v->text));
		return false;
	}
	return https_or_allowed(p, v, scheme, d->arcgis.allow_http, "an arcgis layer URL",
	                        "arcgis");
}

/* The length of the run of [A-Za-z0-9] at S. */
static size_t alnum_span(const char *s)
{
	size_t n = 0;

	while (conf_is_digit(s[n]) || (conf_lower(s[n]) >= 'a' && conf_lower(s[n]) <= 'z'))
		n++;
	return n;
}

/* QUERY (after '?') holds layers=<digits> once, and none of the parameters
 * hub.c adds itself. */
static bool hub_query_ok(const char *query, bool *added)
{
	unsigned layers = 0;

	*added = false;
	for (const char *q = query, *next; *q; q = next) {
		size_t n = strcspn(q, "&");
		next = q[n] ? q + n + 1 : q + n;
		if (strncmp(q, "layers=", 7) == 0) {
			const char *v = q + 7;
			size_t d = 0;
			while (conf_is_digit(v[d]))
				d++;
			if (d == 0 || 7 + d != n)
				return false;
			layers++;
		} else if (strncasecmp(q, "redirect=", 9) == 0 ||
		           strncasecmp(q, "updateCache=", 12) == 0 ||
		           strncasecmp(q, "trackCacheUpdate=", 17) == 0) {
			*added = true;
		}
	}
	return layers == 1 && !*added;
}

/* An arcgis_hub source's url: https://<hub>/api/download/v1/items/<item>/
 * csv?layers=<id>[&where=...], https (or http when hub.allow_http says so),
 * no fragment or placeholder, none of the parameters hub.c adds. */
static bool check_hub_url(struct parser *p, const struct node *v, const struct cfg_dataset *d)
{
	static const char items[] = "/api/download/v1/items/";
	char scheme[16];
	const char *rest, *path, *item, *query;
	size_t n;
	bool added = false;

	if (!conf_check_url(p, "url", v, v->text, false))
		return false;
	url_scheme(v->text, scheme, sizeof scheme, &rest);
	path = strchr(rest, '/');
	query = strchr(v->text, '?');
	item = path ? path + strlen(items) : NULL;
	if (!path || !query || path > query || strpbrk(v->text, "#{}") ||
	    strncmp(path, items, strlen(items)) != 0 || (n = alnum_span(item)) == 0 ||
	    item + n + 4 != query || strncmp(item + n, "/csv", 4) != 0 ||
	    !hub_query_ok(query + 1, &added)) {
		if (added)
			conf_report(p, v, "url: the Hub URL cannot hold redirect=, updateCache= or "
			            "trackCacheUpdate= (denverd adds them)");
		else
			conf_report(p, v, "url: an arcgis_hub source needs a Hub download URL like "
			            "https://<hub>/api/download/v1/items/<item>/csv?layers=<id> "
			            "(no fragment or placeholder), not '%s'", SHOW(v->text));
		return false;
	}
	return https_or_allowed(p, v, scheme, d->hub.allow_http, "a Hub URL", "hub");
}

/* Read after source, arcgis and hub (KEY_PHASE1): the rules depend on them. */
static bool check_dataset_url(struct parser *p, const struct node *k, const struct node *v,
                              void *obj)
{
	const struct cfg_dataset *d = obj;

	if (d->source == SOURCE_ARCGIS)
		return check_layer_url(p, v, d);
	if (d->source == SOURCE_ARCGIS_HUB)
		return check_hub_url(p, v, d);
	return conf_check_url(p, "url", v, v->text, p->cfg->allow_file_urls) &&
	       check_template(p, "url", v, v->text, url_vars, ARRAY_SIZE(url_vars));
}

static bool check_file_name_key(struct parser *p, const struct node *k, const struct node *v,
                                void *obj)
{
	return check_file_name(p, "file_name", v, v->text);
}

static bool check_schedule(struct parser *p, const struct node *k, const struct node *v,
                           void *obj)
{
	const char *err = NULL;
	struct cron cron;

	if (cron_parse(v->text, &cron, &err) == 0)
		return true;
	conf_report(p, v, "schedule: %s (in '%s')", err ? err : "not a cron expression",
	            SHOW(v->text));
	return false;
}

static const struct keydef fetch_keys[] = {
	{ .name = "connect_timeout", .kind = K_DURATION,
	  .off = offsetof(struct cfg_fetch, connect_timeout_ms), .lo = MS_S, .hi = MS_H,
	  .dflt = "30s" },
	{ .name = "low_speed_limit", .kind = K_SIZE,
	  .off = offsetof(struct cfg_fetch, low_speed_limit), .lo = 0, .hi = GIB,
	  .dflt = "1KiB" },
	{ .name = "low_speed_time", .kind = K_DURATION,
	  .off = offsetof(struct cfg_fetch, low_speed_time_ms), .lo = MS_S, .hi = MS_H,
	  .dflt = "60s" },
	{ .name = "timeout", .kind = K_DURATION,
	  .off = offsetof(struct cfg_fetch, timeout_ms), .lo = MS_S, .hi = 7 * MS_D,
	  .dflt = "6h" },
	{ .name = "max_redirects", .kind = K_UINT,
	  .off = offsetof(struct cfg_fetch, max_redirects), .lo = 0, .hi = 50, .dflt = "5" },
};
KEY_TABLE(conf_fetch_table, "datasets.*.fetch", fetch_keys);

#define MAX_WHERE 4096

static bool check_where(struct parser *p, const struct node *k, const struct node *v,
                        void *obj)
{
	if (v->len > MAX_WHERE) {
		conf_report(p, v, "where: a where clause is at most %d bytes", MAX_WHERE);
		return false;
	}
	for (const unsigned char *s = (const unsigned char *)v->text; *s; s++)
		if (*s < 0x20 || *s == 0x7f) {
			conf_report(p, v, "where: the clause contains control characters");
			return false;
		}
	return true;
}

static bool check_date_zone(struct parser *p, const struct node *k, const struct node *v,
                            void *obj)
{
	return conf_check_zone(p, "date_zone", v);
}

static const struct keydef arcgis_keys[] = {
	{ .name = "where", .kind = K_STRING, .off = offsetof(struct cfg_arcgis, where),
	  .check = check_where, .dflt = "1=1" },
	{ .name = "page_size", .kind = K_UINT, .off = offsetof(struct cfg_arcgis, page_size),
	  .lo = 0, .hi = 100000, .dflt = "0" },
	{ .name = "date_zone", .kind = K_OPT_STRING,
	  .off = offsetof(struct cfg_arcgis, date_zone), .check = check_date_zone },
	{ .name = "allow_http", .kind = K_BOOL, .off = offsetof(struct cfg_arcgis, allow_http),
	  .dflt = "false" },
};
KEY_TABLE(conf_arcgis_table, "datasets.*.arcgis", arcgis_keys);

static const struct keydef hub_keys[] = {
	{ .name = "poll_interval", .kind = K_DURATION,
	  .off = offsetof(struct cfg_hub, poll_interval_ms), .lo = 100, .hi = 10 * MS_M,
	  .dflt = "3s" },
	{ .name = "deadline", .kind = K_DURATION, .off = offsetof(struct cfg_hub, deadline_ms),
	  .lo = MS_S, .hi = MS_D, .dflt = "30m" },
	{ .name = "allow_http", .kind = K_BOOL, .off = offsetof(struct cfg_hub, allow_http),
	  .dflt = "false" },
};
KEY_TABLE(conf_hub_table, "datasets.*.hub", hub_keys);

/* The retry keys of datasets and jobs (struct cfg_retry in TYPE). */
#define RETRY_KEYS(type)                                                                \
	{ .name = "retries", .kind = K_UINT, .off = offsetof(type, retry.retries),         \
	  .lo = 0, .hi = 100, .dflt = "3" },                                               \
	{ .name = "retry_delay", .kind = K_DURATION, .off = offsetof(type, retry.delay_ms), \
	  .lo = 0, .hi = 7 * MS_D, .dflt = "1m" },                                         \
	{ .name = "retry_max_delay", .kind = K_DURATION,                                   \
	  .off = offsetof(type, retry.max_delay_ms), .lo = 0, .hi = 7 * MS_D, .dflt = "1h" }

static const struct keydef dataset_keys[] = {
	{ .name = "source", .kind = K_ENUM, .off = offsetof(struct cfg_dataset, source),
	  .names = source_table, .n_names = ARRAY_SIZE(source_table), .dflt = "http" },
	{ .name = "url", .kind = K_STRING, .off = offsetof(struct cfg_dataset, url),
	  .check = check_dataset_url, .flags = KEY_REQUIRED | KEY_PHASE1 },
	{ .name = "file_name", .kind = K_OPT_STRING,
	  .off = offsetof(struct cfg_dataset, file_name), .check = check_file_name_key },
	{ .name = "schedule", .kind = K_STRING, .off = offsetof(struct cfg_dataset, schedule),
	  .check = check_schedule, .flags = KEY_REQUIRED },
	{ .name = "missed", .kind = K_ENUM, .off = offsetof(struct cfg_dataset, missed),
	  .names = missed_table, .n_names = ARRAY_SIZE(missed_table), .dflt = "latest" },
	{ .name = "max_catchup", .kind = K_UINT,
	  .off = offsetof(struct cfg_dataset, max_catchup), .lo = 0, .hi = 1000, .dflt = "3" },
	{ .name = "keep_snapshots", .kind = K_UINT,
	  .off = offsetof(struct cfg_dataset, keep_snapshots), .lo = 1, .hi = 100000,
	  .dflt = "14" },
	{ .name = "max_age", .kind = K_DURATION,
	  .off = offsetof(struct cfg_dataset, max_age_ms), .lo = 0, .hi = MAX_PERIOD,
	  .dflt = "36h" },
	{ .name = "cadence_margin", .kind = K_DURATION,
	  .off = offsetof(struct cfg_dataset, cadence_margin_ms), .lo = 0, .hi = MAX_PERIOD,
	  .dflt = "6h" },
	{ .name = "window", .kind = K_DURATION,
	  .off = offsetof(struct cfg_dataset, window_ms), .lo = 0, .hi = MAX_PERIOD,
	  .dflt = "0" },
	{ .name = "cadence_alert", .kind = K_BOOL,
	  .off = offsetof(struct cfg_dataset, cadence_alert), .dflt = "true" },
	{ .name = "convert", .kind = K_BOOL, .off = offsetof(struct cfg_dataset, convert),
	  .dflt = "true" },
	{ .name = "convert_timeout", .kind = K_DURATION,
	  .off = offsetof(struct cfg_dataset, convert_timeout_ms), .lo = MS_S,
	  .hi = 7 * MS_D, .dflt = "2h" },
	RETRY_KEYS(struct cfg_dataset),
	{ .name = "fetch", .kind = K_SECTION, .off = offsetof(struct cfg_dataset, fetch),
	  .sub = &conf_fetch_table },
	{ .name = "arcgis", .kind = K_SECTION, .off = offsetof(struct cfg_dataset, arcgis),
	  .sub = &conf_arcgis_table },
	{ .name = "hub", .kind = K_SECTION, .off = offsetof(struct cfg_dataset, hub),
	  .sub = &conf_hub_table },
	{ .name = "schema", .kind = K_SECTION, .off = offsetof(struct cfg_dataset, schema),
	  .sub = &conf_schema_table },
	{ .name = "checks", .kind = K_FN, .fn = conf_key_checks, .sub = &conf_check_table,
	  .flags = KEY_PHASE1 },
};
KEY_TABLE(conf_dataset_table, "datasets.*", dataset_keys);

static void check_retry(struct parser *p, const struct cfg_retry *r, const struct node *map)
{
	const struct node *at = conf_map_get(map, "retry_max_delay");

	if (r->max_delay_ms < r->delay_ms)
		conf_report(p, at ? at : conf_map_get(map, "retry_delay"),
		            "retry_max_delay (%s) is shorter than retry_delay (%s)",
		            fmt_duration(FMT_DURATION_BUF, r->max_delay_ms),
		            fmt_duration(FMT_DURATION_BUF, r->delay_ms));
}

static bool alloc_datasets(struct parser *p, size_t n, void *arg)
{
	struct config *c = arg;
	return (c->datasets = conf_xcalloc(p, n, sizeof(*c->datasets))) != NULL;
}

/* Without file_name, the published name is the URL's last path segment
 * (http), or "<dataset>.csv" (arcgis, arcgis_hub: their URLs name no file). */
static void default_file_name(struct parser *p, struct cfg_dataset *d, const struct node *map)
{
	const struct node *at = conf_map_get(map, "url");

	if (!d->url || d->file_name)
		return;
	if (d->source != SOURCE_HTTP) {
		size_t n = strlen(d->name) + sizeof ".csv";
		if ((d->file_name = conf_xcalloc(p, 1, n)))
			snprintf(d->file_name, n, "%s.csv", d->name);
		return;
	}
	if (!(d->file_name = url_file_name(p, d->url)))
		conf_report(p, at, "url: the URL's path does not end in a file name; "
		            "set file_name");
	else if (!check_file_name(p, "url", at, d->file_name)) {
		free(d->file_name);
		d->file_name = NULL;
	}
}

/* The arcgis mapping belongs to an arcgis source, whose date_zone defaults
 * to the configuration's timezone (read before the datasets); the hub
 * mapping to an arcgis_hub source. */
static void check_arcgis(struct parser *p, struct cfg_dataset *d, const struct node *map)
{
	const struct node *at = conf_map_get(map, "arcgis"), *hub = conf_map_get(map, "hub");

	if (d->source != SOURCE_ARCGIS_HUB && hub && !conf_is_null(hub))
		conf_report(p, hub, "hub: only a dataset with source: arcgis_hub takes "
		            "a hub mapping");
	if (d->source != SOURCE_ARCGIS) {
		if (at && !conf_is_null(at))
			conf_report(p, at, "arcgis: only a dataset with source: arcgis takes "
			            "an arcgis mapping");
		return;
	}
	if (!d->arcgis.date_zone && p->cfg->timezone)
		d->arcgis.date_zone = conf_xstrdup(p, p->cfg->timezone);
}

/* Every timestamp or date column has formats: its own or the schema's. */
static void check_time_formats(struct parser *p, const struct cfg_dataset *d,
                               const struct node *map)
{
	/* columns[i] was made from item i of the schema's column list */
	const struct node *cols = conf_map_get(conf_map_get(map, "schema"), "columns");

	for (size_t i = 0; cols && i < d->schema.n_columns; i++) {
		const struct cfg_column *col = &d->schema.columns[i];
		if (col->name && conf_is_time_type(col->type) && col->formats.n == 0 &&
		    d->schema.timestamp_formats.n == 0)
			conf_report(p, cols->kids[i], "column '%s' is a %s but has no formats, and "
			            "schema.timestamp_formats is empty", col->name,
			            col_type_table[col->type]);
	}
}

/*
 * A dataset or job named KEY: its defaults, NAME and LINE, then its keys
 * (mapping VAL) by table T into OBJ; in messages it is "KIND 'name'", and
 * LIKE hints at its keys.  False when VAL is not a mapping (reported) or
 * out of memory.
 */
static bool walk_entry(struct parser *p, const struct node *key, const struct node *val,
                       const struct keytable *t, void *obj, char **name, int *line,
                       const char *kind, const char *like)
{
	char what[CONFIG_MAX_NAME + 48];
	struct mapctx mc = { .what = what, .owner = key };

	conf_table_defaults(p, t, obj);
	*line = key->line;
	if (!(*name = conf_xstrdup(p, key->text)) || !conf_want_entry(p, key, val, like))
		return false;
	snprintf(what, sizeof what, "%s '%s'", kind, key->text);
	conf_walk_map(p, val, t, obj, &mc);
	return true;
}

static void parse_dataset(struct parser *p, const struct node *key, const struct node *val,
                          void *arg)
{
	struct config *c = arg;
	struct cfg_dataset *d = &c->datasets[c->n_datasets++];

	if (!walk_entry(p, key, val, &conf_dataset_table, d, &d->name, &d->line, "dataset",
	                "with url, schedule, ..."))
		return;
	check_retry(p, &d->retry, val);
	check_arcgis(p, d, val);
	default_file_name(p, d, val);
	check_time_formats(p, d, val);
}

void conf_key_datasets(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	conf_walk_named(p, "datasets", v, CONFIG_MAX_DATASETS, "dataset", alloc_datasets,
	                parse_dataset, obj);
}

/* ---- jobs -------------------------------------------------------------- */

static const char *const reserved_task_names[] = { "fetch", "check", "convert" };

static void report_no_dataset(struct parser *p, const struct node *item)
{
	const struct config *c = p->cfg;
	const char **names = calloc(c->n_datasets ? c->n_datasets : 1, sizeof(char *));

	if (!names) {
		p->oom = true;
		return;
	}
	for (size_t x = 0; x < c->n_datasets; x++)
		names[x] = c->datasets[x].name ? c->datasets[x].name : "";
	conf_report(p, item, "after: no dataset '%s'%s", SHOW(item->text),
	            HINT(item->text, names, c->n_datasets));
	free(names);
}

/* after: at least one dataset, each once, each defined (datasets are
 * read in an earlier phase). */
static bool check_after(struct parser *p, const struct node *k, const struct node *v,
                        void *obj)
{
	if (v->kind != NODE_LIST || v->n == 0) {
		if (v->kind == NODE_LIST || conf_is_null(v))
			conf_report(p, v, "after: must name at least one dataset");
		return true;
	}
	for (size_t i = 0; i < v->n && !p->oom; i++) {
		const struct node *item = v->kids[i];
		if (item->kind != NODE_SCALAR || conf_is_null(item))
			continue;
		if (conf_list_repeats(v, i))
			conf_report(p, item, "after: dataset '%s' is listed twice",
			            SHOW(item->text));
		else if (!config_dataset(p->cfg, item->text))
			report_no_dataset(p, item);
	}
	return true;
}

void conf_check_command(struct parser *p, const char *key, const struct node *v,
                        const char *const *vars, size_t n_vars, bool required)
{
	if (v->kind != NODE_LIST || v->n == 0) {
		if (required && (v->kind == NODE_LIST || conf_is_null(v)))
			conf_report(p, v, "%s: expected a program and its arguments, "
			            "like [\"/usr/bin/prog\", \"{exec_date}\"]", key);
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct node *item = v->kids[i];
		if (item->kind == NODE_SCALAR && !conf_is_null(item))
			check_template(p, key, item, item->text, vars, n_vars);
	}
}

static bool check_job_command(struct parser *p, const struct node *k, const struct node *v,
                              void *obj)
{
	conf_check_command(p, "command", v, job_vars, ARRAY_SIZE(job_vars), true);
	/* {spark_conf} becomes several arguments (engine/tasks/task_proc.c). */
	for (size_t i = 0; v->kind == NODE_LIST && i < v->n; i++) {
		const struct node *item = v->kids[i];
		if (item->kind == NODE_SCALAR && strstr(item->text, "{spark_conf}") &&
		    strcmp(item->text, "{spark_conf}") != 0)
			conf_report(p, item, "command: {spark_conf} is an argument of its own (it "
			            "becomes --conf key=value pairs), not part of '%s'",
			            SHOW(item->text));
	}
	return true;
}

static const struct keydef job_keys[] = {
	{ .name = "after", .kind = K_LIST, .off = offsetof(struct cfg_job, after),
	  .check = check_after, .flags = KEY_REQUIRED },
	{ .name = "command", .kind = K_LIST, .off = offsetof(struct cfg_job, command),
	  .check = check_job_command, .flags = KEY_REQUIRED },
	{ .name = "timeout", .kind = K_DURATION, .off = offsetof(struct cfg_job, timeout_ms),
	  .lo = MS_S, .hi = 7 * MS_D, .dflt = "1h" },
	{ .name = "kill_grace", .kind = K_DURATION,
	  .off = offsetof(struct cfg_job, kill_grace_ms), .lo = 0, .hi = MS_H, .dflt = "10s" },
	RETRY_KEYS(struct cfg_job),
};
KEY_TABLE(conf_job_table, "jobs.*", job_keys);

static bool alloc_jobs(struct parser *p, size_t n, void *arg)
{
	struct config *c = arg;
	return (c->jobs = conf_xcalloc(p, n, sizeof(*c->jobs))) != NULL;
}

static void parse_job(struct parser *p, const struct node *key, const struct node *val,
                      void *arg)
{
	struct config *c = arg;
	struct cfg_job *j = &c->jobs[c->n_jobs++];

	for (size_t i = 0; i < ARRAY_SIZE(reserved_task_names); i++)
		if (strcmp(key->text, reserved_task_names[i]) == 0)
			conf_report(p, key, "job name '%s' is reserved for a built-in task",
			            key->text);
	if (walk_entry(p, key, val, &conf_job_table, j, &j->name, &j->line, "job",
	               "with after, command, ..."))
		check_retry(p, &j->retry, val);
}

void conf_key_jobs(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	conf_walk_named(p, "jobs", v, CONFIG_MAX_JOBS, "job", alloc_jobs, parse_job, obj);
}
