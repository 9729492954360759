/*
 * s3a.h - what Spark is told about storage: s3 (denverd.yaml(5), STORAGE
 * and SPARK; /work/tasks/s3a_contract.md): the s3a:// names of a snapshot
 * and of the datastore, the spec's `storage` object, and the spark.*
 * settings denverd adds to the JVMs it starts (spark-submit's --conf in
 * mode submit, the managed Connect server's command line in mode managed;
 * an external server must have them itself).
 *
 * The derived settings (s3a_conf_build):
 *   spark.hadoop.fs.s3a.endpoint               storage.endpoint, as written
 *   spark.hadoop.fs.s3a.endpoint.region        storage.region
 *   spark.hadoop.fs.s3a.path.style.access      storage.path_style
 *   spark.hadoop.fs.s3a.connection.ssl.enabled false for http://, else true
 *   spark.hadoop.fs.s3a.aws.credentials.provider
 *                        com.amazonaws.auth.EnvironmentVariableCredentialsProvider
 *                        (the keys reach the JVM in AWS_* only, never argv)
 *   spark.hadoop.fs.s3a.change.detection.mode  none
 *   spark.hadoop.fs.s3a.directory.marker.retention delete
 *   spark.driver.extraClassPath, spark.executor.extraClassPath
 *                        spark.s3a_classpath joined with ':' (when set)
 * An operator's spark.conf entry of the same key wins: the derived one is
 * left out (a cluster whose workers use their instance profile sets its
 * own credentials provider, a worker may reach the endpoint by another
 * name).  The class path is the exception: spark.s3a_classpath together
 * with spark.conf's extraClassPath is refused by the configuration.
 *
 * Pure: no I/O; the strings returned are the caller's.
 */
#ifndef DENVERD_DOMAIN_S3A_H
#define DENVERD_DOMAIN_S3A_H

#include <stdbool.h>
#include <stddef.h>

#include "domain/config_types.h"

#define S3A_CONF_MAX 9
#define S3A_CREDENTIALS_PROVIDER "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"

/* The derived settings left after the operator's (see above), in the order
 * of the table above; keys are static, values owned (s3a_conf_free). */
struct s3a_conf {
	size_t n;
	const char *keys[S3A_CONF_MAX];
	char *values[S3A_CONF_MAX];
};

/* The settings for ST and SP into OUT (empty when ST is not s3).  0 or
 * -ENOMEM (OUT then empty). */
int s3a_conf_build(const struct cfg_storage *st, const struct cfg_spark *sp,
                   struct s3a_conf *out);
void s3a_conf_free(struct s3a_conf *c);      /* idempotent */

/* Whether spark.conf sets KEY. */
bool s3a_operator_sets(const struct cfg_spark *sp, const char *key);

/* "s3://bucket/key" as "s3a://bucket/key" into *OUT (caller frees).  0,
 * -EINVAL when URI is not s3://..., -ENOMEM. */
int s3a_uri(const char *uri, char **out);

/* The datastore root of ST (s3): s3a://<bucket>[/<prefix>]/datastore, and
 * with DATASET /<dataset> after it, into *OUT (caller frees).  0, -EINVAL
 * when ST is not s3, -ENOMEM. */
int s3a_datastore(const struct cfg_storage *st, const char *dataset, char **out);

#endif
