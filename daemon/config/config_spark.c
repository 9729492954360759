/*
 * config_spark.c - the `spark:` section: how jobs reach Spark (mode: submit,
 * managed, external), spark-submit's settings, and `spark.connect:`, the
 * Spark Connect endpoint (denverd.yaml(5), SPARK CONNECT).
 *
 * The rules that cross keys (conf_check_spark(), after the whole file is
 * walked): external needs a url and managed takes none; a managed server
 * bound to anything but loopback needs a token (Spark Connect 4.3 has no
 * TLS of its own, so a token is the only guard); a token is never written
 * in the file itself, only where it is (token_file, token_credential).
 * Nothing here reads the token: engine/spark.c does, at start and reload.
 *
 * storage: s3 (domain/s3a.h): the S3 keys are never a Spark setting here
 * (spark.conf is on command lines); spark.s3a_classpath names jars, each
 * checked to be a readable file when the file is read (at start, reload,
 * --check), and does not go with spark.conf's own extraClassPath.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_int.h"
#include "version.h"

static void key_spark_conf(struct parser *p, const struct node *k, const struct node *v,
                           void *obj)
{
	struct cfg_spark *s = obj;
	size_t pairs, *first;

	if (!conf_want_map(p, "conf", v) || v->kind != NODE_MAP)
		return;
	pairs = conf_map_pairs(v);
	if (pairs > CONFIG_MAX_LIST) {
		conf_report(p, v, "conf: too many settings (%zu); the limit is %d", pairs,
		            CONFIG_MAX_LIST);
		return;
	}
	if (!(s->conf_keys = conf_xcalloc(p, pairs, sizeof(char *))) ||
	    !(s->conf_values = conf_xcalloc(p, pairs, sizeof(char *))) ||
	    !(first = conf_first_keys(p, v)))
		return;
	for (size_t i = 0; i < pairs; i++) {
		const struct node *ck = v->kids[2 * i], *cv = v->kids[2 * i + 1];
		const char *value;
		if (!conf_usable_key(p, v, i, first, false))
			continue;
		if (ck->len == 0 || ck->len > MAX_STRING || strpbrk(ck->text, "= \t\r\n")) {
			conf_report(p, ck, "conf: '%s' is not a Spark setting name "
			            "(no spaces or '=')", SHOW(ck->text));
			continue;
		}
		if (strcmp(ck->text, "spark.connect.authenticate.token") == 0) {
			/* The value would be on the server's command line. */
			conf_report(p, ck, "conf: spark.connect.authenticate.token is not set here "
			            "(it would show on the server's command line); put the token in "
			            "a file and name it with spark.connect.token_file");
			continue;
		}
		if (conf_secret_setting(ck->text)) {
			/* Not quoted: the value is a secret. */
			conf_report(p, ck, "conf: %s is not set here (it would show on a command "
			            "line); with storage: s3 denverd gives Spark the keys of "
			            "storage.credentials_file (or its AWS_* environment) in the "
			            "environment of the jobs and of the Connect server", ck->text);
			continue;
		}
		if (!(value = conf_want_scalar(p, ck->text, cv, "a string")))
			continue;
		if (strpbrk(value, "\r\n")) {
			conf_report(p, cv, "%s: the value must be on one line", ck->text);
			continue;
		}
		s->conf_keys[s->n_conf] = conf_xstrdup(p, ck->text);
		s->conf_values[s->n_conf] = conf_xstrdup(p, value);
		s->n_conf++;
	}
	free(first);
}

/* True for a Spark setting that would hold an S3 key: the fs.s3a keys (of
 * every bucket too: spark.hadoop.fs.s3a.bucket.B.secret.key) and the AWS
 * variables given to executors. */
bool conf_secret_setting(const char *key)
{
	static const char *const ends[] = { ".access.key", ".secret.key", ".session.token" };
	static const char *const env[] = { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	                                   "AWS_SESSION_TOKEN" };
	size_t n = strlen(key);

	if (strncmp(key, "spark.hadoop.fs.s3a.", 20) == 0)
		for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
			if (n > strlen(ends[i]) && strcmp(key + n - strlen(ends[i]), ends[i]) == 0)
				return true;
	for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
		if (strncmp(key, "spark.executorEnv.", 18) == 0 && strcmp(key + 18, env[i]) == 0)
			return true;
	return false;
}

/* spark.s3a_classpath: absolute paths of readable files, without ':' (the
 * separator they are joined with). */
static bool check_classpath(struct parser *p, const struct node *k, const struct node *v,
                            void *obj)
{
	struct stat st;

	for (size_t i = 0; v->kind == NODE_LIST && i < v->n; i++) {
		const struct node *it = v->kids[i];
		if (it->kind != NODE_SCALAR)
			continue;          /* conf_set_list reported it */
		bool plain = true;
		for (const unsigned char *c = (const unsigned char *)it->text; *c; c++)
			plain = plain && *c >= 0x20 && *c != 0x7f;
		if (it->text[0] != '/' || strchr(it->text, ':') || !plain) {
			conf_report(p, it, "spark.s3a_classpath: '%s' is not an absolute path without ':' "
			            "(a jar: hadoop-aws and the AWS SDK bundle)", SHOW(it->text));
		} else if (stat(it->text, &st) < 0 || access(it->text, R_OK) < 0) {
			conf_report(p, it, "spark.s3a_classpath: %s: %s", it->text, strerror(errno));
		} else if (!S_ISREG(st.st_mode)) {
			conf_report(p, it, "spark.s3a_classpath: %s is not a file (name each jar)",
			            it->text);
		}
	}
	return true;
}

/* ---- spark.connect ---- */

/* "sc://HOST[:PORT][/]", optionally ";use_ssl=true" (behind a TLS proxy);
 * no other parameter, and never ";token=" (that goes in token_file). */
static bool check_connect_url(struct parser *p, const struct node *k, const struct node *v,
                              void *obj)
{
	const char *s = v->text, *host, *end, *params;
	size_t hl;

	if (strncmp(s, "sc://", 5) != 0) {
		conf_report(p, v, "url: expected sc://host:port (a Spark Connect endpoint), "
		            "not '%s'", SHOW(s));
		return false;
	}
	host = s + 5;
	params = strchr(host, ';');
	if (params && strstr(params, "token")) {
		/* Not quoted: the value holds a secret. */
		conf_report(p, v, "url: a token is not written in the configuration; put it "
		            "in a file readable only by denverd and name it with token_file "
		            "(or pass a systemd credential named by token_credential)");
		return false;
	}
	if (params && strcmp(params, ";use_ssl=true") != 0) {
		conf_report(p, v, "url: the only parameter accepted is ;use_ssl=true");
		return false;
	}
	end = params ? params : host + strlen(host);
	if (end > host && end[-1] == '/')
		end--;
	hl = (size_t)(end - host);
	if (hl == 0 || hl > 255 || memchr(host, '/', hl) || strpbrk(s, " \t\r\n")) {
		conf_report(p, v, "url: expected sc://host:port, not '%s'", SHOW(s));
		return false;
	}
	return true;
}

static bool check_credential(struct parser *p, const struct node *k, const struct node *v,
                             void *obj)
{
	if (strspn(v->text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
	    == v->len && v->text[0] != '.')
		return true;
	conf_report(p, v, "token_credential: '%s' is not a credential name (letters, digits, "
	            "'_', '.', '-'; the name of LoadCredential= in the unit)", SHOW(v->text));
	return false;
}

static void key_inline_token(struct parser *p, const struct node *k, const struct node *v,
                             void *obj)
{
	(void)v;
	(void)obj;
	if (!k)
		return;
	/* The value is never quoted: it is a secret. */
	conf_report(p, k, "token: a token is not written in the configuration; put it in a "
	            "file readable only by denverd and name it with token_file (or pass a "
	            "systemd credential, LoadCredential=, named by token_credential)");
}

static const struct keydef connect_keys[] = {
	{ .name = "url", .kind = K_OPT_STRING, .off = offsetof(struct cfg_connect, url),
	  .check = check_connect_url },
	{ .name = "bind", .kind = K_STRING, .off = offsetof(struct cfg_connect, bind),
	  .dflt = "127.0.0.1" },
	{ .name = "port", .kind = K_UINT, .off = offsetof(struct cfg_connect, port), .lo = 1,
	  .hi = 65535, .dflt = "15002" },
	{ .name = "memory", .kind = K_SIZE, .off = offsetof(struct cfg_connect, memory),
	  .lo = 512 * MIB, .hi = 1024 * GIB, .dflt = "1GiB" },
	{ .name = "ready_timeout", .kind = K_DURATION,
	  .off = offsetof(struct cfg_connect, ready_timeout_ms), .lo = MS_S, .hi = MS_H,
	  .dflt = "3m" },
	{ .name = "check_interval", .kind = K_DURATION,
	  .off = offsetof(struct cfg_connect, check_interval_ms), .lo = 100, .hi = MS_H,
	  .dflt = "10s" },
	{ .name = "kill_grace", .kind = K_DURATION,
	  .off = offsetof(struct cfg_connect, kill_grace_ms), .lo = 0, .hi = 10 * MS_M,
	  .dflt = "30s" },
	{ .name = "restart_delay", .kind = K_DURATION,
	  .off = offsetof(struct cfg_connect, restart.delay_ms), .lo = 100, .hi = MS_H,
	  .dflt = "5s" },
	{ .name = "restart_max_delay", .kind = K_DURATION,
	  .off = offsetof(struct cfg_connect, restart.max_delay_ms), .lo = 100, .hi = MS_D,
	  .dflt = "5m" },
	{ .name = "token_file", .kind = K_PATH, .off = offsetof(struct cfg_connect, token_file) },
	{ .name = "token_credential", .kind = K_OPT_STRING,
	  .off = offsetof(struct cfg_connect, token_credential), .check = check_credential },
	{ .name = "token", .kind = K_FN, .fn = key_inline_token },
};
KEY_TABLE(conf_connect_table, "spark.connect", connect_keys);

static const struct keydef spark_keys[] = {
	{ .name = "mode", .kind = K_ENUM, .off = offsetof(struct cfg_spark, mode),
	  .names = spark_mode_table, .n_names = ARRAY_SIZE(spark_mode_table), .dflt = "submit" },
	{ .name = "connect", .kind = K_SECTION, .off = offsetof(struct cfg_spark, connect),
	  .sub = &conf_connect_table },
	{ .name = "submit", .kind = K_STRING, .off = offsetof(struct cfg_spark, submit),
	  .dflt = "spark-submit" },
	{ .name = "master", .kind = K_STRING, .off = offsetof(struct cfg_spark, master),
	  .dflt = "local[2]" },
	{ .name = "driver_memory", .kind = K_SIZE,
	  .off = offsetof(struct cfg_spark, driver_memory), .lo = MIB, .hi = 1024 * GIB,
	  .dflt = "2GiB" },
	{ .name = "python", .kind = K_OPT_STRING, .off = offsetof(struct cfg_spark, python) },
	{ .name = "jobs_dir", .kind = K_PATH, .off = offsetof(struct cfg_spark, jobs_dir),
	  .dflt = DENVERD_DATADIR "/jobs" },
	{ .name = "conf", .kind = K_FN, .fn = key_spark_conf },
	{ .name = "s3a_classpath", .kind = K_LIST, .off = offsetof(struct cfg_spark, s3a_classpath),
	  .check = check_classpath },
};
KEY_TABLE(conf_spark_table, "spark", spark_keys);

/* ---- the rules across keys ---- */

bool config_is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "[::1]") == 0 || strncmp(host, "127.", 4) == 0;
}

void conf_check_spark(struct parser *p, const struct node *root, const struct config *cfg)
{
	const struct cfg_spark *s = &cfg->spark;
	const struct cfg_connect *c = &s->connect;
	const struct node *sp = conf_map_get(root, "spark");
	const struct node *cn = conf_map_get(sp && sp->kind == NODE_MAP ? sp : NULL, "connect");
	const struct node *cm = cn && cn->kind == NODE_MAP ? cn : NULL;
	const struct node *mode = conf_map_get(sp && sp->kind == NODE_MAP ? sp : NULL, "mode");
	const struct node *at;

	if (c->restart.max_delay_ms < c->restart.delay_ms)
		conf_report(p, conf_map_get(cm, "restart_max_delay"),
		            "spark.connect.restart_max_delay is shorter than restart_delay");
	if (c->token_file && c->token_credential)
		conf_report(p, conf_map_get(cm, "token_credential"),
		            "spark.connect: token_file and token_credential both name a token; "
		            "keep one");
	for (size_t i = 0; s->s3a_classpath.n > 0 && i < s->n_conf; i++)
		if (strcmp(s->conf_keys[i], "spark.driver.extraClassPath") == 0 ||
		    strcmp(s->conf_keys[i], "spark.executor.extraClassPath") == 0)
			conf_report(p, conf_map_get(sp && sp->kind == NODE_MAP ? sp : NULL,
			                            "s3a_classpath"),
			            "spark.s3a_classpath and spark.conf's %s both set the class path; "
			            "list the jars in one of them", s->conf_keys[i]);
	if (s->mode == SPARK_EXTERNAL && !c->url)
		conf_report(p, mode ? mode : sp, "spark.mode external needs spark.connect.url "
		            "(sc://host:port of the Connect server)");
	if (s->mode != SPARK_EXTERNAL && c->url)
		conf_report(p, conf_map_get(cm, "url"), "spark.connect.url is for mode: external "
		            "(spark.mode is %s)", config_spark_mode_name(s->mode));
	if (s->mode == SPARK_MANAGED && !config_is_loopback(c->bind) && !c->token_file &&
	    !c->token_credential) {
		at = conf_map_get(cm, "bind");
		conf_report(p, at ? at : sp, "spark.connect.bind %s is not a loopback address: "
		            "anyone who reaches it could run code as denverd.  Set token_file (or "
		            "token_credential) so clients must present a token, or bind to "
		            "127.0.0.1", SHOW(c->bind));
	}
}
