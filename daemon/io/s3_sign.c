/*
 * s3_sign.c - a SigV4 Authorization header computed here, for the one
 * request libcurl 7.88 signs wrongly (s3_int.h): UploadPartCopy with a
 * range carries x-amz-copy-source and x-amz-copy-source-range, and curl
 * sorts the canonical headers as "name:value" strings, putting the longer
 * name first ('-' < ':'); S3 sorts by name, and answers 403
 * SignatureDoesNotMatch.  Checked against SeaweedFS (ENGINES.md section 4
 * server) by tests/integration/test_s3_objects.py.
 *
 * HMAC-SHA256 is built on EVP_Digest (RFC 2104, 64-byte blocks).  The
 * secret and the derived keys live on the stack and are wiped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "common/fmt.h"
#include "io/s3_int.h"

#define SHA256_LEN 32

static int sha256(const void *p, size_t n, unsigned char out[SHA256_LEN])
{
	unsigned len = 0;
	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == SHA256_LEN
	       ? 0 : -EIO;
}

static int hmac(const unsigned char *key, size_t klen, const char *msg, size_t mlen,
                unsigned char out[SHA256_LEN])
{
	unsigned char k[64] = { 0 }, pad[64 + SHA256_LEN], inner[SHA256_LEN];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned len = 0;
	int rc = -EIO;

	if (!ctx)
		return -ENOMEM;
	if (klen > sizeof k) {
		if (sha256(key, klen, k) < 0)
			goto out;
	} else {
		memcpy(k, key, klen);
	}
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, pad, 64) != 1 || EVP_DigestUpdate(ctx, msg, mlen) != 1 ||
	    EVP_DigestFinal_ex(ctx, inner, &len) != 1)
		goto out;
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	memcpy(pad + 64, inner, SHA256_LEN);
	rc = sha256(pad, sizeof pad, out);
out:
	OPENSSL_cleanse(k, sizeof k);
	OPENSSL_cleanse(pad, sizeof pad);
	EVP_MD_CTX_free(ctx);
	return rc;
}


int s3_sign_v4(const struct s3_sign_in *in, char *auth, size_t len)
{
	char scope[128], key0[300], sig[2 * SHA256_LEN + 1], reqhash[2 * SHA256_LEN + 1];
	unsigned char kd[SHA256_LEN], digest[SHA256_LEN];
	struct buf canon, names, sts;
	int rc = -ENOMEM;

	buf_init(&canon, 1024, 1 << 20);
	buf_init(&names, 128, 4096);
	buf_init(&sts, 256, 4096);
	buf_printf(&canon, "%s\n%s\n%s\n", in->method, in->path, in->query ? in->query : "");
	for (size_t i = 0; i < in->n; i++) {       /* names lower case, sorted by name */
		buf_printf(&canon, "%s:%s\n", in->names[i], in->values[i]);
		buf_printf(&names, "%s%s", i ? ";" : "", in->names[i]);
	}
	buf_printf(&canon, "\n%s\nUNSIGNED-PAYLOAD", names.p ? names.p : "");
	snprintf(scope, sizeof scope, "%.8s/%s/s3/aws4_request", in->amz_date, in->region);
	if (canon.err || names.err || !canon.p || !names.p ||
	    sha256(canon.p, canon.len, digest) < 0)
		goto out;
	fmt_hex(digest, SHA256_LEN, reqhash);
	buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", in->amz_date, scope, reqhash);
	if (sts.err || snprintf(key0, sizeof key0, "AWS4%s", in->secret_key) >= (int)sizeof key0)
		goto out;
	rc = -EIO;
	if (hmac((unsigned char *)key0, strlen(key0), in->amz_date, 8, kd) < 0 ||
	    hmac(kd, SHA256_LEN, in->region, strlen(in->region), kd) < 0 ||
	    hmac(kd, SHA256_LEN, "s3", 2, kd) < 0 ||
	    hmac(kd, SHA256_LEN, "aws4_request", 12, kd) < 0 ||
	    hmac(kd, SHA256_LEN, sts.p, sts.len, digest) < 0)
		goto out;
	fmt_hex(digest, SHA256_LEN, sig);
	rc = snprintf(auth, len, "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, "
	              "SignedHeaders=%s, Signature=%s", in->access_key, scope, names.p, sig) <
	     (int)len ? 0 : -E2BIG;
out:
	OPENSSL_cleanse(key0, sizeof key0);
	OPENSSL_cleanse(kd, sizeof kd);
	buf_free(&canon);
	buf_free(&names);
	buf_free(&sts);
	return rc;
}

int s3_sign_copy_range(const struct s3_copy_sign *s, char date[17], char *auth, size_t len)
{
	const char *p = strstr(s->url, "://"), *q;
	char path[4096];
	time_t now = time(NULL);
	struct tm tm;

	if (!p || !(p = strchr(p + 3, '/')))
		return -EINVAL;
	q = strchr(p, '?');
	if (snprintf(path, sizeof path, "%.*s", (int)(q ? (size_t)(q - p) : strlen(p)), p) >=
	    (int)sizeof path)
		return -E2BIG;
	gmtime_r(&now, &tm);
	strftime(date, 17, "%Y%m%dT%H%M%SZ", &tm);
	const char *names[] = { "host", "x-amz-content-sha256", "x-amz-copy-source",
	                        "x-amz-copy-source-range", "x-amz-date", "x-amz-security-token" };
	const char *values[] = { s->host, "UNSIGNED-PAYLOAD", s->copy_source, s->range, date,
	                         s->token };
	struct s3_sign_in in = { .method = "PUT", .path = path, .query = q ? q + 1 : NULL,
	                         .region = s->region, .amz_date = date,
	                         .access_key = s->access_key, .secret_key = s->secret_key,
	                         .names = names, .values = values,
	                         .n = s->token && *s->token ? 6 : 5 };
	return s3_sign_v4(&in, auth, len);
}
