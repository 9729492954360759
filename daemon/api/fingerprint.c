/*
 * fingerprint.c - the datastore's content fingerprint and commit records
 * (fingerprint.h), the C twin of jobs/datastore.py's `fingerprint` and
 * `Store.commits`.  Keep the two in step: jobs/README.md ("The
 * fingerprint") is the definition, tests/integration/test_report.py
 * compares them on the same files.
 *
 * The data files are the regular files in DIR/year=*\/month=*\/ whose
 * names start with neither '.' nor '_'.  Each gives one line
 * "<relative path>\t<size>\t<sha256 hex of its footer>\n"; the lines, in
 * byte order of the paths, are hashed with SHA-256.  A file's footer is
 * its last 8 + N bytes when it ends with a little-endian 4-byte N and
 * "PAR1" (N + 12 <= size, N <= FOOTER_MAX), else the whole file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "api/fingerprint.h"
#include "common/array.h"
#include "common/fmt.h"

#define FOOTER_MAX (64u << 20)   /* as datastore.py's FOOTER_MAX */
#define CHUNK      (1u << 20)
#define COMMIT_DIR "_denverd/commits"
#define COMMIT_FILE_MAX (1024 * 1024)

struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct names){0};
}

static int names_add(struct names *l, const char *s)
{
	char *dup;

	if (ARRAY_RESERVE(l->v, l->n + 1, l->cap, 16) < 0 || !(dup = strdup(s)))
		return -ENOMEM;
	l->v[l->n++] = dup;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Is PATH a directory (following symlinks, as os.path.isdir)? */
static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The names in directory PATH starting with PREFIX (NULL: any but those
 * starting with '.' or '_') whose entry is a directory (WANT_DIR) or a
 * regular file, appended to OUT as REL/name.  A missing PATH adds
 * nothing. */
static int list_into(const char *path, const char *rel, const char *prefix, bool want_dir,
                     struct names *out)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	while (rc == 0 && (errno = 0, e = readdir(d))) {
		char full[PATH_MAX], r[PATH_MAX];

		if (prefix ? !has_prefix(e->d_name, prefix)
		           : (e->d_name[0] == '.' || e->d_name[0] == '_'))
			continue;
		if (snprintf(full, sizeof full, "%s/%s", path, e->d_name) >= (int)sizeof full ||
		    snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >= (int)sizeof r) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (want_dir ? is_dir(full) : is_file(full))
			rc = names_add(out, r);
	}
	if (rc == 0 && errno)
		rc = -errno;
	closedir(d);
	return rc;
}

/* The data files of DIR as sorted relative paths. */
static int data_files(const char *dir, struct names *files)
{
	struct names years = {0}, months = {0};
	char path[PATH_MAX];
	int rc = list_into(dir, "", "year=", true, &years);

	for (size_t i = 0; rc == 0 && i < years.n; i++) {
		if (snprintf(path, sizeof path, "%s/%s", dir, years.v[i]) >= (int)sizeof path)
			rc = -ENAMETOOLONG;
		else
			rc = list_into(path, years.v[i], "month=", true, &months);
	}
	for (size_t i = 0; rc == 0 && i < months.n; i++) {
		if (snprintf(path, sizeof path, "%s/%s", dir, months.v[i]) >= (int)sizeof path)
			rc = -ENAMETOOLONG;
		else
			rc = list_into(path, months.v[i], NULL, false, files);
	}
	names_free(&years);
	names_free(&months);
	if (rc == 0 && files->n)
		qsort(files->v, files->n, sizeof *files->v, cmp_str);
	return rc;
}


/* Read N bytes at OFF of FD into CTX, CHUNK at a time. */
static int hash_range(int fd, uint64_t off, uint64_t n, EVP_MD_CTX *ctx, unsigned char *buf)
{
	while (n > 0) {
		size_t want = n < CHUNK ? (size_t)n : CHUNK;
		ssize_t got = pread(fd, buf, want, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO;            /* shorter than fstat said: changing under us */
		if (EVP_DigestUpdate(ctx, buf, (size_t)got) != 1)
			return -ENOMEM;
		off += (uint64_t)got;
		n -= (uint64_t)got;
	}
	return 0;
}

uint64_t datastore_footer_start(const unsigned char tail[8], uint64_t size)
{
	uint64_t n = (uint64_t)tail[0] | (uint64_t)tail[1] << 8 | (uint64_t)tail[2] << 16 |
	             (uint64_t)tail[3] << 24;

	if (size >= 12 && memcmp(tail + 4, "PAR1", 4) == 0 && n + 12 <= size && n <= FOOTER_MAX)
		return size - 8 - n;
	return 0;
}

/* Size and footer digest (64 hex digits into HEXOUT) of file PATH. */
static int footer_digest(const char *path, uint64_t *size, char *hexout, unsigned char *buf)
{
	unsigned char tail[8], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint64_t start = 0;
	EVP_MD_CTX *ctx;
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*size = (uint64_t)st.st_size;
	if (*size >= 12 && pread(fd, tail, 8, (off_t)(*size - 8)) == 8)
		start = datastore_footer_start(tail, *size);
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		rc = -ENOMEM;
	if (rc == 0)
		rc = hash_range(fd, start, *size - start, ctx, buf);
	if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		rc = -ENOMEM;
	if (rc == 0)
		fmt_hex(md, mdlen, hexout);
	EVP_MD_CTX_free(ctx);
	close(fd);
	return rc;
}

int datastore_fingerprint(const char *dir, struct fingerprint *out)
{
	struct names files = {0};
	unsigned char md[EVP_MAX_MD_SIZE], *buf = malloc(CHUNK);
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = buf && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;

	memset(out, 0, sizeof *out);
	if (rc == 0)
		rc = data_files(dir, &files);
	for (size_t i = 0; rc == 0 && i < files.n; i++) {
		char path[PATH_MAX], line[PATH_MAX + 96], digest[2 * EVP_MAX_MD_SIZE + 1];
		uint64_t size = 0;
		int n;

		if (snprintf(path, sizeof path, "%s/%s", dir, files.v[i]) >= (int)sizeof path) {
			rc = -ENAMETOOLONG;
			break;
		}
		if ((rc = footer_digest(path, &size, digest, buf)) < 0)
			break;
		n = snprintf(line, sizeof line, "%s\t%llu\t%s\n", files.v[i],
		             (unsigned long long)size, digest);
		if (n < 0 || n >= (int)sizeof line || EVP_DigestUpdate(ctx, line, (size_t)n) != 1)
			rc = -ENOMEM;
		out->files++;
		out->bytes += size;
	}
	if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		rc = -ENOMEM;
	if (rc == 0) {
		memcpy(out->digest, "sha256:", 7);
		fmt_hex(md, mdlen, out->digest + 7);
	}
	EVP_MD_CTX_free(ctx);
	free(buf);
	names_free(&files);
	return rc;
}

int64_t datastore_commit_seq(const char *name)
{
	int64_t v = 0;

	if (strlen(name) != 13 || strcmp(name + 8, ".json") != 0)
		return -1;
	for (int i = 0; i < 8; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	return v;
}

size_t datastore_commits_pick(char *const *names, size_t n, int64_t after, size_t max,
                              int64_t *last)
{
	size_t first = n;

	*last = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t s = datastore_commit_seq(names[i]);
		if (s > *last)
			*last = s;
	}
	/* the newest MAX above AFTER */
	for (size_t i = n, taken = 0; i-- > 0 && taken < max;) {
		int64_t s = datastore_commit_seq(names[i]);
		if (s < 0)
			continue;
		if (s <= after)
			break;
		first = i;
		taken++;
	}
	return first;
}

int datastore_commits(const char *dir, int64_t after, size_t max, int64_t *last, json_t *newer)
{
	struct names all = {0};
	char path[PATH_MAX];
	size_t first;
	int rc;

	*last = 0;
	if (snprintf(path, sizeof path, "%s/" COMMIT_DIR, dir) >= (int)sizeof path)
		return -ENAMETOOLONG;
	if ((rc = list_into(path, "", NULL, false, &all)) < 0)
		return rc;
	if (all.n)
		qsort(all.v, all.n, sizeof *all.v, cmp_str);   /* zero-padded: numeric order */
	first = datastore_commits_pick(all.v, all.n, after, max, last);
	for (size_t i = first; newer && rc == 0 && i < all.n; i++) {
		char file[PATH_MAX + 16];
		json_error_t jerr;
		struct stat st;
		json_t *rec;

		if (datastore_commit_seq(all.v[i]) <= after)
			continue;
		snprintf(file, sizeof file, "%s/%s", path, all.v[i]);
		if (stat(file, &st) == 0 && st.st_size > COMMIT_FILE_MAX) {
			rc = -EFBIG;
			break;
		}
		rec = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(rec)) {
			json_decref(rec);
			rc = -EBADMSG;
			break;
		}
		if (json_array_append_new(newer, rec) < 0)
			rc = -ENOMEM;
	}
	names_free(&all);
	return rc;
}
