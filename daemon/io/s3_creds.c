/*
 * s3_creds.c - the S3 credentials of the storage target, read once at
 * start (io/s3_creds.h): from storage.credentials_file (an absolute path,
 * or a plain name under $CREDENTIALS_DIRECTORY, where systemd puts what
 * LoadCredential= names), else from AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
 *
 * The file is an AWS shared-credentials file: "name = value" lines
 * (aws_access_key_id, aws_secret_access_key, aws_session_token), '#' and
 * ';' comments, and [profile] headings; the keys of the first profile (or
 * of [default]) are used.  It must not be readable by others (mode o+r is
 * refused).  Messages name the file and the line, never a value.  May
 * block (reads a small file); called at start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/s3_creds.h"

#define CREDS_MAX (64 * 1024)

static void wipe(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void s3_creds_clear(struct s3_creds *c)
{
	wipe(&c->access_key);
	wipe(&c->secret_key);
	wipe(&c->session_token);
}

int s3_creds_env(const struct s3_creds *c, char ***out)
{
	const char *names[] = { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN" };
	const char *values[] = { c->access_key, c->secret_key, c->session_token };
	char **env = calloc(4, sizeof *env);
	size_t n = 0;

	*out = NULL;
	if (!env)
		return -ENOMEM;
	for (size_t i = 0; i < 3; i++) {
		if (!values[i] || !*values[i])
			continue;
		if (asprintf(&env[n], "%s=%s", names[i], values[i]) < 0) {
			env[n] = NULL;
			for (size_t k = 0; k < n; k++)
				wipe(&env[k]);
			free(env);
			return -ENOMEM;
		}
		n++;
	}
	*out = env;
	return 0;
}

__attribute__((format(printf, 2, 3)))
static int fail(char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -EINVAL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* The "name = value" pairs of TEXT (of file PATH) into C. */
static int parse(char *text, const char *path, struct s3_creds *c, char **err)
{
	int line = 0, profiles = 0;
	bool use = true;

	for (char *s = text, *nl; s && *s; s = nl) {
		line++;
		nl = strchr(s, '\n');
		if (nl)
			*nl++ = '\0';
		s = trim(s);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			/* The first profile, or [default] when there are several. */
			profiles++;
			use = profiles == 1 || strcmp(s, "[default]") == 0;
			if (use && profiles > 1)
				s3_creds_clear(c);
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq)
			return fail(err, "%s:%d: expected name = value (aws_access_key_id, "
			            "aws_secret_access_key, aws_session_token)", path, line);
		*eq = '\0';
		char *name = trim(s), *value = trim(eq + 1), **field = NULL;
		if (strcmp(name, "aws_access_key_id") == 0)
			field = &c->access_key;
		else if (strcmp(name, "aws_secret_access_key") == 0)
			field = &c->secret_key;
		else if (strcmp(name, "aws_session_token") == 0)
			field = &c->session_token;
		if (!field || !use)
			continue;           /* region, output, ...: not ours */
		wipe(field);
		if (!(*field = strdup(value)))
			return -ENOMEM;
	}
	return 0;
}

static int load_file(const char *name, struct s3_creds *c, char **err)
{
	char path[4096], *text = NULL;
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	struct stat st;
	ssize_t n = 0;
	int fd, rc = 0;

	if (name[0] != '/' && !dir)
		return fail(err, "storage.credentials_file %s: a credential name needs "
		            "$CREDENTIALS_DIRECTORY (systemd LoadCredential=%s:/path), or give an "
		            "absolute path", name, name);
	if ((size_t)snprintf(path, sizeof path, "%s%s%s", name[0] == '/' ? "" : dir,
	                     name[0] == '/' ? "" : "/", name) >= sizeof path)
		return fail(err, "storage.credentials_file %s: path too long", name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		if (err && asprintf(err, "storage.credentials_file %s: %s", path,
		                    strerror(-rc)) < 0)
			*err = NULL;
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, "storage.credentials_file %s: not a regular file", path);
	}
	if (st.st_mode & S_IROTH) {
		close(fd);
		return fail(err, "storage.credentials_file %s: readable by others (chmod o-r, "
		            "or 0600)", path);
	}
	if (st.st_size > CREDS_MAX || !(text = calloc(1, (size_t)st.st_size + 1))) {
		close(fd);
		return st.st_size > CREDS_MAX
		       ? fail(err, "storage.credentials_file %s: larger than 64 KiB", path)
		       : -ENOMEM;
	}
	for (size_t got = 0; got < (size_t)st.st_size; got += (size_t)n) {
		n = read(fd, text + got, (size_t)st.st_size - got);
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
	}
	close(fd);
	if (rc == 0)
		rc = parse(text, path, c, err);
	explicit_bzero(text, (size_t)st.st_size);
	free(text);
	if (rc == 0 && (!c->access_key || !*c->access_key || !c->secret_key || !*c->secret_key))
		rc = fail(err, "storage.credentials_file %s: no aws_access_key_id and "
		          "aws_secret_access_key in it", path);
	return rc;
}

static int dup_env(const char *name, char **out)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return 0;
	return (*out = strdup(v)) ? 0 : -ENOMEM;
}

int s3_creds_load(const char *credentials_file, struct s3_creds *c, char **err)
{
	int rc;

	memset(c, 0, sizeof *c);
	if (err)
		*err = NULL;
	if (credentials_file)
		rc = load_file(credentials_file, c, err);
	else if ((rc = dup_env("AWS_ACCESS_KEY_ID", &c->access_key)) == 0 &&
	         (rc = dup_env("AWS_SECRET_ACCESS_KEY", &c->secret_key)) == 0 &&
	         (rc = dup_env("AWS_SESSION_TOKEN", &c->session_token)) == 0 &&
	         (!c->access_key || !c->secret_key))
		rc = fail(err, "storage: no credentials: set storage.credentials_file (with "
		          "systemd: LoadCredential=) or AWS_ACCESS_KEY_ID and "
		          "AWS_SECRET_ACCESS_KEY");
	if (rc < 0)
		s3_creds_clear(c);
	return rc;
}
