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
 *
 * This file is the parser; the masks, the reading and the statistics'
 * names are its siblings (csv_int.h lists them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "quality/csv_int.h"

enum { LA_STAY, LA_UNQUOTE, LA_MORE };       /* inner quote look-ahead */

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
	sc.masks = csv_pick_masks();
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
			if ((rc = csv_refill(&sc)) < 0)
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
		if ((rc = csv_refill(&sc)) < 0)
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
