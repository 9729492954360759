/*
 * csv_input.c - how the scanner (csv_int.h) gets its bytes: the buffer
 * made room in (a row in progress kept, or squeezed to its kept content
 * when it outgrows the buffer), the caller's read function called, the
 * new bytes checked as UTF-8 and for NULs as they arrive; and the two
 * sources csv.h offers, a file descriptor and a memory range.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "quality/csv_int.h"

/* Validate BUF[0, n) as UTF-8 (the state carries over between reads) and
 * count NUL bytes; OFF is the file offset of BUF[0]. */
static void check_bytes(struct scanner *sc, const unsigned char *p, size_t n, uint64_t off)
{
	struct csv_stats *st = sc->st;
	const unsigned char *z = memchr(p, 0, n);
	size_t i = 0;

	while (z) {
		issue(sc, CSV_I_NUL, 1, 0, off + (uint64_t)(z - p));
		z = memchr(z + 1, 0, n - (size_t)(z + 1 - p));
	}
	while (i < n) {
		unsigned char c;
		if (sc->u_need) {
			c = p[i];
			if (c < sc->u_lo || c > sc->u_hi) {
				issue(sc, CSV_I_INVALID_UTF8, 1, 0, sc->u_start);
				sc->u_need = 0;
				continue;      /* C starts anew */
			}
			st->non_ascii++;
			sc->u_need--;
			sc->u_lo = 0x80;
			sc->u_hi = 0xBF;
			i++;
			continue;
		}
		while (i + 8 <= n) {
			uint64_t v;
			memcpy(&v, p + i, 8);
			if (v & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		while (i < n && p[i] < 0x80)
			i++;
		if (i >= n)
			break;
		c = p[i];
		st->non_ascii++;
		sc->u_lo = 0x80;
		sc->u_hi = 0xBF;
		if (c >= 0xC2 && c <= 0xDF) {
			sc->u_need = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			sc->u_need = 2;
			if (c == 0xE0)
				sc->u_lo = 0xA0;       /* no overlong forms */
			else if (c == 0xED)
				sc->u_hi = 0x9F;       /* no surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			sc->u_need = 3;
			if (c == 0xF0)
				sc->u_lo = 0x90;
			else if (c == 0xF4)
				sc->u_hi = 0x8F;       /* <= U+10FFFF */
		} else {
			issue(sc, CSV_I_INVALID_UTF8, 1, 0, off + i);
		}
		sc->u_start = off + i;
		i++;
	}
}

/* Make room at the end of the buffer, keeping the row in progress and the
 * bytes not parsed yet. */
static void compact(struct scanner *sc)
{
	size_t keep = sc->in_row ? sc->row_start : sc->r;
	size_t dst = 0, tail, shift;

	if (keep == 0 && sc->cap - sc->end >= sc->block)
		return;
	sc->mblk = NO_BLOCK;
	if (sc->end - keep + sc->block <= sc->cap) {
		shift = keep;
		memmove(sc->buf, sc->buf + shift, sc->end - shift);
		sc->end -= shift;
		sc->r -= shift;
		sc->base += shift;
		if (sc->in_row) {
			sc->row_start -= shift;
			for (uint32_t i = 0; i < sc->nf; i++)
				sc->f[i].p -= shift;
			sc->f_off -= shift;
			sc->w -= shift;
			sc->qpos -= shift;
		}
		return;
	}
	/* A row larger than the buffer: keep only its content bytes. */
	for (uint32_t i = 0; i < sc->nf; i++) {
		memmove(sc->buf + dst, sc->f[i].p, sc->f[i].len);
		sc->f[i].p = sc->buf + dst;
		dst += sc->f[i].len;
	}
	tail = sc->r;
	if (sc->fs != F_START) {
		size_t cend = sc->mode != M_CONTIG ? sc->w
		            : sc->fs == F_QQ ? sc->qpos : sc->r;
		size_t len = cend - sc->f_off, room = field_room(sc);
		if (sc->fs == F_QQ)
			tail = sc->qpos;
		if (len > room) {
			len = room;
			sc->f_trunc = true;
			sc->mode = M_DROP;
		}
		memmove(sc->buf + dst, sc->buf + sc->f_off, len);
		sc->f_off = dst;
		dst += len;
		sc->w = dst;
	}
	shift = sc->r - tail;      /* bytes of the tail before r */
	memmove(sc->buf + dst, sc->buf + tail, sc->end - tail);
	sc->base += tail - dst;
	sc->end = dst + (sc->end - tail);
	if (sc->fs == F_QQ)
		sc->qpos = dst;
	sc->r = dst + shift;
	sc->row_start = 0;
	sc->plain = false;
}

int csv_refill(struct scanner *sc)
{
	size_t want;
	ssize_t n;

	compact(sc);
	want = sc->cap - sc->end;
	if (want > sc->block)
		want = sc->block;
	n = sc->rd(sc->src, sc->buf + sc->end, want);
	if (n < 0)
		return (int)n;
	if (n == 0) {
		sc->eof = true;
		return 0;
	}
	check_bytes(sc, (const unsigned char *)sc->buf + sc->end, (size_t)n,
	            sc->base + sc->end);
	sc->last = sc->buf[sc->end + (size_t)n - 1];
	sc->end += (size_t)n;
	sc->st->bytes += (uint64_t)n;
	sc->mblk = NO_BLOCK;
	return 0;
}

static ssize_t read_fd(void *src, char *buf, size_t n)
{
	int fd = *(const int *)src;
	for (;;) {
		ssize_t got = read(fd, buf, n);
		if (got >= 0)
			return got;
		if (errno != EINTR)
			return -errno;
	}
}

int csv_scan_fd(int fd, const struct csv_opts *opts, csv_row_fn fn, void *ud,
                struct csv_stats *stats)
{
	return csv_scan(read_fd, &fd, opts, fn, ud, stats);
}

struct mem_src {
	const char *p;
	size_t left;
};

static ssize_t read_mem(void *src, char *buf, size_t n)
{
	struct mem_src *m = src;
	if (n > m->left)
		n = m->left;
	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

int csv_scan_mem(const void *data, size_t len, const struct csv_opts *opts,
                 csv_row_fn fn, void *ud, struct csv_stats *stats)
{
	struct mem_src m = { data, len };
	return csv_scan(read_mem, &m, opts, fn, ud, stats);
}

