"""The Spark Connect endpoint (denverd.yaml(5), SPARK CONNECT), for real: a
managed Spark Connect server started by denverd from the venv's PySpark,
Connect clients run as jobs, kill -9 of the server and of the daemon,
SIGTERM, an external endpoint, and the token kept out of status, the log
and every command line.

A server start costs 5-15 s and 1 GB of heap, so the managed daemon's life
is one test (start, job, server killed and restarted, external daemon on
the same server, daemon killed, orphan found, SIGTERM); the rest need no
JVM.
"""
import json
import os
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from conftest import DENVERD, Daemon, base_config, wait_for

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv" / "bin"
TOKEN = "tok-3f9c2a7d1e5b4c8a9d0e6f1a2b3c4d5e"

# A Connect client as a configured job: what it computed and where it went.
CLIENT = textwrap.dedent("""\
    import os, sys
    from pyspark.sql import SparkSession
    s = SparkSession.builder.remote(os.environ["SPARK_REMOTE"]).getOrCreate()
    n = s.range(1000).selectExpr("sum(id) AS n").collect()[0]["n"]
    open(sys.argv[1], "w").write("%d %s\\n" % (n, os.environ["SPARK_REMOTE"]))
    if len(sys.argv) > 2:
        import time
        time.sleep(float(sys.argv[2]))
""")


@pytest.fixture
def daemon(tmp):
    """conftest's daemon, but stopped with SIGTERM even when a test fails: a
    SIGKILLed daemon would leave its managed Spark server running (as it
    should: the next start of that state_dir kills it, but a test's state
    dir has no next start)."""
    d = Daemon(tmp)
    yield d
    if d.proc and d.proc.poll() is None:
        d.stop()
    d.notify.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_members(pgid):
    """Live processes of process group PGID."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in "ZX" and int(fields[2]) == pgid:
            out.append(int(p))
    return out


def cmdlines_with(text):
    """Pids whose command line holds TEXT."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    if text.encode() in f.read():
                        out.append(int(p))
            except OSError:
                pass
    return out


def spark_status(daemon):
    return daemon.call("status")["result"]["spark"]


def wait_spark(daemon, pred, what, timeout=120):
    return wait_for(what, lambda: (lambda s: s if pred(s) else None)(spark_status(daemon)),
                    timeout, daemon)


def config(tmp, spark, job_out):
    """A configuration with one idle dataset and the job `client` (after it)."""
    ds = textwrap.dedent("""\
      demo:
        url: http://127.0.0.1:9/demo.csv
        schedule: "15 6 * * *"
        convert: false
    """)
    (tmp / "client.py").write_text(CLIENT)
    cmd = [str(VENV / "python"), str(tmp / "client.py"), str(job_out)]
    jobs = ("jobs:\n  client:\n    after: [demo]\n    retries: 0\n    command: %s\n"
            "  slow:\n    after: [demo]\n    retries: 0\n    command: %s\n"
            % (json.dumps(cmd), json.dumps(cmd[:2] + [str(job_out) + ".slow", "6"])))
    return base_config(tmp, datasets=ds, extra=spark + jobs)


def run_job(daemon, out):
    if out.exists():
        out.unlink()
    r = daemon.ctl("trigger", "client", "--wait", timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr + daemon.log()[-3000:]
    return out.read_text().split()


def spark_section(mode, port, token_file=None, url=None, memory="1GiB"):
    s = ("spark:\n  mode: %s\n  submit: %s\n  master: \"local[1]\"\n  python: %s\n"
         "  jobs_dir: %s\n  conf: {spark.ui.enabled: \"false\", spark.log.level: WARN,\n"
         "         spark.connect.session.manager.defaultSessionTimeout: 2h}\n"
         "  connect:\n    restart_delay: 500ms\n    restart_max_delay: 1s\n"
         "    kill_grace: 5s\n    check_interval: 300ms\n"
         % (mode, VENV / "spark-submit", VENV / "python", ROOT / "jobs"))
    if mode == "managed":
        s += "    port: %d\n    memory: %s\n" % (port, memory)
    if url:
        s += "    url: \"%s\"\n" % url
    if token_file:
        s += "    token_file: %s\n" % token_file
    return s


def test_managed_server_life(tmp, tmp_path_factory):
    if not (VENV / "spark-submit").exists():
        pytest.fail("PySpark is not installed in %s (run scripts/setup)" % VENV)
    port = free_port()
    token = tmp / "spark.token"
    token.write_text(TOKEN + "\n")
    os.chmod(token, 0o600)
    out = tmp / "client.out"
    env = {"PATH": "%s:%s" % (VENV, os.environ["PATH"])}
    d = Daemon(tmp)
    d.start(config(tmp, spark_section("managed", port, token), out), env=env)
    try:
        # Jobs wait for the server: a job triggered now starts once it is ready.
        st = spark_status(d)
        assert st["mode"] == "managed" and st["url"] == "sc://localhost:%d" % port
        assert st["state"] in ("starting", "ready")
        st = wait_spark(d, lambda s: s["state"] == "ready", "the managed server ready")
        pid1 = st["pid"]
        assert pid1 > 0 and st["restarts"] == 0 and st["uptime_ms"] >= 0
        assert os.getpgid(pid1) == pid1            # it leads its own group
        cmdline = [open("/proc/%d/cmdline" % p).read().split("\0") for p in group_members(pid1)]
        server = next(c for c in cmdline if any("SparkConnectServer" in a for a in c))
        # denverd's defaults for the reused convert sessions; spark.conf's wins
        assert "spark.sql.codegen.cache.maxEntries=1000" in server
        assert "-XX:-DontCompileHugeMethods" in server      # the JVM's own option now
        assert "spark.serializer=org.apache.spark.serializer.KryoSerializer" in server
        assert "spark.connect.session.manager.defaultSessionTimeout=2h" in server
        assert not any(a.endswith("defaultSessionTimeout=48h") for a in server)
        text = d.ctl("status").stdout
        assert "spark:     managed sc://localhost:%d ready, pid %d" % (port, pid1) in text

        # A Connect client job, told SPARK_REMOTE and the token by environment.
        n, remote = run_job(d, out)
        assert n == "499500" and remote == "sc://localhost:%d" % port

        # kill -9 of the server: restarted after the backoff, counted.
        os.kill(pid1, signal.SIGKILL)
        st = wait_spark(d, lambda s: s["state"] != "ready" or s["pid"] != pid1,
                        "the death seen", 20)
        st = wait_spark(d, lambda s: s["state"] == "ready" and s["pid"] not in (None, pid1),
                        "the restarted server ready")
        pid2 = st["pid"]
        assert st["restarts"] == 1 and "ended" in (d.log() + str(st["last_error"]))
        assert not group_members(pid1)
        assert run_job(d, out)[0] == "499500"

        # An external daemon on the same server: ready while it listens.
        ext_tmp = tmp_path_factory.mktemp("external")
        ext = Daemon(ext_tmp)
        ext_out = ext_tmp / "client.out"
        ext.start(config(ext_tmp, spark_section("external", 0, token,
                                                url="sc://localhost:%d" % port), ext_out),
                  env=env)
        try:
            st = wait_spark(ext, lambda s: s["state"] == "ready", "the external endpoint", 20)
            assert st["mode"] == "external" and st["pid"] is None
            assert run_job(ext, ext_out)[0] == "499500"

            # The token is in no status, log or command line.
            for text in (json.dumps(d.call("status")), json.dumps(ext.call("status")),
                         d.ctl("status").stdout, d.ctl("--json", "status").stdout,
                         d.log(), ext.log()):
                assert TOKEN not in text
            assert cmdlines_with(TOKEN) == []

            # kill -9 of the daemon: the server outlives it (its own session)...
            d.kill9()
            assert group_members(pid2)
            # ...and the next start kills that orphan before starting its own.
            d.start(env=env)
            st = wait_spark(d, lambda s: s["state"] == "ready", "the server after a crash")
            assert st["pid"] != pid2 and not group_members(pid2)
            assert "killed the Spark Connect server (process group %d)" % pid2 in d.log()
            pid3 = st["pid"]

            # A reload that changes the server's settings restarts it once
            # no job runs: the running job finishes on the old server.
            d.ctl("trigger", "slow")
            wait_for("the slow job running", lambda: d.call("status")["result"]
                     ["running_count"] == 1, 60, d)
            d.write_config(config(tmp, spark_section("managed", port, token, memory="1100MiB"),
                                  out))
            d.ctl("reload")
            st = spark_status(d)
            assert st["restart_pending"] and st["pid"] == pid3
            wait_for("the slow job done", lambda: d.call("status")["result"]
                     ["running_count"] == 0, 120, d)
            st = wait_spark(d, lambda s: s["state"] == "ready" and s["pid"] not in (None, pid3),
                            "the server restarted by the reload")
            assert not st["restart_pending"] and not group_members(pid3)
            assert "reload: restarting the Spark endpoint" in d.log()
            assert any("1100m" in open("/proc/%d/cmdline" % p).read()
                       for p in group_members(st["pid"]))
            pid3 = st["pid"]

            # SIGTERM: the server's group is gone before the daemon exits; the
            # external daemon then finds the endpoint unreachable.
            assert d.stop() == 0
            assert group_members(pid3) == []
            st = wait_spark(ext, lambda s: s["state"] == "unreachable", "unreachable", 20)
            assert "connect to localhost:%d" % port in st["last_error"]
            # Jobs wait, queued, while it is down.
            ext.ctl("trigger", "client")
            time.sleep(1)
            res = ext.call("status")["result"]
            assert res["scheduler"]["classes"]["jobs"]["queued"] == 1
            assert res["running_count"] == 0
        finally:
            ext.stop()
    finally:
        d.stop()
        d.notify.close()


def test_non_loopback_bind_needs_a_token(tmp):
    cfg = base_config(tmp, extra="spark:\n  mode: managed\n  connect: {bind: 0.0.0.0}\n")
    (tmp / "bad.yaml").write_text(cfg)
    r = subprocess.run([str(DENVERD), "--check", "-c", str(tmp / "bad.yaml")],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "spark.connect.bind 0.0.0.0 is not a loopback address" in r.stderr
    assert "Set token_file (or token_credential)" in r.stderr
    cfg = base_config(tmp, extra="spark:\n  connect: {token: %s}\n" % TOKEN)
    (tmp / "inline.yaml").write_text(cfg)
    r = subprocess.run([str(DENVERD), "--check", "-c", str(tmp / "inline.yaml")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "name it with token_file" in r.stderr
    assert TOKEN not in r.stderr + r.stdout


def test_a_token_file_readable_by_everyone_is_refused(daemon, tmp):
    token = tmp / "spark.token"
    token.write_text(TOKEN)
    os.chmod(token, 0o644)
    daemon.start(config(tmp, spark_section("managed", free_port(), token), tmp / "o"))
    st = spark_status(daemon)
    assert st["state"] == "down" and "readable by everyone" in st["last_error"]
    assert st["pid"] is None
    assert TOKEN not in daemon.log()
    daemon.stop()


def test_external_endpoint_down_then_up(daemon, tmp):
    """The health check is a TCP connect: a plain listener stands in for the
    server (no JVM needed to see the states)."""
    port = free_port()
    daemon.start(config(tmp, spark_section("external", 0, url="sc://127.0.0.1:%d" % port),
                        tmp / "o"))
    st = wait_spark(daemon, lambda s: s["state"] == "unreachable", "unreachable", 10)
    assert st["url"] == "sc://127.0.0.1:%d" % port and st["pid"] is None
    assert "connection refused" in st["last_error"].lower()
    text = daemon.ctl("metrics").stdout
    assert "\ndenverd_spark_ready 0\n" in text and "\ndenverd_spark_restarts 0\n" in text
    with socket.socket() as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port))
        srv.listen(8)
        st = wait_spark(daemon, lambda s: s["state"] == "ready", "ready", 10)
        assert st["last_error"] is None
        assert "\ndenverd_spark_ready 1\n" in daemon.ctl("metrics").stdout
    wait_spark(daemon, lambda s: s["state"] == "unreachable", "unreachable again", 10)
    assert "spark:     external sc://127.0.0.1:%d unreachable" % port in \
        daemon.ctl("status").stdout
    # A reload to another endpoint takes it at once (nothing runs), and one
    # to submit mode ends the health checks.
    port2 = free_port()
    daemon.write_config(config(tmp, spark_section("external", 0,
                                                  url="sc://127.0.0.1:%d" % port2), tmp / "o"))
    daemon.ctl("reload")
    wait_spark(daemon, lambda s: s["url"] == "sc://127.0.0.1:%d" % port2 and
               s["state"] == "unreachable", "the new endpoint", 10)
    daemon.write_config(config(tmp, "", tmp / "o"))
    daemon.ctl("reload")
    wait_spark(daemon, lambda s: s == {"mode": "submit"}, "submit mode", 10)
    daemon.stop()


def test_managed_port_taken_by_another_program(daemon, tmp):
    """A listener on the port is not ours: no server is started and jobs are
    not sent there."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        port = srv.getsockname()[1]
        daemon.start(config(tmp, spark_section("managed", port), tmp / "o"))
        st = wait_spark(daemon, lambda s: s["last_error"] and "already accepts" in
                        s["last_error"], "the port refused", 10)
        assert st["state"] in ("restarting", "starting") and st["pid"] is None
        daemon.stop()


def test_submit_mode_status(daemon, tmp):
    daemon.start(base_config(tmp))
    assert spark_status(daemon) == {"mode": "submit"}
    assert "spark:     submit (spark-submit per job)" in daemon.ctl("status").stdout
    assert "denverd_spark_ready" not in daemon.ctl("metrics").stdout
    daemon.stop()


# The jobs convert runs; DENVERD_TEST_JOBS points at another copy of jobs/.
JOBS = Path(os.environ.get("DENVERD_TEST_JOBS", ROOT / "jobs"))


def test_convert_runs_as_a_connect_client(daemon, tmp, www):
    """The real convert.py through the managed server: no spark-submit, the
    manifest checked, the datastore written."""
    (www.root / "t.csv").write_text(
        "incident_id,reported_date\n1,2026-11-20 08:00:00\n2,2026-11-21 09:30:00\n"
        "3,2026-11-22 17:45:10\n")
    ds = ("t:\n  url: http://127.0.0.1:%d/t.csv\n  schedule: \"15 6 * * *\"\n  retries: 0\n"
          "  convert: true\n  schema:\n    key: [incident_id]\n    event_time: reported_date\n"
          "    timestamp_formats: [\"%%Y-%%m-%%d %%H:%%M:%%S\"]\n"
          "    columns:\n      - {name: incident_id, type: int}\n"
          "      - {name: reported_date, type: timestamp}\n" % www.port)
    spark = spark_section("managed", free_port()).replace(str(ROOT / "jobs"), str(JOBS))
    daemon.start(base_config(tmp, datasets=ds, extra=spark),
                 env={"PATH": "%s:%s" % (VENV, os.environ["PATH"])})
    # Triggered before the server is ready: convert waits, queued.
    r = daemon.ctl("trigger", "t", "--wait", timeout=400, check=False)
    assert r.returncode == 0, r.stdout + r.stderr + daemon.log()[-3000:]
    run = daemon.call("runs", dataset="t")["result"]["runs"][0]
    m = json.loads((daemon.state / "work" / ("run-%d" % run["id"]) / "manifest.json")
                   .read_text())
    assert m["rows_read"] == 3
    assert list((daemon.state / "datastore" / "t").rglob("*.parquet"))
    st = spark_status(daemon)
    assert st["state"] == "ready" and st["restarts"] == 0
    daemon.stop()
    assert group_members(st["pid"]) == []
