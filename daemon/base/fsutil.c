/*
 * fsutil.c - mkdir -p, directory fsync, flat directory removal, full writes
 * and atomic replacement.
 */
#include "base/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	int rc;

	if (n == 0 || n >= sizeof tmp)
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		rc = make_dir(tmp, mode);
		*p = '/';
		if (rc < 0)
			return rc;
	}
	return make_dir(tmp, mode);
}

int mkdir_below(const char *base, const char *rel, mode_t mode)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof tmp, "%s/%s", base, rel);
	size_t start = strlen(base) + 1;
	int rc;

	if (n < 0 || (size_t)n >= sizeof tmp || *rel == '\0')
		return -ENAMETOOLONG;
	for (char *p = tmp + start; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rc = make_dir(tmp, mode);
		*p = '/';
		if (rc < 0)
			return rc;
	}
	return make_dir(tmp, mode);
}

int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int path_parent(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash || slash == path)
		return -EINVAL;
	if ((size_t)(slash - path) >= len)
		return -ENAMETOOLONG;
	memcpy(out, path, (size_t)(slash - path));
	out[slash - path] = '\0';
	return 0;
}

int remove_dir_flat(const char *dir, unsigned max_entries)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned count = 0;
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (++count > max_entries) {
			err = -E2BIG;
			break;
		}
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) {
			err = -errno;
			break;
		}
	}
	closedir(d);
	if (!err && rmdir(dir) < 0 && errno != ENOENT)
		err = -errno;
	return err;
}

int write_all(int fd, const void *data, size_t n, uint64_t off)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w = off == FSUTIL_APPEND ? write(fd, p, n)
		                                 : pwrite(fd, p, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
		if (off != FSUTIL_APPEND)
			off += (uint64_t)w;
	}
	return 0;
}

int write_atomic(const char *path, const void *data, size_t n, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, data, n, 0);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	if (path_parent(path, dir, sizeof dir) < 0)
		return fsync_dir(".");
	return fsync_dir(dir);
}
