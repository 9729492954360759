"""ArcGIS sources with storage: s3, through the built daemon, against the
ArcGIS emulator (tests/arcgis) and a real SeaweedFS (s3server.py): the
layer is paged into the local .part as in local mode, published as the
held snapshot and handed to the fetch into S3 (a file:// source with the
upload), so the object has the bytes of a local-mode run's CSV; a kill -9
during the upload resumes the stored upload from the held file without
asking the layer again and publishes once; an unchanged layer (the same
stamps, or the same rows under new ids) uploads nothing; an object with
other bytes at the key is never overwritten; nothing local is left.  A Hub
source in S3 mode streams its export straight into the
upload (it downloads through fetch.h already): the same checks."""
import hashlib
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import Daemon, base_config, wait_for
from s3proxy import S3Proxy
from test_fetch import xxh128
from test_s3_fetch import PREFIX, assert_clean, fetch_attempts, run_date, wait_fetch
from test_sched import q, q1, trigger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "arcgis"))
import emulator  # noqa: E402
import layers  # noqa: E402

ROWS = 40000          # ~21 MB of CSV: three parts of 8 MiB


@pytest.fixture(scope="module")
def emu():
    e = emulator.Emulator()
    e.add_layer(layers.traffic_layer(ROWS, max_record_count=2000))
    e.start()
    yield e
    e.stop()


def datasets(url):
    return textwrap.dedent(f"""\
      traffic:
        source: arcgis
        url: {url}
        schedule: "15 6 * * *"
        convert: false
        retries: 0
        arcgis: {{allow_http: true}}
    """)


def s3_storage(endpoint, bucket):
    return ("storage:\n  type: s3\n  endpoint: %s\n  bucket: %s\n  prefix: %s\n"
            "  part_size: 8MiB\n" % (endpoint, bucket, PREFIX))


def key_of(date, dataset="traffic"):
    return "%s/staging/%s/exec_date=%s/%s.csv" % (PREFIX, dataset, date, dataset)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def local_csv(tmp, url):
    """The CSV a local-mode daemon makes of the layer at URL (its own state
    directory), as the reference."""
    d = tmp / "local"
    d.mkdir()
    local = Daemon(d)
    try:
        local.start(base_config(d, datasets=datasets(url)))
        r = local.ctl("trigger", "traffic", "--wait", check=False, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr + local.log()
        snaps = list((d / "state" / "staging" / "traffic").glob("exec_date=*/traffic.csv"))
        assert len(snaps) == 1, snaps
        return snaps[0].read_bytes()
    finally:
        local.stop()
        local.notify.close()


def held(daemon):
    return list((daemon.state / "staging" / ".partial").glob("traffic.*.held*")) \
        if (daemon.state / "staging" / ".partial").exists() else []


def test_a_layer_is_published_to_s3_with_the_local_csvs_bytes(daemon, tmp, emu, s3):
    emu.reset(counts=True, quirks=True, data=True)
    ref = local_csv(tmp, emu.url(325))
    bucket = s3.bucket()
    daemon.start(base_config(tmp, datasets=datasets(emu.url(325)),
                             extra=s3_storage(s3.endpoint, bucket)), env=s3.env())
    run = trigger(daemon, "traffic")
    assert wait_fetch(daemon, run, timeout=120)["state"] == "succeeded", daemon.log()[-3000:]
    key = key_of(run_date(daemon, run))
    got = s3.client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert len(got) == len(ref) and sha(got) == sha(ref)
    assert s3.client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"').endswith("-3")
    snap = q1(daemon, "SELECT * FROM snapshots")
    assert snap["path"] == "s3://%s/%s" % (bucket, key)
    assert snap["hash"] == xxh128(ref) and snap["bytes"] == len(ref)
    assert snap["url"] == emu.url(325)
    assert snap["etag"].startswith("arcgis1;") and ";count=%d;" % ROWS in snap["etag"]
    assert "waits for its upload" not in daemon.log()
    wait_for("the held file removed", lambda: held(daemon) == [], 10, daemon)
    assert_clean(daemon, s3, bucket)

    # The same stamps: unchanged after the layer document, nothing sent.
    r = daemon.call("trigger", dataset="traffic", date="2026-01-02")
    assert r["ok"], r
    assert wait_fetch(daemon, r["result"]["run_id"])["state"] == "unchanged"
    # The same rows under new ids (a reload moves the edit date): paged in
    # full, the digest says unchanged, nothing uploaded.
    emu.mutate(325, "reload")
    r = daemon.call("trigger", dataset="traffic", date="2026-01-03")
    assert r["ok"], r
    assert wait_fetch(daemon, r["result"]["run_id"], timeout=120)["state"] == "unchanged"
    assert "the same rows and count" in daemon.log()
    assert s3.keys(bucket, PREFIX + "/staging/") == [key]
    assert len(q(daemon, "SELECT id FROM snapshots")) == 1
    wait_for("the held file removed", lambda: held(daemon) == [], 10, daemon)
    assert_clean(daemon, s3, bucket)
    daemon.stop()


def test_kill9_during_the_upload_resumes_it_and_publishes_once(daemon, tmp, emu, s3):
    emu.reset(counts=True, quirks=True, data=True)
    bucket = s3.bucket()
    px = S3Proxy(s3.endpoint).start()
    try:
        # Parts 2 and 3 wait at the proxy: the kill lands after part 1.
        px.delay(method="PUT", query="partNumber=2", seconds=8)
        px.delay(method="PUT", query="partNumber=3", seconds=8)
        daemon.start(base_config(tmp, datasets=datasets(emu.url(325)),
                                 extra=s3_storage(px.endpoint, bucket)), env=s3.env())
        run = trigger(daemon, "traffic")
        wait_for("part 1 stored", lambda: q(daemon, "SELECT number FROM s3_parts"), 60, daemon)
        daemon.kill9()
        files = held(daemon)
        assert sorted(p.name.rsplit(".", 1)[-1] for p in files) == ["held", "stamp"], files
        data = next(p for p in files if p.name.endswith(".held")).read_bytes()
        up = q1(daemon, "SELECT * FROM s3_uploads")
        assert up["url"].startswith("file:///") and up["url"].endswith(".held")
        assert [p["number"] for p in q(daemon, "SELECT number FROM s3_parts")] == [1]
        assert s3.uploads(bucket) == [(up["key"], up["upload_id"])]

        emu.reset(counts=True)
        mark = len(px.log)
        daemon.start(env=s3.env())
        assert wait_fetch(daemon, run, timeout=120)["state"] == "succeeded", daemon.log()[-3000:]
        got = s3.client.get_object(Bucket=bucket, Key=up["key"])["Body"].read()
        assert sha(got) == sha(data) and len(got) > 16 * 1024 * 1024
        assert q1(daemon, "SELECT hash FROM snapshots")["hash"] == xxh128(data)
        assert [a["outcome"] for a in fetch_attempts(daemon, run)] == ["interrupted", "succeeded"]
        # The held snapshot was uploaded without asking the layer again, and
        # the upload resumed after part 1 (which is not sent again).
        assert emu.log == []
        log = daemon.log()
        assert "waits for its upload" in log and "resuming the upload" in log
        again = [e for e in px.log[mark:] if e["method"] == "PUT" and "partNumber=" in e["query"]]
        assert again and not any("partNumber=1&" in e["query"] + "&" for e in again), again
        assert len(q(daemon, "SELECT id FROM snapshots")) == 1
        assert s3.keys(bucket, PREFIX + "/staging/") == [key_of(run_date(daemon, run))]
        wait_for("the held file removed", lambda: held(daemon) == [], 10, daemon)
        assert_clean(daemon, s3, bucket)
        daemon.stop()
    finally:
        px.stop()


def test_an_existing_object_with_other_bytes_is_never_overwritten(daemon, tmp, emu, s3):
    """The layer's snapshot lands on a key that holds something else: the
    attempt fails in words, not retryable, the object is untouched and the
    held file is removed (the layer is still at its source)."""
    emu.reset(counts=True, quirks=True, data=True)
    bucket = s3.bucket()
    key = key_of("2026-11-20")
    s3.client.put_object(Bucket=bucket, Key=key, Body=b"someone else's")
    daemon.start(base_config(tmp, datasets=datasets(emu.url(325)),
                             extra=s3_storage(s3.endpoint, bucket)), env=s3.env())
    run = trigger(daemon, "traffic", ("date", "2026-11-20"))
    assert wait_fetch(daemon, run, timeout=120)["state"] == "failed"
    (att,) = fetch_attempts(daemon, run)
    assert "never overwritten" in att["error"], att
    assert s3.client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"someone else's"
    assert q(daemon, "SELECT id FROM snapshots") == []
    wait_for("the held file removed", lambda: held(daemon) == [], 10, daemon)
    assert_clean(daemon, s3, bucket)
    daemon.stop()


def test_a_hub_export_streams_into_s3_and_the_same_again_uploads_nothing(daemon, tmp, emu, s3):
    """A Hub export (~21 MB: three parts) is a download: streamed straight
    into the upload, nothing written locally; the same export again ends
    unchanged by its hash, its upload aborted, no new object."""
    emu.reset(counts=True, quirks=True, data=True)
    bucket = s3.bucket()
    ds = textwrap.dedent(f"""\
      sr:
        source: arcgis_hub
        url: "{emu.hub_url(325)}"
        schedule: "15 6 * * *"
        convert: false
        retries: 0
        hub: {{allow_http: true, poll_interval: 100ms}}
    """)
    daemon.start(base_config(tmp, datasets=ds, extra=s3_storage(s3.endpoint, bucket)),
                 env=s3.env())
    run = trigger(daemon, "sr")
    assert wait_fetch(daemon, run, timeout=120)["state"] == "succeeded", daemon.log()[-3000:]
    export = next(iter(emu.hub.files.values())).body
    key = key_of(run_date(daemon, run), "sr")
    assert s3.client.get_object(Bucket=bucket, Key=key)["Body"].read() == export
    assert s3.client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"').endswith("-3")
    snap = q1(daemon, "SELECT * FROM snapshots")
    assert snap["path"] == "s3://%s/%s" % (bucket, key) and snap["hash"] == xxh128(export)
    assert snap["url"] == emu.hub_url(325) and snap["etag"] is None
    assert "upload of s3://" in daemon.log()
    assert_clean(daemon, s3, bucket)

    r = daemon.call("trigger", dataset="sr", date="2026-01-02")
    assert r["ok"], r
    assert wait_fetch(daemon, r["result"]["run_id"], timeout=120)["state"] == "unchanged"
    assert s3.keys(bucket, PREFIX + "/staging/") == [key]
    assert len(q(daemon, "SELECT id FROM snapshots")) == 1
    assert_clean(daemon, s3, bucket)
    daemon.stop()
