# ruff: noqa: F811 - the snapshots fixture imported by name and taken as an argument
"""convert and report on an s3a:// datastore in a real SeaweedFS
(tests/integration/s3server.py, with SigV4 identities), through one Spark
Connect server started with the s3a settings of s3a.py (the class path is
read at JVM start, so not the test session's JVM): the jobs run as Connect
clients (``python jobs/convert.py``) with the credentials in their
environment only, as the daemon runs them.

The same converts on local disk (same server) are the reference: the rows,
first_seen and last_seen read back from S3 equal them.  The crash tests
repeat the local datastore's on S3: one crash through the job, then a crash
at every object-store write of the month swap (each PUT, copy and delete),
each followed by `recover`: the result is the old state (before the
journal's PUT) or the new one, never anything else."""

import json
import os
import re
import time

import pyarrow.dataset as pads
import pytest

import crashjob
import datastore
import s3a
import sparkproc
import specs
import storage
from conftest import TOP, read_store
from s3server import SECRET_KEY
from test_convert import D1, D2, snapshots  # noqa: F401 - the fixture, shared

DATASET = "traffic_accidents"
SERVER_LOGS = {}    # Connect URL -> its Proc (to read its log)


@pytest.fixture(scope="module")
def s3spark(s3, tmp_path_factory):
    """One Connect server for the module with the s3a settings and the
    test identity's credentials in its environment."""
    conf = {"spark.sql.shuffle.partitions": "2", **s3a.spark_conf(s3.endpoint)}
    proc, url = sparkproc.connect_server(str(tmp_path_factory.mktemp("s3connect")), conf=conf, env=s3.env())
    SERVER_LOGS[url] = proc
    yield url
    proc.stop()


class S3Jobs:
    """The jobs as Connect clients against `url`, on a bucket of `s3`."""

    def __init__(self, s3, url, bucket):
        self.s3, self.url, self.bucket = s3, url, bucket
        self.storage = s3a.storage(s3.endpoint)
        self.fs = storage.filesystem(self.storage, s3.env())

    def upload(self, path, exec_date):
        """Put a snapshot where the fetch publishes it; its s3a:// URL."""
        key = f"pre/staging/{DATASET}/exec_date={exec_date}/{os.path.basename(path)}"
        self.s3.client.upload_file(path, self.bucket, key)
        return f"s3a://{self.bucket}/{key}"

    def root(self, prefix="pre"):
        return f"s3a://{self.bucket}/{prefix}/datastore/{DATASET}"

    def convert(self, state, path, exec_date, run_id, s3_input=True, datastore_root=None, crash=None,
                env=None, expect_rc=0):
        """Convert `path` (uploaded first when `s3_input`) into
        `datastore_root` (default: the bucket's; None storage when it is a
        local path).  Returns (spec, manifest or None, CompletedProcess)."""
        spec = specs.make_spec(DATASET, str(state), exec_date, path, "utf-8", run_id=run_id)
        root = datastore_root or self.root()
        if root.startswith("s3a://"):
            spec.update(datastore=root, storage=self.storage)
        if s3_input:
            spec["input"] = self.upload(path, exec_date)
        script = [os.path.join(os.path.dirname(__file__), "crashjob.py"), crash] if crash \
            else [os.path.join(TOP, "jobs", "convert.py")]
        p = sparkproc.run_job([*script, "--spec", specs.write_spec(spec)], self.url, str(state),
                              env=self.s3.env() if env is None else env)
        assert p.returncode == expect_rc, p.stderr[-3000:]
        if p.returncode:
            return spec, None, p
        with open(spec["manifest"], encoding="utf-8") as f:
            return spec, json.load(f), p

    def read(self, root):
        """read_store of an s3a:// dataset (pyarrow over S3)."""
        store = datastore.Store(root, self.fs)
        months = store.months()
        if not months:
            return [], []
        ds = pads.dataset(datastore.fs_path(root), filesystem=self.fs, format="parquet", partitioning="hive",
                          exclude_invalid_files=True, ignore_prefixes=[".", "_"])
        rows = ds.to_table().to_pylist()
        return sorted((tuple(sorted(r.items())) for r in rows), key=repr), sorted(months)

    def copy_prefix(self, src, dst):
        """Server-side copy of every object under key prefix `src` to `dst`
        (dst emptied first): a datastore state saved or restored.
        Directory markers ("key/") are skipped: they hold nothing."""
        for k in self.s3.keys(self.bucket, dst):
            self.s3.client.delete_object(Bucket=self.bucket, Key=k)
        for k in self.s3.keys(self.bucket, src):
            if k.endswith("/"):
                continue
            self.s3.client.copy_object(Bucket=self.bucket, Key=dst + k[len(src):],
                                       CopySource={"Bucket": self.bucket, "Key": k})


@pytest.fixture(scope="module")
def merged(s3, s3spark, snapshots, tmp_path_factory):
    """A then B converted into an s3a:// datastore (input read from S3)
    and into a local one (the reference), by the same server; the S3
    state after A saved under the prefix ``after_a/``."""
    jobs = S3Jobs(s3, s3spark, s3.bucket("s3a"))
    state = tmp_path_factory.mktemp("s3merge")
    local = tmp_path_factory.mktemp("s3local")
    t = time.monotonic()
    _, ma, pa = jobs.convert(state, snapshots["a"], D1, 1)
    jobs.copy_prefix("pre/datastore/", "after_a/datastore/")
    _, mb, _ = jobs.convert(state, snapshots["b"], D2, 2)
    s3_seconds = time.monotonic() - t
    la, mla, _ = jobs.convert(local, snapshots["a"], D1, 1, s3_input=False,
                            datastore_root=os.path.join(str(local), "datastore", DATASET))
    local_a = read_store(la["datastore"])
    lb, mlb, _ = jobs.convert(local, snapshots["b"], D2, 2, s3_input=False, datastore_root=la["datastore"])
    for where, m in (("s3a", ma), ("s3a", mb), ("local", mla), ("local", mlb)):
        print(f"convert {m['exec_date']} into {where}: {m['seconds']}")
    return {"jobs": jobs, "snapshot_b": snapshots["b"], "ma": ma, "mb": mb, "log_a": pa.stderr, "local_a": local_a,
            "local_b": read_store(lb["datastore"]), "local_root": lb["datastore"], "s3_seconds": s3_seconds}


def test_convert_into_s3_equals_local(merged, s3):
    jobs = merged["jobs"]
    assert merged["mb"]["rows_written"] == 290 and merged["mb"]["datastore_rows"] == 310
    assert jobs.read(jobs.root()) == merged["local_b"]       # every column: first_seen, last_seen, ...
    assert jobs.read(jobs.root("after_a")) == merged["local_a"]
    assert [c["seq"] for c in datastore.Store(jobs.root(), jobs.fs).commits()] == [1, 2]
    # nothing left in flight, no multipart upload left open
    txn = datastore.Store(jobs.root(), jobs.fs).txn_root
    assert datastore.Store(jobs.root(), jobs.fs).files(txn) == []
    assert s3.uploads(jobs.bucket) == []
    assert SECRET_KEY not in merged["log_a"]
    print(f"two converts into s3a: {merged['s3_seconds']:.1f} s")


def run_swap(jobs, root, txn, record, n):
    """Run the swap of `record` on `root` with the `n`th object write
    failing (0: none); returns the writes made."""
    undo = crashjob.install_ops(n)
    try:
        datastore.Store(root, jobs.fs).commit_months(txn, *record)
    except OSError as e:
        assert n and "simulated crash" in str(e)
    finally:
        undo()
    return undo.calls


def test_crash_in_the_job_rolls_forward_on_the_next_run(merged, tmp_path):
    jobs = merged["jobs"]
    jobs.copy_prefix("after_a/datastore/", "crash/datastore/")
    root = jobs.root("crash")
    # op 1 is the journal's PUT; the first month's copy into trash is 2..
    _, _, p = jobs.convert(tmp_path, merged_snapshot(merged), D2, 2, datastore_root=root, crash="op:4",
                           expect_rc=1)
    assert "simulated crash" in p.stderr
    assert datastore.pending_commits(root, jobs.fs)
    _, m, p = jobs.convert(tmp_path, merged_snapshot(merged), D2, 3, datastore_root=root)
    assert "recovered interrupted commits" in p.stderr
    assert jobs.read(root) == merged["local_b"]
    assert [c["run_id"] for c in datastore.Store(root, jobs.fs).commits()] == [1, 2, 3]


def merged_snapshot(merged):
    return merged["snapshot_b"]


def names(store, month_dir):
    """The base names of the files of a month directory."""
    return {f.rsplit("/", 1)[1] for f in store.files(month_dir)}


def test_crash_at_every_object_write_of_the_swap(merged, tmp_path):
    """The swap of B's months over A's, on objects Spark staged, failed
    at each of its writes in turn and recovered: old state before the
    journal's PUT, new state after it, the commit record exactly once.
    Before the recover, each month holds old files or new ones, never both
    (across months a row that moved may be seen twice or not at all: the
    months are swapped one after the other, locally too)."""
    jobs = merged["jobs"]
    # Spark's staged months: crash before the journal, keep the staging
    jobs.copy_prefix("after_a/datastore/", "stage/datastore/")
    spec, _, _ = jobs.convert(tmp_path, merged_snapshot(merged), D2, 2, datastore_root=jobs.root("stage"),
                              crash="commit", expect_rc=1)
    store = datastore.Store(jobs.root("stage"), jobs.fs)
    assert jobs.read(jobs.root("stage")) == merged["local_a"]     # a crash before the journal: old state
    (txn,) = store.list_names(f"{store.txn_root}/staging")
    staged = {f"{y}/{m}" for y in store.list_names(store.staging(txn)) if y.startswith("year=")
              for m in store.list_names(f"{store.staging(txn)}/{y}")}
    months = sorted(set(merged["mb"]["partitions"]) | staged)
    prov = {k: v for k, v in store.commits()[0].items() if k not in ("seq", "txn", "months", "version")}
    record = (months, staged, prov)
    jobs.copy_prefix("stage/datastore/", "saved/datastore/")     # after A + the staged txn
    root = jobs.root("stage")
    old = {m: names(store, store.month_path(m)) for m in months}
    new = {m: names(store, f"{store.staging(txn)}/{m}") for m in months}
    t = time.monotonic()
    writes = run_swap(jobs, root, txn, record, 0)                 # count them, no crash
    swap_seconds = time.monotonic() - t
    new_state = jobs.read(root)
    assert new_state == merged["local_b"]
    kinds = {k for k, _ in writes}
    assert kinds == {"write_atomic", "_copy", "_remove"} and len(writes) > 10
    for n in range(1, len(writes) + 1):
        jobs.copy_prefix("saved/datastore/", "stage/datastore/")
        run_swap(jobs, root, txn, record, n)
        mid = datastore.Store(root, jobs.fs)
        for m in months:                # each month is old or new (or partly there), never a mix
            have = names(mid, mid.month_path(m))
            assert have <= old[m] or have <= new[m], f"crash at write {n} {writes[n - 1]}: {m} mixed"
        pending = datastore.pending_commits(root, jobs.fs)     # [] once the journal is deleted
        assert pending == ([] if n == 1 else pending) and pending in ([], [txn])
        assert datastore.Store(root, jobs.fs).recover() == pending, n
        after = jobs.read(root)
        seqs = [c["seq"] for c in datastore.Store(root, jobs.fs).commits()]
        if n == 1:
            assert after == merged["local_a"] and seqs == [1], f"crash at write {n}"
        else:
            assert after == new_state and seqs == [1, 2], f"crash at write {n} {writes[n - 1]}"
        s = datastore.Store(root, jobs.fs)
        assert s.files(s.txn_root) == [], n                    # nothing left in flight
    print(f"swap of {len(months)} months: {len(writes)} object writes, {swap_seconds:.2f} s; "
          f"{len(writes)} crash points recovered")


def test_report_on_s3_equals_local(merged, tmp_path):
    jobs = merged["jobs"]
    out_s3, out_local = str(tmp_path / "s3" / "exec_date=2026-10-02"), str(tmp_path / "l" / "exec_date=2026-10-02")
    job = os.path.join(TOP, "jobs", "report.py")
    p = sparkproc.run_job([job, "--exec-date", D2, "--out", out_s3, "--datastore", f"s3a://{jobs.bucket}/pre/datastore",
                           "--storage", json.dumps(jobs.storage)], jobs.url, str(tmp_path), env=jobs.s3.env())
    assert p.returncode == 0, p.stderr[-3000:]
    p = sparkproc.run_job([job, "--exec-date", D2, "--out", out_local,
                           "--datastore", os.path.dirname(merged["local_root"])], jobs.url, str(tmp_path))
    assert p.returncode == 0, p.stderr[-3000:]
    with open(os.path.join(out_s3, "report.json"), encoding="utf-8") as f:
        r_s3 = json.load(f)
    with open(os.path.join(out_local, "report.json"), encoding="utf-8") as f:
        r_local = json.load(f)
    assert r_s3["questions"] == r_local["questions"] and r_s3["datasets"] == r_local["datasets"]
    assert r_s3["datasets"][DATASET]["rows"] == 310
    st = r_s3["state"][DATASET]
    assert st["commit_count"] == 2 and st["files"] == r_local["state"][DATASET]["files"]
    assert st == {**st, **datastore.fingerprint(jobs.root(), jobs.fs)}
    assert os.path.isfile(os.path.join(out_s3, "index.html"))


def test_wrong_secret_missing_variable_or_bucket_fail_in_words(merged, tmp_path):
    jobs = merged["jobs"]
    wrong = "not-the-secret-Xy77"
    env = {**jobs.s3.env(), "AWS_SECRET_ACCESS_KEY": wrong}
    _, _, p = jobs.convert(tmp_path, merged_snapshot(merged), D2, 5, env=env, expect_rc=2,
                           datastore_root=jobs.root())
    text = p.stdout + p.stderr
    assert "access denied" in text and "AWS_SECRET_ACCESS_KEY" in text, text[-2000:]
    assert wrong not in text and SECRET_KEY not in text
    assert not os.path.exists(os.path.join(tmp_path, "work", "run-5", "manifest.json"))
    env = {k: v for k, v in jobs.s3.env().items() if k != "AWS_ACCESS_KEY_ID"}
    _, _, p = jobs.convert(tmp_path, merged_snapshot(merged), D2, 6, env=env, expect_rc=2,
                           datastore_root=jobs.root())
    assert "AWS_ACCESS_KEY_ID is not set" in p.stderr and SECRET_KEY not in p.stdout + p.stderr
    _, _, p = jobs.convert(tmp_path, merged_snapshot(merged), D2, 8, expect_rc=2,
                           datastore_root=f"s3a://no-such-bucket-{os.getpid()}/datastore/{DATASET}")
    assert "no such bucket" in p.stderr, p.stderr[-2000:]
    # a local input with s3 storage: refused in words (the daemon maps s3:// to s3a://)
    _, _, p = jobs.convert(tmp_path, merged_snapshot(merged), D2, 7, s3_input=False, expect_rc=2,
                           datastore_root=jobs.root())
    assert "input" in p.stderr and "is not an s3a://bucket/key URL" in p.stderr, p.stderr[-2000:]
    p = sparkproc.run_job([os.path.join(TOP, "jobs", "report.py"), "--exec-date", D2, "--out", str(tmp_path / "r"),
                           "--datastore", f"s3a://{jobs.bucket}/pre/datastore", "--storage", json.dumps(jobs.storage)],
                          jobs.url, str(tmp_path), env={**jobs.s3.env(), "AWS_SECRET_ACCESS_KEY": wrong})
    assert p.returncode != 0 and "access denied" in p.stderr, p.stderr[-2000:]
    assert wrong not in p.stdout + p.stderr and not os.path.exists(tmp_path / "r")
    # the datastore is untouched; the server (which holds the secret in its
    # environment) never logged it
    assert jobs.read(jobs.root()) == merged["local_b"]
    assert SECRET_KEY not in SERVER_LOGS[jobs.url].text()


def test_storage_object_is_checked():
    env = {"AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}
    assert storage.filesystem(None, env) is None and storage.filesystem({"type": "local"}, env) is None
    for bad, words in (({"type": "gcs"}, "not one of local, s3"),
                       ({"type": "s3", "endpoint": "127.0.0.1:8333", "region": "r"}, "http(s)://host"),
                       ({"type": "s3", "endpoint": "http://h:1/path", "region": "r"}, "http(s)://host"),
                       ({"type": "s3", "endpoint": "http://h:1", "region": ""}, "region"),
                       ({"type": "s3", "endpoint": "http://h:1", "region": "r", "path_style": "yes"}, "path_style"),
                       ("s3", "null or an object")):
        with pytest.raises(storage.StorageError, match=re.escape(words)):
            storage.filesystem(bad, env)
    ok = s3a.storage("http://127.0.0.1:1")
    with pytest.raises(storage.StorageError, match="AWS_SECRET_ACCESS_KEY is not set"):
        storage.filesystem(ok, {"AWS_ACCESS_KEY_ID": "K"})
    fs = storage.filesystem({**ok, "path_style": False}, {**env, "AWS_SESSION_TOKEN": "tok-value"})
    assert fs.type_name == "s3"
    storage.require_url(fs, "s3a://b/k", "input")
    storage.require_url(None, "/local/path", "input")
    for bad in ("/local/path", "s3://b/k", "s3a:///k", None):
        with pytest.raises(storage.StorageError, match="is not an s3a://bucket/key URL"):
            storage.require_url(fs, bad, "input")
    assert storage.scrub("x s3cr3t-value y tok-value", {**env, "AWS_SESSION_TOKEN": "tok-value"}) == "x *** y ***"
