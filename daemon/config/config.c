/*
 * config.c - the configuration file: YAML text -> struct config.
 *
 * Two stages.  config_tree.c builds a tree of nodes that remember their
 * line and column; then table-driven walkers (config_walk.c) turn the tree
 * into a struct config, checking every key, type, unit and cross-reference.
 * Each problem is recorded and the walk carries on, so one `denverd
 * --check` lists them all; the messages are sorted by position before they
 * are handed out.  config_int.h maps the other files.
 *
 * This file: the entry points, the top level and its limits, the
 * alerts and lineage sections, and freeing (spark: config_spark.c).  The lookups (config_dataset,
 * ...) are pure and live with the types, in domain/config_types.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "base/log.h"
#include "base/macro.h"
#include "config/config_int.h"
#include "domain/tz.h"
#include "version.h"

#define MAX_SOCKET    107           /* sun_path minus the NUL */

/* ---- alerts ------------------------------------------------------------ */

static const char *const alert_vars[] = {
	"dataset", "exec_date", "year", "month", "day", "run_id", "state_dir", "reason",
	"message",
};

static bool check_alert_command(struct parser *p, const struct node *k, const struct node *v,
                                void *obj)
{
	conf_check_command(p, "command", v, alert_vars, ARRAY_SIZE(alert_vars), false);
	return true;
}

static bool check_webhook(struct parser *p, const struct node *k, const struct node *v,
                          void *obj)
{
	return conf_check_url(p, "webhook", v, v->text, false);
}

static const struct keydef alert_keys[] = {
	{ .name = "command", .kind = K_LIST, .off = offsetof(struct cfg_alerts, command),
	  .check = check_alert_command },
	{ .name = "webhook", .kind = K_OPT_STRING, .off = offsetof(struct cfg_alerts, webhook),
	  .check = check_webhook },
	{ .name = "min_interval", .kind = K_DURATION,
	  .off = offsetof(struct cfg_alerts, min_interval_ms), .lo = 0, .hi = 30 * MS_D,
	  .dflt = "1h" },
	{ .name = "retries", .kind = K_UINT, .off = offsetof(struct cfg_alerts, retries),
	  .lo = 0, .hi = 100, .dflt = "5" },
	{ .name = "on_warn", .kind = K_BOOL, .off = offsetof(struct cfg_alerts, on_warn),
	  .dflt = "true" },
};
KEY_TABLE(conf_alert_table, "alerts", alert_keys);

/* ---- lineage ------------------------------------------------------------ */

static bool check_lineage_url(struct parser *p, const struct node *k, const struct node *v,
                              void *obj)
{
	return conf_check_url(p, "url", v, v->text, false);
}

/* One "Name: value" line: a token before the colon, no line breaks (it is
 * sent as it is; a CR or LF would start another header). */
static bool check_lineage_header(struct parser *p, const struct node *k,
                                 const struct node *v, void *obj)
{
	const char *colon = strchr(v->text, ':');
	size_t name = colon ? (size_t)(colon - v->text) : 0;

	if (name > 0 && strspn(v->text, "abcdefghijklmnopqrstuvwxyz"
	                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == name &&
	    !strpbrk(v->text, "\r\n"))
		return true;
	/* The value may be a token: the message does not quote it. */
	conf_report(p, v, "header: expected one line \"Name: value\" (like "
	            "\"Authorization: Bearer ...\")");
	return false;
}

static const struct keydef lineage_keys[] = {
	{ .name = "file", .kind = K_PATH, .off = offsetof(struct cfg_lineage, file) },
	{ .name = "url", .kind = K_OPT_STRING, .off = offsetof(struct cfg_lineage, url),
	  .check = check_lineage_url },
	{ .name = "header", .kind = K_OPT_STRING, .off = offsetof(struct cfg_lineage, header),
	  .check = check_lineage_header },
	{ .name = "namespace", .kind = K_STRING,
	  .off = offsetof(struct cfg_lineage, namespace), .dflt = "denverd" },
	{ .name = "queue", .kind = K_UINT, .off = offsetof(struct cfg_lineage, queue),
	  .lo = 1, .hi = 100000, .dflt = "1000" },
	{ .name = "retries", .kind = K_UINT, .off = offsetof(struct cfg_lineage, retries),
	  .lo = 0, .hi = 100, .dflt = "5" },
	{ .name = "retry_delay", .kind = K_DURATION,
	  .off = offsetof(struct cfg_lineage, retry_delay_ms), .lo = 100, .hi = MS_H,
	  .dflt = "1s" },
	{ .name = "retry_max_delay", .kind = K_DURATION,
	  .off = offsetof(struct cfg_lineage, retry_max_delay_ms), .lo = 100, .hi = MS_D,
	  .dflt = "5m" },
	{ .name = "timeout", .kind = K_DURATION,
	  .off = offsetof(struct cfg_lineage, timeout_ms), .lo = 100, .hi = 10 * MS_M,
	  .dflt = "10s" },
};
KEY_TABLE(conf_lineage_table, "lineage", lineage_keys);

/* ---- limits ------------------------------------------------------------ */

/* fetches, checks: the thread pool is sized from them once, at start;
 * clients, request_size: the control server's, fixed when it starts. */
static const struct keydef limit_keys[] = {
	{ .name = "fetches", .kind = K_UINT, .off = offsetof(struct cfg_limits, fetches),
	  .lo = 1, .hi = 64, .dflt = "2", .flags = KEY_RESTART },
	{ .name = "jobs", .kind = K_UINT, .off = offsetof(struct cfg_limits, jobs), .lo = 1,
	  .hi = 64, .dflt = "1" },
	{ .name = "checks", .kind = K_UINT, .off = offsetof(struct cfg_limits, checks),
	  .lo = 1, .hi = 64, .dflt = "2", .flags = KEY_RESTART },
	{ .name = "check_threads", .kind = K_UINT,
	  .off = offsetof(struct cfg_limits, check_threads), .lo = 0, .hi = 64, .dflt = "0" },
	{ .name = "clients", .kind = K_UINT, .off = offsetof(struct cfg_limits, clients),
	  .lo = 1, .hi = 4096, .dflt = "64", .flags = KEY_RESTART },
	{ .name = "request_size", .kind = K_SIZE,
	  .off = offsetof(struct cfg_limits, request_size), .lo = KIB, .hi = 16 * MIB,
	  .dflt = "64KiB", .flags = KEY_RESTART },
	{ .name = "output_tail", .kind = K_SIZE,
	  .off = offsetof(struct cfg_limits, output_tail), .lo = 0, .hi = 16 * MIB,
	  .dflt = "16KiB" },
};
KEY_TABLE(conf_limit_table, "limits", limit_keys);

/* ---- the top level ------------------------------------------------------ */

bool conf_check_zone(struct parser *p, const char *key, const struct node *v)
{
	struct tz *tz = NULL;
	int rc = tz_load(v->text, &tz);

	tz_free(tz);
	if (rc == -ENOMEM)
		p->oom = true;
	else if (rc == -ENOENT)
		conf_report(p, v, "%s: unknown time zone '%s' (an IANA name like "
		            "America/Denver or UTC)", key, SHOW(v->text));
	else if (rc < 0)
		conf_report(p, v, "%s: '%s' is not a usable time zone (an IANA name like "
		            "America/Denver or UTC)", key, SHOW(v->text));
	return rc == 0;
}

static bool check_timezone(struct parser *p, const struct node *k, const struct node *v,
                           void *obj)
{
	return conf_check_zone(p, "timezone", v);
}

static bool check_socket(struct parser *p, const struct node *k, const struct node *v,
                         void *obj)
{
	if (v->len <= MAX_SOCKET)
		return true;
	conf_report(p, v, "socket: a socket path is at most %d bytes", MAX_SOCKET);
	return false;
}

static void key_log_level(struct parser *p, const struct node *k, const struct node *v,
                          void *obj)
{
	static const char *const levels[] = { "error", "warning", "notice", "info", "debug" };
	struct config *c = obj;
	int i;

	if (v->kind == NODE_SCALAR && log_level_parse(v->text) >= 0) {
		c->log_level = log_level_parse(v->text);
		return;
	}
	if (conf_want_enum(p, "log_level", v, levels, ARRAY_SIZE(levels), &i) == 0)
		c->log_level = log_level_parse(levels[i]);
}

/* KEY_RESTART: bound at start (the files, the socket, the time every
 * schedule was computed in); see daemon_reload() in app/main.c. */
static const struct keydef top_keys[] = {
	{ .name = "timezone", .kind = K_STRING, .off = offsetof(struct config, timezone),
	  .check = check_timezone, .dflt = "America/Denver", .flags = KEY_RESTART },
	{ .name = "state_dir", .kind = K_PATH, .off = offsetof(struct config, state_dir),
	  .dflt = "/var/lib/denverd", .flags = KEY_RESTART },
	{ .name = "socket", .kind = K_PATH, .off = offsetof(struct config, socket),
	  .check = check_socket, .dflt = "/run/denverd/denverd.sock", .flags = KEY_RESTART },
	{ .name = "socket_mode", .kind = K_MODE, .off = offsetof(struct config, socket_mode),
	  .dflt = "0660", .flags = KEY_RESTART },
	{ .name = "log_level", .kind = K_FN, .fn = key_log_level, .dflt = "info" },
	{ .name = "allow_file_urls", .kind = K_BOOL,
	  .off = offsetof(struct config, allow_file_urls), .dflt = "false" },
	{ .name = "limits", .kind = K_SECTION, .off = offsetof(struct config, limits),
	  .sub = &conf_limit_table },
	{ .name = "spark", .kind = K_SECTION, .off = offsetof(struct config, spark),
	  .sub = &conf_spark_table },
	{ .name = "alerts", .kind = K_SECTION, .off = offsetof(struct config, alerts),
	  .sub = &conf_alert_table },
	{ .name = "lineage", .kind = K_SECTION, .off = offsetof(struct config, lineage),
	  .sub = &conf_lineage_table },
	{ .name = "storage", .kind = K_SECTION, .off = offsetof(struct config, storage),
	  .sub = &conf_storage_table },
	{ .name = "datasets", .kind = K_FN, .fn = conf_key_datasets, .sub = &conf_dataset_table,
	  .flags = KEY_PHASE1 },
	{ .name = "jobs", .kind = K_FN, .fn = conf_key_jobs, .sub = &conf_job_table,
	  .flags = KEY_PHASE2 },
};
KEY_TABLE(conf_top_table, "", top_keys);

/* ---- entry points ------------------------------------------------------ */

/* The tree's root must be a mapping of the top-level settings. */
static void walk_root(struct parser *p, const struct node *root, struct config *cfg)
{
	struct mapctx mc = { .what = "the top level" };

	if (!root || conf_is_null(root))
		conf_report_pos(p, 1, 1, "the file is empty; expected a mapping of settings "
		                "(timezone, state_dir, datasets, ...)");
	else if (root->kind == NODE_MAP) {
		conf_walk_map(p, root, &conf_top_table, cfg, &mc);
		conf_check_spark(p, root, cfg);
	} else if (root->kind != NODE_BAD)
		conf_report(p, root, "expected a mapping of settings (timezone, state_dir, "
		            "datasets, ...) at the top level, not %s", conf_kind_word(root));
}

int config_parse(const char *name, const char *text, size_t len, struct config **out,
                 char **errors)
{
	struct parser p = { .name = name, .src = text, .src_len = len };
	struct node *root = NULL;
	struct config *cfg;
	int rc;

	*out = NULL;
	if (errors)
		*errors = NULL;
	if (!(cfg = calloc(1, sizeof(*cfg))))
		return -ENOMEM;
	p.cfg = cfg;
	conf_table_defaults(&p, &conf_top_table, cfg);
	if (p.oom || !(cfg->path = strdup(name))) {
		rc = -ENOMEM;
		goto out;
	}
	if (len > CONFIG_MAX_FILE_SIZE) {
		conf_report_pos(&p, 0, 0, "the file is larger than %u bytes", CONFIG_MAX_FILE_SIZE);
		rc = -EFBIG;
		goto out;
	}
	if ((rc = conf_load_tree(&p, &root)) == 0)
		walk_root(&p, root, cfg);
	if (rc == 0)
		conf_check_storage(&p, &cfg->storage);
	if (p.oom)
		rc = -ENOMEM;
	else if (rc == 0 && p.n_msgs > 0)
		rc = -EINVAL;
out:
	if (rc == 0) {
		*out = cfg;
	} else {
		config_free(cfg);
		if (errors && rc != -ENOMEM)
			*errors = conf_join_msgs(&p);
	}
	conf_msgs_free(&p);
	conf_arena_free(&p.arena);
	return rc;
}

/* Read all of FD, at most CONFIG_MAX_FILE_SIZE bytes, into *buf (caller
 * frees).  0, -EFBIG, or -errno. */
static int read_capped(int fd, char **buf, size_t *len)
{
	size_t cap = 64 * 1024;
	struct stat st;
	char *b = NULL;
	int rc = 0;

	*len = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
	    (uint64_t)st.st_size < CONFIG_MAX_FILE_SIZE)
		cap = (size_t)st.st_size + 1;
	for (;;) {
		ssize_t n;
		if (!b || *len == cap) {
			char *nb;
			if (b)
				cap = cap * 2 > CONFIG_MAX_FILE_SIZE + 1 ? CONFIG_MAX_FILE_SIZE + 1
				                                         : cap * 2;
			if (!(nb = realloc(b, cap))) {
				rc = -ENOMEM;
				break;
			}
			b = nb;
		}
		n = read(fd, b + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		*len += (size_t)n;
		if (*len > CONFIG_MAX_FILE_SIZE) {
			rc = -EFBIG;
			break;
		}
	}
	if (rc < 0) {
		free(b);
		b = NULL;
	}
	*buf = b;
	return rc;
}

int config_load(const char *path, struct config **out, char **errors)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	if (errors)
		*errors = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = read_capped(fd, &buf, &len);
	close(fd);
	if (rc == 0)
		rc = config_parse(path, buf, len, out, errors);
out:
	if (rc < 0 && errors && !*errors) {
		int n;
		if (rc == -EFBIG)
			n = asprintf(errors, "%s: the file is larger than %u bytes\n", path,
			             CONFIG_MAX_FILE_SIZE);
		else
			n = asprintf(errors, "%s: cannot read: %s\n", path, strerror(-rc));
		if (n < 0)
			*errors = NULL;
	}
	free(buf);
	return rc;
}

static void dataset_free(struct cfg_dataset *d)
{
	free(d->name);
	free(d->url);
	free(d->file_name);
	free(d->schedule);
	free(d->arcgis.where);
	free(d->arcgis.date_zone);
	for (size_t j = 0; j < d->schema.n_columns; j++) {
		struct cfg_column *col = &d->schema.columns[j];
		free(col->name);
		conf_strlist_free(&col->aliases);
		conf_strlist_free(&col->formats);
		conf_strlist_free(&col->nulls);
	}
	free(d->schema.columns);
	conf_strlist_free(&d->schema.key);
	free(d->schema.event_time);
	conf_strlist_free(&d->schema.timestamp_formats);
	for (size_t j = 0; j < d->n_checks; j++) {
		struct cfg_check *ck = &d->checks[j];
		free(ck->name);
		conf_strlist_free(&ck->columns);
		free(ck->lat);
		free(ck->lon);
		conf_strlist_free(&ck->values);
	}
	free(d->checks);
}

static void spark_free(struct cfg_spark *s)
{
	free(s->submit);
	free(s->master);
	free(s->python);
	free(s->jobs_dir);
	conf_strlist_free(&s->s3a_classpath);
	free(s->connect.url);
	free(s->connect.bind);
	free(s->connect.token_file);
	free(s->connect.token_credential);
	for (size_t i = 0; i < s->n_conf; i++) {
		free(s->conf_keys[i]);
		free(s->conf_values[i]);
	}
	free(s->conf_keys);
	free(s->conf_values);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->timezone);
	free(c->state_dir);
	free(c->socket);
	spark_free(&c->spark);
	conf_strlist_free(&c->alerts.command);
	free(c->alerts.webhook);
	free(c->lineage.file);
	free(c->lineage.url);
	free(c->lineage.header);
	free(c->lineage.namespace);
	free(c->storage.endpoint);
	free(c->storage.region);
	free(c->storage.bucket);
	free(c->storage.prefix);
	free(c->storage.credentials_file);
	for (size_t i = 0; i < c->n_datasets; i++)
		dataset_free(&c->datasets[i]);
	free(c->datasets);
	for (size_t i = 0; i < c->n_jobs; i++) {
		free(c->jobs[i].name);
		conf_strlist_free(&c->jobs[i].after);
		conf_strlist_free(&c->jobs[i].command);
	}
	free(c->jobs);
	free(c);
}
