/*
 * csv_split.c - where rows start in each chunk of a file, so that parts of
 * it can be scanned in parallel with the results of one scan (csv.h).
 *
 * csv.c's parser, reduced to what decides where fields and rows end, is a
 * machine of eight states before a byte:
 *
 *   RS    a row starts here (a terminator, or the file's start, before)
 *   RSCR  likewise after a CR terminator: an LF here completes a CRLF
 *   FS    a field starts here after a comma
 *   UNQ   inside an unquoted field (or the unquoted rest of one)
 *   Q0 Q1 inside a quoted field, with an even / odd number of inner quotes
 *         kept as text so far (csv.c's f_inner & 1)
 *   QQ0 QQ1  just after a quote inside a quoted field
 *
 * and its transitions on a byte depend only on the state, the byte and (in
 * QQ) the bytes that follow: csv.c's inner-quote look-ahead reads at most
 * CSV_LOOKAHEAD bytes ahead, whatever its buffer holds.  Every change to
 * csv.c's parse() that moves a field or row end must be made here too;
 * test_dq_parallel and fuzz_dq_parallel hold the two to each other.
 *
 * A chunk is run from all eight start states at once, one structural byte
 * (, LF CR ") at a time as csv.c does (64-byte SIMD masks); start states
 * that reach the same state at the same byte share the rest of the way
 * (a "follower" keeps only its count offsets), which in real files
 * happens within a row or two, so a chunk costs about one lane.
 *
 * csv_split_start walks only the first KiBs of a chunk: when all eight
 * lanes have met, a row start after that is one whatever came before;
 * otherwise (a file without quotes never lets the inside-quotes lanes
 * meet the others) the unquoted lane's first row start is a guess that
 * dq_par.c verifies.  The full maps (csv_split_chunk over whole chunks,
 * csv_split_compose) are only needed after a wrong guess.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __x86_64__
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "quality/csv.h"

enum { S_RS, S_RSCR, S_FS, S_UNQ, S_Q0, S_Q1, S_QQ0, S_QQ1 };

struct masks;

#define WINDOW (1u << 20)                     /* bytes mapped per read */
#define SLACK (CSV_LOOKAHEAD + 128)           /* read past the window */

struct lane {
	uint8_t st;
	int8_t lead;               /* the lane this one follows; -1: none */
	bool waiting;              /* a follower still without its bound */
	uint64_t lines, rows;      /* a leader's counts so far */
	int64_t dl, dr;            /* a follower's offsets from its leader */
	bool bound;
	uint64_t b_off, b_lines, b_rows;
};

struct walk {
	const unsigned char *b;    /* the window: file bytes [off, off + len) */
	uint64_t off, size;
	size_t len;
	struct lane l[CSV_SPLIT_STATES];
	int n_lead;                /* leaders left; merging stops at 1 */
	void (*masks)(const unsigned char *, struct masks *);
	bool fast;                 /* fast_block() allowed */
	bool popcnt;               /* the CPU has POPCNT */
	int n_wait;                /* followers waiting */
	uint8_t live;              /* bit I: lane I leads */
	uint8_t skip;              /* lanes done by fast_block in this block */
	bool common;               /* a row start after all lanes met: */
	uint64_t c_off;            /* the first one noted (csv_chunk_map) */
};

/* File byte AT (inside the window), or -2 past the end of the file. */
static int byte_at(const struct walk *w, uint64_t at)
{
	return at < w->size ? w->b[at - w->off] : -2;
}

/* csv.c's lookahead(): does the quote before AT stay text (a closing
 * quote follows on the same line within CSV_LOOKAHEAD bytes)? */
static bool stays(const struct walk *w, uint64_t at)
{
	uint64_t stop = at + CSV_LOOKAHEAD < w->size ? at + CSV_LOOKAHEAD : w->size;
	for (uint64_t i = at; i < stop; i++) {
		int c = w->b[i - w->off];
		if (c == '\n' || c == '\r')
			return false;
		if (c == '"') {
			int n = byte_at(w, i + 1);
			if (n == ',' || n == '\n' || n == '\r' || n == -2)
				return true;
		}
	}
	return false;
}

/* A row starts at AT in lane I (a leader): note it, for the lane and for
 * the followers still waiting for theirs. */
static void bound(struct walk *w, int i, uint64_t at)
{
	struct lane *L = &w->l[i];
	if (w->n_lead == 1 && !w->common) {
		w->common = true;
		w->c_off = at;
	}
	if (!L->bound) {
		L->bound = true;
		L->b_off = at;
		L->b_lines = L->lines;
		L->b_rows = L->rows;
	}
	for (int j = 0; j < CSV_SPLIT_STATES; j++) {
		struct lane *F = &w->l[j];
		if (F->lead == i && F->waiting) {
			F->waiting = false;
			w->n_wait--;
			F->bound = true;
			F->b_off = at;
			F->b_lines = (uint64_t)((int64_t)L->lines + F->dl);
			F->b_rows = (uint64_t)((int64_t)L->rows + F->dr);
		}
	}
}

/* Lanes that reached the same state follow the first of them. */
static void merge(struct walk *w)
{
	for (int i = 0; i < CSV_SPLIT_STATES; i++) {
		if (w->l[i].lead >= 0)
			continue;
		for (int j = i + 1; j < CSV_SPLIT_STATES; j++) {
			struct lane *F = &w->l[j];
			if (F->lead >= 0 || F->st != w->l[i].st)
				continue;
			F->lead = (int8_t)i;
			w->live &= (uint8_t)~(1u << j);
			F->waiting = !F->bound;
			w->n_wait += F->waiting;
			F->dl = (int64_t)F->lines - (int64_t)w->l[i].lines;
			F->dr = (int64_t)F->rows - (int64_t)w->l[i].rows;
			/* its own followers move over with their offsets */
			for (int k = 0; k < CSV_SPLIT_STATES; k++)
				if (w->l[k].lead == j) {
					w->l[k].lead = (int8_t)i;
					w->l[k].dl += F->dl;
					w->l[k].dr += F->dr;
				}
			w->n_lead--;
		}
	}
}

/* The first byte of a run of ordinary bytes (not , LF CR ") at AT. */
static void other(struct walk *w, uint64_t at)
{
	int la = -1;
	for (int i = 0; i < CSV_SPLIT_STATES; i++) {
		struct lane *L = &w->l[i];
		if (L->lead >= 0 || (w->skip >> i & 1))
			continue;
		switch (L->st) {
		case S_RS:
		case S_RSCR:
			bound(w, i, at);
			/* fall through */
		case S_FS:
			L->st = S_UNQ;
			break;
		case S_QQ0:
		case S_QQ1:
			if (la < 0)
				la = stays(w, at);
			L->st = la ? (L->st == S_QQ0 ? S_Q1 : S_Q0) : S_UNQ;
			break;
		default:
			break;
		}
	}
}

static void row_end(struct lane *L, bool blank, bool cr)
{
	L->lines++;
	L->rows += !blank;
	L->st = cr ? S_RSCR : S_RS;
}

/* The structural byte C at AT. */
static void structural(struct walk *w, uint64_t at, int c)
{
	for (int i = 0; i < CSV_SPLIT_STATES; i++) {
		struct lane *L = &w->l[i];
		int n;
		if (L->lead >= 0 || (w->skip >> i & 1))
			continue;
		switch (L->st) {
		case S_RSCR:
			if (c == '\n') {
				L->st = S_RS;     /* the LF of a CRLF */
				break;
			}
			/* fall through */
		case S_RS:
			bound(w, i, at);
			/* fall through */
		case S_FS:
			if (c == '"')
				L->st = S_Q0;
			else if (c == ',')
				L->st = S_FS;
			else
				row_end(L, L->st != S_FS, c == '\r');
			break;
		case S_UNQ:
			if (c == ',')
				L->st = S_FS;
			else if (c != '"')
				row_end(L, false, c == '\r');
			break;
		case S_Q0:
		case S_Q1:
			if (c == '"')
				L->st = L->st == S_Q0 ? S_QQ0 : S_QQ1;
			else if (c == '\n')
				L->lines++;
			break;
		case S_QQ0:
		case S_QQ1:
			if (c == ',') {
				L->st = S_FS;
			} else if (c != '"') {
				row_end(L, false, c == '\r');
			} else if (L->st == S_QQ1 &&
			           ((n = byte_at(w, at + 1)) == ',' || n == '\n' || n == '\r' || n == -2)) {
				L->st = S_UNQ;    /* "" closing an inner quote: a separator follows */
			} else {
				L->st = L->st == S_QQ0 ? S_Q0 : S_Q1;   /* an escaped quote */
			}
			break;
		}
	}
	if (w->n_lead > 1 && !w->skip)
		merge(w);
}

/* ---- the bytes of a block ---- */

struct masks {
	uint64_t q, lf, cr, comma;   /* bit I: byte I of the block is " LF CR , */
};

static void masks_scalar(const unsigned char *p, struct masks *m)
{
	memset(m, 0, sizeof *m);
	for (unsigned i = 0; i < 64; i++) {
		uint64_t bit = 1ULL << i;
		m->q |= p[i] == '"' ? bit : 0;
		m->lf |= p[i] == '\n' ? bit : 0;
		m->cr |= p[i] == '\r' ? bit : 0;
		m->comma |= p[i] == ',' ? bit : 0;
	}
}

#ifdef __SSE2__
static void masks_sse2(const unsigned char *p, struct masks *m)
{
	const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"');
	const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
	memset(m, 0, sizeof *m);
	for (unsigned i = 0; i < 4; i++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
		m->q |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) << (16 * i);
		m->lf |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)) << (16 * i);
		m->cr |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr)) << (16 * i);
		m->comma |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma)) << (16 * i);
	}
}
#endif

#ifdef __x86_64__
__attribute__((target("avx2")))
static void masks_avx2(const unsigned char *p, struct masks *m)
{
	const __m256i comma = _mm256_set1_epi8(','), quote = _mm256_set1_epi8('"');
	const __m256i nl = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
	memset(m, 0, sizeof *m);
	for (unsigned i = 0; i < 2; i++) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * i));
		m->q |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, quote)) << (32 * i);
		m->lf |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, nl)) << (32 * i);
		m->cr |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, cr)) << (32 * i);
		m->comma |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, comma))
		            << (32 * i);
	}
}
#endif

typedef void masks_fn(const unsigned char *, struct masks *);

/* The scanner's choice (csv_masks.c, csv_simd_level); DENVERD_CSV_SIMD=
 * scalar (tests) also turns the single-lane fast path off, so that the two
 * can be compared. */
static masks_fn *pick_masks(bool *fast, bool *popcnt)
{
	enum csv_simd level = csv_simd_level();

	*fast = level != CSV_SIMD_SCALAR;
	*popcnt = false;
#ifdef __x86_64__
	if (*fast)
		*popcnt = __builtin_cpu_supports("popcnt");
#endif
	switch (level) {
#ifdef __x86_64__
	case CSV_SIMD_AVX2: return masks_avx2;
#endif
#ifdef __SSE2__
	case CSV_SIMD_SSE2: return masks_sse2;
#endif
	default: return masks_scalar;
	}
}

/* ---- a lane, a block at a time ----
 *
 * fast_block() does a whole 64-byte block for one leader lane with bit
 * operations instead of a switch per structural byte, for the blocks of
 * well-formed CSV, in which the machine is in effect the textbook one:
 *
 *  - the states met are RS RSCR FS UNQ Q0 QQ0 only: Q1 and QQ1 (an inner
 *    quote kept as text) are reached only through a quote followed by an
 *    ordinary byte, which fast_block refuses (Q0 and Q1 also pass a block
 *    without quotes, counting its LFs: nothing else happens there);
 *  - then every quote toggles "inside quotes" except a quote in an
 *    unquoted field (text, no toggle), so the block's quotes are taken as
 *    toggles (a prefix XOR) and the block is refused unless every opening
 *    quote comes after a separator (, LF CR), after a closing quote (""
 *    inside a quoted field: QQ0 + " is Q0) or at the block's start in RS
 *    RSCR FS or QQ0, and every closing quote comes before a separator or a
 *    quote (QQ0 + , LF CR is FS or a row end) or is the block's last byte
 *    (the block ends in QQ0, and the next block's first byte is checked:
 *    a separator or a quote, or that block is refused);
 *  - outside quotes, CR and LF end rows except the LF of a CRLF; a row end
 *    right after a CR or LF (a blank line) counts a line but no row;
 *    inside quotes every LF counts a line;
 *  - a row starts (bound()) at a byte whose state before is RS, or RSCR
 *    and the byte is not an LF: the block's first byte in those states,
 *    or the byte after an outside CR or LF but not the LF of a CRLF.  Only
 *    the first matters (a lane's bound is its first, and waiting followers
 *    wait for the next one), so bound() is called there with the counts
 *    before it.
 *
 * A refused block is done for that lane by the general walk (all of
 * csv.c's rules), from the same state: refusing costs time, never a
 * different map.  Lanes that meet are merged at the end of the block.
 * DENVERD_CSV_SIMD=scalar turns this off (test_csv compares the maps). */

static uint64_t prefix_xor(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

/* Set bits of X; POPCNT: the CPU has the instruction (x86-64 before
 * -v2 may not, and the build targets the baseline). */
static inline uint64_t pop(bool popcnt, uint64_t x)
{
#ifdef __x86_64__
	if (popcnt) {
		uint64_t r;
		__asm__("popcnt %1, %0" : "=r"(r) : "r"(x) : "cc");
		return r;
	}
#else
	(void)popcnt;
#endif
	return (uint64_t)__builtin_popcountll(x);
}

/* Block BLK for leader lane I; false (and nothing changed): refused. */
static bool fast_block(struct walk *w, int i, const struct masks *m, uint64_t blk)
{
	struct lane *L = &w->l[i];
	uint64_t sep = m->comma | m->lf | m->cr;
	uint64_t in0, start_ok, rs0 = 0, rscr0 = 0;

	if ((L->st == S_Q0 || L->st == S_Q1) && !m->q) {
		L->lines += pop(w->popcnt, m->lf);
		return true;
	}
	switch (L->st) {
	case S_Q0:
		in0 = ~0ULL, start_ok = 0;
		break;
	case S_QQ0:
		if (!((sep | m->q) & 1))
			return false;         /* "x: the look-ahead decides */
		in0 = 0, start_ok = 1;
		break;
	case S_RSCR:
		rscr0 = 1;
		/* fall through */
	case S_RS:
		rs0 = 1;
		/* fall through */
	case S_FS:
		in0 = 0, start_ok = 1;
		break;
	case S_UNQ:
		in0 = 0, start_ok = 0;
		break;
	default:
		return false;             /* Q1 QQ1 */
	}
	uint64_t in = prefix_xor(m->q) ^ in0;      /* inside quotes after byte I */
	uint64_t open = m->q & in, close = m->q & ~in;
	if (open & ~((sep << 1) | (close << 1) | start_ok))
		return false;
	if (close & ~((sep >> 1) | (m->q >> 1) | (1ULL << 63)))
		return false;
	uint64_t cr = m->cr & ~in, lf = m->lf & ~in;
	uint64_t ends = cr | (lf & ~((cr << 1) | rscr0));
	uint64_t lines = ends | (m->lf & in);               /* line breaks */
	uint64_t rows = ends & ~(((cr | lf) << 1) | rs0);   /* not blank */
	if (!L->bound || w->n_wait || (w->n_lead == 1 && !w->common)) {
		uint64_t starts = (((cr | lf) << 1) | rs0) & ~(((cr << 1) | rscr0) & m->lf);
		if (starts) {
			uint64_t before = (starts & -starts) - 1;
			uint64_t l0 = L->lines, r0 = L->rows;
			L->lines += pop(w->popcnt, lines & before);
			L->rows += pop(w->popcnt, rows & before);
			bound(w, i, blk + (uint64_t)__builtin_ctzll(starts));
			L->lines = l0;
			L->rows = r0;
		}
	}
	L->lines += pop(w->popcnt, lines);
	L->rows += pop(w->popcnt, rows);
	if (m->q >> 63)
		L->st = in >> 63 ? S_Q0 : S_QQ0;
	else if (in >> 63)
		L->st = S_Q0;
	else if (m->lf >> 63)
		L->st = S_RS;
	else if (m->cr >> 63)
		L->st = S_RSCR;
	else if (m->comma >> 63)
		L->st = S_FS;
	else
		L->st = S_UNQ;
	return true;
}

/* Do two leaders share a state (merge() has work)? */
static bool meet(const struct walk *w)
{
	unsigned seen = 0;
	for (unsigned b = w->live; b; b &= b - 1) {
		unsigned st = 1u << w->l[__builtin_ctz(b)].st;
		if (seen & st)
			return true;
		seen |= st;
	}
	return false;
}

/* Walk file bytes [from, to) of the window; *POS is the next byte not yet
 * seen (every byte before it was structural or in a run already begun). */
static void walk_range(struct walk *w, uint64_t from, uint64_t to, uint64_t *pos)
{
	for (uint64_t blk = from; blk < to; blk += 64) {
		struct masks ms;
		w->masks(w->b + (blk - w->off), &ms);
		if (w->fast && to - blk >= 64) {
			if (*pos < blk) {
				/* the run begun before the block, as the walk would
				 * at its next structural byte (other() is idempotent) */
				other(w, *pos);
				*pos = blk;
			}
			for (unsigned b = w->live; b; b &= b - 1) {
				int i = __builtin_ctz(b);
				if (fast_block(w, i, &ms, blk))
					w->skip |= (uint8_t)(1u << i);
			}
			if (w->skip == w->live) {
				w->skip = 0;
				*pos = blk + 64;
				if (w->n_lead > 1 && meet(w))
					merge(w);
				continue;
			}
		}
		uint64_t m = ms.q | ms.lf | ms.cr | ms.comma;
		if (to - blk < 64)
			m &= (1ULL << (to - blk)) - 1;
		while (m) {
			uint64_t at = blk + (uint64_t)__builtin_ctzll(m);
			m &= m - 1;
			if (at > *pos)
				other(w, *pos);
			structural(w, at, w->b[at - w->off]);
			*pos = at + 1;
		}
		if (w->skip) {
			/* the lanes done above are at the block's end too */
			if (*pos < blk + 64) {
				other(w, *pos);
				*pos = blk + 64;
			}
			w->skip = 0;
			if (w->n_lead > 1 && meet(w))
				merge(w);
		}
	}
	if (to > *pos) {
		other(w, *pos);
		*pos = to;
	}
}

static int read_at(int fd, unsigned char *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;              /* the file shrank under us */
		got += (size_t)r;
	}
	return 0;
}

_Static_assert(WINDOW + SLACK + 64 <= CSV_SCRATCH, "a scratch buffer holds a window");

int csv_split_chunk(int fd, uint64_t size, uint64_t begin, uint64_t end, void *scratch,
                    struct csv_chunk_map *out)
{
	struct walk w = { .size = size, .n_lead = CSV_SPLIT_STATES, .live = 0xff };
	unsigned char *buf = scratch ? scratch : malloc(WINDOW + SLACK + 64);
	uint64_t pos = begin;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (int i = 0; i < CSV_SPLIT_STATES; i++) {
		w.l[i].st = (uint8_t)i;
		w.l[i].lead = -1;
	}
	w.b = buf;
	w.masks = pick_masks(&w.fast, &w.popcnt);
	for (uint64_t off = begin; off < end; off += WINDOW) {
		uint64_t stop = end - off < WINDOW ? end : off + WINDOW;
		size_t len = (size_t)((size - off < WINDOW + SLACK) ? size - off : WINDOW + SLACK);
		if ((rc = read_at(fd, buf, len, off)) < 0)
			goto out;
		memset(buf + len, 0, WINDOW + SLACK + 64 - len);
		w.off = off;
		w.len = len;
		walk_range(&w, off, stop, &pos);
	}
	for (int i = 0; i < CSV_SPLIT_STATES; i++) {
		const struct lane *L = &w.l[i], *H = L->lead >= 0 ? &w.l[L->lead] : L;
		struct csv_lane *o = &out->lane[i];
		int64_t dl = L->lead >= 0 ? L->dl : 0, dr = L->lead >= 0 ? L->dr : 0;
		o->end = H->st;
		o->lines = (uint64_t)((int64_t)H->lines + dl);
		o->rows = (uint64_t)((int64_t)H->rows + dr);
		o->bound = L->bound;
		o->b_off = L->b_off;
		o->b_lines = L->b_lines;
		o->b_rows = L->b_rows;
	}
	out->common = w.common;
	out->c_off = w.c_off;
out:
	if (buf != scratch)
		free(buf);
	return rc;
}

void csv_split_compose(const struct csv_chunk_map *maps, const uint64_t *begin, size_t n,
                       uint64_t size, struct csv_cut *cut)
{
	uint64_t line = 1, rows = 0;
	int st = S_RS;

	(void)begin;
	for (size_t i = 0; i < n; i++) {
		const struct csv_lane *L = &maps[i].lane[st];
		cut[i].offset = L->bound ? L->b_off : UINT64_MAX;   /* none: as the next */
		cut[i].line = line + L->b_lines;
		cut[i].index = rows + L->b_rows;
		line += L->lines;
		rows += L->rows;
		st = L->end;
	}
	cut[n].offset = size;
	cut[n].line = line;
	cut[n].index = rows;
	for (size_t i = n; i-- > 1;)
		if (cut[i].offset == UINT64_MAX)
			cut[i] = cut[i + 1];
	cut[0].offset = 0;
	cut[0].line = 1;
	cut[0].index = 0;
}

#define GUESS_WINDOW (4u << 10)       /* bytes walked first for a start */

int csv_split_start(int fd, uint64_t size, uint64_t from, uint64_t begin, uint64_t end,
                    void *scratch, uint64_t *off, bool *sure)
{
	struct csv_chunk_map m;
	int st = S_UNQ, rc;

	*off = UINT64_MAX;
	*sure = from != UINT64_MAX;
	if (from != UINT64_MAX && from < begin) {
		if ((rc = csv_split_chunk(fd, size, from, begin, scratch, &m)) < 0)
			return rc;
		st = m.lane[S_RS].end;
	} else if (from != UINT64_MAX) {
		st = S_RS;
	}
	for (uint64_t win = GUESS_WINDOW; begin < end; win *= 16) {
		uint64_t stop = end - begin <= win ? end : begin + win;
		if ((rc = csv_split_chunk(fd, size, begin, stop, scratch, &m)) < 0)
			return rc;
		if (!*sure && m.common) {
			*off = m.c_off;
			*sure = true;
			return 0;
		}
		if (m.lane[st].bound) {
			*off = m.lane[st].b_off;
			return 0;
		}
		if (stop == end)
			break;
	}
	return 0;
}
