/*
 * keyidx.c - the key index: collect, sort, merge, diff, write (keyidx.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "quality/dq.h"
#include "quality/keyidx.h"

#define CHUNK (1u << 18)             /* entries per chunk: 4 MiB; times
                                        per time chunk: 1 MiB */
#define RADIX_BITS 11
#define RADIX_PASSES 6               /* 6 x 11 >= 64 bits, and even */
#define RADIX_SIZE (1u << RADIX_BITS)

_Static_assert(sizeof(struct keyidx_entry) == 16, "entry is 16 bytes");
_Static_assert(sizeof(struct keyidx_header) == 64, "header is 64 bytes");

struct keyidx {
	struct keyidx_entry **chunks;
	size_t n_chunks, cap_chunks;
	size_t fill;                     /* entries in the last chunk */
	struct keyidx_entry *tmp;        /* radix scratch, one chunk */
	struct keyidx_checkpoint *cp;
	size_t n_cp, cap_cp;
	int32_t **times;                 /* event times in row order, CHUNK
	                                    each, as stored (time_code) */
	size_t n_tchunks, cap_tchunks;
	uint64_t n_times;
};

int keyidx_new(struct keyidx **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : -ENOMEM;
}

void keyidx_free(struct keyidx *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n_chunks; i++)
		free(k->chunks[i]);
	free(k->chunks);
	for (size_t i = 0; i < k->n_tchunks; i++)
		free(k->times[i]);
	free(k->times);
	free(k->tmp);
	free(k->cp);
	free(k);
}

/* LSD radix sort by key; stable, so rows stay in order within a key.  The
 * histograms (48 KiB) live on the stack: no shared state. */
static void sort_chunk(struct keyidx_entry *a, struct keyidx_entry *tmp, size_t n)
{
	uint32_t c[RADIX_PASSES][RADIX_SIZE];

	memset(c, 0, sizeof c);
	for (size_t i = 0; i < n; i++)
		for (unsigned p = 0; p < RADIX_PASSES; p++)
			c[p][(a[i].key >> (p * RADIX_BITS)) & (RADIX_SIZE - 1)]++;
	for (unsigned p = 0; p < RADIX_PASSES; p++) {
		struct keyidx_entry *src = p & 1 ? tmp : a, *dst = p & 1 ? a : tmp;
		uint32_t sum = 0;
		if (c[p][(src[0].key >> (p * RADIX_BITS)) & (RADIX_SIZE - 1)] == n) {
			memcpy(dst, src, n * sizeof *a);    /* one bucket: keep order */
			continue;
		}
		for (unsigned b = 0; b < RADIX_SIZE; b++) {
			uint32_t t = c[p][b];
			c[p][b] = sum;
			sum += t;
		}
		for (size_t i = 0; i < n; i++)
			dst[c[p][(src[i].key >> (p * RADIX_BITS)) & (RADIX_SIZE - 1)]++] = src[i];
	}
}

/* Make room for one more item in array P of *CAP items, N used: returns
 * P, its larger copy, or NULL (P untouched) when out of memory. */
static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	size_t want = *cap ? 2 * *cap : 64;
	void *q;
	if (n < *cap)
		return p;
	if (!(q = realloc(p, want * size)))
		return NULL;
	*cap = want;
	return q;
}

int keyidx_add(struct keyidx *k, uint64_t key, uint32_t hash, uint64_t row)
{
	struct keyidx_entry *e;
	if (row > UINT32_MAX)
		return -EOVERFLOW;
	if (!k->n_chunks || k->fill == CHUNK) {
		if (k->n_chunks) {
			if (!k->tmp && !(k->tmp = malloc(CHUNK * sizeof *k->tmp)))
				return -ENOMEM;
			sort_chunk(k->chunks[k->n_chunks - 1], k->tmp, CHUNK);
		}
		struct keyidx_entry **chunks = grow(k->chunks, &k->cap_chunks, k->n_chunks,
		                                    sizeof *k->chunks);
		if (!chunks)
			return -ENOMEM;
		k->chunks = chunks;
		if (!(k->chunks[k->n_chunks] = malloc(CHUNK * sizeof **k->chunks)))
			return -ENOMEM;
		k->n_chunks++;
		k->fill = 0;
	}
	e = &k->chunks[k->n_chunks - 1][k->fill++];
	e->key = key;
	e->hash = hash;
	e->row = (uint32_t)row;
	return 0;
}

int keyidx_mark(struct keyidx *k, uint64_t row, uint64_t offset, uint64_t line)
{
	if (row / DQ_CHECKPOINT_ROWS != k->n_cp)
		return -EINVAL;
	struct keyidx_checkpoint *cp = grow(k->cp, &k->cap_cp, k->n_cp, sizeof *k->cp);
	if (!cp)
		return -ENOMEM;
	k->cp = cp;
	k->cp[k->n_cp].offset = offset;
	k->cp[k->n_cp].line = line;
	k->n_cp++;
	return 0;
}

/* A time as stored (keyidx.h): from KEYIDX_TIME_BASE, clamped. */
static int32_t time_code(int64_t t)
{
	if (t == KEYIDX_NO_TIME)
		return INT32_MIN;
	t -= KEYIDX_TIME_BASE;
	return t < INT32_MIN + 1 ? INT32_MIN + 1 : t > INT32_MAX ? INT32_MAX : (int32_t)t;
}

int keyidx_time(struct keyidx *k, uint64_t row, int64_t t)
{
	if (row != k->n_times)
		return -EINVAL;
	if (k->n_times == (uint64_t)k->n_tchunks * CHUNK) {
		int32_t **c = grow(k->times, &k->cap_tchunks, k->n_tchunks, sizeof *k->times);
		if (!c)
			return -ENOMEM;
		k->times = c;
		if (!(k->times[k->n_tchunks] = malloc(CHUNK * sizeof **k->times)))
			return -ENOMEM;
		k->n_tchunks++;
	}
	k->times[k->n_times / CHUNK][k->n_times % CHUNK] = time_code(t);
	k->n_times++;
	return 0;
}

void keyidx_points(const struct keyidx *k, struct keyidx_points *out)
{
	out->file = NULL;
	out->cp = k->cp;
	out->n = k->n_cp;
	out->every = DQ_CHECKPOINT_ROWS;
}

/* ---- merging the sorted chunks ---- */

struct cursor {
	const struct keyidx_entry *p, *end;
};

static bool before(const struct keyidx_entry *a, const struct keyidx_entry *b)
{
	return a->key < b->key || (a->key == b->key && a->row < b->row);
}

static void sift(struct cursor *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && before(h[l].p, h[m].p))
			m = l;
		if (l + 1 < n && before(h[l + 1].p, h[m].p))
			m = l + 1;
		if (m == i)
			return;
		struct cursor t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* ---- the previous index, read as a stream ---- */

struct prev {
	FILE *f;
	uint64_t left;               /* entries not read yet */
	void *map;                   /* the whole file, read-only, when it has
	                                times; else NULL */
	size_t map_len;
	const int32_t *times;        /* in map, as stored */
	uint64_t n_times;
	int64_t window_start;        /* KEYIDX_NO_TIME: no split */
	struct keyidx_entry buf[4096];
	size_t n, i;
	bool bad;                    /* a read failed */
};

static const struct keyidx_entry *prev_peek(struct prev *pv)
{
	if (pv->i == pv->n) {
		size_t want = pv->left < 4096 ? (size_t)pv->left : 4096;
		if (!want)
			return NULL;
		pv->n = fread(pv->buf, sizeof pv->buf[0], want, pv->f);
		pv->i = 0;
		if (pv->n != want) {
			pv->bad = true;     /* the size was checked at open */
			pv->n = 0;
			pv->left = 0;
			return NULL;
		}
		pv->left -= want;
	}
	return &pv->buf[pv->i];
}

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Open PATH as a previous index usable against KEY_DEF: returns 0, or -1
 * with res->diff_error set. */
static int prev_open(const char *path, uint64_t key_def, struct prev *pv,
                     struct keyidx_result *res)
{
	struct keyidx_header h;
	struct stat sb;
	char *name = NULL, *dir = NULL;
	const char *why = NULL;
	uint64_t want;

	pv->f = fopen(path, "rbe");
	if (!pv->f) {
		if (asprintf(&res->diff_error, "previous key index %s: %s", path,
		             strerror(errno)) < 0)
			res->diff_error = NULL;
		return -1;
	}
	if (fread(&h, sizeof h, 1, pv->f) != 1 || memcmp(h.magic, KEYIDX_MAGIC, 8) != 0)
		why = "not a key index";
	else if (h.version != KEYIDX_VERSION && h.version != 1)
		why = "written by another version";
	else if (h.key_def != key_def)
		why = "the key's definition has changed since";
	else if (h.checkpoint_rows != DQ_CHECKPOINT_ROWS || h.name_len > 4096 ||
	         h.n_entries > (UINT64_MAX >> 5) || h.n_checkpoints > (UINT64_MAX >> 5) ||
	         (h.n_times && h.n_times != h.rows) || h.rows > (UINT64_MAX >> 5))
		why = "corrupt header";
	if (!why) {
		want = sizeof h + pad8(h.name_len) + h.n_entries * sizeof(struct keyidx_entry) +
		       h.n_checkpoints * sizeof(struct keyidx_checkpoint) +
		       h.n_times * sizeof(int32_t);
		if (fstat(fileno(pv->f), &sb) < 0 || (uint64_t)sb.st_size != want)
			why = "truncated or corrupt";
	}
	if (!why && (!(name = calloc(1, pad8(h.name_len) + 1)) ||
	             !(res->prev.cp = malloc(h.n_checkpoints * sizeof *res->prev.cp + 1))))
		why = "out of memory";
	if (!why && (fread(name, 1, pad8(h.name_len), pv->f) != pad8(h.name_len) ||
	             memchr(name, '/', h.name_len)))
		why = "corrupt name";
	if (!why) {
		/* The checkpoints follow the entries: read them now, then come back. */
		long at = ftell(pv->f);
		if (fseek(pv->f, (long)(h.n_entries * sizeof(struct keyidx_entry)), SEEK_CUR) < 0 ||
		    fread(res->prev.cp, sizeof *res->prev.cp, h.n_checkpoints, pv->f) != h.n_checkpoints ||
		    fseek(pv->f, at, SEEK_SET) < 0)
			why = "unreadable";
	}
	if (!why) {
		dir = strdup(path);
		if (!dir || asprintf(&res->prev.file, "%s/%s", dirname(dir), name) < 0) {
			res->prev.file = NULL;
			why = "out of memory";
		}
	}
	if (!why && h.n_times) {
		void *m = mmap(NULL, (size_t)want, PROT_READ, MAP_SHARED, fileno(pv->f), 0);
		if (m == MAP_FAILED) {
			why = "cannot map its event times";
		} else {
			pv->map = m;
			pv->map_len = (size_t)want;
			pv->times = (const int32_t *)((const char *)m + want -
			                              h.n_times * sizeof(int32_t));
			pv->n_times = h.n_times;
		}
	}
	free(dir);
	free(name);
	if (why) {
		if (asprintf(&res->diff_error, "previous key index %s: %s", path, why) < 0)
			res->diff_error = NULL;
		fclose(pv->f);
		pv->f = NULL;
		return -1;
	}
	res->prev.n = h.n_checkpoints;
	res->prev.every = h.checkpoint_rows;
	res->prev_entries = h.n_entries;
	pv->left = h.n_entries;
	pv->n = pv->i = 0;
	return 0;
}

/* ---- writing ---- */

struct out {
	FILE *f;
	char *tmp;
	int err;
};

static int out_open(struct out *o, const char *path, const char *name, char **err)
{
	static const char zeros[8];
	struct keyidx_header h = { 0 };
	size_t len = strlen(name);
	int fd;

	if (asprintf(&o->tmp, "%s.tmp", path) < 0) {
		o->tmp = NULL;
		return -ENOMEM;
	}
	fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		if (asprintf(err, "%s: %s", o->tmp, strerror(-rc)) < 0)
			*err = NULL;
		return rc;
	}
	setvbuf(o->f, NULL, _IOFBF, 1 << 16);
	/* The header is written again with the counts at the end. */
	if (fwrite(&h, sizeof h, 1, o->f) != 1 || fwrite(name, 1, len, o->f) != len ||
	    fwrite(zeros, 1, pad8(len) - len, o->f) != pad8(len) - len)
		o->err = errno ? errno : EIO;
	return 0;
}

static void out_abort(struct out *o)
{
	if (o->f) {
		fclose(o->f);
		unlink(o->tmp);
	}
	free(o->tmp);
	o->f = NULL;
	o->tmp = NULL;
}

static int out_close(struct out *o, const struct keyidx_header *h, const char *path,
                     const struct keyidx *k, char **err)
{
	char dir[PATH_MAX];
	int rc = 0;

	if (!o->err && k->n_cp && fwrite(k->cp, sizeof *k->cp, k->n_cp, o->f) != k->n_cp)
		o->err = errno ? errno : EIO;
	for (size_t i = 0; !o->err && i < k->n_tchunks; i++) {
		uint64_t n = k->n_times - (uint64_t)i * CHUNK;
		size_t m = n < CHUNK ? (size_t)n : CHUNK;
		if (fwrite(k->times[i], sizeof **k->times, m, o->f) != m)
			o->err = errno ? errno : EIO;
	}
	if (!o->err && (fflush(o->f) != 0 || write_all(fileno(o->f), h, sizeof *h, 0) < 0 ||
	                fsync(fileno(o->f)) < 0))
		o->err = errno ? errno : EIO;
	if (fclose(o->f) != 0 && !o->err)
		o->err = errno ? errno : EIO;
	o->f = NULL;
	if (!o->err && rename(o->tmp, path) < 0)
		o->err = errno;
	if (o->err) {
		rc = -o->err;
		if (asprintf(err, "writing %s: %s", path, strerror(o->err)) < 0)
			*err = NULL;
		unlink(o->tmp);
	} else {
		/* Make the rename durable (the index is in place either way). */
		fsync_dir(path_parent(path, dir, sizeof dir) == 0 ? dir : ".");
	}
	free(o->tmp);
	o->tmp = NULL;
	return rc;
}

static void keep(uint32_t *ex, size_t *n, uint32_t row)
{
	if (*n < KEYIDX_MAX_EX)
		ex[(*n)++] = row;
}

/* Keep the KEYIDX_MAX_EX duplicates that come first in the file, in file
 * order (the merge meets them in key order). */
static void keep_dup(struct keyidx_result *res, uint32_t row, uint32_t first)
{
	size_t i = res->n_dup;
	if (i == KEYIDX_MAX_EX) {
		if (row > res->dup_row[i - 1])
			return;
		i--;
	} else {
		res->n_dup++;
	}
	for (; i > 0 && res->dup_row[i - 1] > row; i--) {
		res->dup_row[i] = res->dup_row[i - 1];
		res->dup_first[i] = res->dup_first[i - 1];
	}
	res->dup_row[i] = row;
	res->dup_first[i] = first;
}

/* Take the smallest entry of the merge into *E; false when all are out. */
static bool heap_pop(struct cursor *heap, size_t *nh, struct keyidx_entry *e)
{
	if (!*nh)
		return false;
	*e = *heap[0].p;
	if (++heap[0].p == heap[0].end)
		heap[0] = heap[--*nh];
	sift(heap, *nh, 0);
	return true;
}

/* Sort the last (partial) chunk, free the scratch, and put a cursor on
 * every chunk into a heap (*NH of them; caller frees).  NULL when out of
 * memory. */
static struct cursor *merge_start(struct keyidx *k, size_t *nh)
{
	struct cursor *heap;

	if (k->n_chunks && k->fill) {
		if (!k->tmp && !(k->tmp = malloc(CHUNK * sizeof *k->tmp)))
			return NULL;
		sort_chunk(k->chunks[k->n_chunks - 1], k->tmp, k->fill);
	}
	free(k->tmp);
	k->tmp = NULL;
	if (!(heap = malloc((k->n_chunks + 1) * sizeof *heap)))
		return NULL;
	*nh = 0;
	for (size_t i = 0; i < k->n_chunks; i++) {
		size_t n = i + 1 == k->n_chunks ? k->fill : CHUNK;
		if (!n)
			continue;
		heap[*nh].p = k->chunks[i];
		heap[*nh].end = k->chunks[i] + n;
		++*nh;
	}
	for (size_t i = *nh; i-- > 0;)
		sift(heap, *nh, i);
	return heap;
}

/* Duplicates, as the merge meets entries in key order. */
struct dups {
	uint64_t last_key;
	uint32_t group_first;          /* first row of the current key */
	bool have_last;
};

static void count_dup(struct dups *d, const struct keyidx_entry *e, struct keyidx_result *res)
{
	if (d->have_last && d->last_key == e->key) {
		keep_dup(res, e->row, d->group_first);
		res->duplicates++;
	} else {
		d->group_first = e->row;
	}
	d->have_last = true;
	d->last_key = e->key;
}

/* Removed previous row ROW: aged out when its event time is before the
 * window start, else withdrawn. */
static void classify(const struct prev *pv, uint32_t row, struct keyidx_result *res)
{
	int32_t code = row < pv->n_times ? pv->times[row] : INT32_MIN;

	if (code != INT32_MIN && KEYIDX_TIME_BASE + (int64_t)code < pv->window_start) {
		res->aged_out++;
		keep(res->ex_aged, &res->n_aged, row);
	} else {
		res->withdrawn++;
		keep(res->ex_withdrawn, &res->n_withdrawn, row);
	}
}

/* The diff, one entry E of the merge at a time (NULL after the last):
 * previous entries sorting before E are gone from this index; then equal
 * keys pair up in row order, and the extra ones of this index are added. */
static void diff_step(struct prev *pv, const struct keyidx_entry *e, struct keyidx_result *res)
{
	const struct keyidx_entry *pe = prev_peek(pv);

	while (pe && (!e || pe->key < e->key)) {
		res->removed++;
		keep(res->ex_removed, &res->n_removed, pe->row);
		if (res->split)
			classify(pv, pe->row, res);
		pv->i++;
		pe = prev_peek(pv);
	}
	if (!e)
		return;
	if (pe && pe->key == e->key) {
		if (pe->hash != e->hash) {
			res->changed++;
			keep(res->ex_changed, &res->n_changed, e->row);
		} else {
			res->unchanged++;
		}
		pv->i++;
	} else {
		res->added++;
		keep(res->ex_added, &res->n_added, e->row);
	}
}

static void fill_header(struct keyidx_header *h, const struct keyidx *k, uint64_t key_def,
                        uint64_t rows, uint64_t entries, const char *name)
{
	memset(h, 0, sizeof *h);
	memcpy(h->magic, KEYIDX_MAGIC, 8);
	h->version = KEYIDX_VERSION;
	h->checkpoint_rows = DQ_CHECKPOINT_ROWS;
	h->key_def = key_def;
	h->rows = rows;
	h->n_entries = entries;
	h->n_checkpoints = k->n_cp;
	h->name_len = (uint32_t)strlen(name);
	h->n_times = k->n_times;
}

int keyidx_finish(struct keyidx *k, uint64_t key_def, uint64_t rows, const char *name,
                  const char *prev, const char *out, int64_t window_start,
                  struct keyidx_result *res, char **err)
{
	struct cursor *heap;
	struct prev pv = { 0 };
	struct out o = { 0 };
	struct dups dups = { 0 };
	struct keyidx_header h;
	struct keyidx_entry e;
	size_t nh;
	bool diff;
	int rc = 0;

	memset(res, 0, sizeof *res);
	*err = NULL;
	if (k->n_times && k->n_times != rows) {
		if (asprintf(err, "key index: %llu event times for %llu rows",
		             (unsigned long long)k->n_times, (unsigned long long)rows) < 0)
			*err = NULL;
		return -EINVAL;
	}
	if (!(heap = merge_start(k, &nh)))
		return -ENOMEM;
	diff = prev && prev_open(prev, key_def, &pv, res) == 0;
	res->diffed = diff;
	pv.window_start = window_start;
	res->split = diff && pv.n_times && window_start != KEYIDX_NO_TIME;
	if (out && (rc = out_open(&o, out, name, err)) < 0)
		goto out;
	while (heap_pop(heap, &nh, &e)) {
		res->entries++;
		if (o.f && !o.err && fwrite(&e, sizeof e, 1, o.f) != 1)
			o.err = errno ? errno : EIO;
		count_dup(&dups, &e, res);
		if (diff)
			diff_step(&pv, &e, res);
	}
	if (diff)
		diff_step(&pv, NULL, res);
	if (diff && pv.bad) {
		res->diffed = res->split = false;
		if (asprintf(&res->diff_error, "previous key index %s: read error", prev) < 0)
			res->diff_error = NULL;
	}
	if (o.f) {
		fill_header(&h, k, key_def, rows, res->entries, name);
		rc = out_close(&o, &h, out, k, err);
	}
out:
	if (pv.map)
		munmap(pv.map, pv.map_len);
	if (pv.f)
		fclose(pv.f);
	out_abort(&o);
	free(heap);
	return rc;
}

void keyidx_result_fini(struct keyidx_result *res)
{
	if (!res)
		return;
	free(res->diff_error);
	free(res->prev.file);
	free(res->prev.cp);
	memset(res, 0, sizeof *res);
}
