/*
 * csv_int.h - private to the CSV scanner (csv.h): the scanner's state,
 * shared by its files.  Nothing outside daemon/quality/csv*.c includes it.
 *
 *   csv.c        fields and rows: the resumable parser, csv_scan
 *   csv_masks.c  the structural bit masks of a 64-byte block (SIMD)
 *   csv_input.c  reading: refill, compaction, UTF-8 and NUL checks, the
 *                fd and memory sources
 *   csv_stats.c  csv_stats_merge and the names of encodings and issues
 *
 * A scanner belongs to one csv_scan call on one thread; nothing here
 * allocates, blocks or logs, except csv_refill, which calls the caller's
 * read function (which may block).
 */
#ifndef DENVERD_CSV_INT_H
#define DENVERD_CSV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quality/csv.h"

enum { F_START, F_UNQ, F_Q, F_QQ };          /* where in a field */
enum { M_CONTIG, M_COPY, M_DROP };           /* how its content is held */

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

/* Note N deviations of kind K at LINE/OFF (line 0: not known yet, filled
 * in by the parser once the row is done); keeps the first CSV_LOCS. */
static inline void issue(struct scanner *sc, enum csv_issue k, uint64_t n,
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

/* Bytes the current field may still keep. */
static inline size_t field_room(const struct scanner *sc)
{
	size_t row_left = sc->max_row - sc->row_kept;
	return sc->max_field < row_left ? sc->max_field : row_left;
}

/* The mask function for this CPU (csv_simd_level): fills sc->m_* for the
 * block at BLK (64-byte aligned, BLK < sc->end). */
void (*csv_pick_masks(void))(struct scanner *sc, size_t blk);

/* Read more input after making room (compaction keeps the row in
 * progress); checks the new bytes' encoding.  Returns 0 (sc->eof set at
 * the end of the input) or -errno from the read function. */
int csv_refill(struct scanner *sc);

#endif
