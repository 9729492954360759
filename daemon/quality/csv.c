/*
 * csv.c - the streaming CSV scanner (see csv.h for the grammar it accepts).
 *
 * Speed: the buffer is cut into 64-byte blocks; for each block three bit
 * masks are computed with SIMD compares (structural bytes , \n \r " ; quotes;
 * LFs) and the parser jumps from one structural byte to the next with a
 * count-trailing-zeros, so the bytes of ordinary values are never looked at
 * one by one.  Values are delivered as pointers into the buffer; only a
 * field with "" escapes or a forgiven inner quote is rewritten, in place.
 *
 * The parser is a resumable state machine: when the buffer runs out in the
 * middle of a row it returns, the row's bytes are moved to the front of the
 * buffer (or, for a row too large for it, squeezed down to the bytes kept),
 * more input is read and the parse resumes where it stopped, so no byte is
 * parsed twice and the memory used does not depend on the input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "base/strtable.h"
#include "quality/csv.h"

enum { F_START, F_UNQ, F_Q, F_QQ };          /* where in a field */
enum { M_CONTIG, M_COPY, M_DROP };           /* how its content is held */
enum { LA_STAY, LA_UNQUOTE, LA_MORE };       /* inner quote look-ahead */

#define NO_BLOCK SIZE_MAX

struct scanner {
	csv_read_fn rd;
	void *src;
	bool eof;
	bool header;
	char *buf;              /* 64-byte aligned; cap + 64 bytes readable */
	size_t cap, end;        /* capacity, bytes held */
	size_t r;               /* next byte to parse */
	uint64_t base;          /* file offset of buf[i] for every i >= r */
	size_t block;
	uint32_t max_field, max_row, max_fields;
	void (*masks)(struct scanner *, size_t);

	/* masks of the block at mblk (bytes at or past `end` are clear) */
	size_t mblk;
	uint64_t m_unq, m_q, m_lf;

	/* the row being parsed */
	bool in_row;
	bool plain;
	size_t row_start;
	uint64_t row_line, row_off;
	struct csv_field *f;
	uint32_t nf;            /* fields kept */
	uint32_t nf_total;      /* fields seen */
	uint32_t row_kept;      /* content bytes of the kept fields */

	/* the field being parsed: content is [f_off, r) when M_CONTIG (up to
	 * qpos in F_QQ), [f_off, w) otherwise */
	int fs, mode;
	size_t f_off, w, qpos;
	bool f_quoted, f_trunc;
	uint32_t f_inner;       /* inner quotes kept as text */

	uint64_t line;          /* physical line of position r */
	uint64_t index;         /* rows delivered */
	int first_eol;
	bool pending_cr;        /* a row ended with CR at r-1: LF may follow */
	uint64_t cr_line, cr_off;

	/* UTF-8 validation, done as bytes are read */
	uint8_t u_need, u_lo, u_hi;
	uint64_t u_start;
	bool unlined;           /* some location still has line 0 */
	char last;              /* the last byte read */

	struct csv_stats *st;
	csv_row_fn fn;
	void *ud;
};

static void issue(struct scanner *sc, enum csv_issue k, uint64_t n,
                  uint64_t line, uint64_t off)
{
	struct csv_issue_stat *s = &sc->st->issue[k];
	if (s->n_at < CSV_LOCS) {
		s->at[s->n_at].line = line;
		s->at[s->n_at].offset = off;
		s->n_at++;
		if (!line)
			sc->unlined = true;
	}
	s->count += n;
}

static void row_issue(struct scanner *sc, enum csv_issue k)
{
	issue(sc, k, 1, sc->row_line, sc->row_off);
}

/* Several deviations of one kind in one row keep one location. */
static void row_issue_n(struct scanner *sc, enum csv_issue k, uint64_t n)
{
	struct csv_issue_stat *s = &sc->st->issue[k];
	if (s->n_at && s->at[s->n_at - 1].offset == sc->row_off &&
	    s->at[s->n_at - 1].line == sc->row_line)
		s->count += n;
	else
		issue(sc, k, n, sc->row_line, sc->row_off);
}

/* Encoding deviations are found when bytes are read, before the parser
 * knows their line; give them the line of the row that holds them once
 * that row is done (every location before NEXT, a file offset). */
static void fill_lines(struct scanner *sc, uint64_t next, uint64_t line)
{
	static const enum csv_issue enc[] = {
		CSV_I_INVALID_UTF8, CSV_I_TRUNCATED_UTF8, CSV_I_NUL,
	};
	bool left = false;
	for (size_t k = 0; k < sizeof enc / sizeof enc[0]; k++) {
		struct csv_issue_stat *s = &sc->st->issue[enc[k]];
		for (unsigned i = 0; i < s->n_at; i++) {
			if (s->at[i].line)
				continue;
			if (s->at[i].offset < next)
				s->at[i].line = line;
			else
				left = true;
		}
	}
	sc->unlined = left;
}

/* ---- structural masks ---- */

static uint64_t valid_bits(const struct scanner *sc, size_t blk)
{
	size_t n = sc->end - blk;
	return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

static void set_masks(struct scanner *sc, size_t blk, uint64_t unq, uint64_t q, uint64_t lf)
{
	uint64_t v = valid_bits(sc, blk);
	sc->m_unq = unq & v;
	sc->m_q = q & v;
	sc->m_lf = lf & v;
	sc->mblk = blk;
}

static void masks_scalar(struct scanner *sc, size_t blk)
{
	const unsigned char *p = (const unsigned char *)sc->buf + blk;
	uint64_t unq = 0, q = 0, lf = 0;
	for (unsigned i = 0; i < 64; i++) {
		uint64_t bit = 1ULL << i;
		switch (p[i]) {
		case '"':  q |= bit; unq |= bit; break;
		case '\n': lf |= bit; unq |= bit; break;
		case ',': case '\r': unq |= bit; break;
		}
	}
	set_masks(sc, blk, unq, q, lf);
}

#ifdef __SSE2__
static void masks_sse2(struct scanner *sc, size_t blk)
{
	const char *p = sc->buf + blk;
	const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"');
	const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
	uint64_t unq = 0, q = 0, lf = 0;
	for (unsigned i = 0; i < 4; i++) {
		__m128i v = _mm_load_si128((const __m128i *)(const void *)(p + 16 * i));
		__m128i eq = _mm_cmpeq_epi8(v, quote), el = _mm_cmpeq_epi8(v, nl);
		__m128i any = _mm_or_si128(_mm_or_si128(eq, el),
		              _mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, cr)));
		q |= (uint64_t)(uint16_t)_mm_movemask_epi8(eq) << (16 * i);
		lf |= (uint64_t)(uint16_t)_mm_movemask_epi8(el) << (16 * i);
		unq |= (uint64_t)(uint16_t)_mm_movemask_epi8(any) << (16 * i);
	}
	set_masks(sc, blk, unq, q, lf);
}
#endif

#ifdef __x86_64__
__attribute__((target("avx2")))
static void masks_avx2(struct scanner *sc, size_t blk)
{
	const char *p = sc->buf + blk;
	const __m256i comma = _mm256_set1_epi8(','), quote = _mm256_set1_epi8('"');
	const __m256i nl = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
	uint64_t unq = 0, q = 0, lf = 0;
	for (unsigned i = 0; i < 2; i++) {
		__m256i v = _mm256_load_si256((const __m256i *)(const void *)(p + 32 * i));
		__m256i eq = _mm256_cmpeq_epi8(v, quote), el = _mm256_cmpeq_epi8(v, nl);
		__m256i any = _mm256_or_si256(_mm256_or_si256(eq, el),
		              _mm256_or_si256(_mm256_cmpeq_epi8(v, comma),
		                              _mm256_cmpeq_epi8(v, cr)));
		q |= (uint64_t)(uint32_t)_mm256_movemask_epi8(eq) << (32 * i);
		lf |= (uint64_t)(uint32_t)_mm256_movemask_epi8(el) << (32 * i);
		unq |= (uint64_t)(uint32_t)_mm256_movemask_epi8(any) << (32 * i);
	}
	set_masks(sc, blk, unq, q, lf);
}
#endif

enum csv_simd csv_simd_level(void)
{
	const char *force = getenv("DENVERD_CSV_SIMD");   /* tests: scalar, sse2 */
	if (force && strcmp(force, "scalar") == 0)
		return CSV_SIMD_SCALAR;
#ifdef __x86_64__
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && !(force && strcmp(force, "sse2") == 0))
		return CSV_SIMD_AVX2;
#endif
#ifdef __SSE2__
	return CSV_SIMD_SSE2;
#else
	return CSV_SIMD_SCALAR;
#endif
}

static void (*pick_masks(void))(struct scanner *, size_t)
{
	switch (csv_simd_level()) {
#ifdef __x86_64__
	case CSV_SIMD_AVX2: return masks_avx2;
#endif
#ifdef __SSE2__
	case CSV_SIMD_SSE2: return masks_sse2;
#endif
	default: return masks_scalar;
	}
}

/* Position of the next , \n \r or " at or after POS, or `end`. */
static inline size_t next_unq(struct scanner *sc, size_t pos)
{
	while (pos < sc->end) {
		size_t blk = pos & ~(size_t)63;
		if (blk != sc->mblk)
			sc->masks(sc, blk);
		uint64_t m = sc->m_unq & (~0ULL << (pos & 63));
		if (m)
			return blk + (size_t)__builtin_ctzll(m);
		pos = blk + 64;
	}
	return sc->end;
}

/* Position of the next quote at or after POS, or `end`; adds the LFs
 * passed over to *LFS. */
static inline size_t next_quote(struct scanner *sc, size_t pos, uint64_t *lfs)
{
	while (pos < sc->end) {
		size_t blk = pos & ~(size_t)63;
		if (blk != sc->mblk)
			sc->masks(sc, blk);
		uint64_t from = ~0ULL << (pos & 63);
		uint64_t m = sc->m_q & from;
		if (m) {
			uint64_t lf = sc->m_lf & from & ((m & -m) - 1);
			if (lf)
				*lfs += (uint64_t)__builtin_popcountll(lf);
			return blk + (size_t)__builtin_ctzll(m);
		}
		if (sc->m_lf & from)
			*lfs += (uint64_t)__builtin_popcountll(sc->m_lf & from);
		pos = blk + 64;
	}
	return sc->end;
}

/* ---- fields and rows ---- */

/* Bytes the current field may still keep. */
static size_t field_room(const struct scanner *sc)
{
	size_t row_left = sc->max_row - sc->row_kept;
	return sc->max_field < row_left ? sc->max_field : row_left;
}

/* Append BUF[from, from+n) to a copied field, within its room. */
static void append(struct scanner *sc, size_t from, size_t n)
{
	if (sc->mode != M_COPY || !n)
		return;
	size_t room = field_room(sc) - (sc->w - sc->f_off);
	if (n > room) {
		n = room;
		sc->f_trunc = true;
		sc->mode = M_DROP;
	}
	memmove(sc->buf + sc->w, sc->buf + from, n);
	sc->w += n;
}

/* The field's content stops being contiguous with the input: it is
 * [f_off, upto) and later bytes are appended. */
static void to_copy(struct scanner *sc, size_t upto)
{
	size_t len = upto - sc->f_off, room = field_room(sc);
	sc->mode = M_COPY;
	if (len > room) {
		len = room;
		sc->f_trunc = true;
		sc->mode = M_DROP;
	}
	sc->w = sc->f_off + len;
}

static void start_row(struct scanner *sc)
{
	sc->in_row = true;
	sc->plain = true;
	sc->row_start = sc->r;
	sc->row_line = sc->line;
	sc->row_off = sc->base + sc->r;
	sc->nf = sc->nf_total = 0;
	sc->row_kept = 0;
}

static void end_field(struct scanner *sc, size_t len)
{
	size_t room = field_room(sc);
	const char *p = sc->buf + sc->f_off;
	uint32_t flags = 0;

	if (len > room) {
		len = room;
		sc->f_trunc = true;
	}
	if (sc->f_trunc) {
		row_issue_n(sc, CSV_I_FIELD_TRUNCATED, 1);
		flags |= CSV_F_TRUNCATED;
		sc->plain = false;
	}
	if (sc->f_quoted) {
		flags |= CSV_F_QUOTED;
		sc->plain = false;
	}
	if (len && (p[0] == ' ' || p[0] == '\t' || p[len - 1] == ' ' || p[len - 1] == '\t'))
		row_issue_n(sc, CSV_I_PADDED, 1);
	if (sc->nf < sc->max_fields) {
		sc->f[sc->nf].p = p;
		sc->f[sc->nf].len = (uint32_t)len;
		sc->f[sc->nf].flags = flags;
		sc->nf++;
		sc->row_kept += (uint32_t)len;
	} else {
		if (sc->nf_total == sc->max_fields)
			row_issue(sc, CSV_I_TOO_MANY_FIELDS);
		sc->plain = false;
	}
	sc->nf_total++;
	sc->fs = F_START;
	sc->mode = M_CONTIG;
	sc->f_quoted = sc->f_trunc = false;
	sc->f_inner = 0;
}

static void eol_seen(struct scanner *sc, int kind, uint64_t line, uint64_t off)
{
	switch (kind) {
	case CSV_EOL_LF:   sc->st->eol_lf++; break;
	case CSV_EOL_CRLF: sc->st->eol_crlf++; break;
	default:       sc->st->eol_cr++; break;
	}
	if (!sc->first_eol)
		sc->first_eol = kind;
	else if (kind != sc->first_eol)
		issue(sc, CSV_I_MIXED_EOL, 1, line, off);
}

/* The row ends; its terminator (or the end of input) is at TERM. */
static int end_row(struct scanner *sc, size_t term)
{
	struct csv_stats *st = sc->st;
	struct csv_row row;

	sc->in_row = false;
	if (sc->unlined)
		fill_lines(sc, sc->base + sc->r, sc->row_line);
	if (sc->nf_total == 1 && sc->f[0].len == 0 && !sc->f[0].flags) {
		row_issue(sc, CSV_I_BLANK_LINE);
		return 0;
	}
	if (sc->index == 0)
		st->header_fields = sc->nf_total;
	else if (sc->header && sc->nf_total != st->header_fields)
		row_issue(sc, sc->nf_total < st->header_fields ? CSV_I_SHORT_ROW
		                                               : CSV_I_LONG_ROW);
	if (sc->nf_total > st->max_fields)
		st->max_fields = sc->nf_total;
	st->rows++;
	row.fields = sc->f;
	row.n_fields = sc->nf;
	row.index = sc->index++;
	row.line = sc->row_line;
	row.offset = sc->row_off;
	row.plain = sc->plain;
	row.raw = sc->plain ? sc->buf + sc->row_start : NULL;
	row.raw_len = sc->plain ? term - sc->row_start : 0;
	return sc->fn(sc->ud, &row);
}

/* The field ends at P, which holds a separator or is `end` (end of input);
 * LEN is its content length (before truncation). */
static int field_done(struct scanner *sc, size_t p, size_t len)
{
	char c;
	end_field(sc, len);
	if (p >= sc->end) {
		sc->r = sc->end;
		row_issue(sc, CSV_I_NO_FINAL_EOL);
		return end_row(sc, p);
	}
	c = sc->buf[p];
	sc->r = p + 1;
	if (c == ',')
		return 0;
	sc->line++;
	if (c == '\r') {
		sc->pending_cr = true;
		sc->cr_line = sc->row_line;
		sc->cr_off = sc->row_off;
	} else {
		eol_seen(sc, CSV_EOL_LF, sc->row_line, sc->row_off);
	}
	return end_row(sc, p);
}

/* The common case, kept tight: unquoted fields ended by a comma, held in
 * place.  Consumes every such complete field from START on and returns
 * where the next field starts; that field is left to the general path. */
static size_t fast_fields(struct scanner *sc, size_t start)
{
	const char *b = sc->buf;
	struct csv_field *f = sc->f;
	uint32_t nf = sc->nf, kept = sc->row_kept;
	const uint32_t max_fields = sc->max_fields;
	const size_t max_field = sc->max_field, max_row = sc->max_row, end = sc->end;
	size_t blk = start & ~(size_t)63;
	uint64_t padded = 0, m;

	if (start >= end)
		return start;
	if (blk != sc->mblk)
		sc->masks(sc, blk);
	m = sc->m_unq & (~0ULL << (start & 63));
	for (;;) {
		size_t p, from, len;
		uint32_t flags = 0;
		while (!m) {
			blk += 64;
			if (blk >= end)
				goto out;
			sc->masks(sc, blk);
			m = sc->m_unq;
		}
		p = blk + (size_t)__builtin_ctzll(m);
		m &= m - 1;
		from = start;
		if (p == start && b[p] == '"') {
			/* "quoted", with no "" nor line break inside, then a comma
			 * (the 2024 311 files quote every field) */
			uint64_t lfs = 0;
			size_t q = next_quote(sc, p + 1, &lfs);
			if (q + 1 >= end || lfs || b[q + 1] != ',')
				break;
			from = p + 1;
			p = q + 1;
			flags = CSV_F_QUOTED;
			sc->plain = false;
			blk = (p + 1) & ~(size_t)63;
			if (blk != sc->mblk)
				sc->masks(sc, blk);
			m = sc->m_unq & (~0ULL << ((p + 1) & 63));
			len = q - from;
		} else {
			len = p - from;
			if (b[p] != ',')
				break;
		}
		if (nf >= max_fields || len > max_field || kept + len > max_row)
			break;
		f[nf].p = b + from;
		f[nf].len = (uint32_t)len;
		f[nf].flags = flags;
		nf++;
		kept += (uint32_t)len;
		if (len)
			padded += (b[from] == ' ') | (b[from + len - 1] == ' ') |
			          (b[from] == '\t') | (b[from + len - 1] == '\t');
		start = p + 1;
	}
out:
	if (padded)
		row_issue_n(sc, CSV_I_PADDED, padded);
	sc->nf_total += nf - sc->nf;
	sc->nf = nf;
	sc->row_kept = kept;
	return start;
}

/* Byte at POS: 0..255, -1 when more input is needed, -2 at end of input. */
static int peek(const struct scanner *sc, size_t pos)
{
	if (pos < sc->end)
		return (unsigned char)sc->buf[pos];
	return sc->eof ? -2 : -1;
}

/* A quote inside a quoted field is followed by ordinary text.  Keep it as
 * text when a closing quote (one followed by , or a line end) comes later
 * on the same line, within CSV_LOOKAHEAD bytes; otherwise it ends the
 * quoted part. */
static int lookahead(const struct scanner *sc, size_t from)
{
	size_t stop = from + CSV_LOOKAHEAD;
	if (stop > sc->end)
		stop = sc->end;
	for (size_t i = from; i < stop; i++) {
		char c = sc->buf[i];
		if (c == '\n' || c == '\r')
			return LA_UNQUOTE;
		if (c == '"') {
			int n = peek(sc, i + 1);
			if (n == ',' || n == '\n' || n == '\r' || n == -2)
				return LA_STAY;
			if (n == -1)
				return LA_MORE;
		}
	}
	if (stop == from + CSV_LOOKAHEAD || sc->eof)
		return LA_UNQUOTE;
	return LA_MORE;
}

/* Parse as far as the buffer goes.  Returns 0 when more input is needed,
 * or the callback's non-zero value. */
static int parse(struct scanner *sc)
{
	char *b = sc->buf;
	uint64_t lfs;
	size_t p;
	int c, rc;

	for (;;) {
		switch (sc->fs) {
		case F_START:
			if (sc->pending_cr) {
				c = peek(sc, sc->r);
				if (c == -1)
					return 0;
				if (c == '\n')
					sc->r++;
				sc->pending_cr = false;
				eol_seen(sc, c == '\n' ? CSV_EOL_CRLF : CSV_EOL_CR, sc->cr_line, sc->cr_off);
			}
			if (sc->r >= sc->end)
				return 0;
			if (!sc->in_row)
				start_row(sc);
			/* also when the field is quoted: fast_fields takes
			 * "text", fields too (a 311 row is nothing else) */
			sc->r = fast_fields(sc, sc->r);
			if (sc->r >= sc->end)
				return 0;
			if (b[sc->r] == '"') {
				sc->f_quoted = true;
				sc->f_off = ++sc->r;
				sc->fs = F_Q;
				break;
			}
			sc->f_off = sc->r;
			sc->fs = F_UNQ;
			/* fall through */
		case F_UNQ:
			p = next_unq(sc, sc->r);
			if (p >= sc->end) {
				append(sc, sc->r, sc->end - sc->r);
				sc->r = sc->end;
				return 0;
			}
			if (b[p] == '"') {
				row_issue_n(sc, CSV_I_BARE_QUOTE, 1);
				sc->plain = false;
				append(sc, sc->r, p + 1 - sc->r);
				sc->r = p + 1;
				break;
			}
			if (sc->mode == M_CONTIG) {
				rc = field_done(sc, p, p - sc->f_off);
			} else {
				append(sc, sc->r, p - sc->r);
				rc = field_done(sc, p, sc->w - sc->f_off);
			}
			if (rc)
				return rc;
			break;
		case F_Q:
			lfs = 0;
			p = next_quote(sc, sc->r, &lfs);
			if (lfs) {
				row_issue_n(sc, CSV_I_NEWLINE_IN_QUOTES, lfs);
				sc->line += lfs;
			}
			append(sc, sc->r, p - sc->r);
			if (p >= sc->end) {
				sc->r = sc->end;
				return 0;
			}
			sc->qpos = p;
			sc->r = p + 1;
			sc->fs = F_QQ;
			/* fall through */
		case F_QQ:
			c = peek(sc, sc->r);
			if (c < 0)
				return 0;      /* more input, or finish() at the end */
			if (c == ',' || c == '\n' || c == '\r') {
				rc = field_done(sc, sc->r, sc->mode == M_CONTIG
				                ? sc->qpos - sc->f_off : sc->w - sc->f_off);
				if (rc)
					return rc;
				break;
			}
			if (c == '"') {
				if (sc->f_inner & 1) {
					/* "" closing an inner quote, then the field's own
					 * closing quote: "Wood burning on "Red Days"" */
					int n = peek(sc, sc->r + 1);
					if (n == -1)
						return 0;
					if (n == -2 || n == ',' || n == '\n' || n == '\r') {
						size_t len;
						if (sc->mode == M_CONTIG) {
							len = sc->qpos + 1 - sc->f_off;
						} else {
							append(sc, sc->qpos, 1);
							len = sc->w - sc->f_off;
						}
						rc = field_done(sc, sc->r + 1, len);
						if (rc)
							return rc;
						break;
					}
				}
				/* an escaped quote: keep one */
				if (sc->mode == M_CONTIG)
					to_copy(sc, sc->qpos + 1);
				else
					append(sc, sc->qpos, 1);
				sc->r++;
				sc->fs = F_Q;
				break;
			}
			switch (lookahead(sc, sc->r)) {
			case LA_MORE:
				return 0;
			case LA_STAY:
				sc->f_inner++;
				append(sc, sc->qpos, 1);
				sc->fs = F_Q;
				break;
			default:
				if (sc->mode == M_CONTIG)
					to_copy(sc, sc->qpos);
				sc->fs = F_UNQ;
				break;
			}
			row_issue_n(sc, CSV_I_INNER_QUOTE, 1);
			break;
		}
	}
}

/* End of input: close the row in progress. */
static int finish(struct scanner *sc)
{
	size_t len = 0;
	if (sc->pending_cr) {
		sc->pending_cr = false;
		eol_seen(sc, CSV_EOL_CR, sc->cr_line, sc->cr_off);
	}
	if (!sc->in_row)
		return 0;
	switch (sc->fs) {
	case F_START:
		sc->f_off = sc->end;    /* an empty last field: "a,b," */
		break;
	case F_Q:
		row_issue(sc, CSV_I_UNCLOSED_QUOTE);
		/* fall through */
	case F_UNQ:
		append(sc, sc->r, sc->end - sc->r);
		len = sc->mode == M_CONTIG ? sc->end - sc->f_off : sc->w - sc->f_off;
		break;
	case F_QQ:
		len = sc->mode == M_CONTIG ? sc->qpos - sc->f_off : sc->w - sc->f_off;
		break;
	}
	return field_done(sc, sc->end, len);
}

/* ---- input ---- */

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

/* Read more input.  Returns 0 (sc->eof set at the end) or -errno. */
static int refill(struct scanner *sc)
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

int csv_scan(csv_read_fn rd, void *src, const struct csv_opts *opts,
             csv_row_fn fn, void *ud, struct csv_stats *stats)
{
	static const struct csv_opts defaults;
	const struct csv_opts *o = opts ? opts : &defaults;
	struct scanner sc = { 0 };
	int rc;

	memset(stats, 0, sizeof *stats);
	sc.rd = rd;
	sc.src = src;
	sc.st = stats;
	sc.fn = fn;
	sc.ud = ud;
	sc.header = !o->no_header;
	sc.block = o->block ? o->block : CSV_BLOCK_DEFAULT;
	sc.max_field = o->max_field ? o->max_field : CSV_MAX_FIELD_DEFAULT;
	sc.max_row = o->max_row ? o->max_row : CSV_MAX_ROW_DEFAULT;
	if (sc.max_row < sc.max_field)
		sc.max_row = sc.max_field;
	sc.max_fields = o->max_fields ? o->max_fields : CSV_MAX_FIELDS_DEFAULT;
	sc.base = o->start_offset;
	sc.line = o->start_line ? o->start_line : 1;
	sc.index = o->start_index;
	sc.first_eol = o->first_eol;
	if (o->start_index)
		stats->header_fields = o->header_fields;
	sc.masks = pick_masks();
	sc.mblk = NO_BLOCK;
	/* A squeezed row keeps <= max_row content bytes and < LOOKAHEAD + 2
	 * unparsed ones, so one block always fits after it. */
	sc.cap = ((size_t)sc.max_row + sc.block + CSV_LOOKAHEAD + 128) & ~(size_t)63;
	sc.buf = o->scratch && sc.cap + 64 <= CSV_SCRATCH ? o->scratch
	                                                   : aligned_alloc(64, sc.cap + 64);
	sc.f = malloc(sizeof *sc.f * sc.max_fields);
	if (!sc.buf || !sc.f) {
		rc = -ENOMEM;
		goto out;
	}
	memset(sc.buf + sc.cap, 0, 64);

	if (o->start_offset == 0) {
		/* Look for the BOM once three bytes (or the end) are in. */
		while (sc.end < 3 && !sc.eof)
			if ((rc = refill(&sc)) < 0)
				goto out;
		if (sc.end >= 3 && memcmp(sc.buf, "\xEF\xBB\xBF", 3) == 0) {
			stats->bom = true;
			sc.r = 3;
		}
	}
	for (;;) {
		if ((rc = parse(&sc)) != 0)
			goto out;
		if (sc.eof)
			break;
		if ((rc = refill(&sc)) < 0)
			goto out;
	}
	if (sc.u_need)
		issue(&sc, CSV_I_TRUNCATED_UTF8, 1, 0, sc.u_start);
	rc = finish(&sc);
out:
	/* Lines: one per terminator, plus an unterminated last one. */
	stats->lines = sc.line - (o->start_line ? o->start_line : 1) +
	               (stats->bytes > (stats->bom ? 3u : 0u) && sc.last != '\n' &&
	                sc.last != '\r');
	stats->first_eol = sc.first_eol;
	stats->encoding = stats->bom ? CSV_ENC_UTF8_BOM
	                : stats->issue[CSV_I_INVALID_UTF8].count ? CSV_ENC_CP1252
	                : CSV_ENC_UTF8;
	if (sc.buf != o->scratch)
		free(sc.buf);
	free(sc.f);
	return rc;
}

void csv_stats_merge(struct csv_stats *into, const struct csv_stats *part)
{
	into->bytes += part->bytes;
	into->rows += part->rows;
	into->lines += part->lines;
	if (part->max_fields > into->max_fields)
		into->max_fields = part->max_fields;
	into->eol_crlf += part->eol_crlf;
	into->eol_lf += part->eol_lf;
	into->eol_cr += part->eol_cr;
	into->non_ascii += part->non_ascii;
	if (!into->first_eol)
		into->first_eol = part->first_eol;
	if (into->rows == part->rows)
		into->header_fields = part->header_fields;
	for (int k = 0; k < CSV_I_N; k++) {
		struct csv_issue_stat *d = &into->issue[k];
		const struct csv_issue_stat *s = &part->issue[k];
		for (unsigned i = 0; i < s->n_at && d->n_at < CSV_LOCS; i++)
			d->at[d->n_at++] = s->at[i];
		d->count += s->count;
	}
	into->encoding = into->bom ? CSV_ENC_UTF8_BOM
	               : into->issue[CSV_I_INVALID_UTF8].count ? CSV_ENC_CP1252
	               : CSV_ENC_UTF8;
}

/* ---- sources ---- */

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

/* ---- names ---- */

const char *csv_encoding_name(enum csv_encoding e)
{
	switch (e) {
	case CSV_ENC_UTF8_BOM: return "utf-8-sig";
	case CSV_ENC_CP1252:   return "windows-1252";
	default:               return "utf-8";
	}
}

const char *csv_line_ending(const struct csv_stats *st)
{
	return st->eol_crlf && st->eol_crlf >= st->eol_lf + st->eol_cr ? "crlf" : "lf";
}

static const char *const csv_issue_table[CSV_I_N] = {
	[CSV_I_INNER_QUOTE] = "inner_quote",
	[CSV_I_BARE_QUOTE] = "bare_quote",
	[CSV_I_UNCLOSED_QUOTE] = "unclosed_quote",
	[CSV_I_NEWLINE_IN_QUOTES] = "newline_in_quotes",
	[CSV_I_SHORT_ROW] = "short_row",
	[CSV_I_LONG_ROW] = "long_row",
	[CSV_I_BLANK_LINE] = "blank_line",
	[CSV_I_PADDED] = "padded_value",
	[CSV_I_FIELD_TRUNCATED] = "field_truncated",
	[CSV_I_TOO_MANY_FIELDS] = "too_many_fields",
	[CSV_I_MIXED_EOL] = "mixed_line_endings",
	[CSV_I_NO_FINAL_EOL] = "no_final_newline",
	[CSV_I_INVALID_UTF8] = "invalid_utf8",
	[CSV_I_TRUNCATED_UTF8] = "truncated_utf8",
	[CSV_I_NUL] = "nul_byte",
};
STRING_TABLE_STATIC(csv_issue, enum csv_issue)

const char *csv_issue_name(enum csv_issue i)
{
	const char *name = csv_issue_to_string(i);

	return name ? name : "unknown";
}
