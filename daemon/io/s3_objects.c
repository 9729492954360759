/*
 * s3_objects.c - object moves, deletions and whole listings as sequences
 * of s3.h requests (s3_objects.h).  Each call is one heap struct that
 * walks its stages, one request in flight at a time, and frees itself
 * after DONE.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/s3.h"
#include "io/s3_objects.h"

enum stage { MV_HEAD, MV_COPY, MV_CREATE, MV_PART, MV_COMPLETE, MV_ABORT, MV_DELETE,
             DEL_NEXT, LIST_PAGE };

struct op {
	struct s3_client *c;
	enum stage stage;
	s3_objects_done_cb done;
	void *arg;
	int rc;                      /* the outcome once decided (MV_ABORT) */
	char err[S3_MSG_MAX];
	/* move */
	char *src, *dst;
	struct s3_move_opts o;
	uint64_t size;
	char *upload_id;
	struct s3_part *parts;
	char (*etags)[S3_ETAG_MAX];
	unsigned n_parts, next;
	/* delete: keys[next..n) to go */
	char **keys;
	size_t n_keys;
	/* list */
	char *prefix, *token;
	s3_list_entry_cb entry;
};

static void op_free(struct op *op)
{
	free(op->src);
	free(op->dst);
	free(op->upload_id);
	free(op->parts);
	free(op->etags);
	for (size_t i = 0; i < op->n_keys; i++)
		free(op->keys[i]);
	free(op->keys);
	free(op->prefix);
	free(op->token);
	free(op);
}

static void finish(struct op *op, int rc, const char *err)
{
	op->done(op->arg, rc, rc < 0 ? (err && *err ? err : strerror(-rc)) : NULL);
	op_free(op);
}

static void on_answer(void *arg, const struct s3_result *r);

/* Send RQ for OP's current stage; on a refusal, finish with it. */
static void op_send(struct op *op, const struct s3_request *rq)
{
	int rc = s3_send(op->c, rq, on_answer, op, NULL);

	if (rc < 0) {
		snprintf(op->err, sizeof op->err, "%s: %s", s3_op_name(rq->op), strerror(-rc));
		finish(op, rc, op->err);
	}
}

/* ---- move ---- */

static void mv_part(struct op *op)
{
	char range[64];
	uint64_t from = (uint64_t)op->next * op->o.part_size;
	uint64_t to = from + op->o.part_size > op->size ? op->size : from + op->o.part_size;

	snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, from, to - 1);
	op->stage = MV_PART;
	op_send(op, &(struct s3_request){ .op = S3_UPLOAD_PART_COPY, .key = op->dst,
	                               .src_key = op->src, .upload_id = op->upload_id,
	                               .part_number = op->next + 1, .range = range });
}

static void mv_delete(struct op *op)
{
	op->stage = MV_DELETE;
	op_send(op, &(struct s3_request){ .op = S3_DELETE, .key = op->src });
}

/* The multipart copy failed with RC/ERR: abort it, then finish. */
static void mv_abort(struct op *op, int rc, const char *err)
{
	op->rc = rc;
	if (err != op->err)
		snprintf(op->err, sizeof op->err, "%s", err);
	op->stage = MV_ABORT;
	op_send(op, &(struct s3_request){ .op = S3_ABORT, .key = op->dst,
	                               .upload_id = op->upload_id });
}

static void mv_answer(struct op *op, const struct s3_result *r)
{
	bool ok = r->cls == S3_OK;

	switch (op->stage) {
	case MV_HEAD:
		if (!ok)
			break;
		op->size = r->content_length > 0 ? (uint64_t)r->content_length : 0;
		if (op->size <= op->o.copy_max) {
			op->stage = MV_COPY;
			op_send(op, &(struct s3_request){ .op = S3_COPY, .key = op->dst,
			                               .src_key = op->src, .if_none_match = true });
			return;
		}
		op->n_parts = (unsigned)((op->size + op->o.part_size - 1) / op->o.part_size);
		if (op->n_parts > S3_MAX_PARTS || !(op->parts = calloc(op->n_parts, sizeof *op->parts)) ||
		    !(op->etags = calloc(op->n_parts, sizeof *op->etags))) {
			snprintf(op->err, sizeof op->err, "multipart copy of %" PRIu64 " bytes in %u "
			         "parts: %s", op->size, op->n_parts, op->n_parts > S3_MAX_PARTS ?
			         "too many parts" : "out of memory");
			finish(op, -EIO, op->err);
			return;
		}
		op->stage = MV_CREATE;
		op_send(op, &(struct s3_request){ .op = S3_CREATE_UPLOAD, .key = op->dst });
		return;
	case MV_COPY:
		if (ok)
			mv_delete(op);
		else
			break;
		return;
	case MV_CREATE:
		if (!ok)
			break;
		if (!(op->upload_id = strdup(r->upload_id))) {
			finish(op, -ENOMEM, NULL);
			return;
		}
		mv_part(op);
		return;
	case MV_PART:
		if (!ok || !r->etag || !*r->etag) {
			mv_abort(op, r->cls == S3_NOT_FOUND ? -ENOENT : -EIO,
			         ok ? "UploadPartCopy: no ETag in the answer" : r->message);
			return;
		}
		snprintf(op->etags[op->next], S3_ETAG_MAX, "%s", r->etag);
		op->parts[op->next] = (struct s3_part){ op->next + 1, op->etags[op->next] };
		if (++op->next < op->n_parts) {
			mv_part(op);
			return;
		}
		op->stage = MV_COMPLETE;
		op_send(op, &(struct s3_request){ .op = S3_COMPLETE, .key = op->dst,
		                               .upload_id = op->upload_id, .parts = op->parts,
		                               .n_parts = op->n_parts, .if_none_match = true });
		return;
	case MV_COMPLETE:
		if (ok) {
			mv_delete(op);
			return;
		}
		mv_abort(op, r->cls == S3_PRECONDITION ? -EEXIST : -EIO, r->message);
		return;
	case MV_ABORT:
		finish(op, op->rc, op->err);   /* whatever the abort's answer */
		return;
	case MV_DELETE:
		if (ok || r->cls == S3_NOT_FOUND)
			finish(op, 0, NULL);
		else
			break;
		return;
	default:
		break;
	}
	finish(op, r->cls == S3_NOT_FOUND ? -ENOENT : r->cls == S3_PRECONDITION ? -EEXIST : -EIO,
	       r->message);
}

int s3_move(struct s3_client *c, const char *src, const char *dst,
            const struct s3_move_opts *o, s3_objects_done_cb done, void *arg)
{
	struct op *op = calloc(1, sizeof *op);

	if (!op || !(op->src = strdup(src)) || !(op->dst = strdup(dst))) {
		if (op)
			op_free(op);
		return -ENOMEM;
	}
	if (strcmp(src, dst) == 0) {
		op_free(op);
		return -EINVAL;
	}
	op->c = c;
	op->done = done;
	op->arg = arg;
	op->o.copy_max = o && o->copy_max ? o->copy_max : S3_COPY_MAX;
	op->o.part_size = o && o->part_size ? o->part_size : S3_COPY_PART;
	op->stage = MV_HEAD;
	int rc = s3_send(c, &(struct s3_request){ .op = S3_HEAD, .key = src }, on_answer, op, NULL);
	if (rc < 0)
		op_free(op);
	return rc;
}

/* ---- delete ---- */

static int del_next(struct op *op)
{
	return s3_send(op->c, &(struct s3_request){ .op = S3_DELETE, .key = op->keys[op->next] },
	               on_answer, op, NULL);
}

static void del_answer(struct op *op, const struct s3_result *r)
{
	int rc;

	if (r->cls != S3_OK && r->cls != S3_NOT_FOUND) {
		finish(op, -EIO, r->message);
		return;
	}
	if (++op->next == op->n_keys) {
		finish(op, 0, NULL);
		return;
	}
	if ((rc = del_next(op)) < 0)
		finish(op, rc, NULL);
}

int s3_delete_keys(struct s3_client *c, const char *const *keys, size_t n,
                   s3_objects_done_cb done, void *arg)
{
	struct op *op = calloc(1, sizeof *op);
	int rc;

	if (!op || !(op->keys = calloc(n + 1, sizeof *op->keys))) {
		free(op);
		return -ENOMEM;
	}
	for (; op->n_keys < n; op->n_keys++)
		if (!(op->keys[op->n_keys] = strdup(keys[op->n_keys]))) {
			op_free(op);
			return -ENOMEM;
		}
	if (!n) {
		op_free(op);
		return -EINVAL;
	}
	op->c = c;
	op->done = done;
	op->arg = arg;
	op->stage = DEL_NEXT;
	if ((rc = del_next(op)) < 0)
		op_free(op);
	return rc;
}

/* ---- list ---- */

static int list_page(struct op *op)
{
	return s3_send(op->c, &(struct s3_request){ .op = S3_LIST, .key = op->prefix,
	                                            .token = op->token }, on_answer, op, NULL);
}

static void list_answer(struct op *op, const struct s3_result *r)
{
	int rc = 0;

	if (r->cls != S3_OK) {
		finish(op, -EIO, r->message);
		return;
	}
	for (size_t i = 0; i < r->n_entries && rc >= 0; i++)
		rc = op->entry(op->arg, &r->entries[i]);
	if (rc < 0 || !r->truncated || !r->next_token || !*r->next_token) {
		finish(op, rc < 0 ? rc : 0, NULL);
		return;
	}
	free(op->token);
	if (!(op->token = strdup(r->next_token)))
		rc = -ENOMEM;
	if (rc < 0 || (rc = list_page(op)) < 0)
		finish(op, rc, NULL);
}

int s3_list_all(struct s3_client *c, const char *prefix, s3_list_entry_cb entry,
                s3_objects_done_cb done, void *arg)
{
	struct op *op = calloc(1, sizeof *op);
	int rc;

	if (!op || !(op->prefix = strdup(prefix))) {
		free(op);
		return -ENOMEM;
	}
	op->c = c;
	op->entry = entry;
	op->done = done;
	op->arg = arg;
	op->stage = LIST_PAGE;
	if ((rc = list_page(op)) < 0)
		op_free(op);
	return rc;
}

static void on_answer(void *arg, const struct s3_result *r)
{
	struct op *op = arg;

	if (op->stage == DEL_NEXT)
		del_answer(op, r);
	else if (op->stage == LIST_PAGE)
		list_answer(op, r);
	else
		mv_answer(op, r);
}

const char *s3_uri_key(const struct s3_client *c, const char *uri)
{
	const char *b = c ? s3_client_bucket(c) : NULL;
	size_t n = b ? strlen(b) : 0;

	if (!b || strncmp(uri, "s3://", 5) != 0 || strncmp(uri + 5, b, n) != 0 || uri[5 + n] != '/')
		return NULL;
	return uri + 6 + n;
}

const char *s3_key_rel(const struct s3_client *c, const char *key)
{
	const char *pre = s3_client_prefix(c);
	size_t pn = strlen(pre);

	if (pn && (strncmp(key, pre, pn) != 0 || key[pn] != '/'))
		return NULL;
	key += pn ? pn + 1 : 0;
	return *key && !strstr(key, "..") ? key : NULL;
}
