/*
 * dq.h - data-quality checks of one snapshot (a CSV file) against its
 * dataset's schema and checks (config.h), in one streaming pass (csv.h),
 * plus what changed by key since the previous snapshot.
 *
 * dq_run() blocks for the length of the scan and is meant for a worker
 * thread: it keeps no global state, does not log and does not touch the
 * store.  With in->threads > 1 a file of 8 MiB or more is scanned by that
 * many threads: the calling thread and THREADS - 1 pthreads of its own
 * under SCHED_IDLE (any other thread that wakes runs first, so the
 * daemon answers while it checks; the calling thread scans the part of a
 * helper that gets no CPU itself, so on a busy host a check runs at about
 * one thread's speed, plus the split's extra CPU; base/sched_hint.h,
 * dq_par.c), with a
 * report identical to the single-threaded one.  Memory per thread: a
 * scanner (~2 MiB) and the part it scans (copies of the plan's counters,
 * 16 bytes of key index entries per keyed row of its chunk and 24 of row
 * marks per row, at most 64 MiB of the file); at most 4 x THREADS parts
 * wait to be merged.  A file is read once (where its parts start is
 * guessed, and a wrong guess costs a second read of the rest).  Its
 * only side effect is the key index written to in->keys_out.
 *
 * Key index (.keys, next to the snapshot, CONTRACTS.md section 3): one
 * 16-byte entry per row with a key (not every key column null; a null part
 * of a composite key is a value of its own) - 64-bit xxh3 hash of the key,
 * 32-bit hash of the row's content, 32-bit row number - sorted by key hash,
 * then one checkpoint (file offset, line) per DQ_CHECKPOINT_ROWS rows so
 * that a few rows can be read back (for example keys) without a full scan.
 * Memory while checking: 16 bytes per keyed row (plus 16 bytes per 1024
 * rows), on top of a fixed ~7 MiB (the scanner's 2 MiB buffer, the index's
 * 4 MiB sort scratch); a 1 GB traffic file (2 million rows) peaks at
 * ~39 MiB of RSS, 31 MiB of it the index.  With an event_time the index
 * also keeps 4 bytes per row (keyidx.h) and, diffed, maps the previous
 * index's times: the same file checked against the previous day's peaks at
 * ~53 MiB (tests/bench/withdrawn_bench's dq_diff under /usr/bin/time), and
 * the split adds 0.8% instructions (callgrind, 50 MB sample).
 *
 * Uniqueness is decided on the 64-bit key hash: a duplicate is never missed;
 * a false duplicate needs two distinct keys with equal hashes, probability
 * about n^2 / 2^65 (1.3e-7 for 2.2 million rows, 2.7e-6 for 10 million).
 * The duplicates reported as examples are read back and compared byte for
 * byte, so every key shown is a real duplicate.  A changed row is missed
 * only when its 32-bit content hash collides (2^-32 per changed row).
 */
#ifndef DENVERD_DQ_H
#define DENVERD_DQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "domain/config_types.h"
#include "quality/csv.h"

#define DQ_MAX_LINES       10     /* offending line numbers kept per check */
#define DQ_MAX_EXAMPLES    5      /* example keys kept per diff category */
#define DQ_CHECKPOINT_ROWS 1024   /* rows between two .keys checkpoints */

enum dq_outcome { DQ_PASS, DQ_WARN, DQ_FAIL };

struct dq_input {
	const char *path;                  /* the snapshot to check */
	const struct cfg_dataset *dataset; /* schema and checks (borrowed) */
	const char *exec_date;             /* YYYY-MM-DD */
	int64_t prev_rows;                 /* previous published snapshot's
	                                      data rows; < 0 = none */
	const char *prev_keys;             /* its .keys; NULL = no diff */
	const char *keys_out;              /* write this snapshot's .keys here
	                                      (temp file + rename); NULL = no */
	const atomic_int *cancel;          /* non-zero: stop, -ECANCELED; or NULL */
	atomic_uint_least64_t *progress;   /* bytes scanned so far; or NULL */
	unsigned threads;                  /* scanning threads (limits.
	                                      check_threads); 0 = one per CPU,
	                                      1 = this thread alone */
	bool no_split;                     /* benchmarks: keep no event times
	                                      and do not split removed keys
	                                      (tests/bench/withdrawn_bench) */
	const uint64_t *cuts;              /* tests: split the file at these
	                                      offsets (any order), whatever its
	                                      size and THREADS; or NULL */
	size_t n_cuts;
};

/*
 * One check's outcome.  OBSERVED is in the check's unit:
 *   columns     required columns missing (count)
 *   row_count   data rows
 *   nulls       null share of the worst listed column (0..1)
 *   unique      rows whose key was already seen (count)
 *   range, allowed, coordinates   bad share (0..1) of the non-null values
 *               (coordinates: swapped and out-of-box pairs together)
 *   timestamps  share of non-null values that parse with no format (0..1)
 *   freshness   age of the newest event time, seconds, at the end of the
 *               exec date (NAN when no event time parsed)
 *   withdrawn   withdrawn keys as a share (0..1) of the previous
 *               snapshot's keys that had not aged out (NAN: no split)
 */
struct dq_result {
	char *name;                /* the check's name */
	enum check_type type;
	enum severity severity;
	enum dq_outcome outcome;   /* pass; or warn/fail by severity */
	double observed;
	char *threshold;           /* what passes, as text ("<= 1%") */
	char *detail;              /* one line for humans */
	uint64_t lines[DQ_MAX_LINES];   /* first offending physical lines */
	size_t n_lines;
};

struct dq_rename {
	char *from;                /* the header as written in the file */
	char *to;                  /* the canonical column it matched by alias */
};

/* Header against schema. */
struct dq_drift {
	struct strlist added;      /* file columns the schema does not know */
	struct strlist removed;    /* schema columns absent (canonical names) */
	struct dq_rename *renamed; /* columns matched through an alias */
	size_t n_renamed;
};

/* Against the previous snapshot's .keys, by key.  Example keys are the key
 * values joined by '|' (NULL items when the row could not be read back).
 *
 * The window: the span of event times the new snapshot covers.  It starts
 * at the exec date's 00:00 minus the dataset's `window:` when that is set,
 * else at the earliest event time in the new snapshot (NULL: none parsed,
 * or no event_time).  A removed key is aged out when its event time in the
 * previous snapshot is before the window start, withdrawn otherwise (also
 * when it had no event time).  The split is made when the window start is
 * known and the previous index kept event times (keyidx.h); then removed =
 * aged_out + withdrawn. */
struct dq_diff {
	bool done;                 /* false: no previous index, or see error */
	char *error;               /* why the diff was not done, or NULL */
	uint64_t prev_rows;        /* keyed rows in the previous index */
	uint64_t added, removed, changed, unchanged;
	bool split;                /* aged_out and withdrawn are known */
	uint64_t aged_out, withdrawn;
	struct strlist ex_added, ex_removed, ex_changed, ex_aged_out, ex_withdrawn;
	struct dq_window {         /* this snapshot's, known with or without
	                              a previous one */
		bool known;
		bool configured;   /* from `window:`; false: earliest event */
		int64_t start;     /* civil seconds */
	} window;
};

struct dq_report {
	char *dataset, *exec_date, *path;
	uint64_t bytes;
	uint64_t rows;             /* data rows (header and blank lines excluded) */
	uint64_t null_keys;        /* rows whose key columns are all null
	                              (not indexed) */
	const char *encoding;      /* csv_encoding_name(); static */
	const char *line_ending;   /* "crlf" | "lf"; static */
	struct csv_stats csv;      /* the scanner's deviations */
	struct dq_drift drift;
	struct dq_result *results; /* in the dataset's check order */
	size_t n_results;
	struct dq_diff diff;
	enum dq_outcome outcome;   /* the worst result */
	double seconds;            /* wall time of dq_run */
	unsigned parts_stolen;     /* parts the calling thread scanned again
	                              for a helper that got no CPU (not in
	                              the JSON, nor compared by dq_report_diff) */
};

/*
 * Check IN->path.  Returns 0 and a new report in *OUT (free with
 * dq_report_free) whatever the checks found; a negative errno when the
 * check could not be done (file unreadable: -errno; keys_out not writable;
 * -ECANCELED; -ENOMEM; -EINVAL for a bad exec_date), with *ERR a message
 * for the operator (caller frees) and *OUT NULL.  A missing or unusable
 * previous index is not an error: report->diff says why.
 */
int dq_run(const struct dq_input *in, struct dq_report **out, char **err);
void dq_report_free(struct dq_report *r);

/* The report as JSON (a new reference), the form the store, the control
 * socket and `denverd --check-data --json` share:
 * {"dataset","exec_date","path","bytes","rows","null_keys","encoding",
 *  "line_ending","outcome","seconds",
 *  "checks":[{"name","type","severity","outcome","observed","threshold",
 *             "detail","lines":[...]}],
 *  "drift":{"added":[..],"removed":[..],"renamed":[{"from","to"}]},
 *  "diff":{"done","error","prev_rows","added","removed","changed",
 *          "unchanged","aged_out","withdrawn" (null when not split),
 *          "window_start":"YYYY-MM-DDTHH:MM:SS" (local; null: unknown),
 *          "window_from":"window"|"earliest_event"|null,
 *          "examples":{"added":[..],"removed":[..],"changed":[..],
 *                      "aged_out":[..],"withdrawn":[..]}},
 *  "csv":{"rows","lines","header_fields","bom","eol":{"crlf","lf","cr"},
 *         "issues":{"<name>":{"count","at":[{"line","offset"}]}}}}
 * (observed is null when NAN; "issues" lists only kinds that occurred.) */
json_t *dq_report_json(const struct dq_report *r);

/* Where A and B differ first ("csv", "a result", ...; NULL: nowhere):
 * every member but the wall time and parts_stolen compared, text byte
 * for byte.  For tests
 * and fuzzing of the parallel scan against the single-threaded one. */
const char *dq_report_diff(const struct dq_report *a, const struct dq_report *b);

/* The "diff" member alone (as in dq_report_json), for the store. */
json_t *dq_diff_json(const struct dq_diff *d);

const char *dq_outcome_name(enum dq_outcome o);   /* "pass" "warn" "fail" */

#endif
