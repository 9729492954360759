"""The daemon with storage: s3 end to end, for real: the built denverd
fetches generated Denver snapshots from a loopback HTTP server into the
real SeaweedFS (tests/integration/s3server.py), checks them, converts
them with the real Spark into an s3a:// datastore in the bucket, and runs
the report job on it; once with spark-submit per task (mode submit, the
keys from a credentials file) and once with the managed Spark Connect
server (the keys from the daemon's environment).  A wrong secret fails the
convert in words.  The secret is looked for, and must not be found, in the
daemon's log, denverctl's output (status, show, --json), the spec files
and every process's /proc/PID/cmdline while the jobs run.

The s3a jars and the seven durations they need against Hadoop 3.5 come
from tests/spark/s3a.py (spark.s3a_classpath and spark.conf, as an
operator would write them); everything else Spark needs for the bucket is
what denverd derives from the storage section (denverd.yaml(5), S3A
SETTINGS).  Time, measured on the 2-core machine at a load average of 10:
284 s for submit (three spark-submits of 90 s each), 153 s for managed
(one server start, then warm clients), 20 s for the wrong secret; an idle
machine takes a fraction of that."""
import importlib.util
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pytest
import yaml

import httpd  # tests/integration, on sys.path through conftest (as its s3 fixture)
import s3a
from conftest import TOP, gen_file
from s3server import ACCESS_KEY, REGION, SECRET_KEY

# tests/integration/conftest.py's Daemon (a module of that name is already
# this folder's conftest, so it is loaded under another).
_spec = importlib.util.spec_from_file_location(
    "integration_conftest", os.path.join(TOP, "tests", "integration", "conftest.py"))
itc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(itc)

VENV = Path(TOP) / ".venv" / "bin"
ROOT = Path(TOP)
D = "2026-11-21"
PREFIX = "dd"
DATASETS = ("traffic_accidents", "service_requests_311")
WRONG = "not-the-secret-Qx93"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CmdlineWatch:
    """Scans every process's /proc/PID/cmdline every 100 ms while the jobs
    run; `hits` names the processes whose command line held a secret."""

    def __init__(self, secrets):
        self.secrets = [s.encode() for s in secrets]
        self.hits, self.scans, self.stop = [], 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.wait(0.1):
            self.scans += 1
            for p in os.listdir("/proc"):
                if not p.isdigit():
                    continue
                try:
                    with open(f"/proc/{p}/cmdline", "rb") as f:
                        line = f.read()
                except OSError:
                    continue
                if any(s in line for s in self.secrets):
                    self.hits.append(line[:200])

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


@pytest.fixture
def tmp():
    # Short paths: a Unix socket path is limited to 107 bytes.
    import tempfile
    d = Path(tempfile.mkdtemp(prefix="dvs-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    subprocess.run(["rm", "-rf", str(d)])


@pytest.fixture(scope="module")
def www(tmp_path_factory, gen_dir):
    """The loopback HTTP server serving one generated snapshot of each dataset."""
    root = tmp_path_factory.mktemp("www")
    for name, rows in (("traffic_accidents", 1500), ("service_requests_311", 1000)):
        start = "2024-01-01" if name == "traffic_accidents" else "2025-11-21"
        src = gen_file(gen_dir, name, rows, start=start, end="2026-11-20", seed=21)
        os.link(src, root / f"{name}.generated.csv")
    srv = httpd.Server(str(root)).start()
    yield srv
    srv.stop()


def config(tmp, www, s3, bucket, mode, creds=None):
    """etc/denverd.yaml as a test would run it: the two datasets from the
    loopback server (header check only), storage: s3 in BUCKET, Spark from
    the venv with the s3a jars, and the report job on {datastore}."""
    cfg = yaml.safe_load((ROOT / "etc" / "denverd.yaml").read_text())
    cfg.update(state_dir=str(tmp / "state"), socket=str(tmp / "denverd.sock"), log_level="info")
    for name, ds in cfg["datasets"].items():
        ds.pop("arcgis", None)
        ds.update(source="http", url=f"http://127.0.0.1:{www.port}/{name}.generated.csv",
                  file_name=f"{name}.generated.csv", retries=0,
                  checks={"header": {"type": "columns", "severity": "fail"}})
    cfg["storage"] = {"type": "s3", "endpoint": s3.endpoint, "bucket": bucket, "prefix": PREFIX,
                      "region": REGION}
    if creds:
        cfg["storage"]["credentials_file"] = str(creds)
    sp = cfg["spark"]
    sp.update(mode=mode, submit=str(VENV / "spark-submit"), python=str(VENV / "python"),
              jobs_dir=str(ROOT / "jobs"), master="local[1]", driver_memory="1GiB",
              s3a_classpath=list(s3a.JARS))
    sp["conf"].update({"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2",
                       "spark.hadoop.fs.s3a.attempts.maximum": "2",
                       "spark.hadoop.fs.s3a.retry.limit": "2",
                       **{f"spark.hadoop.{k}": v for k, v in s3a.DURATIONS.items()}})
    job = cfg["jobs"]["report"]
    job["retries"] = 0
    args = [a for a in job["command"][job["command"].index("/usr/share/denverd/jobs/report.py") + 1:]]
    report = str(ROOT / "jobs" / "report.py")
    if mode == "submit":
        job["command"] = [str(VENV / "spark-submit"), "--master", "local[1]", "--driver-memory",
                          "1024m", "{spark_conf}", report, *args]
    else:
        sp["connect"] = {"port": free_port(), "memory": "1GiB", "kill_grace": "5s"}
        job["command"] = [str(VENV / "python"), report, *args]
    assert "{datastore}" in job["command"] and "{storage}" in job["command"]
    (tmp / "denverd.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return cfg


def creds_file(tmp, secret):
    p = tmp / "s3.creds"
    p.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {secret}\n")
    os.chmod(p, 0o600)
    return p


def start(tmp, env=None):
    if (tmp / "notify.sock").exists():         # a previous daemon's, same directory
        (tmp / "notify.sock").unlink()
    d = itc.Daemon(tmp)
    # The test's own AWS_* must not reach the daemon unless given here.
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    d.start(env={**base, "PATH": f"{VENV}:{os.environ['PATH']}", **(env or {})}, wait_ready=True)
    return d


def run_ok(d, target, timeout=600):
    r = d.ctl("trigger", target, "--date", D, "--wait", check=False, timeout=timeout)
    assert r.returncode == 0, f"{target}: {r.stdout}\n{r.stderr}\n{d.log()[-6000:]}"


def run_report(d, timeout=600):
    row = itc.wait_for("the report job's run", lambda: sql(d, "SELECT id, state FROM runs WHERE "
                       "target = 'report' AND state IN ('succeeded', 'failed')"),
                       timeout=timeout, daemon=d)
    assert row[1] == "succeeded", (row, sql(d, "SELECT error, output_tail FROM attempts ORDER BY id DESC"),
                                   d.log()[-6000:])


def sql(d, query):
    import sqlite3
    con = sqlite3.connect(f"file:{d.state}/state.db?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(query).fetchone()
    finally:
        con.close()


def s3fs(s3):
    return pafs.S3FileSystem(access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION,
                             scheme="http", endpoint_override=s3.endpoint.split("://")[1])


def no_secret_anywhere(d, watch, secrets):
    assert watch.scans > 10 and watch.hits == [], watch.hits
    texts = [d.log(), d.ctl("status").stdout, d.ctl("--json", "status").stdout,
             d.ctl("runs").stdout, d.ctl("--json", "runs").stdout]
    import sqlite3
    with sqlite3.connect(f"file:{d.state}/state.db?mode=ro", uri=True, timeout=10) as con:
        runs = [r for (r,) in con.execute("SELECT id FROM runs")]
    assert runs
    for run in runs:
        texts += [d.ctl("show", str(run)).stdout, d.ctl("--json", "show", str(run)).stdout]
    for spec in (d.state / "work").glob("run-*/*.json"):
        texts.append(spec.read_text())
    for t in texts:
        for s in secrets:
            assert s not in t


def check_pipeline(d, s3, bucket, mode):
    """After the three runs: the datastore is in the bucket (and not on
    disk), its rows are what the converts wrote, the report was written
    from it."""
    fs = s3fs(s3)
    for name in DATASETS:
        root = f"{bucket}/{PREFIX}/datastore/{name}"
        parts = [f.path for f in fs.get_file_info(pafs.FileSelector(root, recursive=True))
                 if f.path.endswith(".parquet") and "/year=" in f.path]
        assert parts, f"no Parquet under s3://{root}"
        rows = pads.dataset(root, filesystem=fs, format="parquet", partitioning="hive",
                            exclude_invalid_files=True, ignore_prefixes=[".", "_"]).count_rows()
        run = sql(d, f"SELECT id FROM runs WHERE target = '{name}'")[0]
        manifest = json.loads((d.state / "work" / f"run-{run}" / "manifest.json").read_text())
        spec = json.loads((d.state / "work" / f"run-{run}" / "convert.json").read_text())
        assert spec["input"].startswith(f"s3a://{bucket}/{PREFIX}/staging/{name}/exec_date={D}/")
        assert spec["datastore"] == f"s3a://{root}" and spec["storage"]["type"] == "s3"
        # rows_written still counts the duplicate keys the merge drops
        assert 500 < rows <= manifest["rows_written"], (rows, manifest)
    assert not (d.state / "datastore").exists() or not any((d.state / "datastore").iterdir())
    rep = json.loads((d.state / "reports" / f"exec_date={D}" / "report.json").read_text())
    assert set(rep["state"]) == set(DATASETS) and rep["questions"]
    for name in DATASETS:
        assert rep["state"][name]["commit_count"] == 1
    st = d.call("status")["result"]["spark"]
    assert st["mode"] == mode and st["s3a"]
    import sqlite3
    with sqlite3.connect(f"file:{d.state}/state.db?mode=ro", uri=True, timeout=10) as con:
        for target, task, ms in con.execute(
                "SELECT r.target, t.name, a.ended - a.started FROM attempts a JOIN tasks t ON "
                "a.task_id = t.id JOIN runs r ON t.run_id = r.id ORDER BY a.id"):
            print("%s: %s %s %.1f s" % (mode, target, task, ms / 1000))


def test_submit_mode_end_to_end_on_s3(tmp, www, s3):
    b = s3.bucket()
    config(tmp, www, s3, b, "submit", creds=creds_file(tmp, SECRET_KEY))
    d = start(tmp)
    t0 = time.monotonic()
    try:
        with CmdlineWatch([SECRET_KEY]) as watch:
            for name in DATASETS:
                run_ok(d, name)
            run_report(d)
        check_pipeline(d, s3, b, "submit")
        assert "s3a settings: spark-submit --conf" in d.ctl("status").stdout
        no_secret_anywhere(d, watch, [SECRET_KEY])
    finally:
        d.stop()
        d.notify.close()
    print("submit mode: %.1f s" % (time.monotonic() - t0))


def server_pid(d):
    st = itc.wait_for("the managed server ready", lambda: (lambda s: s if s["state"] == "ready" else None)(
        d.call("status")["result"]["spark"]), timeout=180, daemon=d)
    return st["pid"]


def group_cmdlines(pgid):
    out = {}
    for p in os.listdir("/proc"):
        try:
            with open(f"/proc/{p}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[2]) != pgid:
                    continue
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{p}/environ", "rb") as f:
                out[int(p)] = (cmd, f.read().split(b"\0"))
        except (OSError, ValueError, IndexError):
            pass
    return out


def test_managed_connect_end_to_end_on_s3(tmp, www, s3):
    b = s3.bucket()
    config(tmp, www, s3, b, "managed")
    d = start(tmp, env=s3.env())
    t0 = time.monotonic()
    try:
        with CmdlineWatch([SECRET_KEY]) as watch:
            pid = server_pid(d)
            # The server got the s3a settings on its command line and the
            # keys in its environment only.
            procs = group_cmdlines(pid)
            jvm = [c for c, _ in procs.values() if b"SparkConnectServer" in c]
            assert jvm and b"spark.hadoop.fs.s3a.endpoint=" + s3.endpoint.encode() in jvm[0]
            assert b"spark.driver.extraClassPath=" + s3a.JARS[0].encode() in jvm[0]
            assert any(b"AWS_SECRET_ACCESS_KEY=" + SECRET_KEY.encode() in env
                       for _, env in procs.values())
            for name in DATASETS:
                run_ok(d, name)
            run_report(d)
        check_pipeline(d, s3, b, "managed")
        assert "s3a settings: on the server's command line" in d.ctl("status").stdout
        no_secret_anywhere(d, watch, [SECRET_KEY])
    finally:
        d.stop()
        d.notify.close()
    print("managed mode: %.1f s" % (time.monotonic() - t0))


def test_wrong_secret_fails_the_convert_in_words(tmp, www, s3):
    """The fetch and check with the right keys, then the daemon restarted
    with a wrong secret: the retried convert fails, saying access was
    refused, and neither secret shows anywhere."""
    b = s3.bucket()
    cfg = config(tmp, www, s3, b, "submit", creds=creds_file(tmp, SECRET_KEY))
    cfg["datasets"] = {"service_requests_311": cfg["datasets"]["service_requests_311"]}
    cfg["jobs"] = {}
    jobs_dir = cfg["spark"]["jobs_dir"]
    cfg["spark"]["jobs_dir"] = str(tmp / "nojobs")          # convert cannot start: failed
    (tmp / "denverd.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    d = start(tmp)
    r = d.ctl("trigger", "service_requests_311", "--date", D, "--wait", check=False, timeout=300)
    assert r.returncode != 0 and "convert.py" in r.stdout + r.stderr + d.log()
    d.stop()
    d.notify.close()

    cfg["spark"]["jobs_dir"] = jobs_dir
    (tmp / "denverd.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    creds_file(tmp, WRONG)
    d = start(tmp)
    try:
        run = sql(d, "SELECT id FROM runs WHERE target = 'service_requests_311'")[0]
        with CmdlineWatch([SECRET_KEY, WRONG]) as watch:
            d.ctl("retry", str(run))
            itc.wait_for("the retried convert", lambda: sql(
                d, f"SELECT state FROM runs WHERE id = {run} AND state = 'failed'"
                   f" AND (SELECT count(*) FROM attempts a JOIN tasks t ON a.task_id = t.id"
                   f" WHERE t.run_id = {run} AND t.name = 'convert') = 2"), timeout=300, daemon=d)
        err, tail = sql(d, "SELECT a.error, a.output_tail FROM attempts a JOIN tasks t ON a.task_id = t.id"
                           f" WHERE t.run_id = {run} AND t.name = 'convert' ORDER BY a.id DESC")
        words = (err or "") + (tail or "")
        assert "access denied" in words and "AWS_SECRET_ACCESS_KEY" in words, words[-3000:]
        print("wrong secret:", [ln for ln in words.splitlines() if "access denied" in ln][:1])
        shown = d.ctl("show", str(run)).stdout
        assert "access denied" in shown, shown
        no_secret_anywhere(d, watch, [SECRET_KEY, WRONG])
    finally:
        d.stop()
        d.notify.close()


@pytest.fixture(autouse=True)
def _spark_installed():
    if not (VENV / "spark-submit").exists():
        pytest.fail("PySpark is not installed in %s (run scripts/setup)" % VENV)
    if subprocess.run(["test", "-x", str(itc.DENVERD)]).returncode != 0:
        pytest.fail("no built denverd at %s (scripts/build build)" % itc.DENVERD)
