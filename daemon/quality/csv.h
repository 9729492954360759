/*
 * csv.h - a streaming CSV scanner: one pass, bounded memory, lenient where
 * Denver's files are sloppy, and an account of every deviation it forgave.
 *
 * Grammar: RFC 4180 (comma separator, '"' quoting, "" escapes, line breaks
 * inside quoted fields) plus what the city publishes (data/FORMATS.md):
 *   - UTF-8, UTF-8 with a BOM (skipped) or Windows-1252 (detected: any byte
 *     sequence that is not UTF-8 makes the file windows-1252);
 *   - CRLF, LF, bare CR or a mix of them as row terminators;
 *   - unescaped inner quotes ("Wood burning on "Red Days"") kept as text;
 *     a quote inside a quoted field that is not followed by a separator,
 *     line end or second quote is literal when a closing quote follows
 *     later on the same line, and otherwise ends the quoted part (the rest
 *     of the field is read unquoted);
 *   - a quote inside an unquoted field is literal;
 *   - rows with fewer or more fields than the header;
 *   - blank lines, which are skipped.
 * Values are delivered as written (not trimmed); padding is only counted.
 *
 * Memory: one buffer of about block + max_row bytes (2 MiB + 4 KiB by
 * default) and max_fields field slots, whatever the file size.  A field
 * longer than max_field, or the part of a row past max_row content bytes,
 * is cut (counted as CSV_I_FIELD_TRUNCATED); fields past max_fields are
 * dropped (CSV_I_TOO_MANY_FIELDS).  Truncation depends only on the bytes,
 * never on where reads happen to end.
 *
 * Line numbers are physical: 1 for the first line, +1 per row terminator
 * and per LF inside a quoted field.  Every location (struct csv_loc) names
 * the line on which the row holding it starts, and a byte offset in the
 * file: of the byte itself for encoding deviations (INVALID_UTF8,
 * TRUNCATED_UTF8, NUL), of the row's first byte for the others.  (An
 * encoding deviation read ahead of a scan stopped by its callback keeps
 * line 0: unknown.)
 */
#ifndef DENVERD_CSV_H
#define DENVERD_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CSV_BLOCK_DEFAULT      (1u << 20)   /* bytes per read */
#define CSV_MAX_FIELD_DEFAULT  (64u << 10)  /* bytes kept of one field */
#define CSV_MAX_ROW_DEFAULT    (1u << 20)   /* content bytes kept of one row */
#define CSV_MAX_FIELDS_DEFAULT 2048u        /* fields kept of one row */
#define CSV_LOOKAHEAD          4096u        /* inner-quote look-ahead, bytes */
#define CSV_LOCS               5            /* locations kept per deviation */

/* The size of a buffer a caller may lend csv_scan() (csv_opts.scratch; with
 * the default block and max_row, or smaller ones) and csv_split_chunk():
 * a thread that runs many scans touches its pages once instead of having
 * each scan's own buffer faulted in afresh (a parallel check runs 32 parts
 * per thread). */
#define CSV_SCRATCH ((((size_t)CSV_MAX_ROW_DEFAULT + CSV_BLOCK_DEFAULT + CSV_LOOKAHEAD + \
                       128) & ~(size_t)63) + 64)

enum csv_issue {
	CSV_I_INNER_QUOTE,      /* quote inside a quoted field, kept as text */
	CSV_I_BARE_QUOTE,       /* quote inside an unquoted field, kept as text */
	CSV_I_UNCLOSED_QUOTE,   /* the file ends inside a quoted field */
	CSV_I_NEWLINE_IN_QUOTES,/* LF inside a quoted field (legal; counted) */
	CSV_I_SHORT_ROW,        /* fewer fields than the header (missing = empty) */
	CSV_I_LONG_ROW,         /* more fields than the header */
	CSV_I_BLANK_LINE,       /* an empty line, skipped (not a row) */
	CSV_I_PADDED,           /* a value with leading or trailing blanks */
	CSV_I_FIELD_TRUNCATED,  /* a field cut at max_field or max_row */
	CSV_I_TOO_MANY_FIELDS,  /* a row with more than max_fields fields */
	CSV_I_MIXED_EOL,        /* a row terminator unlike the file's first one */
	CSV_I_NO_FINAL_EOL,     /* the last row has no terminator */
	CSV_I_INVALID_UTF8,     /* a byte sequence that is not UTF-8 */
	CSV_I_TRUNCATED_UTF8,   /* a multi-byte character cut by the end of file */
	CSV_I_NUL,              /* a NUL byte (binary data) */
	CSV_I_N
};

enum csv_encoding { CSV_ENC_UTF8, CSV_ENC_UTF8_BOM, CSV_ENC_CP1252 };

/* Row terminators; the file's first one decides what MIXED_EOL counts. */
enum csv_eol { CSV_EOL_NONE, CSV_EOL_LF, CSV_EOL_CRLF, CSV_EOL_CR };

struct csv_loc {
	uint64_t line;          /* line on which the row starts */
	uint64_t offset;        /* byte offset in the file */
};

struct csv_issue_stat {
	uint64_t count;
	unsigned n_at;                  /* locations kept, <= CSV_LOCS */
	struct csv_loc at[CSV_LOCS];    /* the first ones, in file order */
};

/* What one scan saw.  Filled by csv_scan(); valid even when it fails. */
struct csv_stats {
	uint64_t bytes;         /* bytes read (BOM included) */
	uint64_t rows;          /* rows delivered, the header included */
	uint64_t lines;         /* physical lines */
	uint32_t header_fields; /* fields of the first row */
	uint32_t max_fields;    /* most fields seen in one row */
	uint64_t eol_crlf, eol_lf, eol_cr;   /* row terminators by kind */
	uint64_t non_ascii;     /* bytes >= 0x80 */
	bool bom;               /* the file starts with a UTF-8 BOM */
	enum csv_encoding encoding;
	enum csv_eol first_eol; /* the first row terminator seen, or NONE */
	struct csv_issue_stat issue[CSV_I_N];
};

#define CSV_F_QUOTED    1u  /* the field was (at least partly) quoted */
#define CSV_F_TRUNCATED 2u  /* content was cut (see above) */

/* One value.  P is not NUL-terminated and is valid only during the row
 * callback. */
struct csv_field {
	const char *p;
	uint32_t len;
	uint32_t flags;
};

struct csv_row {
	const struct csv_field *fields;
	uint32_t n_fields;      /* fields kept (<= max_fields) */
	uint64_t index;         /* 0 for the first row delivered */
	uint64_t line;          /* physical line where it starts */
	uint64_t offset;        /* file offset of its first byte */
	/* When PLAIN, RAW[0..RAW_LEN) is the row's bytes without terminator and
	 * equals the fields joined by ',': no quote anywhere, nothing cut. */
	bool plain;
	const char *raw;
	size_t raw_len;
};

/* Return 0 to go on; any other value stops the scan and is returned by
 * csv_scan() (use > 0 to stop early on purpose, a negative errno on error). */
typedef int (*csv_row_fn)(void *ud, const struct csv_row *row);

/* Read up to N bytes into BUF: bytes read, 0 at end of input, -errno. */
typedef ssize_t (*csv_read_fn)(void *src, char *buf, size_t n);

struct csv_opts {
	size_t block;           /* read size; 0 = CSV_BLOCK_DEFAULT (>= 1) */
	uint32_t max_field;     /* 0 = CSV_MAX_FIELD_DEFAULT */
	uint32_t max_row;       /* 0 = CSV_MAX_ROW_DEFAULT (>= max_field) */
	uint32_t max_fields;    /* 0 = CSV_MAX_FIELDS_DEFAULT */
	bool no_header;         /* rows are not checked against the first one */
	uint64_t start_offset;  /* file offset of the first byte read (a
	                           rescan from a checkpoint); no BOM is looked
	                           for unless it is 0 */
	uint64_t start_line;    /* line number there; 0 = 1 */
	/* A part of a file scanned on its own (csv_split.c): rows delivered
	 * before START_OFFSET (the first row is the header only when 0), the
	 * header's field count and the file's first row terminator, as the
	 * scan of what comes before found them (csv_stats_merge). */
	uint64_t start_index;
	uint32_t header_fields;
	enum csv_eol first_eol;
	/* NULL, or CSV_SCRATCH bytes aligned to 64 that the scan uses as its
	 * buffer (the caller's, for one scan at a time; left as garbage). */
	void *scratch;
};

/*
 * Scan all of RD's input, calling FN for each row (blank lines skipped).
 * Returns 0 at the end of input, FN's non-zero return value when it stopped
 * the scan, a negative errno from RD, or -ENOMEM.  STATS is filled in every
 * case (zeroed first).  OPTS may be NULL.
 */
int csv_scan(csv_read_fn rd, void *src, const struct csv_opts *opts,
             csv_row_fn fn, void *ud, struct csv_stats *stats);

/* The same over a file descriptor read from its current position (read(2),
 * EINTR retried), or over memory. */
int csv_scan_fd(int fd, const struct csv_opts *opts, csv_row_fn fn, void *ud,
                struct csv_stats *stats);
int csv_scan_mem(const void *data, size_t len, const struct csv_opts *opts,
                 csv_row_fn fn, void *ud, struct csv_stats *stats);

/* Add PART's stats, a scan of the bytes that follow those INTO counted
 * (csv_opts.start_*), to INTO: counts add, the first locations of each
 * issue stay those first in the file, the encoding is decided anew.  The
 * result equals one scan of both parts when PART starts where a row
 * starts (csv_split). */
void csv_stats_merge(struct csv_stats *into, const struct csv_stats *part);

/*
 * Splitting a file into parts scanned in parallel (csv_split.c).  Each
 * chunk [begin, end) of the file is run through the scanner's structure
 * alone (where fields and rows end, csv.c's parse reduced to its states)
 * from every state it could start in; composing the chunks in order from
 * the file's start gives, for each chunk, the first row that starts in it
 * with its line and row index.  A scan of the bytes from one such row to
 * the next (csv_opts.start_*) then sees exactly what the scan of the
 * whole file sees there.
 */
#define CSV_SPLIT_STATES 8

struct csv_lane {               /* one start state's way through a chunk */
	uint8_t end;                /* the state at the chunk's end */
	bool bound;                 /* a row starts inside the chunk */
	uint64_t lines, rows;       /* line breaks and rows (not blank lines)
	                               ending in the chunk */
	uint64_t b_off, b_lines, b_rows;   /* the first row start, and the
	                               counts before it */
};

struct csv_chunk_map {
	struct csv_lane lane[CSV_SPLIT_STATES];
	bool common;                /* a row starts at C_OFF whatever the state */
	uint64_t c_off;             /* at BEGIN: one after all the lanes met */
};

/* Where a part starts: a row's first byte, its line, rows before it. */
struct csv_cut {
	uint64_t offset, line, index;
};

/* The map of chunk [BEGIN, END) of FD (SIZE bytes); reads [BEGIN, END +
 * CSV_LOOKAHEAD + 64) with pread(2); blocks.  SCRATCH: NULL, or
 * CSV_SCRATCH bytes it reads into (the caller's, as csv_opts.scratch).
 * 0 or -errno. */
int csv_split_chunk(int fd, uint64_t size, uint64_t begin, uint64_t end, void *scratch,
                    struct csv_chunk_map *out);

/* The parts: chunk I of N (begins BEGIN[i], BEGIN[0] the file's first
 * byte after a BOM) has its rows start at CUT[i]; CUT[0] is the file's
 * start (offset 0, line 1); CUT[N] is SIZE.  Parts [CUT[i], CUT[i+1]) may
 * be empty. */
void csv_split_compose(const struct csv_chunk_map *maps, const uint64_t *begin, size_t n,
                       uint64_t size, struct csv_cut *cut);

/* Where the part of chunk [BEGIN, END) may start, without the map of what
 * comes before: *OFF, a row start in the chunk (UINT64_MAX: none found).
 * FROM (<= BEGIN) where a row is known to start: the first row start at or
 * after BEGIN, exact (*SURE).  FROM = UINT64_MAX (unknown): the first row
 * start after all eight states met, when they meet (*SURE: a row starts
 * there whatever came before; quoted files), else the first one after
 * BEGIN if BEGIN is outside quotes (a guess, *SURE false: right in every
 * file without line breaks inside quotes; the scan that ends there tells,
 * dq_par.c).  Walks 4 KiB, then 16 times more at each try, up to END; on
 * FD as csv_split_chunk (pread(2), blocks).  0 or -errno. */
int csv_split_start(int fd, uint64_t size, uint64_t from, uint64_t begin, uint64_t end,
                    void *scratch, uint64_t *off, bool *sure);

/* "utf-8", "utf-8-sig", "windows-1252": the names Python's codecs use. */
const char *csv_encoding_name(enum csv_encoding e);
/* "crlf" when CRLF terminates most rows, else "lf". */
const char *csv_line_ending(const struct csv_stats *st);
/* Short snake_case name of an issue ("inner_quote", ...) for reports. */
const char *csv_issue_name(enum csv_issue i);

/* Which mask builders this CPU runs: AVX2 where it has it, else SSE2 (every
 * x86-64), else scalar.  DENVERD_CSV_SIMD=scalar or =sse2 (tests) caps it.
 * The one choice for the scanner (csv.c) and the splitter (csv_split.c). */
enum csv_simd { CSV_SIMD_SCALAR, CSV_SIMD_SSE2, CSV_SIMD_AVX2 };
enum csv_simd csv_simd_level(void);

#endif
