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

#endif
