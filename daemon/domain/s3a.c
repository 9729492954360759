/*
 * s3a.c - the s3a:// names and the spark.* settings of storage: s3
 * (s3a.h).  Pure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/s3a.h"

bool s3a_operator_sets(const struct cfg_spark *sp, const char *key)
{
	for (size_t i = 0; i < sp->n_conf; i++)
		if (strcmp(sp->conf_keys[i], key) == 0)
			return true;
	return false;
}

void s3a_conf_free(struct s3a_conf *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->values[i]);
	c->n = 0;
}

/* S3A_CONF_MAX entries at most: the table of s3a.h. */
static void put(struct s3a_conf *c, const struct cfg_spark *sp, const char *key,
                const char *value, bool *failed)
{
	if (*failed || s3a_operator_sets(sp, key))
		return;
	if (!(c->values[c->n] = strdup(value))) {
		*failed = true;
		return;
	}
	c->keys[c->n++] = key;
}

/* The class path: the items joined with ':' (NULL when out of memory). */
static char *joined(const struct strlist *l)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->items[i]) + 1;
	if (!(s = p = malloc(len)))
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < l->n; i++)
		p += sprintf(p, "%s%s", i ? ":" : "", l->items[i]);
	return s;
}

int s3a_conf_build(const struct cfg_storage *st, const struct cfg_spark *sp,
                   struct s3a_conf *out)
{
	bool failed = false, http;
	char *cp = NULL;

	memset(out, 0, sizeof *out);
	if (st->type != STORAGE_S3 || !st->endpoint)
		return 0;
	http = strncmp(st->endpoint, "http://", 7) == 0;
	put(out, sp, "spark.hadoop.fs.s3a.endpoint", st->endpoint, &failed);
	put(out, sp, "spark.hadoop.fs.s3a.endpoint.region", st->region ? st->region : "us-east-1",
	    &failed);
	put(out, sp, "spark.hadoop.fs.s3a.path.style.access", st->path_style ? "true" : "false",
	    &failed);
	put(out, sp, "spark.hadoop.fs.s3a.connection.ssl.enabled", http ? "false" : "true",
	    &failed);
	put(out, sp, "spark.hadoop.fs.s3a.aws.credentials.provider", S3A_CREDENTIALS_PROVIDER,
	    &failed);
	put(out, sp, "spark.hadoop.fs.s3a.change.detection.mode", "none", &failed);
	put(out, sp, "spark.hadoop.fs.s3a.directory.marker.retention", "delete", &failed);
	if (sp->s3a_classpath.n > 0) {
		if (!(cp = joined(&sp->s3a_classpath)))
			failed = true;
		else {
			put(out, sp, "spark.driver.extraClassPath", cp, &failed);
			put(out, sp, "spark.executor.extraClassPath", cp, &failed);
			free(cp);
		}
	}
	if (failed) {
		s3a_conf_free(out);
		return -ENOMEM;
	}
	return 0;
}

int s3a_uri(const char *uri, char **out)
{
	*out = NULL;
	if (!uri || strncmp(uri, "s3://", 5) != 0 || !uri[5])
		return -EINVAL;
	return asprintf(out, "s3a://%s", uri + 5) < 0 ? (*out = NULL, -ENOMEM) : 0;
}

int s3a_datastore(const struct cfg_storage *st, const char *dataset, char **out)
{
	const char *pre = st->prefix && *st->prefix ? st->prefix : NULL;

	*out = NULL;
	if (st->type != STORAGE_S3 || !st->bucket)
		return -EINVAL;
	if (asprintf(out, "s3a://%s/%s%sdatastore%s%s", st->bucket, pre ? pre : "",
	             pre ? "/" : "", dataset ? "/" : "", dataset ? dataset : "") < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}
