"""denverctl report against the built denverd and a state directory made
here: Parquet files written with pyarrow in the datastore's layout, commit
records as convert.py leaves them, and report.json files whose `state` is
what jobs/datastore.py computes (the report job's own code, no Spark).
Checks that the daemon's fingerprint (daemon/api/fingerprint.c) agrees
with jobs/datastore.py's on the same files, and that a later commit is
reported as a change."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import DENVERCTL, base_config
from s3server import s3  # noqa: F401 (the fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "jobs"))
import datastore  # noqa: E402
import storage as storage_mod  # noqa: E402

DATASETS = ("traffic_accidents", "service_requests_311")


def write_month(root, year, month, rows, name="part-00000-a.c000.zstd.parquet"):
    d = root / f"year={year}" / f"month={month}"
    d.mkdir(parents=True, exist_ok=True)
    table = pa.table({"id": list(range(rows)), "v": [f"row {i}" for i in range(rows)]})
    pq.write_table(table, d / name, compression="zstd")
    (d / f".{name}.crc").write_bytes(b"not data")          # Hadoop's checksums do not count


def commit(root, seq, run_id, exec_date, months):
    d = root / "_denverd" / "commits"
    d.mkdir(parents=True, exist_ok=True)
    rec = {"version": 1, "seq": seq, "txn": f"{exec_date}.{run_id}.abcd0123", "dataset": root.name,
           "run_id": run_id, "exec_date": exec_date, "snapshot": f"{root.name}.csv", "snapshot_id": run_id,
           "snapshot_hash": f"{seq:032x}", "snapshot_bytes": 1000, "rows_written": 10,
           "committed": "2026-11-21T07:00:00Z", "months": months}
    (d / f"{seq:08d}.json").write_text(json.dumps(rec, sort_keys=True) + "\n")
    return rec


def write_report(state, exec_date):
    """report.json for EXEC_DATE with the `state` the report job records."""
    st = {}
    for name in DATASETS:
        root = state / "datastore" / name
        commits = [json.loads(p.read_text()) for p in sorted((root / "_denverd" / "commits").glob("*.json"))]
        st[name] = {**datastore.fingerprint(str(root)), "commit_count": commits[-1]["seq"] if commits else 0,
                    "commits": commits[-20:]}
    out = state / "reports" / f"exec_date={exec_date}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps({"version": 1, "exec_date": exec_date, "state": st,
                                                 "questions": {}, "timings": {}}))
    return st


@pytest.fixture
def state(tmp):
    s = tmp / "state"
    tr, sr = (s / "datastore" / n for n in DATASETS)
    write_month(tr, 2025, 12, 30)
    write_month(tr, 2026, 1, 20)
    write_month(tr, 2026, 10, 5, name="part-00001-b.c000.zstd.parquet")
    commit(tr, 1, 11, "2026-11-20", ["year=2025/month=12", "year=2026/month=1"])
    commit(tr, 2, 14, "2026-11-21", ["year=2026/month=10"])
    write_month(sr, 2026, 11, 40)
    commit(sr, 1, 12, "2026-11-21", ["year=2026/month=11"])
    (s / "datastore" / ".txn" / "traffic_accidents").mkdir(parents=True)
    return s


def test_the_daemon_and_the_job_compute_the_same_fingerprint(daemon, tmp, state):
    old = write_report(state, "2026-11-20")
    st = write_report(state, "2026-11-21")
    assert old == st
    daemon.start(base_config(tmp))
    r = json.loads(daemon.ctl("report", json_out=True).stdout)["result"]
    assert r["exec_date"] == "2026-11-21" and r["state_recorded"] and r["changed"] is False  # the newest
    assert r["path"] == str(state / "reports" / "exec_date=2026-11-21" / "report.json")
    by = {d["name"]: d for d in r["datasets"]}
    for name in DATASETS:
        now = by[name]["now"]
        assert {k: now[k] for k in ("fingerprint", "files", "bytes")} == \
            datastore.fingerprint(str(state / "datastore" / name))
        assert now["fingerprint"] == by[name]["fingerprint"] and by[name]["changed"] is False
        assert by[name]["newer_commits"] == 0 and by[name]["newer"] == []
    assert by["traffic_accidents"]["files"] == 3 and by["traffic_accidents"]["commit_count"] == 2
    text = daemon.ctl("report", "--date", "2026-11-20").stdout
    assert text.startswith("report 2026-11-20 (")
    assert "traffic_accidents: 2 commits, 3 files" in text
    assert st["traffic_accidents"]["fingerprint"] in text and text.count("  current\n") == 2
    assert "#2      run 14       exec 2026-11-21 snapshot 00000000000000000000000000000002" in text


def test_a_later_commit_is_a_change(daemon, tmp, state):
    st = write_report(state, "2026-11-21")
    tr = state / "datastore" / "traffic_accidents"
    write_month(tr, 2026, 11, 7, name="part-00000-c.c000.zstd.parquet")
    commit(tr, 3, 17, "2026-11-22", ["year=2026/month=11"])
    daemon.start(base_config(tmp))
    r = json.loads(daemon.ctl("report", "--date", "2026-11-21", json_out=True).stdout)["result"]
    by = {d["name"]: d for d in r["datasets"]}
    assert r["changed"] is True
    t = by["traffic_accidents"]
    assert t["changed"] and t["newer_commits"] == 1 and [c["run_id"] for c in t["newer"]] == [17]
    assert t["fingerprint"] == st["traffic_accidents"]["fingerprint"] != t["now"]["fingerprint"]
    assert t["now"]["fingerprint"] == datastore.fingerprint(str(tr))["fingerprint"]
    assert t["now"]["commit_count"] == 3 and t["now"]["files"] == 4
    assert by["service_requests_311"]["changed"] is False
    text = daemon.ctl("report").stdout
    assert "the datastore has changed since this report (1 newer commit)" in text
    assert "  + #3      run 17       exec 2026-11-22" in text and "  current\n" in text
    # a report made now is current; a file removed behind the datastore's
    # back (no commit) is a change too, with 0 newer commits
    write_report(state, "2026-11-21")
    assert json.loads(daemon.ctl("report", json_out=True).stdout)["result"]["changed"] is False
    os.remove(tr / "year=2026" / "month=11" / "part-00000-c.c000.zstd.parquet")
    assert "has changed since this report (0 newer commits)" in daemon.ctl("report").stdout


def test_no_report_and_an_old_one(daemon, tmp):
    daemon.start(base_config(tmp))
    r = daemon.ctl("report", check=False)
    assert r.returncode == 1 and "no report under" in r.stderr
    r = daemon.ctl("report", "--date", "2026-13-01", check=False)
    assert r.returncode != 0
    old = tmp / "state" / "reports" / "exec_date=2026-01-02"
    old.mkdir(parents=True)
    (old / "report.json").write_text(json.dumps({"version": 1, "exec_date": "2026-01-02"}))
    assert "records no datastore state" in daemon.ctl("report").stdout
    r = daemon.ctl("report", "--date", "2026-01-03", check=False)
    assert r.returncode == 1 and "exec_date=2026-01-03/report.json" in r.stderr



def upload(s3, bucket, state):  # noqa: F811
    """STATE/datastore/** as objects under dd/datastore/ of BUCKET, the local copies removed."""
    for p in sorted((state / "datastore").rglob("*")):
        if p.is_file():
            s3.client.upload_file(str(p), bucket, f"dd/{p.relative_to(state).as_posix()}")
            p.unlink()


def test_on_s3_the_daemon_reads_the_bucket(daemon, tmp, state, s3):  # noqa: F811
    """storage: s3: the datastore is in the bucket, state_dir/datastore is
    empty; the daemon's fingerprint of the objects (ListObjectsV2, suffix
    range GETs, a second GET for a footer over 64 KiB and for a large file
    that is not Parquet, a listing of two pages) equals jobs/datastore.py's on the same objects
    through pyarrow's S3FileSystem, and a commit written to the bucket later
    is reported as a change."""
    tr = state / "datastore" / "traffic_accidents"
    d = tr / "year=2026" / "month=2"
    d.mkdir(parents=True)
    wide = pa.table({f"column_{i:04d}_with_a_long_name": [i] for i in range(1500)})
    pq.write_table(wide, d / "part-00000-w.c000.zstd.parquet", compression="zstd")
    footer = int.from_bytes((d / "part-00000-w.c000.zstd.parquet").read_bytes()[-8:-4], "little")
    assert footer > 64 * 1024                      # the second GET
    (d / "notes.txt").write_bytes(os.urandom(100_000))   # not Parquet, over 64 KiB: hashed whole
    (d / "empty").write_bytes(b"")
    st = write_report(state, "2026-11-21")
    b = s3.bucket()
    upload(s3, b, state)
    # 1100 checksum objects before month=1's data file: the listing takes two pages
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda i: s3.client.put_object(
            Bucket=b, Key=f"dd/datastore/traffic_accidents/year=2026/month=1/.x{i:04d}.crc", Body=b"c"),
            range(1100)))
    storage = {"type": "s3", "endpoint": s3.endpoint, "region": "us-east-1", "path_style": True}
    fs = storage_mod.filesystem(storage, s3.env())
    for name in DATASETS:                          # the job's own code, on the objects
        assert datastore.fingerprint(f"s3a://{b}/dd/datastore/{name}", fs) == \
            {k: st[name][k] for k in ("fingerprint", "files", "bytes")}
    cfg = "storage:\n  type: s3\n  endpoint: %s\n  bucket: %s\n  prefix: dd\n" % (s3.endpoint, b)
    daemon.start(base_config(tmp, extra=cfg), env=s3.env())
    r = json.loads(daemon.ctl("report", json_out=True).stdout)["result"]
    assert r["state_recorded"] and r["now_read"] is True and r["changed"] is False, r
    assert r["datastore"] == f"s3a://{b}/dd/datastore"
    by = {d["name"]: d for d in r["datasets"]}
    for name in DATASETS:
        now = by[name]["now"]
        assert {k: now[k] for k in ("fingerprint", "files", "bytes")} == \
            {k: st[name][k] for k in ("fingerprint", "files", "bytes")}
        assert by[name]["changed"] is False and by[name]["newer"] == []
    assert by["traffic_accidents"]["files"] == 6 and by["traffic_accidents"]["commit_count"] == 2
    assert daemon.ctl("report").stdout.count("  current\n") == 2

    # a later convert's month and commit record, in the bucket only
    write_month(tr, 2026, 11, 7, name="part-00000-c.c000.zstd.parquet")
    commit(tr, 3, 17, "2026-11-22", ["year=2026/month=11"])
    upload(s3, b, state)
    r = json.loads(daemon.ctl("report", json_out=True).stdout)["result"]
    t = {d["name"]: d for d in r["datasets"]}["traffic_accidents"]
    assert r["changed"] is True and t["changed"] is True and t["newer_commits"] == 1
    assert [c["run_id"] for c in t["newer"]] == [17] and t["now"]["files"] == 7
    assert t["now"]["fingerprint"] == datastore.fingerprint(f"s3a://{b}/dd/datastore/traffic_accidents",
                                                            fs)["fingerprint"]
    text = daemon.ctl("report").stdout
    assert "the datastore has changed since this report (1 newer commit)" in text
    assert "  + #3      run 17       exec 2026-11-22" in text

    # a refused request is an error naming the key, not a guess
    s3.client.delete_object(Bucket=b, Key="dd/datastore/traffic_accidents/_denverd/commits/00000003.json")
    s3.client.put_object(Bucket=b, Key="dd/datastore/traffic_accidents/_denverd/commits/00000003.json",
                         Body=b"not json")
    e = daemon.ctl("report", check=False)
    assert e.returncode != 0 and "_denverd/commits/00000003.json" in e.stderr, e.stderr


class StallingProxy:
    """A TCP forwarder to the S3 server that holds every byte sent to it
    while `stall` is set: the daemon's requests then wait for an answer."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.stall = threading.Event()
        self.held = threading.Event()         # a request is being held now
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.endpoint = "http://127.0.0.1:%d" % self.srv.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, False), daemon=True).start()

    def _pump(self, src, dst, to_server):
        try:
            while data := src.recv(65536):
                while to_server and self.stall.is_set():
                    self.held.set()
                    time.sleep(0.02)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stall.clear()
        self.srv.close()


def test_on_s3_the_loop_answers_while_the_bucket_is_slow(daemon, tmp, state, s3):  # noqa: F811
    """The report's S3 requests never block the daemon: while they wait
    on a bucket that does not answer, another client's status is answered;
    once the bucket answers, the report is."""
    st = write_report(state, "2026-11-21")
    b = s3.bucket()
    upload(s3, b, state)
    host, port = s3.endpoint.split("://")[1].split(":")
    proxy = StallingProxy((host, int(port)))
    try:
        cfg = "storage:\n  type: s3\n  endpoint: %s\n  bucket: %s\n  prefix: dd\n" % (proxy.endpoint, b)
        daemon.start(base_config(tmp, extra=cfg), env=s3.env())
        proxy.stall.set()
        rep = subprocess.Popen([str(DENVERCTL), "-s", str(daemon.socket), "--json", "report"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proxy.held.wait(10), "the report sent nothing to S3"
        t0 = time.monotonic()
        daemon.ctl("status", timeout=5)
        assert time.monotonic() - t0 < 3 and rep.poll() is None   # answered, the report waits
        proxy.stall.clear()
        out, err = rep.communicate(timeout=30)
        assert rep.returncode == 0, err
        r = json.loads(out)["result"]
        assert r["changed"] is False and r["now_read"] is True
        assert {d["name"]: d["now"]["fingerprint"] for d in r["datasets"]} == \
            {n: st[n]["fingerprint"] for n in DATASETS}
        assert daemon.stop() == 0           # while its S3 endpoint still answers
    finally:
        proxy.close()
