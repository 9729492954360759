/*
 * dq_int.h - private to the check engine (dq.h): the state of one check
 * run, shared by its files.  Nothing outside daemon/quality/dq*.c includes
 * it.
 *
 *   dq.c           the plan (which columns are typed how, per check) and
 *                  dq_run: scan, key index, results, in that order
 *   dq_rows.c      the header, then every row: typing, the checks'
 *                  counters, the key index's entries (the hot path)
 *   dq_readback.c  rows read back through the index's checkpoints
 *                  (example keys, duplicate verification)
 *   dq_results.c   counters into results: observed value, threshold,
 *                  detail text, outcome; the diff's examples
 *
 * One run belongs to one thread (dq_run's caller) from start to end; none
 * of these functions log, and all return 0 or a negative errno unless said
 * otherwise.  Everything a run allocates is freed by run_fini (dq.c) or
 * handed over in the report.
 */
#ifndef DENVERD_DQ_INT_H
#define DENVERD_DQ_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "base/buf.h"
#include "quality/csv.h"
#include "quality/dq.h"
#include "quality/keyidx.h"

#define NEED_NUM  1u               /* struct col.need: parse as a number */
#define NEED_TIME 2u               /* ... and/or as a timestamp */
#define MAX_BAD_VALUES 5           /* distinct unexpected values kept (allowed) */
#define DETAIL_MAX 2048            /* bytes of one result's detail */
#define KEY_MAX 4096               /* bytes of a normalized key (longer: cut) */
#define VSET_MAX_LEN 256           /* longer values are never allowed */
#define DQ_PARALLEL_MIN (8u << 20) /* smaller files: one thread */

/* A column the checks know: a schema column, or a name a check uses that
 * the schema does not declare. */
struct col {
	const char *name;              /* canonical */
	const struct cfg_column *cfg;  /* NULL: not in the schema */
	enum col_type type;
	int idx;                       /* field index in the file; -1 absent */
	unsigned need;
	struct tsfmt *fmts;
	size_t n_fmts, hint;           /* hint: the format that matched last */
	size_t *null_len;              /* lengths of cfg->nulls.items */
	size_t n_nulls;
	/* this row */
	const char *v;
	size_t len;
	bool null, num_ok, ts_ok;
	double num;
	int64_t ts;
};

/* Per checked column counters. */
struct acc {
	struct col *c;
	uint64_t total;                /* non-null values */
	uint64_t nulls, bad, future;
};

/* Case-insensitive set of allowed values: trimmed, lower-cased copies. */
struct vset {
	struct vitem {
		char *p;
		size_t len;
	} *items;
	size_t n;
	uint32_t *slot;                /* index + 1, 0 = empty */
	size_t mask;
};

struct chk {
	const struct cfg_check *cfg;
	struct dq_result *res;
	struct acc *acc;
	size_t n_acc;
	bool broken;                   /* a needed column is missing: bad */
	/* coordinates */
	struct col *lat, *lon;
	uint64_t total, missing, unparsed, swapped, outside;
	/* freshness */
	struct col *ev;
	bool have_newest;
	int64_t newest;
	/* allowed */
	struct vset set;
	char *bad_values[MAX_BAD_VALUES];
	size_t bad_len[MAX_BAD_VALUES];   /* lengths as found (kept: <= 64) */
	size_t n_bad_values;
};

/* A chunk's key index entries and checkpoints in a parallel run
 * (dq_par.c), added to the run's index in file order afterwards.  Its rows
 * are numbered from 0 (the rows before it are not known while it is
 * scanned), so every row is marked (24 bytes a row) and the merge keeps
 * the marks that fall on a multiple of DQ_CHECKPOINT_ROWS in the file. */
struct dq_part {
	struct keyidx_entry *e;
	size_t n_e, cap_e;
	struct keyidx_checkpoint *cp;
	uint64_t *cp_row;
	size_t n_cp, cap_cp;
	int64_t *times;                /* event time of each row of the chunk */
	size_t n_times, cap_times;
};

struct run {
	const struct dq_input *in;
	const struct cfg_dataset *ds;
	struct dq_report *rep;
	struct col *cols;
	size_t n_cols, cap_cols;
	struct col **used;             /* typed on every row */
	size_t n_used;
	struct chk *chks;
	struct col **key;
	int *key_idx;                  /* their field indexes in this file */
	size_t n_key;
	bool key_absent;               /* a key column is not in the file */
	uint64_t key_def;
	struct keyidx *ki;
	struct col *ev;                /* the event time, typed on every row for
	                                  the index's times; NULL: none kept */
	bool have_earliest;
	int64_t earliest;              /* the earliest event time seen */
	struct dq_part *part;          /* a chunk of a parallel run: entries go
	                                  here, not to ki (which is NULL) */
	int64_t exec_end;              /* civil seconds at the end of exec_date */
	bool header_seen;
	uint64_t rows;
	char *canon;                   /* canonical row text (non-plain rows) */
	size_t canon_cap;
	char keybuf[KEY_MAX];
	int rc;                        /* first error in the row callback */
	char *err;
};

/* A row to read back (dq_readback.c). */
struct want {
	uint32_t row;
	bool found;
	uint64_t line;
	char *text;                    /* key values joined by '|' */
	char norm[KEY_MAX];            /* normalized key, for comparisons */
	ssize_t norm_len;
};

/* ---- small helpers, inline: some are on the per-row path ---- */

/* Lower-case P into OUT (at most VSET_MAX_LEN bytes) and hash it; false
 * when it is too long to be in any set. */
static inline bool vset_fold(const char *p, size_t len, char *out, uint64_t *hash)
{
	uint64_t h = 1469598103934665603ULL;
	if (len > VSET_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out[i] = c;
		h = (h ^ (unsigned char)c) * 1099511628211ULL;
	}
	*hash = h;
	return true;
}

static inline bool vset_has(const struct vset *s, const char *p, size_t len)
{
	char low[VSET_MAX_LEN];
	uint64_t h;
	if (!vset_fold(p, len, low, &h))
		return false;
	for (size_t j = h & s->mask; s->slot[j]; j = (j + 1) & s->mask) {
		const struct vitem *v = &s->items[s->slot[j] - 1];
		if (v->len == len && memcmp(v->p, low, len) == 0)
			return true;
	}
	return false;
}

/* Note an offending physical line (the first DQ_MAX_LINES are kept). */
static inline void offend(struct dq_result *r, uint64_t line)
{
	if (r->n_lines < DQ_MAX_LINES)
		r->lines[r->n_lines++] = line;
}

/* A result's text (detail, threshold, example key): at most DETAIL_MAX
 * bytes, cut with "..." beyond. */
static inline void text_init(struct buf *t)
{
	buf_init(t, 0, DETAIL_MAX);
	buf_set_cut(t, "...");
}

/* Give away the text (caller frees; never NULL unless out of memory). */
static inline char *text_take(struct buf *t)
{
	size_t len;

	return buf_take(t, &len);
}

/* ---- dq_rows.c ---- */

/* The canonical form of a header name into OUT (CAP bytes): trimmed, lower
 * case, ' ' as '_'.  Returns its length. */
size_t dq_canon_name(const char *p, size_t len, char *out, size_t cap);

/* True when the header name CANON (canonical) names C: by its own name on
 * PASS 0, by one of its aliases on pass 1. */
bool dq_col_named(const struct col *c, const char *canon, int pass);

/* The normalized key of ROW into BUF (CAP bytes), its parts at field
 * indexes IDX; returns its length, or -1 when every part is null. */
ssize_t dq_key_norm(const struct run *R, const int *idx, const struct csv_row *row,
                    char *buf, size_t cap);

/* The csv_row_fn of the scan (UD is the run): the header, then every row.
 * Stops the scan with R->rc on error (R->err set when there is more to
 * say than the errno). */
int dq_on_row(void *ud, const struct csv_row *row);

/* After the scan: the schema columns the header lacks, into
 * R->rep->drift.removed. */
int dq_drift_removed(struct run *R);

/* ---- dq_par.c ---- */

/* A part of a parallel run (dq_part.c), owned by dq_par.c's job. */
struct part {
	struct run R;                  /* the plan, shared; counters its own */
	struct dq_report rep;          /* null_keys only */
	struct dq_result *res;         /* lines only */
	struct col *cols;
	struct col **used, **key;
	struct chk *chks;
	struct dq_part sink;
	struct csv_stats st;
	int rc;
};

/* P becomes a copy of R's plan (formats, null markers, value sets and key
 * indexes stay R's, read only) with zeroed counters, its data rows
 * counted from DATA_ROWS; dq_part_clear frees what it holds (also after a
 * failed dq_part_init) and zeroes it.  -ENOMEM. */
int dq_part_init(struct part *P, const struct run *R, uint64_t data_rows);
void dq_part_clear(struct part *P, size_t n_checks);
/* Part P, scanned from a row start with its own numbering (csv_opts
 * start_line and start_index 1), into R after every part before it (R's
 * csv stats, lines and rows so far are those before P).  0 or -errno. */
int dq_part_merge(struct run *R, struct part *P);

/* The scan (as csv_scan_fd over FD, SIZE bytes, with dq_on_row on R) done
 * by THREADS workers over chunks, with R's counters, key index and
 * R->rep->csv exactly as the single-threaded scan leaves them.  0 or a
 * negative errno (R->err may say more). */
int dq_scan_parallel(struct run *R, int fd, uint64_t size, unsigned threads);

/* ---- dq_readback.c ---- */

/* Find rows W[0..n) of PATH through its checkpoints P.  Rows that cannot
 * be read back stay !found; never fails. */
void dq_read_back(const struct run *R, const char *path, const struct keyidx_points *p,
                  struct want *w, size_t n);
void dq_free_wants(struct want *w, size_t n);

/* The keys of ROWS[0..n) of PATH (at most DQ_MAX_EXAMPLES) into OUT, a
 * NULL item for a row that could not be read back. */
int dq_examples(const struct run *R, const char *path, const struct keyidx_points *p,
                const uint32_t *rows, size_t n, struct strlist *out);

/* ---- dq_results.c ---- */

/* The diff against the previous index, from the key index's result KR,
 * with example keys read back. */
int dq_diff_result(struct run *R, const struct keyidx_result *kr);

/* Every check's result (observed, threshold, detail, outcome) and the
 * report's outcome; KR is the key index's result (zeroed when none). */
int dq_finish_results(struct run *R, const struct keyidx_result *kr);

#endif
