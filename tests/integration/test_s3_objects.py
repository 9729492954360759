"""io/s3_objects.h against the real S3 server (SeaweedFS with an identity
file, s3server.py), through tests/tools/s3_one: a move is a server-side
copy then a delete, byte for byte (sha256), in one CopyObject or, above
copy_max, in UploadPartCopy ranges with no upload left open; it never
overwrites (If-None-Match) and a missing source is ENOENT; deletions of
many keys (missing ones included) and a listing of a prefix across pages."""
import errno
import hashlib
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

from conftest import BUILD
from s3server import s3  # noqa: F401

S3_ONE = BUILD / "tests" / "tools" / "s3_one"
MIB = 1 << 20


def one(s3, bucket, *args):  # noqa: F811
    r = subprocess.run([str(S3_ONE), "--endpoint", s3.endpoint, "--bucket", bucket,
                        *map(str, args)], capture_output=True, text=True, timeout=120,
                       env={**os.environ, **s3.env()})
    assert r.returncode in (0, 1), r.stderr
    out = json.loads(r.stdout)
    assert "denverd-test-secret" not in r.stdout + r.stderr
    return out


def put(s3, bucket, key, data):  # noqa: F811
    s3.client.put_object(Bucket=bucket, Key=key, Body=data)
    return hashlib.sha256(data).hexdigest()


def sha(s3, bucket, key):  # noqa: F811
    return hashlib.sha256(s3.client.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()


def test_move_is_a_copy_then_a_delete_in_one_request_or_in_parts(s3):  # noqa: F811
    b = s3.bucket()
    data = os.urandom(12 * MIB + 12345)
    want = put(s3, b, "staging/d/exec_date=2026-01-01/d.csv", data)
    r = one(s3, b, "move", "staging/d/exec_date=2026-01-01/d.csv",
            "quarantine/d/exec_date=2026-01-01/d.csv")
    assert r["rc"] == 0 and r["error"] is None, r
    assert s3.keys(b) == ["quarantine/d/exec_date=2026-01-01/d.csv"]
    assert sha(s3, b, "quarantine/d/exec_date=2026-01-01/d.csv") == want

    # Above copy_max: a multipart copy of 5 MiB ranges (3 parts), then the delete.
    r = one(s3, b, "--copy-max", 5 * MIB, "--part-size", 5 * MIB, "move",
            "quarantine/d/exec_date=2026-01-01/d.csv", "staging/d/exec_date=2026-01-01/d.csv")
    assert r["rc"] == 0, r
    assert s3.keys(b) == ["staging/d/exec_date=2026-01-01/d.csv"]
    head = s3.client.head_object(Bucket=b, Key="staging/d/exec_date=2026-01-01/d.csv")
    assert head["ContentLength"] == len(data) and head["ETag"].strip('"').endswith("-3")
    assert sha(s3, b, "staging/d/exec_date=2026-01-01/d.csv") == want
    assert s3.uploads(b) == []


def test_move_never_overwrites_and_a_missing_source_is_enoent(s3):  # noqa: F811
    b = s3.bucket()
    a_sum = put(s3, b, "a", b"a" * 1000)
    b_sum = put(s3, b, "b", b"b" * 1000)
    r = one(s3, b, "move", "a", "b")
    assert r["rc"] == -errno.EEXIST, r
    assert sha(s3, b, "a") == a_sum and sha(s3, b, "b") == b_sum
    r = one(s3, b, "--copy-max", 100, "--part-size", 600, "move", "a", "b")
    assert r["rc"] == -errno.EEXIST, r
    assert sha(s3, b, "a") == a_sum and sha(s3, b, "b") == b_sum and s3.uploads(b) == []
    r = one(s3, b, "move", "nosuch", "c")
    assert r["rc"] == -errno.ENOENT and "nosuch" in r["error"], r
    assert sorted(s3.keys(b)) == ["a", "b"]


def test_delete_keys_and_list_a_prefix_across_pages(s3):  # noqa: F811
    b = s3.bucket()
    keys = [f"staging/d/exec_date=2026-01-01/f{i:04d}" for i in range(1003)]
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda k: s3.client.put_object(Bucket=b, Key=k, Body=b"x"), keys))
    put(s3, b, "staging/e/exec_date=2026-01-01/other", b"y")
    r = one(s3, b, "listall", "staging/d/")
    assert r["rc"] == 0 and [k["key"] for k in r["keys"]] == keys      # > 1000: two pages
    assert all(k["size"] == 1 for k in r["keys"])
    r = one(s3, b, "rmkeys", keys[0], "staging/d/missing", keys[1])
    assert r["rc"] == 0, r
    assert len(s3.keys(b, "staging/d/")) == 1001 and s3.keys(b, "staging/e/")
