/*
 * s3_one - send one S3 request through io/s3.h on a uv loop and print its
 * result as one JSON object on stdout.  For the integration tests of the
 * request layer (signing, errors, listings); not installed.
 *
 *   s3_one --endpoint URL --bucket B [--region R] [--virtual-host]
 *          [--attempts N] [--max-keys N] OP [ARGS]
 *
 *   put KEY FILE [--md5 B64] [--if-none-match]   get KEY FILE [--range R]
 *   head KEY   delete KEY   copy SRC DST [--if-none-match]
 *   list PREFIX [TOKEN]   uploads PREFIX   create KEY   abort KEY ID
 *   part KEY ID N FILE [--md5 B64]   complete KEY ID N:ETAG...
 *   move SRC DST [--copy-max B] [--part-size B]   rmkeys KEY...   listall PREFIX
 *   (the last three through io/s3_objects.h: {"rc","error","keys"})
 *
 * Credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN.  Exit status 0 when the request came back ok, 1
 * when it came back otherwise, 2 for bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "io/http.h"
#include "io/s3.h"
#include "io/s3_objects.h"

struct tool {
	FILE *out;
	int status;
	json_t *result;
};

static int on_body(void *arg, const char *data, size_t n)
{
	struct tool *t = arg;
	return fwrite(data, 1, n, t->out) == n ? 0 : -EIO;
}

static void done(void *arg, const struct s3_result *r)
{
	struct tool *t = arg;
	json_t *o = json_pack("{s:s, s:i, s:i, s:s, s:s, s:s, s:I, s:s, s:b, s:s, s:s}",
	                      "class", s3_class_name(r->cls), "status", (int)r->status,
	                      "attempts", (int)r->attempts, "code", r->code, "message",
	                      r->message, "etag", r->etag, "content_length",
	                      (json_int_t)r->content_length, "upload_id", r->upload_id,
	                      "truncated", r->truncated, "next_token", r->next_token,
	                      "next_token2", r->next_token2);
	json_t *ents = json_array();
	for (size_t i = 0; i < r->n_entries; i++)
		json_array_append_new(ents, json_pack("{s:s, s:s?, s:s?, s:I}", "key",
		                                      r->entries[i].key, "upload_id",
		                                      r->entries[i].upload_id, "etag",
		                                      r->entries[i].etag, "size",
		                                      (json_int_t)r->entries[i].size));
	json_object_set_new(o, "entries", ents);
	t->result = o;
	t->status = r->cls == S3_OK ? 0 : 1;
}

/* s3_objects.h's calls: {"rc", "error", "keys": [listed]}. */
static int on_entry(void *arg, const struct s3_entry *e)
{
	struct tool *t = arg;
	return json_array_append_new(json_object_get(t->result, "keys"),
	                             json_pack("{s:s, s:I}", "key", e->key, "size",
	                                       (json_int_t)e->size));
}

static void objects_done(void *arg, int rc, const char *error)
{
	struct tool *t = arg;
	json_object_set_new(t->result, "rc", json_integer(rc));
	json_object_set_new(t->result, "error", error ? json_string(error) : json_null());
	t->status = rc == 0 ? 0 : 1;
}

static int objects_op(struct s3_client *c, const char *op, char **a, int n,
                      const struct s3_move_opts *mo, struct tool *t)
{
	if (strcmp(op, "move") && strcmp(op, "rmkeys") && strcmp(op, "listall"))
		return 1;                   /* not one of them */
	t->result = json_pack("{s:[]}", "keys");
	if (strcmp(op, "move") == 0 && n == 3)
		return s3_move(c, a[1], a[2], mo, objects_done, t);
	if (strcmp(op, "rmkeys") == 0 && n >= 2)
		return s3_delete_keys(c, (const char *const *)a + 1, (size_t)n - 1, objects_done, t);
	if (strcmp(op, "listall") == 0 && n == 2)
		return s3_list_all(c, a[1], on_entry, objects_done, t);
	return -EINVAL;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (p = malloc((size_t)len + 1)) && fread(p, 1, (size_t)len, f) == (size_t)len) {
		*n = (size_t)len;
	} else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static int usage(void)
{
	fprintf(stderr, "usage: s3_one --endpoint URL --bucket B OP ARGS (see the source)\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' }, { "bucket", required_argument, NULL, 'b' },
		{ "region", required_argument, NULL, 'r' }, { "virtual-host", no_argument, NULL, 'v' },
		{ "attempts", required_argument, NULL, 'a' }, { "md5", required_argument, NULL, 'm' },
		{ "if-none-match", no_argument, NULL, 'i' }, { "range", required_argument, NULL, 'R' },
		{ "copy-max", required_argument, NULL, 'C' }, { "part-size", required_argument, NULL, 'P' },
		{ "max-keys", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct s3_options so = { .path_style = true };
	struct s3_move_opts mo = { 0 };
	struct s3_request rq = { 0 };
	struct s3_part parts[64];
	struct tool t = { .status = 1 };
	struct s3_client *c;
	struct http *h;
	char *err = NULL, *body = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'e': so.endpoint = optarg; break;
		case 'b': so.bucket = optarg; break;
		case 'r': so.region = optarg; break;
		case 'v': so.path_style = false; break;
		case 'a': so.attempts = (unsigned)atoi(optarg); break;
		case 'm': rq.content_md5 = optarg; break;
		case 'i': rq.if_none_match = true; break;
		case 'R': rq.range = optarg; break;
		case 'C': mo.copy_max = strtoull(optarg, NULL, 10); break;
		case 'P': mo.part_size = strtoull(optarg, NULL, 10); break;
		case 'k': rq.max_keys = (unsigned)atoi(optarg); break;
		default: return usage();
		}
	}
	char **a = argv + optind;     /* getopt_long moved the options first */
	int n = argc - optind;
	if (n < 2)
		return usage();
	const char *op = a[0];
	rq.key = a[1];
	so.access_key = getenv("AWS_ACCESS_KEY_ID");
	so.secret_key = getenv("AWS_SECRET_ACCESS_KEY");
	so.session_token = getenv("AWS_SESSION_TOKEN");
	so.retry_delay_ms = 50;
	so.retry_max_delay_ms = 500;
	if (strcmp(op, "put") == 0 && n == 3) {
		rq.op = S3_PUT;
		if (!(body = slurp(a[2], &rq.body_len)))
			return usage();
		rq.body = body;
	} else if (strcmp(op, "part") == 0 && n == 5) {
		rq.op = S3_UPLOAD_PART;
		rq.upload_id = a[2];
		rq.part_number = (unsigned)atoi(a[3]);
		if (!(body = slurp(a[4], &rq.body_len)))
			return usage();
		rq.body = body;
	} else if (strcmp(op, "get") == 0 && n == 3) {
		rq.op = S3_GET;
		rq.on_body = on_body;
		if (!(t.out = fopen(a[2], "wb")))
			return usage();
	} else if (strcmp(op, "head") == 0 && n == 2) {
		rq.op = S3_HEAD;
	} else if (strcmp(op, "delete") == 0 && n == 2) {
		rq.op = S3_DELETE;
	} else if (strcmp(op, "copy") == 0 && n == 3) {
		rq.op = S3_COPY;
		rq.src_key = a[1];
		rq.key = a[2];
	} else if (strcmp(op, "list") == 0 && (n == 2 || n == 3)) {
		rq.op = S3_LIST;
		rq.token = n == 3 ? a[2] : NULL;
	} else if (strcmp(op, "uploads") == 0 && n == 2) {
		rq.op = S3_LIST_UPLOADS;
	} else if (strcmp(op, "create") == 0 && n == 2) {
		rq.op = S3_CREATE_UPLOAD;
	} else if (strcmp(op, "abort") == 0 && n == 3) {
		rq.op = S3_ABORT;
		rq.upload_id = a[2];
	} else if (strcmp(op, "complete") == 0 && n >= 4 && n - 3 <= 64) {
		rq.op = S3_COMPLETE;
		rq.upload_id = a[2];
		for (int i = 3; i < n; i++) {
			char *colon = strchr(a[i], ':');
			if (!colon)
				return usage();
			*colon = '\0';
			parts[i - 3].number = (unsigned)atoi(a[i]);
			parts[i - 3].etag = colon + 1;
		}
		rq.parts = parts;
		rq.n_parts = (size_t)(n - 3);
	} else if (strcmp(op, "move") && strcmp(op, "rmkeys") && strcmp(op, "listall")) {
		return usage();
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	uv_loop_t *loop = uv_default_loop();
	if (http_init(loop, &h) < 0)
		return 2;
	if (s3_client_new(h, &so, &c, &err) < 0) {
		fprintf(stderr, "s3_one: %s\n", err ? err : "out of memory");
		return 2;
	}
	int orc = objects_op(c, op, a, n, &mo, &t);
	if (orc < 0 || (orc == 1 && s3_send(c, &rq, done, &t, NULL) < 0)) {
		fprintf(stderr, "s3_one: request refused\n");
		return 2;
	}
	uv_run(loop, UV_RUN_DEFAULT);
	s3_client_free(c);
	http_fini(h);
	uv_run(loop, UV_RUN_DEFAULT);
	if (t.out)
		fclose(t.out);
	free(body);
	if (t.result) {
		char *s = json_dumps(t.result, JSON_COMPACT);
		puts(s);
		free(s);
		json_decref(t.result);
	}
	curl_global_cleanup();
	return t.status;
}
