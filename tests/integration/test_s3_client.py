"""The S3 request layer (io/s3.h) through tests/tools/s3_one against a real
SeaweedFS that checks signatures (s3server.py): every operation signed and
answered, keys that need encoding, listings page by page, the conditional
put, a corrupted body refused by its Content-MD5, errors classified and
put in words."""
import base64
import hashlib
import json
import os
import subprocess

from s3server import ACCESS_KEY, SECRET_KEY

BUILD = os.environ.get("DENVERD_BUILD", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build"))
S3_ONE = os.path.join(BUILD, "tests", "tools", "s3_one")


def one(s3, bucket, *args, secret=SECRET_KEY):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": secret}
    p = subprocess.run([S3_ONE, "--endpoint", s3.endpoint, "--bucket", bucket, *args],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)


def md5b64(b):
    return base64.b64encode(hashlib.md5(b).digest()).decode()


def test_objects_signed_and_round_tripped(s3, tmp_path):
    bucket = s3.bucket()
    key = "dir/a b+c=%d~é.csv"
    data = os.urandom(3 << 20)
    src = tmp_path / "src"
    src.write_bytes(data)
    r = one(s3, bucket, "put", key, str(src), "--md5", md5b64(data))
    assert r["class"] == "ok" and r["etag"] == hashlib.md5(data).hexdigest()
    assert s3.client.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    out = tmp_path / "out"
    r = one(s3, bucket, "get", key, str(out))
    assert r["class"] == "ok" and out.read_bytes() == data
    r = one(s3, bucket, "get", key, str(out), "--range", "bytes=10-19")
    assert r["status"] == 206 and out.read_bytes() == data[10:20]
    r = one(s3, bucket, "head", key)
    assert r["class"] == "ok" and r["content_length"] == len(data)
    r = one(s3, bucket, "copy", key, "copy/x")
    assert r["class"] == "ok"
    assert s3.client.get_object(Bucket=bucket, Key="copy/x")["Body"].read() == data
    # If-None-Match: * on an existing key: 412, the object untouched.
    src.write_bytes(b"other")
    r = one(s3, bucket, "put", key, str(src), "--if-none-match")
    assert r["class"] == "precondition" and r["status"] == 412
    # A body that is not what its Content-MD5 says: refused.
    r = one(s3, bucket, "put", "bad", str(src), "--md5", md5b64(b"something else"))
    assert r["class"] == "permanent" and r["code"] == "BadDigest"
    assert "BadDigest" in r["message"] and "s3://%s/bad" % bucket in r["message"]
    r = one(s3, bucket, "delete", key)
    assert r["class"] == "ok"
    r = one(s3, bucket, "head", key)
    assert r["class"] == "not_found"


def test_listings_page_by_page(s3, tmp_path):
    bucket = s3.bucket()
    for i in range(25):
        s3.client.put_object(Bucket=bucket, Key="p/k%04d" % i, Body=b"x")
    s3.client.put_object(Bucket=bucket, Key="q/other", Body=b"x")
    keys, token, pages = [], None, 0
    while True:
        r = one(s3, bucket, "list", "p/", *([token] if token else []), "--max-keys", "10")
        assert r["class"] == "ok"
        keys += [e["key"] for e in r["entries"]]
        pages += 1
        if not r["truncated"]:
            break
        token = r["next_token"]
    assert keys == ["p/k%04d" % i for i in range(25)] and pages == 3


def test_multipart_upload_by_hand(s3, tmp_path):
    bucket = s3.bucket()
    a, b = os.urandom(9 << 20), os.urandom(1000)
    (tmp_path / "a").write_bytes(a)
    (tmp_path / "b").write_bytes(b)
    up = one(s3, bucket, "create", "m/obj")["upload_id"]
    assert one(s3, bucket, "uploads", "m/")["entries"][0]["upload_id"] == up
    e1 = one(s3, bucket, "part", "m/obj", up, "1", str(tmp_path / "a"), "--md5", md5b64(a))
    e2 = one(s3, bucket, "part", "m/obj", up, "2", str(tmp_path / "b"))
    assert e1["etag"] == hashlib.md5(a).hexdigest()
    r = one(s3, bucket, "complete", "m/obj", up, "1:" + e1["etag"], "2:" + e2["etag"],
            "--if-none-match")
    assert r["class"] == "ok" and r["etag"].endswith("-2")
    assert s3.client.get_object(Bucket=bucket, Key="m/obj")["Body"].read() == a + b
    # Completing again on the existing key: 412; aborting clears the list.
    up = one(s3, bucket, "create", "m/obj")["upload_id"]
    e1 = one(s3, bucket, "part", "m/obj", up, "1", str(tmp_path / "b"))
    r = one(s3, bucket, "complete", "m/obj", up, "1:" + e1["etag"], "--if-none-match")
    assert r["class"] == "precondition"
    assert one(s3, bucket, "abort", "m/obj", up)["class"] == "ok"
    assert s3.uploads(bucket) == []


def test_errors_in_words_and_without_the_secret(s3, tmp_path):
    bucket = s3.bucket()
    r = one(s3, bucket, "list", "", secret="not-the-secret-123")
    assert r["class"] == "permanent" and r["code"] == "SignatureDoesNotMatch"
    assert r["attempts"] == 1 and "not-the-secret-123" not in json.dumps(r)
    r = one(s3, "no-such-bucket-x", "list", "")
    assert r["class"] == "permanent" and r["code"] == "NoSuchBucket"
    assert r["message"].startswith("ListObjectsV2 s3://no-such-bucket-x/: HTTP 404 NoSuchBucket")
    # Nothing listening: retried, then retryable, in words.
    p = subprocess.run([S3_ONE, "--endpoint", "http://127.0.0.1:9", "--bucket", bucket,
                        "--attempts", "2", "head", "k"], capture_output=True, text=True,
                       env={**os.environ, "AWS_ACCESS_KEY_ID": "a",
                            "AWS_SECRET_ACCESS_KEY": "b"}, timeout=60)
    r = json.loads(p.stdout)
    assert r["class"] == "retryable" and r["attempts"] == 2 and r["code"] == "Network"
    assert "no answer from http://127.0.0.1:9" in r["message"]
