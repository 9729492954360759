/*
 * fingerprint_s3.c - the datastore's fingerprint and commit records read
 * from the bucket (fingerprint_s3.h): a chain of io/s3.h requests, each
 * started from the previous one's callback.  fingerprint.c holds the
 * algorithm and the pieces both use.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/fingerprint_s3.h"
#include "common/array.h"
#include "common/fmt.h"
#include "io/s3.h"
#include "io/s3_objects.h"

#define COMMIT_REL      "_denverd/commits/"
#define COMMIT_FILE_MAX (1024 * 1024)          /* as fingerprint.c's */

struct fp_file {
	char *rel;                   /* year=Y/month=M/NAME */
	uint64_t size;
};

/* One call; owns everything in it, freed by finish(). */
struct fps3 {
	struct s3_client *c;
	char *root;                  /* full key of the dataset's prefix, with its '/' */
	int64_t after;
	size_t max;
	fp_s3_done_cb done;
	void *arg;

	struct fp_file *files;
	size_t n_files, cap_files, at;
	char **commits;              /* names NNNNNNNN.json, as listed */
	size_t n_commits, cap_commits, first;
	int64_t last;

	EVP_MD_CTX *all;             /* the fingerprint's lines */
	EVP_MD_CTX *one;             /* the footer of the file at AT */
	unsigned char *tail;         /* the first GET's bytes */
	size_t tail_len, tail_want;
	uint64_t got, want;          /* the second GET's bytes */
	struct fingerprint fp;
	json_t *newer;
};

static void fps3_free(struct fps3 *f)
{
	for (size_t i = 0; i < f->n_files; i++)
		free(f->files[i].rel);
	for (size_t i = 0; i < f->n_commits; i++)
		free(f->commits[i]);
	free(f->files);
	free(f->commits);
	free(f->root);
	free(f->tail);
	EVP_MD_CTX_free(f->all);
	EVP_MD_CTX_free(f->one);
	json_decref(f->newer);
	free(f);
}

/* DONE with RC (ERROR: printf-style, NULL on success), then free F. */
__attribute__((format(printf, 3, 4)))
static void finish(struct fps3 *f, int rc, const char *fmt, ...)
{
	char msg[1024] = "";

	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
	}
	f->done(f->arg, rc, rc ? msg : NULL, rc ? NULL : &f->fp, f->last, f->newer);
	fps3_free(f);
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct fp_file *)a)->rel, ((const struct fp_file *)b)->rel);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* year=Y/month=M/NAME with NAME starting with neither '.' nor '_'. */
static bool is_data_file(const char *rel)
{
	const char *m = strchr(rel, '/'), *n = m ? strchr(m + 1, '/') : NULL;

	return has_prefix(rel, "year=") && m && has_prefix(m + 1, "month=") && n &&
	       n[1] && n[1] != '.' && n[1] != '_' && !strchr(n + 1, '/');
}

static int on_entry(void *arg, const struct s3_entry *e)
{
	struct fps3 *f = arg;
	const char *rel, *name;
	char *dup;

	if (!has_prefix(e->key, f->root))
		return 0;
	rel = e->key + strlen(f->root);
	name = has_prefix(rel, COMMIT_REL) ? rel + strlen(COMMIT_REL) : "";
	if (is_data_file(rel)) {
		if (ARRAY_RESERVE(f->files, f->n_files + 1, f->cap_files, 64) < 0 ||
		    !(dup = strdup(rel)))
			return -ENOMEM;
		f->files[f->n_files++] = (struct fp_file){ .rel = dup, .size = e->size };
	} else if (*name && *name != '.' && *name != '_' && !strchr(name, '/')) {
		if (ARRAY_RESERVE(f->commits, f->n_commits + 1, f->cap_commits, 64) < 0 ||
		    !(dup = strdup(name)))
			return -ENOMEM;
		f->commits[f->n_commits++] = dup;
	}
	return 0;
}

static void next_file(struct fps3 *f);
static void next_commit(struct fps3 *f);

/* The file at AT is hashed into ONE: its line into ALL, then the next. */
static void file_line(struct fps3 *f)
{
	const struct fp_file *x = &f->files[f->at];
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1], line[4096];
	unsigned mdlen = 0;
	int n;

	if (EVP_DigestFinal_ex(f->one, md, &mdlen) != 1)
		return finish(f, -ENOMEM, "out of memory");
	fmt_hex(md, mdlen, hex);
	n = snprintf(line, sizeof line, "%s\t%" PRIu64 "\t%s\n", x->rel, x->size, hex);
	if (n < 0 || n >= (int)sizeof line)
		return finish(f, -ENAMETOOLONG, "%s%s: name too long", f->root, x->rel);
	if (EVP_DigestUpdate(f->all, line, (size_t)n) != 1)
		return finish(f, -ENOMEM, "out of memory");
	f->fp.files++;
	f->fp.bytes += x->size;
	f->at++;
	next_file(f);
}

/* GET RANGE of the file at AT, its body to BODY, then DONE (or finish). */
static void get_range(struct fps3 *f, const char *range, s3_body_cb body, s3_done_cb done)
{
	const struct fp_file *x = &f->files[f->at];
	char *key = NULL;
	int rc;

	if (asprintf(&key, "%s%s", f->root, x->rel) < 0)
		return finish(f, -ENOMEM, "out of memory");
	rc = s3_send(f->c, &(struct s3_request){ .op = S3_GET, .key = key, .range = range,
	             .on_body = body }, done, f, NULL);
	free(key);
	if (rc < 0)
		finish(f, rc, "%s%s: GET: %s", f->root, x->rel, strerror(-rc));
}

/* The second GET: the footer (or the whole file), streamed into ONE. */
static int footer_body(void *arg, const char *data, size_t n)
{
	struct fps3 *f = arg;

	if (f->got + n > f->want)
		return -EIO;                 /* more than the range: not a range answer */
	f->got += n;
	return EVP_DigestUpdate(f->one, data, n) == 1 ? 0 : -ENOMEM;
}

static void footer_done(void *arg, const struct s3_result *r)
{
	struct fps3 *f = arg;
	const struct fp_file *x = &f->files[f->at];

	if (r->cls != S3_OK)
		return finish(f, -EIO, "%s", r->message);
	if (f->got != f->want)
		return finish(f, -EIO, "%s%s: %" PRIu64 " bytes of the footer, not %" PRIu64
		              " (changing under us?)", f->root, x->rel, f->got, f->want);
	file_line(f);
}

/* The first GET: the last TAIL_WANT bytes, kept in TAIL. */
static int tail_body(void *arg, const char *data, size_t n)
{
	struct fps3 *f = arg;

	if (f->tail_len + n > f->tail_want)
		return -EIO;
	memcpy(f->tail + f->tail_len, data, n);
	f->tail_len += n;
	return 0;
}

static void tail_done(void *arg, const struct s3_result *r)
{
	struct fps3 *f = arg;
	const struct fp_file *x = &f->files[f->at];
	uint64_t start = 0, need;
	char range[64];

	if (r->cls != S3_OK)
		return finish(f, -EIO, "%s", r->message);
	if (f->tail_len != f->tail_want)
		return finish(f, -EIO, "%s%s: %zu bytes of its end, not %zu (changing under us?)",
		              f->root, x->rel, f->tail_len, f->tail_want);
	if (x->size >= 12)
		start = datastore_footer_start(f->tail + f->tail_len - 8, x->size);
	need = x->size - start;
	if (need <= f->tail_len) {
		if (EVP_DigestUpdate(f->one, f->tail + f->tail_len - need, (size_t)need) != 1)
			return finish(f, -ENOMEM, "out of memory");
		return file_line(f);
	}
	/* a footer larger than the first GET, or a large file that is not Parquet */
	f->got = 0;
	f->want = need;
	snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, start, x->size - 1);
	get_range(f, range, footer_body, footer_done);
}

/* The file at AT (or, after the last, the commit records). */
static void next_file(struct fps3 *f)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char range[64];
	const struct fp_file *x;

	if (f->at == f->n_files) {
		if (EVP_DigestFinal_ex(f->all, md, &mdlen) != 1)
			return finish(f, -ENOMEM, "out of memory");
		memcpy(f->fp.digest, "sha256:", 7);
		fmt_hex(md, mdlen, f->fp.digest + 7);
		f->first = datastore_commits_pick(f->commits, f->n_commits, f->after, f->max,
		                                  &f->last);
		return next_commit(f);
	}
	x = &f->files[f->at];
	if (EVP_DigestInit_ex(f->one, EVP_sha256(), NULL) != 1)
		return finish(f, -ENOMEM, "out of memory");
	if (x->size == 0)
		return file_line(f);         /* the digest of nothing; "bytes=-0" is no range */
	f->tail_len = 0;
	f->tail_want = x->size < FP_S3_TAIL ? (size_t)x->size : FP_S3_TAIL;
	snprintf(range, sizeof range, "bytes=-%zu", f->tail_want);
	get_range(f, range, tail_body, tail_done);
}

static void commit_done(void *arg, const struct s3_result *r)
{
	struct fps3 *f = arg;
	const char *name = f->commits[f->first];
	json_error_t jerr;
	json_t *rec;

	if (r->cls != S3_OK)
		return finish(f, -EIO, "%s", r->message);
	if (r->body_len > COMMIT_FILE_MAX)
		return finish(f, -EFBIG, "%s" COMMIT_REL "%s: over %d bytes", f->root, name,
		              COMMIT_FILE_MAX);
	rec = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(rec)) {
		json_decref(rec);
		return finish(f, -EBADMSG, "%s" COMMIT_REL "%s: %s", f->root, name,
		              rec ? "not an object" : jerr.text);
	}
	if (json_array_append_new(f->newer, rec) < 0)
		return finish(f, -ENOMEM, "out of memory");
	f->first++;
	next_commit(f);
}

/* The commit record at FIRST above AFTER (or, after the last, DONE). */
static void next_commit(struct fps3 *f)
{
	char *key = NULL;
	int rc;

	while (f->first < f->n_commits &&
	       datastore_commit_seq(f->commits[f->first]) <= f->after)
		f->first++;
	if (f->first == f->n_commits)
		return finish(f, 0, NULL);
	if (asprintf(&key, "%s" COMMIT_REL "%s", f->root, f->commits[f->first]) < 0)
		return finish(f, -ENOMEM, "out of memory");
	rc = s3_send(f->c, &(struct s3_request){ .op = S3_GET, .key = key }, commit_done, f,
	             NULL);
	free(key);
	if (rc < 0)
		finish(f, rc, "%s" COMMIT_REL "%s: GET: %s", f->root, f->commits[f->first],
		       strerror(-rc));
}

static void listed(void *arg, int rc, const char *error)
{
	struct fps3 *f = arg;

	if (rc < 0)
		return finish(f, rc, "%s", error ? error : strerror(-rc));
	if (f->n_files)
		qsort(f->files, f->n_files, sizeof *f->files, cmp_file);
	if (f->n_commits)
		qsort(f->commits, f->n_commits, sizeof *f->commits, cmp_str);
	next_file(f);
}

int datastore_fingerprint_s3(struct s3_client *c, const char *dataset, int64_t after,
                             size_t max, fp_s3_done_cb done, void *arg)
{
	struct fps3 *f = calloc(1, sizeof *f);
	char *rel = NULL;
	int rc = -ENOMEM;

	if (!f)
		return -ENOMEM;
	*f = (struct fps3){ .c = c, .after = after, .max = max, .done = done, .arg = arg };
	if (!dataset || !*dataset || strchr(dataset, '/')) {
		rc = -EINVAL;
		goto fail;
	}
	if (asprintf(&rel, "datastore/%s/", dataset) < 0) {
		rel = NULL;
		goto fail;
	}
	if ((rc = s3_key(c, rel, &f->root)) < 0)
		goto fail;
	rc = -ENOMEM;
	if (!(f->tail = malloc(FP_S3_TAIL)) || !(f->newer = json_array()) ||
	    !(f->all = EVP_MD_CTX_new()) || !(f->one = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(f->all, EVP_sha256(), NULL) != 1)
		goto fail;
	if ((rc = s3_list_all(c, f->root, on_entry, listed, f)) < 0)
		goto fail;
	free(rel);
	return 0;
fail:
	free(rel);
	fps3_free(f);
	return rc;
}
