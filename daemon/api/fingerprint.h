/*
 * fingerprint.h - the content fingerprint of a dataset's datastore and its
 * commit records, computed the way jobs/datastore.py computes them (the
 * algorithm: jobs/README.md, "The fingerprint"), so that `denverctl report`
 * can tell whether the state a report read is still the datastore's.
 *
 * Both functions read the local file system and may block: a listing of
 * the month directories, then one open and at most two preads per data
 * file (its Parquet footer), and a listing of _denverd/commits.
 */
#ifndef DENVERD_API_FINGERPRINT_H
#define DENVERD_API_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* "sha256:" and 64 hex digits */
#define FINGERPRINT_LEN (7 + 64)

struct fingerprint {
	char digest[FINGERPRINT_LEN + 1];
	uint64_t files;        /* data files covered */
	uint64_t bytes;        /* their total size */
};

/* The fingerprint of dataset directory DIR (<state_dir>/datastore/<name>)
 * into *OUT.  A missing DIR is an empty datastore (the digest of no
 * lines).  0, or a negative errno (-ENOMEM, or an I/O error of a file or
 * directory that exists). */
int datastore_fingerprint(const char *dir, struct fingerprint *out);

/* The commit records of DIR (its _denverd/commits/NNNNNNNN.json): *LAST
 * the highest sequence number (0: none).  When NEWER is not NULL, each
 * record whose sequence number is above AFTER is appended to it, read
 * from its file (in order, at most MAX of the newest).  0, or a negative
 * errno; a record that does not parse is -EBADMSG. */
int datastore_commits(const char *dir, int64_t after, size_t max, int64_t *last,
                      json_t *newer);

/* ---- shared with fingerprint_s3.c ---- */

/* Where the footer of a file of SIZE bytes whose last 8 bytes are TAIL
 * starts (see fingerprint.c): SIZE - 8 - N for a Parquet end, else 0 (the
 * whole file). */
uint64_t datastore_footer_start(const unsigned char tail[8], uint64_t size);

/* NNNNNNNN.json: its number, or -1. */
int64_t datastore_commit_seq(const char *name);

/* Of the N commit file NAMES (sorted): *LAST the highest sequence number
 * (0: none); returns the index of the first of the newest MAX records
 * above AFTER (N when none; names at or below AFTER from there on are
 * skipped by the caller). */
size_t datastore_commits_pick(char *const *names, size_t n, int64_t after, size_t max,
                              int64_t *last);

#endif
