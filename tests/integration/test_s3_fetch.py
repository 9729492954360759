"""Snapshots streamed to S3 (storage: s3), through the built daemon, against
a real SeaweedFS (s3server.py: signatures checked) and the project's HTTP
test server: published in one pass, resumed after kill -9, the S3 server
killed and restarted, throttling, wrong secrets and missing buckets, stale
uploads swept at start, nothing left open afterwards, no secret in any
output.  The request layer itself is tested through s3_one in
test_s3_client.py."""
import datetime
import hashlib
import os
import signal
import subprocess
import textwrap
import time

from conftest import DENVERD, base_config, wait_for
from s3proxy import S3Proxy
from s3server import ACCESS_KEY, SECRET_KEY
from test_fetch import xxh128
from test_sched import q, q1, trigger, wait_run

MiB = 1024 * 1024
PREFIX = "dd"


def s3_config(tmp, endpoint, bucket, url, storage="", retries=3):
    ds = ("big:\n  url: %s\n  schedule: \"15 6 * * *\"\n  convert: false\n"
          "  retries: %d\n  retry_delay: 200ms\n  retry_max_delay: 1s\n"
          "  schema: {columns: [{name: id, type: int}], key: [id]}\n" % (url, retries))
    st = ("storage:\n  type: s3\n  endpoint: %s\n  bucket: %s\n  prefix: %s\n"
          "  part_size: 8MiB\n%s" % (endpoint, bucket, PREFIX, textwrap.indent(storage, "  ")))
    return base_config(tmp, datasets=ds, extra=st)


def key_of(date):
    return "%s/staging/big/exec_date=%s/big.bin" % (PREFIX, date)


def fetch_task(daemon, run):
    return q1(daemon, "SELECT * FROM tasks WHERE run_id=? AND name='fetch'", run)


def fetch_attempts(daemon, run):
    return q(daemon, "SELECT a.outcome, a.error FROM attempts a JOIN tasks t ON"
                     " a.task_id=t.id WHERE t.run_id=? AND t.name='fetch' ORDER BY a.n", run)


def wait_fetch(daemon, run, timeout=60):
    """The run's end (the check after the fetch cannot read s3:// yet: the
    downstream issue), and its fetch task."""
    wait_run(daemon, run, timeout=timeout)
    return fetch_task(daemon, run)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def body(s3, bucket, key):
    return s3.client.get_object(Bucket=bucket, Key=key)["Body"].read()


def data_of(n):
    """N bytes of CSV-ish text that does not compress to nothing."""
    rnd = os.urandom(n // 2).hex().encode()
    return rnd[:n]


def run_date(daemon, run):
    return q1(daemon, "SELECT exec_date FROM runs WHERE id=?", run)["exec_date"]


def assert_clean(daemon, s3, bucket):
    """No multipart upload open, no resume rows, nothing staged on disk but
    the key indexes the check keeps in the partitions' local mirrors."""
    assert s3.uploads(bucket) == []
    assert q(daemon, "SELECT * FROM s3_uploads") == []
    assert q(daemon, "SELECT upload_id FROM s3_parts") == []
    staged = [p for p in (daemon.state / "staging").rglob("*")
              if p.is_file() and p.name != ".keys"] \
        if (daemon.state / "staging").exists() else []
    assert staged == []


# ---- published in one pass ----

def test_a_200_mb_snapshot_streamed_and_published(daemon, tmp, www, s3):
    bucket = s3.bucket()
    data = data_of(200 * MiB + 12345)
    (www.root / "big.bin").write_bytes(data)
    url = "http://127.0.0.1:%d/big.bin" % www.port
    daemon.start(s3_config(tmp, s3.endpoint, bucket, url), env=s3.env())
    run = trigger(daemon, "big")
    assert wait_fetch(daemon, run, timeout=180)["state"] == "succeeded"
    key = key_of(run_date(daemon, run))
    got = body(s3, bucket, key)
    assert len(got) == len(data) and sha(got) == sha(data)
    head = s3.client.head_object(Bucket=bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-26")        # 8 MiB parts
    snap = q1(daemon, "SELECT * FROM snapshots")
    assert snap["path"] == "s3://%s/%s" % (bucket, key)
    assert snap["hash"] == xxh128(data)                    # as a local fetch's
    assert snap["bytes"] == len(data)
    assert_clean(daemon, s3, bucket)
    daemon.stop()


def test_a_small_snapshot_is_one_conditional_put(daemon, tmp, www, s3):
    bucket = s3.bucket()
    data = b"id\n" + b"".join(b"%d\n" % i for i in range(1000))
    (www.root / "big.bin").write_bytes(data)
    daemon.start(s3_config(tmp, s3.endpoint, bucket,
                           "http://127.0.0.1:%d/big.bin" % www.port), env=s3.env())
    run = trigger(daemon, "big")
    assert wait_fetch(daemon, run)["state"] == "succeeded"
    key = key_of(run_date(daemon, run))
    assert body(s3, bucket, key) == data
    assert s3.client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"') == \
        hashlib.md5(data).hexdigest()
    # Forced again: the same bytes are there already, so it is this snapshot
    # (412, then the ETag compared), published again without overwriting.
    r = daemon.call("trigger", dataset="big", force=True)
    assert r["ok"], r
    assert wait_fetch(daemon, r["result"]["run_id"])["state"] == "succeeded"
    assert_clean(daemon, s3, bucket)
    daemon.stop()


def test_an_existing_object_with_other_bytes_is_never_overwritten(daemon, tmp, www, s3):
    bucket = s3.bucket()
    data = data_of(20 * MiB)
    (www.root / "big.bin").write_bytes(data)
    key = key_of("2026-11-20")
    s3.client.put_object(Bucket=bucket, Key=key, Body=b"someone else's")
    daemon.start(s3_config(tmp, s3.endpoint, bucket,
                           "http://127.0.0.1:%d/big.bin" % www.port, retries=0),
                 env=s3.env())
    run = trigger(daemon, "big", ("date", "2026-11-20"))
    assert wait_fetch(daemon, run)["state"] == "failed"
    att = fetch_attempts(daemon, run)
    assert len(att) == 1 and "never overwritten" in att[0]["error"], att
    assert body(s3, bucket, key) == b"someone else's"
    assert s3.uploads(bucket) == []                 # the upload was aborted
    assert q(daemon, "SELECT * FROM s3_uploads") == []
    daemon.stop()


# ---- resume ----

def test_kill9_mid_upload_resumes_source_and_upload(daemon, tmp, www, s3):
    bucket = s3.bucket()
    data = data_of(40 * MiB + 777)
    (www.root / "big.bin").write_bytes(data)
    url = "http://127.0.0.1:%d/big.bin?slow=6000000&times=1" % www.port
    daemon.start(s3_config(tmp, s3.endpoint, bucket, url), env=s3.env())
    run = trigger(daemon, "big")
    wait_for("two parts stored", lambda: len(q(daemon, "SELECT number FROM s3_parts")) >= 2,
             30, daemon)
    daemon.kill9()
    up = q1(daemon, "SELECT * FROM s3_uploads")
    parts = q(daemon, "SELECT number, size, end_offset FROM s3_parts ORDER BY number")
    assert up and [p["number"] for p in parts][:2] == [1, 2]
    assert s3.uploads(bucket) == [(up["key"], up["upload_id"])]
    daemon.start(env=s3.env())
    assert wait_fetch(daemon, run)["state"] == "succeeded"
    got = body(s3, bucket, up["key"])
    assert sha(got) == sha(data)
    assert q1(daemon, "SELECT hash FROM snapshots")["hash"] == xxh128(data)
    att = fetch_attempts(daemon, run)
    assert [a["outcome"] for a in att] == ["interrupted", "succeeded"]
    # The source resumed where the stored parts end, not from zero.
    ranges = [e["headers"].get("range") for e in www.log if "big.bin" in e["path"]]
    assert ranges[-1] and int(ranges[-1][6:].rstrip("-")) >= 2 * 8 * MiB
    assert "resuming the upload" in daemon.log()
    assert_clean(daemon, s3, bucket)
    daemon.stop()


def test_an_upload_gone_from_the_server_starts_again(daemon, tmp, www, s3):
    bucket = s3.bucket()
    data = data_of(30 * MiB)
    (www.root / "big.bin").write_bytes(data)
    url = "http://127.0.0.1:%d/big.bin?slow=6000000&times=1" % www.port
    daemon.start(s3_config(tmp, s3.endpoint, bucket, url), env=s3.env())
    run = trigger(daemon, "big")
    wait_for("a part stored", lambda: q(daemon, "SELECT number FROM s3_parts"), 30, daemon)
    daemon.kill9()
    up = q1(daemon, "SELECT * FROM s3_uploads")
    s3.client.abort_multipart_upload(Bucket=bucket, Key=up["key"], UploadId=up["upload_id"])
    daemon.start(env=s3.env())
    assert wait_fetch(daemon, run)["state"] == "succeeded"
    att = fetch_attempts(daemon, run)
    assert [a["outcome"] for a in att] == ["interrupted", "failed", "succeeded"], att
    assert "the upload is gone" in att[1]["error"]
    assert sha(body(s3, bucket, up["key"])) == sha(data)
    assert q1(daemon, "SELECT hash FROM snapshots")["hash"] == xxh128(data)
    assert_clean(daemon, s3, bucket)
    daemon.stop()


def test_the_s3_server_killed_and_restarted_mid_upload(daemon, tmp, www, s3):
    bucket = s3.bucket()
    data = data_of(40 * MiB)
    (www.root / "big.bin").write_bytes(data)
    url = "http://127.0.0.1:%d/big.bin?slow=8000000&times=1" % www.port
    daemon.start(s3_config(tmp, s3.endpoint, bucket, url, retries=30), env=s3.env())
    run = trigger(daemon, "big")
    wait_for("a part stored", lambda: q(daemon, "SELECT number FROM s3_parts"), 30, daemon)
    s3.kill()
    time.sleep(1.0)
    s3.start()
    task = wait_fetch(daemon, run, timeout=120)
    assert task["state"] == "succeeded", (fetch_attempts(daemon, run), daemon.log()[-3000:])
    assert sha(body(s3, bucket, key_of(run_date(daemon, run)))) == sha(data)
    assert q1(daemon, "SELECT hash FROM snapshots")["hash"] == xxh128(data)
    assert_clean(daemon, s3, bucket)
    daemon.stop()


# ---- errors ----

def test_slowdown_and_5xx_are_retried_with_backoff(daemon, tmp, www, s3):
    bucket = s3.bucket()
    px = S3Proxy(s3.endpoint).start()
    try:
        px.fail(method="POST", query="uploads", times=1, status=500, code="InternalError")
        px.fail(method="PUT", query="partNumber", times=3, status=503, code="SlowDown",
                retry_after=0)
        data = data_of(20 * MiB)
        (www.root / "big.bin").write_bytes(data)
        daemon.start(s3_config(tmp, px.endpoint, bucket,
                               "http://127.0.0.1:%d/big.bin" % www.port, retries=0),
                     env=s3.env())
        run = trigger(daemon, "big")
        assert wait_fetch(daemon, run)["state"] == "succeeded"
        assert sha(body(s3, bucket, key_of(run_date(daemon, run)))) == sha(data)
        injected = [e for e in px.log if e["injected"]]
        assert [e["status"] for e in injected] == [500, 503, 503, 503]
        assert [a["outcome"] for a in fetch_attempts(daemon, run)] == ["succeeded"]
        assert_clean(daemon, s3, bucket)
    finally:
        px.stop()
    daemon.stop()


def test_throttled_for_good_fails_retryable_and_keeps_the_upload(daemon, tmp, www, s3):
    bucket = s3.bucket()
    px = S3Proxy(s3.endpoint).start()
    try:
        px.fail(method="PUT", query="partNumber", times=1000, status=503, code="SlowDown")
        (www.root / "big.bin").write_bytes(data_of(10 * MiB))
        daemon.start(s3_config(tmp, px.endpoint, bucket,
                               "http://127.0.0.1:%d/big.bin" % www.port, retries=0),
                     env=s3.env())
        run = trigger(daemon, "big")
        wait_fetch(daemon, run, timeout=90)
        err = fetch_attempts(daemon, run)[-1]["error"]
        assert "SlowDown" in err and "after 5 attempts" in err
        # Retryable: the upload stays for the next attempt to resume.
        assert len(s3.uploads(bucket)) == 1 and q1(daemon, "SELECT * FROM s3_uploads")
    finally:
        px.stop()
    daemon.stop()


def leaks(daemon, run, *secrets):
    """Every place a secret must never reach: the log, status, show,
    metrics, alerts, runs."""
    out = [daemon.log()]
    for args in (("status",), ("show", str(run)), ("metrics",), ("alerts",), ("runs",)):
        r = daemon.ctl(*args)
        out += [r.stdout, r.stderr]
        r = daemon.ctl(*args, json_out=True)
        out += [r.stdout, r.stderr]
    text = "\n".join(out)
    return [s for s in secrets if s in text]


def creds_file(tmp, secret, mode=0o600):
    p = tmp / "s3.creds"
    p.write_text("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                 % (ACCESS_KEY, secret))
    os.chmod(p, mode)
    return p


def test_a_wrong_secret_is_reported_in_words_not_retried_and_never_shown(daemon, tmp, www,
                                                                           s3):
    bucket = s3.bucket()
    wrong = "wrong-secret-Kq7Lm0Zz"
    cred = creds_file(tmp, wrong)
    (www.root / "big.bin").write_bytes(data_of(10 * MiB))
    daemon.start(s3_config(tmp, s3.endpoint, bucket, "http://127.0.0.1:%d/big.bin" % www.port,
                           storage="credentials_file: %s\n" % cred),
                 env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
    run = trigger(daemon, "big")
    assert wait_fetch(daemon, run)["state"] == "failed"
    att = fetch_attempts(daemon, run)
    assert len(att) == 1, att                     # permanent: no retry
    assert "SignatureDoesNotMatch" in att[0]["error"]
    assert leaks(daemon, run, wrong, SECRET_KEY) == []
    assert "SignatureDoesNotMatch" in daemon.ctl("show", str(run)).stdout
    assert s3.uploads(bucket) == []
    daemon.stop()


def test_a_missing_bucket_is_reported_in_words_and_not_retried(daemon, tmp, www, s3):
    (www.root / "big.bin").write_bytes(data_of(10 * MiB))
    daemon.start(s3_config(tmp, s3.endpoint, "no-such-bucket-here",
                           "http://127.0.0.1:%d/big.bin" % www.port), env=s3.env())
    run = trigger(daemon, "big")
    assert wait_fetch(daemon, run)["state"] == "failed"
    att = fetch_attempts(daemon, run)
    assert len(att) == 1 and "NoSuchBucket" in att[0]["error"], att
    assert leaks(daemon, run, SECRET_KEY) == []
    daemon.stop()


def test_credentials_from_credentials_directory(daemon, tmp, www, s3):
    bucket = s3.bucket()
    cdir = tmp / "creds"
    cdir.mkdir()
    (cdir / "denverd-s3").write_text("aws_access_key_id=%s\naws_secret_access_key=%s\n"
                                     % (ACCESS_KEY, SECRET_KEY))
    os.chmod(cdir / "denverd-s3", 0o400)
    data = b"id\n1\n2\n"
    (www.root / "big.bin").write_bytes(data)
    daemon.start(s3_config(tmp, s3.endpoint, bucket, "http://127.0.0.1:%d/big.bin" % www.port,
                           storage="credentials_file: denverd-s3\n"),
                 env={"CREDENTIALS_DIRECTORY": str(cdir), "AWS_ACCESS_KEY_ID": "",
                      "AWS_SECRET_ACCESS_KEY": ""})
    run = trigger(daemon, "big")
    assert wait_fetch(daemon, run)["state"] == "succeeded"
    assert body(s3, bucket, key_of(run_date(daemon, run))) == data
    assert leaks(daemon, run, SECRET_KEY) == []
    daemon.stop()


def test_configuration_refuses_inline_secrets_and_bad_credentials(tmp, s3):
    cfg = tmp / "c.yaml"
    cfg.write_text(base_config(tmp) + "storage:\n  type: s3\n  endpoint: %s\n  bucket: b-1\n"
                   "  secret_access_key: %s\n" % (s3.endpoint, SECRET_KEY))
    r = subprocess.run([str(DENVERD), "--check", "-c", str(cfg)], capture_output=True,
                       text=True)
    assert r.returncode != 0
    assert "credentials_file" in r.stderr and "LoadCredential" in r.stderr
    assert SECRET_KEY not in r.stderr + r.stdout
    # A credentials file others can read is refused at start, by name.
    cred = creds_file(tmp, SECRET_KEY, mode=0o644)
    cfg.write_text(base_config(tmp) + "storage:\n  type: s3\n  endpoint: %s\n  bucket: b-1\n"
                   "  credentials_file: %s\n" % (s3.endpoint, cred))
    r = subprocess.run([str(DENVERD), "-c", str(cfg)], capture_output=True, text=True,
                       env={**os.environ, "DENVERD_LOG": "stderr"}, timeout=20)
    assert r.returncode != 0
    assert "readable by others" in r.stderr and SECRET_KEY not in r.stderr


# ---- the sweep at start ----

def test_stale_uploads_are_aborted_at_start(daemon, tmp, s3):
    bucket = s3.bucket()
    c = s3.client
    stale = c.create_multipart_upload(Bucket=bucket, Key=key_of("2026-11-01"))["UploadId"]
    other = c.create_multipart_upload(Bucket=bucket, Key="elsewhere/x.bin")["UploadId"]
    # The daemon's clock two hours ahead: the uploads were begun before it
    # started (the sweep leaves anything from the last minute alone).
    now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2)
    daemon.start(s3_config(tmp, s3.endpoint, bucket, "http://127.0.0.1:9/x.bin"),
                 env={**s3.env(), "DENVERD_NOW": now.isoformat(timespec="seconds")})
    wait_for("the sweep", lambda: "stale upload" in daemon.log(), 15, daemon)
    assert "1 stale upload under" in daemon.log()
    left = s3.uploads(bucket)
    assert (key_of("2026-11-01"), stale) not in left
    assert ("elsewhere/x.bin", other) in left
    c.abort_multipart_upload(Bucket=bucket, Key="elsewhere/x.bin", UploadId=other)
    daemon.stop(signal.SIGTERM)


# ---- no local disk ----

def test_no_local_file_is_written_in_s3_mode(tmp, www, s3):
    """Under a 64 KiB file-size limit a local fetch of 20 MiB fails (EFBIG),
    the same fetch streamed to S3 publishes: disk is not a failure mode."""
    import resource

    from test_fetch import FETCH_ONE
    bucket = s3.bucket()
    data = data_of(20 * MiB)
    (www.root / "big.bin").write_bytes(data)
    url = "http://127.0.0.1:%d/big.bin" % www.port

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))

    base = [FETCH_ONE, "--url", url, "--state-dir", str(tmp / "st"), "--dataset", "big",
            "--exec-date", "2026-11-24", "--file-name", "big.bin"]
    p = subprocess.run(base, capture_output=True, preexec_fn=small_files, timeout=60)
    assert b'"outcome":"failed"' in p.stdout and b"File too large" in p.stdout
    p = subprocess.run(base + ["--s3-endpoint", s3.endpoint, "--s3-bucket", bucket,
                               "--s3-prefix", PREFIX],
                       capture_output=True, preexec_fn=small_files, timeout=60,
                       env={**os.environ, **s3.env()})
    assert b'"outcome":"published"' in p.stdout, p.stdout + p.stderr
    assert sha(body(s3, bucket, key_of("2026-11-24"))) == sha(data)
    assert not list((tmp / "st").rglob("big.bin*"))
