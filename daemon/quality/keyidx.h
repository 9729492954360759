/*
 * keyidx.h - the key index of one snapshot: collected row by row during the
 * check scan, then sorted, searched for duplicate keys, compared with the
 * previous snapshot's index and written next to the snapshot as `.keys`.
 *
 * Memory: 16 bytes per keyed row (struct keyidx_entry) held in 4 MiB chunks,
 * each sorted as soon as it is full (LSD radix sort); the chunks
 * are merged at the end in one streaming pass that also finds duplicates,
 * diffs against the previous index (read as a stream, not loaded) and
 * writes the new one.  Plus 16 bytes per DQ_CHECKPOINT_ROWS rows, and,
 * when the index keeps event times (keyidx_time), 4 bytes per data row in
 * 1 MiB chunks (never sorted: they are kept and written in row order).
 *
 * Removed keys, aged out or withdrawn: when the previous index has event
 * times and the caller gives the new snapshot's window start, each removed
 * entry's event time is looked up by its row number in the previous
 * index's times (the file is mapped read-only, so the lookups cost page
 * cache, not heap) and it counts as aged out when that time is before the
 * window start, else withdrawn (a row with no event time is withdrawn:
 * nothing says it aged).
 *
 * File format (native byte order; read only by the machine that wrote it):
 *   header   struct keyidx_header (64 bytes)
 *   name     the snapshot's file name (name_len bytes, zero-padded to 8)
 *   entries  n_entries x struct keyidx_entry, sorted by (key, row)
 *   checkpoints  n_checkpoints x struct keyidx_checkpoint: checkpoint i is
 *            where data row i * checkpoint_rows starts
 *   times    n_times x int32_t (version 2): the event time of data row i,
 *            civil seconds (value.h) since KEYIDX_TIME_BASE (2000-01-01),
 *            clamped to 1931-12-13..2068-01-19 (a clamped time keeps its
 *            side of any window start between those), INT32_MIN when it
 *            had none; n_times is 0 (no times kept) or the snapshot's rows
 * A version 1 index (no times; its reserved words were zero) is read as
 * one with n_times 0: it diffs, without the aged-out/withdrawn split.
 */
#ifndef DENVERD_KEYIDX_H
#define DENVERD_KEYIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYIDX_MAGIC   "DNVDKEYS"
#define KEYIDX_VERSION 2u
#define KEYIDX_NO_TIME INT64_MIN   /* a row without an event time */
#define KEYIDX_TIME_BASE 946684800 /* 2000-01-01 00:00, civil seconds */
#define KEYIDX_MAX_EX  10      /* duplicates / examples kept by finish */

struct keyidx_entry {
	uint64_t key;              /* xxh3 of the normalized key */
	uint32_t hash;             /* low 32 bits of xxh3 of the row's content */
	uint32_t row;              /* data row number, 0-based */
};

struct keyidx_checkpoint {
	uint64_t offset;           /* file offset of the row's first byte */
	uint64_t line;             /* its physical line */
};

struct keyidx_header {
	char magic[8];
	uint32_t version;
	uint32_t checkpoint_rows;
	uint64_t key_def;          /* hash of the key's definition: a diff
	                              across different keys is refused */
	uint64_t rows;             /* data rows of the snapshot */
	uint64_t n_entries;
	uint64_t n_checkpoints;
	uint32_t name_len;
	uint32_t reserved;
	uint64_t n_times;          /* version 2; 0 in version 1 (reserved) */
};

struct keyidx;

/* Checkpoints of one index, for reading rows back; FILE is the snapshot. */
struct keyidx_points {
	char *file;
	struct keyidx_checkpoint *cp;
	size_t n;
	uint32_t every;
};

struct keyidx_result {
	uint64_t entries;
	uint64_t duplicates;       /* entries whose key equals the one before */
	size_t n_dup;              /* the first few in file order: row, and the
	                              first row with the same key */
	uint32_t dup_row[KEYIDX_MAX_EX], dup_first[KEYIDX_MAX_EX];

	bool diffed;               /* false: see diff_error (NULL: no previous) */
	char *diff_error;
	uint64_t prev_entries, added, removed, changed, unchanged;
	bool split;                /* removed split into aged_out + withdrawn:
	                              the previous index has times and a window
	                              start was given */
	uint64_t aged_out, withdrawn;
	size_t n_added, n_removed, n_changed, n_aged, n_withdrawn;
	uint32_t ex_added[KEYIDX_MAX_EX];     /* rows of this snapshot */
	uint32_t ex_changed[KEYIDX_MAX_EX];
	uint32_t ex_removed[KEYIDX_MAX_EX];   /* rows of the previous one */
	uint32_t ex_aged[KEYIDX_MAX_EX];      /* ... of them, aged out */
	uint32_t ex_withdrawn[KEYIDX_MAX_EX]; /* ... withdrawn */
	struct keyidx_points prev;            /* the previous index's checkpoints,
	                                         its file resolved next to it */
};

int keyidx_new(struct keyidx **out);
void keyidx_free(struct keyidx *k);

/* Record data row ROW (rows are added in increasing order).  -ENOMEM, or
 * -EOVERFLOW past 2^32 rows. */
int keyidx_add(struct keyidx *k, uint64_t key, uint32_t hash, uint64_t row);

/* Record where data row ROW starts; call for every row that is a multiple of
 * DQ_CHECKPOINT_ROWS (keyed or not). */
int keyidx_mark(struct keyidx *k, uint64_t row, uint64_t offset, uint64_t line);

/* Record data row ROW's event time T (civil seconds, or KEYIDX_NO_TIME):
 * call it for every data row, in order (ROW = the number of times recorded
 * so far, else -EINVAL), or for none (an index without times).  -ENOMEM. */
int keyidx_time(struct keyidx *k, uint64_t row, int64_t t);

/* This index's checkpoints (borrowed, valid until keyidx_free). */
void keyidx_points(const struct keyidx *k, struct keyidx_points *out);

/*
 * Sort and merge; count duplicates; when PREV is given, diff against it (an
 * unreadable, corrupt or incompatible PREV sets res->diff_error and is not
 * an error); when OUT is given, write the index there (OUT.tmp, fsync,
 * rename).  ROWS is the snapshot's data row count, NAME its file name.
 * WINDOW_START (civil seconds; KEYIDX_NO_TIME: none) splits the removed
 * keys into aged out (event time before it) and withdrawn, when PREV has
 * times.  Times recorded with keyidx_time must number ROWS.
 * Returns 0 or a negative errno with *ERR set (caller frees).  Free RES's
 * members with keyidx_result_fini.
 */
int keyidx_finish(struct keyidx *k, uint64_t key_def, uint64_t rows, const char *name,
                  const char *prev, const char *out, int64_t window_start,
                  struct keyidx_result *res, char **err);
void keyidx_result_fini(struct keyidx_result *res);

#endif
