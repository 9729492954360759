"""The jobs on a real Spark standalone cluster: a master and two workers on
loopback (1 core, 1 GiB each; child processes of the tests, free ports,
stopped and reaped at the end).  Convert and report run through
`spark-submit --master spark://...` and through a Spark Connect server on
that master, and give the same datastore rows and report.json figures as
local mode on the same snapshots (the `report_state` fixture, converted
in-process on local[2]).  A worker killed (SIGKILL) during a convert: the
run retries on the other worker or fails cleanly, and the datastore is
never half-written."""

import json
import os
import signal
import subprocess
import threading
import time

import pytest

import datastore
import sparkproc
import specs
from conftest import TOP, gen_file, read_store, run_convert
from test_report import comparable

# small executors: 2 cores and 24 GiB shared by every test process
APP_CONF = {"spark.cores.max": "2", "spark.executor.memory": "512m", "spark.executor.cores": "1",
            "spark.sql.shuffle.partitions": "4", "spark.sql.session.timeZone": "America/Denver",
            "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}
DATASETS = (("traffic_accidents", "utf-8", 1, (4000, "2023-01-01", "2026-11-20")),
            ("service_requests_311", "windows-1252", 2, (3000, "2025-11-21", "2026-11-20")))
EXEC_DATE = "2026-11-21"


class Cluster:
    """A standalone master and its workers, each `spark-class <Class>` in the
    foreground as our child process (its own process group)."""

    def __init__(self, d, workers=2):
        self.dir = d
        port = sparkproc.free_port()
        self.url = f"spark://127.0.0.1:{port}"
        env = sparkproc.spark_env(d, SPARK_DAEMON_MEMORY="256m")
        cls = os.path.join(sparkproc.SPARK_HOME, "bin", "spark-class")
        self.master = sparkproc.Proc("master", [cls, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                                "--port", str(port), "--webui-port", "0"],
                                     os.path.join(d, "logs", "master.log"), env)
        self.workers = []
        try:
            self.master.wait_for(r"Starting Spark master at spark://127\.0\.0\.1:%d" % port)
            for i in range(workers):
                w = sparkproc.Proc(f"worker {i}", [cls, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                                                   "--cores", "1", "--memory", "1g", "--webui-port", "0",
                                                   "--work-dir", os.path.join(d, f"worker{i}"), self.url],
                                   os.path.join(d, "logs", f"worker{i}.log"), env)
                self.workers.append(w)
            for w in self.workers:
                w.wait_for(r"Successfully registered with master")
        except BaseException:
            self.stop()
            raise

    def ran_executors(self):
        """Has a worker launched an executor (its log's INFO line; the
        master's own log does not say it in 4.3)?"""
        return any("Asked to launch executor" in w.text() for w in self.workers)

    def stop(self):
        for p in [*self.workers, self.master]:
            p.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(str(tmp_path_factory.mktemp("cluster")))
    yield c
    c.stop()


def snapshots(gen_dir):
    """The report_state fixture's generated files (same names, seeds: cached)."""
    return [(name, enc, run_id, gen_file(gen_dir, name, n, start=lo, end=hi, seed=11))
            for name, enc, run_id, (n, lo, hi) in DATASETS]


def local_report(spark, report_state, tmp):
    import report
    out = os.path.join(tmp, "local", "reports", f"exec_date={EXEC_DATE}")
    assert report.main(["--exec-date", EXEC_DATE, "--out", out, "--datastore",
                        os.path.join(report_state, "datastore")], spark=spark) == 0
    return out


def without_state(path):
    """report.json's figures: `comparable` without `state` (file names and
    commit times differ between two converts of the same snapshot)."""
    data = json.loads(comparable(path))
    del data["state"]
    return data


def assert_same_as_local(state, report_state, out, local_out):
    for name, *_ in DATASETS:
        assert read_store(os.path.join(state, "datastore", name)) == \
            read_store(os.path.join(report_state, "datastore", name)), name
    assert without_state(os.path.join(out, "report.json")) == without_state(os.path.join(local_out, "report.json"))


def test_spark_submit_on_the_cluster_equals_local(cluster, spark, report_state, gen_dir, tmp_path):
    local_out = local_report(spark, report_state, str(tmp_path))
    state = str(tmp_path / "state")
    submit = [os.path.join(sparkproc.SPARK_HOME, "bin", "spark-submit"), "--master", cluster.url,
              "--driver-memory", "512m", *[x for k, v in APP_CONF.items() for x in ("--conf", f"{k}={v}")]]
    env = sparkproc.spark_env(str(tmp_path))
    for name, enc, run_id, path in snapshots(gen_dir):
        spec = specs.make_spec(name, state, EXEC_DATE, path, enc, run_id=run_id)
        r = subprocess.run([*submit, os.path.join(TOP, "jobs", "convert.py"), "--spec", specs.write_spec(spec)],
                           capture_output=True, text=True, env=env, timeout=900)
        assert r.returncode == 0, r.stdout[-3000:]
    out = os.path.join(state, "reports", f"exec_date={EXEC_DATE}")
    r = subprocess.run([*submit, os.path.join(TOP, "jobs", "report.py"), "--exec-date", EXEC_DATE, "--out", out],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:]
    assert cluster.ran_executors()          # it did run on the workers
    assert_same_as_local(state, report_state, out, local_out)


@pytest.fixture(scope="module")
def cluster_connect(cluster, tmp_path_factory):
    """A Spark Connect server on the cluster's master."""
    proc, url = sparkproc.connect_server(str(tmp_path_factory.mktemp("cluster_connect")), master=cluster.url,
                                         conf=APP_CONF)
    yield url
    proc.stop()


def test_connect_on_the_cluster_equals_local(cluster, cluster_connect, spark, report_state, gen_dir, tmp_path):
    local_out = local_report(spark, report_state, str(tmp_path))
    state = str(tmp_path / "state")
    for name, enc, run_id, path in snapshots(gen_dir):
        spec = specs.make_spec(name, state, EXEC_DATE, path, enc, run_id=run_id)
        r = sparkproc.run_job([os.path.join(TOP, "jobs", "convert.py"), "--spec", specs.write_spec(spec)],
                              cluster_connect, str(tmp_path))
        assert r.returncode == 0, r.stderr[-3000:]
    out = os.path.join(state, "reports", f"exec_date={EXEC_DATE}")
    r = sparkproc.run_job([os.path.join(TOP, "jobs", "report.py"), "--exec-date", EXEC_DATE, "--out", out],
                          cluster_connect, str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Spark Connect server" in cluster.master.text() and cluster.ran_executors()
    assert_same_as_local(state, report_state, out, local_out)


def test_worker_killed_during_a_convert(cluster, cluster_connect, spark, gen_dir, tmp_path):
    """SIGKILL one worker (and its executor) while the convert writes its
    staging output: the job retries on the other worker or fails with an
    error; either way, after `recover` the datastore holds the old or the
    new state (as local mode computes them), whole, and a rerun of the
    convert gives the new state."""
    name, enc = "service_requests_311", "windows-1252"
    state = str(tmp_path / "state")
    old = gen_file(gen_dir, name, 2000, start="2026-06-01", end="2026-09-30", seed=31)
    new = gen_file(gen_dir, name, 20000, start="2026-05-01", end="2026-11-20", seed=32)
    expect = str(tmp_path / "expect")
    run_convert(spark, expect, name, old, enc, "2026-10-01", run_id=1)
    run_convert(spark, expect, name, new, enc, EXEC_DATE, run_id=2)
    expected = read_store(os.path.join(expect, "datastore", name))
    spec = specs.make_spec(name, state, "2026-10-01", old, enc, run_id=1)
    r = sparkproc.run_job([os.path.join(TOP, "jobs", "convert.py"), "--spec", specs.write_spec(spec)],
                          cluster_connect, str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    root = spec["datastore"]
    before = read_store(root)
    spec = specs.make_spec(name, state, EXEC_DATE, new, enc, run_id=2)
    staging = os.path.join(state, "datastore", ".txn", name, "staging")
    killed = []

    def kill_when_writing():
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not killed:
            if os.path.isdir(staging) and os.listdir(staging):
                cluster.workers[0].kill(signal.SIGKILL)
                killed.append(time.monotonic())
            time.sleep(0.05)
    t = threading.Thread(target=kill_when_writing, daemon=True)
    t.start()
    r = sparkproc.run_job([os.path.join(TOP, "jobs", "convert.py"), "--spec", specs.write_spec(spec)],
                          cluster_connect, str(tmp_path))
    killed.append(None)       # stops the thread if the job ended first
    t.join()
    assert killed[0] is not None, "the convert ended before it wrote its staging output"
    cluster.workers[0].p.wait()
    assert datastore.Store(root).recover() is not None          # what the next job does first
    after = read_store(root)
    if r.returncode == 0:
        assert after == expected        # retried on the surviving worker and committed
    else:
        assert after == before, r.stderr[-3000:]     # failed cleanly: the old state, whole
    # the datastore is whole either way: the rerun (one worker left) gives
    # the same rows as a convert that was never interrupted
    r2 = sparkproc.run_job([os.path.join(TOP, "jobs", "convert.py"), "--spec", specs.write_spec(spec)],
                           cluster_connect, str(tmp_path))
    assert r2.returncode == 0, r2.stderr[-3000:]
    final = read_store(root)
    assert final == expected
    m = json.load(open(spec["manifest"], encoding="utf-8"))
    assert m["datastore_rows"] == len(final[0])
    assert not os.listdir(os.path.join(state, "datastore", ".txn", name, "journal"))
