/*
 * perm.c - ownership and mode checks of the configuration file and the
 * directories that lead to it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/perm.h"

/* One path: 0, or -EPERM with WHY filled.  IS_FILE selects the file rules. */
static int check_one(const char *path, const struct stat *st, uid_t self,
                     bool is_file, bool secret, char *why, size_t len)
{
	if (st->st_uid != 0 && st->st_uid != self) {
		snprintf(why, len, "%s is owned by uid %u", path, (unsigned)st->st_uid);
		return -EPERM;
	}
	/* In a sticky directory (/tmp) only a file's owner may rename or
	 * remove it, so writers of the directory cannot replace our file. */
	bool sticky = !is_file && (st->st_mode & S_ISVTX);
	if ((st->st_mode & S_IWOTH) && !sticky) {
		snprintf(why, len, "%s is writable by everyone", path);
		return -EPERM;
	}
	if ((st->st_mode & S_IWGRP) && !sticky) {
		snprintf(why, len, "%s is writable by group %u", path, (unsigned)st->st_gid);
		return -EPERM;
	}
	if (is_file && secret && (st->st_mode & S_IROTH)) {
		snprintf(why, len, "%s holds a secret (alerts.webhook) and is readable "
		         "by everyone", path);
		return -EPERM;
	}
	return 0;
}

int perm_check_trusted(const char *path, uid_t self, bool secret,
                       char *why, size_t len)
{
	char *real = realpath(path, NULL);
	struct stat st;
	int rc;

	if (len)
		why[0] = '\0';
	if (!real) {
		rc = -errno;
		snprintf(why, len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	for (bool is_file = true;; is_file = false) {
		if (stat(real, &st) < 0) {
			rc = -errno;
			snprintf(why, len, "%s: %s", real, strerror(-rc));
			goto out;
		}
		rc = check_one(real, &st, self, is_file, secret, why, len);
		if (rc < 0 || strcmp(real, "/") == 0)
			goto out;
		/* realpath() gave an absolute path without "." or "..", so the
		 * parent is everything before the last slash. */
		char *slash = strrchr(real, '/');
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
out:
	free(real);
	return rc;
}
