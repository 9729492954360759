/*
 * arcgis_held.c - the held snapshot of S3 mode (io/arcgis.h): the paths of
 * a finished layer CSV that waits for its upload into S3, its stamp beside
 * it, and its file:// URL for the fetch (io/fetch.h) that uploads it.
 *
 * The stamp is what makes a held file a snapshot: the pager renames its
 * .part to the held path (fsynced, as any publish), then the engine keeps
 * the stamp with arcgis_held_keep.  A crash between the two leaves a held
 * file without a stamp, which arcgis_held_find does not report, so the
 * next attempt pages the layer again and the rename replaces it.  A stamp
 * without its file (the file removed first, then a crash) is not reported
 * either, and the next keep replaces it.
 *
 * Blocking (a stat, a small read or an fsynced small write), but the
 * removal, whose unlink of a multi-GB file would stall the loop (as
 * engine/tasks/retain.c says), which runs on the threadpool.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/macro.h"
#include "io/arcgis.h"

/* "file://" and PATH with every byte but unreserved ones and '/'
 * percent-encoded (RFC 3986, 8089); NULL when out of memory. */
static char *file_url(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path);
	char *u = malloc(7 + 3 * n + 1), *o;

	if (!u)
		return NULL;
	o = u + sprintf(u, "file://");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return u;
}

int arcgis_held_init(struct arcgis_held *h, const char *state_dir, const char *dataset,
                     const char *exec_date)
{
	*h = (struct arcgis_held){ 0 };
	if (!state_dir || state_dir[0] != '/')
		return -EINVAL;
	if (asprintf(&h->path, "%s/staging/.partial/%s.%s.held", state_dir, dataset,
	             exec_date) < 0)
		h->path = NULL;
	if (h->path && asprintf(&h->stamp_path, "%s.stamp", h->path) < 0)
		h->stamp_path = NULL;
	if (h->stamp_path)
		h->url = file_url(h->path);
	if (!h->url) {
		arcgis_held_clear(h);
		return -ENOMEM;
	}
	return 0;
}

void arcgis_held_clear(struct arcgis_held *h)
{
	free(h->path);
	free(h->stamp_path);
	free(h->url);
	*h = (struct arcgis_held){ 0 };
}

int arcgis_held_find(const struct arcgis_held *h, struct arcgis_stamp *stamp)
{
	char text[ARCGIS_STAMP_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd;

	if (stat(h->path, &st) < 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	if ((fd = open(h->stamp_path, O_RDONLY | O_CLOEXEC)) < 0)
		return -ENOENT;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	text[n] = '\0';
	return arcgis_stamp_parse(text, stamp) == 0 ? 0 : -ENOENT;
}

int arcgis_held_keep(const struct arcgis_held *h, const struct arcgis_stamp *stamp)
{
	char text[ARCGIS_STAMP_MAX + 1];

	arcgis_stamp_format(stamp, text, sizeof text);
	return write_atomic(h->stamp_path, text, strlen(text), 0644);
}

/* A removal on the threadpool, with its own copies of the paths. */
struct held_rm {
	uv_work_t work;
	char *path, *stamp_path;
};

static void rm_work(uv_work_t *w)
{
	struct held_rm *r = container_of(w, struct held_rm, work);

	/* The file first: a stamp alone is never reported (see the top). */
	unlink(r->path);
	unlink(r->stamp_path);
}

static void rm_done(uv_work_t *w, int status)
{
	struct held_rm *r = container_of(w, struct held_rm, work);

	(void)status;
	free(r->path);
	free(r->stamp_path);
	free(r);
}

void arcgis_held_remove(uv_loop_t *loop, const struct arcgis_held *h)
{
	struct held_rm *r = loop ? calloc(1, sizeof *r) : NULL;

	if (r && (r->path = strdup(h->path)) && (r->stamp_path = strdup(h->stamp_path)) &&
	    uv_queue_work(loop, &r->work, rm_work, rm_done) == 0)
		return;
	if (r) {
		free(r->path);
		free(r->stamp_path);
		free(r);
	}
	unlink(h->path);              /* no loop, or out of memory: here */
	unlink(h->stamp_path);
}
