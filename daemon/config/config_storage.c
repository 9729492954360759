/*
 * config_storage.c - the storage: section (struct cfg_storage): where
 * snapshots live, local or in an S3 bucket.  Every key is bound at start
 * (KEY_RESTART): the S3 client and the uploads in flight are made from
 * them.
 *
 * Secrets are never read from this file: the keys a secret would go under
 * are known, so that writing one is refused with a message that says
 * where it goes instead (and the value is not repeated in the message).
 * The credentials themselves are read when the daemon starts
 * (io/s3_creds.c), not here: the parser reads only this file.
 */
#include <stddef.h>
#include <string.h>

#include "base/macro.h"
#include "config/config_int.h"

/* A secret written inline: refused, the value not shown. */
static void refuse_secret(struct parser *p, const struct node *k, const struct node *v,
                          void *obj)
{
	conf_report(p, k ? k : v, "storage.%s: a secret is never written in the configuration "
	            "file; put the keys in a credentials file named by "
	            "storage.credentials_file (with systemd: LoadCredential=, read from "
	            "$CREDENTIALS_DIRECTORY) or in the environment (AWS_ACCESS_KEY_ID, "
	            "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)", k ? SHOW(k->text) : "key");
}

static bool check_endpoint(struct parser *p, const struct node *k, const struct node *v,
                           void *obj)
{
	const char *s = strstr(v->text, "://");
	if (!conf_check_url(p, "endpoint", v, v->text, false))
		return false;
	if (s && strchr(s + 3, '/') && strspn(strchr(s + 3, '/'), "/") != strlen(strchr(s + 3, '/'))) {
		conf_report(p, v, "endpoint: give scheme://host[:port] only (the bucket is "
		            "storage.bucket, the path storage.prefix)");
		return false;
	}
	if (strchr(v->text, '@')) {
		conf_report(p, v, "endpoint: no user or password in the URL (see "
		            "storage.credentials_file)");
		return false;
	}
	return true;
}

static bool check_bucket(struct parser *p, const struct node *k, const struct node *v,
                         void *obj)
{
	size_t n = strlen(v->text);
	if (n >= 3 && n <= 63 && strspn(v->text, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n)
		return true;
	conf_report(p, v, "bucket: 3 to 63 characters of a-z 0-9 . -");
	return false;
}

static bool check_prefix(struct parser *p, const struct node *k, const struct node *v,
                         void *obj)
{
	const char *s = v->text;
	size_t n = strlen(s);
	if (n == 0 || (s[0] != '/' && s[n - 1] != '/' && !strstr(s, "//") &&
	               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                         "0123456789/._-=") == n))
		return true;
	conf_report(p, v, "prefix: key names of A-Z a-z 0-9 . _ - = joined by single '/', "
	            "no '/' at either end (like denverd or prod/denverd)");
	return false;
}

/* An absolute path, or a plain name read under $CREDENTIALS_DIRECTORY. */
static bool check_credentials_file(struct parser *p, const struct node *k,
                                   const struct node *v, void *obj)
{
	if (v->text[0] == '/' || (!strchr(v->text, '/') && strcmp(v->text, ".") != 0 &&
	                          strcmp(v->text, "..") != 0))
		return true;
	conf_report(p, v, "credentials_file: an absolute path, or the name of a systemd "
	            "credential (LoadCredential=NAME:..., read from $CREDENTIALS_DIRECTORY)");
	return false;
}

static const struct keydef storage_keys[] = {
	{ .name = "type", .kind = K_ENUM, .off = offsetof(struct cfg_storage, type),
	  .names = storage_table, .n_names = STORAGE_COUNT, .dflt = "local",
	  .flags = KEY_RESTART },
	{ .name = "endpoint", .kind = K_OPT_STRING, .off = offsetof(struct cfg_storage, endpoint),
	  .check = check_endpoint, .flags = KEY_RESTART },
	{ .name = "region", .kind = K_STRING, .off = offsetof(struct cfg_storage, region),
	  .dflt = "us-east-1", .flags = KEY_RESTART },
	{ .name = "bucket", .kind = K_OPT_STRING, .off = offsetof(struct cfg_storage, bucket),
	  .check = check_bucket, .flags = KEY_RESTART },
	{ .name = "prefix", .kind = K_OPT_STRING, .off = offsetof(struct cfg_storage, prefix),
	  .check = check_prefix, .flags = KEY_RESTART },
	{ .name = "path_style", .kind = K_BOOL, .off = offsetof(struct cfg_storage, path_style),
	  .dflt = "true", .flags = KEY_RESTART },
	{ .name = "part_size", .kind = K_SIZE, .off = offsetof(struct cfg_storage, part_size),
	  .lo = 8 * MIB, .hi = GIB, .dflt = "8MiB", .flags = KEY_RESTART },
	{ .name = "credentials_file", .kind = K_OPT_STRING,
	  .off = offsetof(struct cfg_storage, credentials_file),
	  .check = check_credentials_file, .flags = KEY_RESTART },
	{ .name = "access_key_id", .kind = K_FN, .fn = refuse_secret },
	{ .name = "secret_access_key", .kind = K_FN, .fn = refuse_secret },
	{ .name = "session_token", .kind = K_FN, .fn = refuse_secret },
};
KEY_TABLE(conf_storage_table, "storage", storage_keys);

void conf_check_storage(struct parser *p, const struct cfg_storage *s)
{
	if (s->type != STORAGE_S3)
		return;
	if (!s->endpoint)
		conf_report_pos(p, 0, 0, "storage: type s3 needs an endpoint (like "
		                "https://s3.us-west-2.amazonaws.com)");
	if (!s->bucket)
		conf_report_pos(p, 0, 0, "storage: type s3 needs a bucket");
}
