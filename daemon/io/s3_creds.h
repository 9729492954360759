/*
 * s3_creds.h - the storage target's S3 credentials, read at start from a
 * credentials file (systemd LoadCredential=) or the AWS environment
 * variables (s3_creds.c says how).  The secret lives only in the struct
 * and in the client made from it; no message carries it.
 */
#ifndef DENVERD_IO_S3_CREDS_H
#define DENVERD_IO_S3_CREDS_H

struct s3_creds {
	char *access_key, *secret_key, *session_token;   /* session_token may be NULL */
};

/*
 * Read the credentials: from CREDENTIALS_FILE (absolute, or a name under
 * $CREDENTIALS_DIRECTORY) when not NULL, else from the environment.  0;
 * or -EINVAL/-errno with *err (caller frees; names the file and line,
 * never a value), or -ENOMEM.  C is empty on failure.  May block.
 */
int s3_creds_load(const char *credentials_file, struct s3_creds *c, char **err);

/*
 * C as the environment entries of a child (contract: the keys reach jobs
 * and the Spark server only there): "AWS_ACCESS_KEY_ID=...",
 * "AWS_SECRET_ACCESS_KEY=..." and, with a session token,
 * "AWS_SESSION_TOKEN=...", NULL-terminated, into *OUT (free with
 * job_strv_free, which wipes them).  0 or -ENOMEM.
 */
int s3_creds_env(const struct s3_creds *c, char ***out);

/* Wipe and free C's strings.  Idempotent. */
void s3_creds_clear(struct s3_creds *c);

#endif
