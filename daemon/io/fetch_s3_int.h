/*
 * fetch_s3_int.h - what fetch_s3.c (the sink: prep, writes, parts) and
 * fetch_s3_finish.c (its finish job) share; nothing else includes it.
 * Threads as fetch_s3.c says: the loop thread, but write_work.
 */
#ifndef DENVERD_IO_FETCH_S3_INT_H
#define DENVERD_IO_FETCH_S3_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "io/fetch_int.h"
#include "io/s3.h"

/* The part buffers of one fetch: as many as fit in FETCH_S3_MEM, at
 * least 3 (one filling, two in flight), at most FETCH_S3_MAX_BUFS.  More
 * parts in flight is what makes an upload fast (each is one request and
 * its round trips); their bytes are what the memory goal counts. */
#define FETCH_S3_MEM      (40ull * 1024 * 1024)
#define FETCH_S3_MAX_BUFS 8

enum pstate { P_FREE, P_FILL, P_READY, P_SENDING };

struct fetch_s3;

struct pbuf {
	struct fetch_s3 *s;
	char *data;               /* part_size bytes, or NULL until first used */
	size_t len;
	enum pstate st;
	unsigned number;
	unsigned gen;             /* s->gen when it was filled */
	uint64_t end;             /* file offset after it */
	unsigned char md5[16];
	XXH3_state_t *hash_after; /* the content hash's state after it */
	struct s3_call *call;
};

struct done_part {
	char etag[S3_ETAG_MAX];   /* "" = not stored */
	uint64_t size, end;
};

struct fetch_s3 {
	struct fetch *f;
	struct s3_client *c;
	char *key;
	uint64_t part_size;
	char *upload_id;          /* NULL until created (or adopted) */
	struct s3_call *create_call, *final_call;
	struct pbuf b[FETCH_S3_MAX_BUFS];
	int n_bufs;               /* used of b[] */
	int fill;                 /* index of the P_FILL buffer, -1 = none */
	int spare;                /* reserved for the write job crossing a part end */
	unsigned next_number;     /* of the next part to fill */
	unsigned gen;             /* bumped when the parts are forgotten */
	uint64_t bytes;           /* in parts so far (the file offset) */
	struct done_part *done;   /* [number - 1] */
	size_t n_done;            /* slots in done */
	EVP_MD_CTX *md5;          /* the filling part's */
	unsigned sending;
	fetch_upload_cb on_upload;
	void *upload_arg;
	/* the resume the request brought, used by the first prep */
	struct fetch_upload_part *r_parts;
	size_t r_n;
	char *r_upload_id, *r_etag, *r_lm, *r_key, *r_url;
	int64_t r_total;
	bool r_used;
	/* the job being run */
	enum fetch_work job;
	fetch_job_done_fn *job_done;
	bool working;             /* write_work may be running: the loop keeps
	                             off the buffers' states */
	bool write_waiting, finishing, failed, abort_sent, heading;
};


/* The first failure wins; it stops the transfer (fetch.c sees io_err). */
void fs3_fail(struct fetch_s3 *s, bool retryable, int64_t retry_after_ms, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Tell the caller (fetch_upload_cb) about the upload, when there is one. */
void fs3_emit(struct fetch_s3 *s, enum fetch_upload_event ev,
              const struct fetch_upload_part *part);
/* The upload is gone from the server (NoSuchUpload): forget it, here
 * and in the caller's store. */
void fs3_upload_gone(struct fetch_s3 *s);
/* Forget every part (a new body from byte 0): the upload stays. */
void fs3_forget_parts(struct fetch_s3 *s);
/* A free buffer made ready to fill; -1 when none is free (or no memory). */
int fs3_take_buffer(struct fetch_s3 *s);
/* Move things on after any event (fetch_s3.c). */
void fs3_pump(struct fetch_s3 *s);
/* One step of the finish job; again after each event (fetch_s3_finish.c). */
void fs3_finish_step(struct fetch_s3 *s);

#endif
