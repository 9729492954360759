"""Issue 3: the scheduler against the built denverd and denverctl.

Schedules fire at the right local time with the right exec date (the clock
is placed with DENVERD_NOW, the documented test hook); catch-up after
downtime under missed: latest / all / none and max_catchup; backfill;
`after:` jobs; retries with backoff against the project's HTTP test server;
jobs that hang, die, print a lot or are missing; kill -9 of the daemon in
the middle of a job and of a download, then a restart (the store and the
processes are checked); SIGTERM; pause, resume, cancel, retry; trigger
--wait.  Real processes, real sockets, real SQLite.
"""
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import base_config, wait_for

FINAL = ("succeeded", "failed", "unchanged", "skipped", "cancelled")


# ---- helpers ----

def db(daemon):
    con = sqlite3.connect(str(daemon.state / "state.db"), timeout=10)
    con.row_factory = sqlite3.Row
    return con


def q(daemon, sql, *args):
    with db(daemon) as con:
        return [dict(r) for r in con.execute(sql, args).fetchall()]


def q1(daemon, sql, *args):
    rows = q(daemon, sql, *args)
    return rows[0] if rows else None


def wait_run(daemon, run_id, states=FINAL, timeout=20.0):
    def done():
        r = q1(daemon, "SELECT * FROM runs WHERE id=?", run_id)
        return r if r and r["state"] in states else None
    return wait_for("run %d in %s" % (run_id, states), done, timeout, daemon)


def trigger(daemon, target, *args):
    r = daemon.call("trigger", dataset=target, **dict(args))
    assert r["ok"], r
    return r["result"]["run_id"]


def job_config(tmp, job, extra=""):
    """One dataset that never downloads (schedule only) and job j."""
    return base_config(tmp, extra="jobs:\n  j:\n    after: [demo]\n" + job + extra)


def procs_with_env(entry):
    """Pids of live processes whose initial environment holds ENTRY."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            with open("/proc/%s/environ" % p, "rb") as f:
                if entry.encode() in f.read().split(b"\0"):
                    out.append(int(p))
        except OSError:
            pass
    return out


def csv_dataset(name, url, extra=""):
    return ("%s:\n  url: %s\n  schedule: \"15 6 * * *\"\n  convert: false\n"
            "  retry_delay: 100ms\n  retry_max_delay: 300ms\n"
            "  schema: {columns: [{name: id, type: int}], key: [id]}\n%s"
            % (name, url, extra))


# ---- schedules and catch-up ----

def test_schedule_fires_with_the_local_exec_date(daemon, tmp):
    # 06:15 MDT on 2026-03-08, the spring-forward day; the clock starts two
    # seconds before the fire and advances in real time.
    daemon.start(base_config(tmp), env={"DENVERD_NOW": "2026-03-08T06:14:58-06:00"})
    assert q(daemon, "SELECT * FROM runs") == []
    run = wait_for("the scheduled run", lambda: q1(daemon, "SELECT * FROM runs"), 8, daemon)
    assert run["trigger"] == "schedule"
    assert run["exec_date"] == "2026-03-08"
    assert run["target"] == "demo"
    st = daemon.call("status")["result"]
    ds = [d for d in st["datasets"] if d["name"] == "demo"][0]
    assert ds["next_exec_date"] == "2026-03-09"
    assert ds["next_fire_local"] == "2026-03-09T06:15:00-06:00"
    daemon.stop()


@pytest.mark.parametrize("missed, max_catchup, want", [
    ("latest", 3, ["2026-11-24"]),
    ("all", 2, ["2026-11-23", "2026-11-24"]),
    ("all", 10, ["2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"]),
    ("none", 3, []),
    ("latest", 0, []),
])
def test_catch_up_after_downtime(daemon, tmp, missed, max_catchup, want):
    cfg = base_config(tmp, datasets="demo:\n  url: http://127.0.0.1:9/demo.csv\n"
                      "  schedule: \"15 6 * * *\"\n  retries: 0\n  missed: %s\n"
                      "  max_catchup: %d\n" % (missed, max_catchup))
    # First configured on the 20th at noon; down until the 24th at 08:00.
    daemon.start(cfg, env={"DENVERD_NOW": "2026-11-20T12:00:00-07:00"})
    daemon.stop()
    assert q(daemon, "SELECT * FROM runs") == []
    daemon.start(env={"DENVERD_NOW": "2026-11-24T08:00:00-07:00"})
    runs = q(daemon, "SELECT exec_date, trigger FROM runs ORDER BY exec_date")
    assert [r["exec_date"] for r in runs] == want
    assert all(r["trigger"] == "catchup" for r in runs)
    # The watermark moved to the latest fire: a restart adds nothing.
    daemon.stop()
    daemon.start(env={"DENVERD_NOW": "2026-11-24T09:00:00-07:00"})
    assert len(q(daemon, "SELECT * FROM runs")) == len(want)
    daemon.stop()


def test_reload_never_fires_and_counts_new_datasets_from_now(daemon, tmp):
    cfg = base_config(tmp)
    daemon.start(cfg, env={"DENVERD_NOW": "2026-11-24T08:00:00-07:00"})
    daemon.write_config(cfg.replace("schedule: \"15 6 * * *\"", "schedule: \"* * * * *\"")
                        + "  late:\n    url: http://127.0.0.1:9/late.csv\n"
                          "    schedule: \"0 0 * * *\"\n    missed: all\n")
    assert daemon.call("reload")["ok"]
    time.sleep(0.5)
    assert q(daemon, "SELECT * FROM runs") == []
    row = q1(daemon, "SELECT first_configured FROM datasets WHERE name='late'")
    assert row and abs(row["first_configured"] - 1795532400000) < 10000
    daemon.stop()


# ---- backfill, pause, resume, cancel, retry ----

def test_backfill_pause_resume(daemon, tmp):
    daemon.start(base_config(tmp, datasets="demo:\n  url: http://127.0.0.1:9/demo.csv\n"
                             "  schedule: \"15 6 * * *\"\n  retries: 0\n",
                             extra="limits: {fetches: 1}\n"),
                 env={"DENVERD_NOW": "2026-11-24T08:00:00-07:00"})
    daemon.ctl("pause", "demo")
    r = daemon.ctl("backfill", "demo", "--from", "2026-11-01", "--to", "2026-11-10", check=False)
    assert r.returncode == 1 and "paused" in r.stderr
    assert q(daemon, "SELECT * FROM runs") == []
    daemon.ctl("resume", "demo")
    out = daemon.ctl("backfill", "demo", "--from", "2026-11-01", "--to", "2026-11-10").stdout
    assert "10 runs queued" in out
    runs = q(daemon, "SELECT * FROM runs WHERE trigger='backfill' ORDER BY exec_date")
    assert [r["exec_date"] for r in runs][:2] == ["2026-11-01", "2026-11-02"]
    # Too many dates, and dates in the future, are refused with the reason.
    r = daemon.ctl("backfill", "demo", "--from", "2020-01-01", "--to", "2026-11-01", check=False)
    assert r.returncode == 1 and "at most 1000" in r.stderr
    r = daemon.ctl("backfill", "demo", "--from", "2026-11-20", "--to", "2026-12-01", check=False)
    assert r.returncode == 1 and "future" in r.stderr
    # All fail (nothing listens on port 9), in date order, one at a time.
    wait_for("10 failed runs", lambda: q1(
        daemon, "SELECT count(*) n FROM runs WHERE state='failed'")["n"] >= 10, 20, daemon)
    order = [r["exec_date"] for r in q(
        daemon, "SELECT r.exec_date FROM attempts a JOIN tasks t ON a.task_id=t.id"
                " JOIN runs r ON t.run_id=r.id ORDER BY a.id")]
    assert order[:10] == sorted(order[:10])
    daemon.stop()


def test_cancel_and_retry(daemon, tmp):
    marker = tmp / "second"
    daemon.start(job_config(tmp, "    command: [\"/bin/sh\", \"-c\", \"[ -e %s ] && exit 0;"
                                 " touch %s; exec sleep 40.5\"]\n    kill_grace: 1s\n"
                            % (marker, marker)))
    run = trigger(daemon, "j")
    wait_for("the job", lambda: marker.exists(), 10, daemon)
    out = daemon.ctl("cancel", run).stdout
    assert "cancel" in out
    r = wait_run(daemon, run)
    assert r["state"] == "cancelled" and r["error"] == "cancelled by the operator"
    assert q1(daemon, "SELECT outcome FROM attempts")["outcome"] == "cancelled"
    assert daemon.ctl("cancel", run, check=False).returncode == 1
    # Retry: the same run, queued again, runs the job again (now it exits 0).
    assert "queued again" in daemon.ctl("retry", run).stdout
    r = wait_run(daemon, run)
    assert r["state"] == "succeeded"
    assert [a["outcome"] for a in q(daemon, "SELECT outcome FROM attempts ORDER BY n")] == [
        "cancelled", "succeeded"]
    assert daemon.ctl("retry", run, check=False).returncode == 1   # it succeeded
    daemon.stop()


# ---- jobs: after:, hang, die, print a lot, missing ----

def test_job_after_two_datasets_starts_when_both_finished(daemon, tmp, www):
    (www.root / "a.csv").write_text("id\n1\n2\n")
    (www.root / "b.csv").write_text("id\n" + "".join("%d\n" % i for i in range(50000)))
    base = "http://127.0.0.1:%d" % www.port
    # b downloads for about 1.5 s, so a ends first.
    ds = csv_dataset("a", base + "/a.csv") + csv_dataset("b", base + "/b.csv?rate=200000")
    daemon.start(base_config(tmp, datasets=ds, extra="jobs:\n  report:\n    after: [a, b]\n"
                             "    command: [\"/bin/sh\", \"-c\", \"echo made {exec_date}\"]\n"))
    ra = trigger(daemon, "a")
    rb = trigger(daemon, "b")
    assert wait_run(daemon, ra)["state"] == "succeeded"
    assert q(daemon, "SELECT * FROM runs WHERE kind='job'") == []   # b still runs
    b = wait_run(daemon, rb)
    assert b["state"] == "succeeded"
    job = wait_for("the job run", lambda: q1(
        daemon, "SELECT * FROM runs WHERE kind='job' AND state='succeeded'"), 10, daemon)
    assert job["exec_date"] == b["exec_date"] and job["trigger"] == "after"
    started = q1(daemon, "SELECT a.started FROM attempts a JOIN tasks t ON a.task_id=t.id"
                         " WHERE t.run_id=?", job["id"])["started"]
    assert 0 <= started - b["ended"] < 1000
    assert "made " + b["exec_date"] in q1(daemon, "SELECT output_tail FROM attempts a JOIN"
                                                  " tasks t ON a.task_id=t.id WHERE t.run_id=?",
                                          job["id"])["output_tail"]
    daemon.stop()


@pytest.mark.parametrize("command, extra, outcome, words", [
    ('["sleep", "30"]', "    timeout: 1s\n    kill_grace: 200ms\n", "timeout", "timed out"),
    ('["/bin/sh", "-c", "kill -9 $$"]', "", "failed", "signal 9"),
    ('["/no/such/program"]', "", "failed", "/no/such/program"),
])
def test_jobs_that_hang_die_or_are_missing(daemon, tmp, command, extra, outcome, words):
    daemon.start(job_config(tmp, "    command: %s\n    retries: 0\n%s" % (command, extra)))
    run = trigger(daemon, "j")
    r = wait_run(daemon, run, timeout=30)
    assert r["state"] == "failed"
    a = q1(daemon, "SELECT * FROM attempts")
    assert a["outcome"] == outcome
    assert words in (a["error"] or "") and words in r["error"]
    if "no/such" in command:
        assert a["exit_code"] == 127
    show = daemon.ctl("show", run).stdout
    assert outcome in show and "j" in show
    daemon.stop()


def test_job_printing_a_lot(daemon, tmp):
    daemon.start(job_config(tmp, "    command: [\"/bin/sh\", \"-c\", \"seq 1 300000; "
                                 "echo the-end\"]\n", extra="limits: {output_tail: 8KiB}\n"))
    run = trigger(daemon, "j")
    assert wait_run(daemon, run, timeout=60)["state"] == "succeeded"
    tail = q1(daemon, "SELECT output_tail FROM attempts")["output_tail"]
    assert len(tail) <= 8192 and tail.rstrip().endswith("300000\nthe-end")
    assert "the-end" in daemon.ctl("show", run).stdout
    assert daemon.call("status")["ok"]
    daemon.stop()


# ---- retries with backoff (fetch against the HTTP test server) ----

def test_fetch_retries_with_backoff(daemon, tmp, www):
    (www.root / "a.csv").write_text("id\n1\n2\n")
    url = "http://127.0.0.1:%d/a.csv?fail=2&status=503" % www.port
    daemon.start(base_config(tmp, datasets=csv_dataset("a", url, "  retries: 3\n")))
    run = trigger(daemon, "a")
    assert wait_run(daemon, run)["state"] == "succeeded"
    att = q(daemon, "SELECT a.* FROM attempts a JOIN tasks t ON a.task_id=t.id"
                    " WHERE t.name='fetch' ORDER BY n")
    assert [a["outcome"] for a in att] == ["failed", "failed", "succeeded"]
    assert "503" in att[0]["error"]
    # Full jitter under retry_delay 100ms, retry_max_delay 300ms.
    for prev, nxt in zip(att, att[1:]):
        assert 0 <= nxt["started"] - prev["ended"] < 1000
    ev = q(daemon, "SELECT message FROM events WHERE type='task.state' AND level='warning'")
    assert any("retry 1 of 3" in e["message"] for e in ev)
    daemon.stop()


# ---- crashes and stops ----

def test_kill9_during_a_job_then_restart(daemon, tmp):
    marker = tmp / "ran-once"
    daemon.start(job_config(tmp, "    command: [\"/bin/sh\", \"-c\", \"if [ -e %s ]; then exit 0;"
                                 " fi; touch %s; exec sleep 41.5\"]\n" % (marker, marker)))
    run = trigger(daemon, "j")
    wait_for("the job", lambda: marker.exists(), 10, daemon)
    env = "DENVERD_STATE_DIR=%s" % daemon.state
    assert len(procs_with_env(env)) == 1
    daemon.kill9()
    # The child outlived the daemon (its own process group).
    orphans = procs_with_env(env)
    assert len(orphans) == 1
    assert q1(daemon, "SELECT state FROM runs")["state"] == "running"
    daemon.start()
    # Recovery killed the orphan before the task ran again: never two.
    assert wait_run(daemon, run)["state"] == "succeeded"
    for pid in orphans:
        assert not os.path.exists("/proc/%d" % pid) or \
            open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z"
    att = q(daemon, "SELECT outcome, error FROM attempts ORDER BY n")
    assert [a["outcome"] for a in att] == ["interrupted", "succeeded"]
    assert "killed process group" in daemon.log()
    assert q(daemon, "SELECT * FROM runs WHERE state IN ('running','queued')") == []
    daemon.stop()


def test_kill9_during_a_download_resumes(daemon, tmp, www):
    data = b"id\n" + b"".join(b"%d\n" % i for i in range(200000))   # ~1.3 MB
    (www.root / "big.csv").write_bytes(data)
    url = "http://127.0.0.1:%d/big.csv?slow=300000&times=1" % www.port
    daemon.start(base_config(tmp, datasets=csv_dataset("big", url)))
    run = trigger(daemon, "big")
    # Kill it once a good part of the file is in the .part.
    part = daemon.state / "staging" / ".partial"
    wait_for("a partial download", lambda: any(
        p.stat().st_size > 300000 for p in part.glob("*.part")) if part.exists() else False,
        15, daemon)
    daemon.kill9()
    assert q1(daemon, "SELECT state FROM runs")["state"] == "running"
    daemon.start()
    assert wait_run(daemon, run, timeout=30)["state"] == "succeeded"
    snap = q1(daemon, "SELECT * FROM snapshots")
    assert Path(snap["path"]).read_bytes() == data
    att = q(daemon, "SELECT outcome FROM attempts a JOIN tasks t ON a.task_id=t.id"
                    " WHERE t.name='fetch' ORDER BY n")
    assert [a["outcome"] for a in att] == ["interrupted", "succeeded"]
    ranges = [e["headers"].get("range") for e in www.log if "big.csv" in e["path"]]
    assert ranges[-1] and ranges[-1].startswith("bytes=")
    assert q1(daemon, "SELECT rows FROM snapshots")["rows"] == 200000
    daemon.stop()


def test_kill9_with_queued_runs_then_restart(daemon, tmp):
    daemon.start(job_config(tmp, "    command: [\"sleep\", \"0.2\"]\n",
                            extra="limits: {jobs: 1}\n"))
    runs = [trigger(daemon, "j", ("date", "2026-11-%02d" % d)) for d in range(1, 6)]
    daemon.kill9()
    daemon.start()
    for r in runs:
        assert wait_run(daemon, r)["state"] == "succeeded"
    # limits.jobs = 1: no two attempts overlapped, before or after the crash.
    att = q(daemon, "SELECT started, ended FROM attempts WHERE outcome='succeeded'"
                    " ORDER BY started")
    for a, b in zip(att, att[1:]):
        assert b["started"] >= a["ended"]
    daemon.stop()


def test_sigterm_cancels_jobs_and_records_it(daemon, tmp):
    daemon.start(job_config(tmp, "    command: [\"sleep\", \"42.5\"]\n    kill_grace: 2s\n"))
    trigger(daemon, "j")
    wait_for("the job's pid", lambda: q1(daemon, "SELECT pid FROM attempts WHERE pid > 0"),
             10, daemon)
    pid = q1(daemon, "SELECT pid FROM attempts")["pid"]
    t0 = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - t0 < 5
    assert not os.path.exists("/proc/%d" % pid)
    a = q1(daemon, "SELECT * FROM attempts")
    assert a["outcome"] == "cancelled" and "SIGTERM" in a["error"]
    assert q1(daemon, "SELECT state FROM runs")["state"] == "running"      # resumable
    assert q1(daemon, "SELECT state FROM tasks")["state"] == "queued"
    daemon.start()
    wait_for("the second attempt", lambda: q1(
        daemon, "SELECT * FROM attempts WHERE n=2 AND pid > 0"), 10, daemon)
    daemon.stop()


# ---- denverctl: trigger --wait, runs, status ----

def test_trigger_wait_exit_codes_and_plain_output(daemon, tmp, www):
    (www.root / "a.csv").write_text("id\n1\n2\n")
    base = "http://127.0.0.1:%d" % www.port
    ds = csv_dataset("a", base + "/a.csv?rate=200000") + csv_dataset(
        "gone", base + "/gone.csv?status=404", "  retries: 0\n")
    daemon.start(base_config(tmp, datasets=ds))
    r = daemon.ctl("trigger", "a", "--wait", timeout=60)
    assert r.returncode == 0
    assert "following it" in r.stdout and "run 1 succeeded" in r.stdout
    assert "\r" not in r.stdout                  # not a terminal: plain lines
    r = daemon.ctl("trigger", "a", "--wait", timeout=60)   # same bytes: unchanged
    assert r.returncode == 0 and "unchanged" in r.stdout
    r = daemon.ctl("trigger", "gone", "--wait", check=False, timeout=60)
    assert r.returncode == 5
    assert "404" in r.stdout
    runs = daemon.ctl("runs", "--dataset", "a").stdout
    assert runs.count("\n") == 3 and "unchanged" in runs and "succeeded" in runs
    assert "failed" in daemon.ctl("runs", "--state", "failed").stdout
    j = daemon.ctl("runs", "--limit", "1", json_out=True).stdout
    assert '"runs"' in j
    sch = daemon.ctl("schedule", "a", "--next", "3").stdout
    assert sch.count("exec date") == 3
    daemon.stop()


def test_status_shows_running_fetch_progress_and_queue(daemon, tmp, www):
    data = b"id\n" + b"".join(b"%d\n" % i for i in range(100000))
    (www.root / "s.csv").write_bytes(data)
    url = "http://127.0.0.1:%d/s.csv?rate=200000" % www.port
    daemon.start(base_config(tmp, datasets=csv_dataset("s", url) + csv_dataset(
        "t", url.replace("s.csv", "t.csv")), extra="limits: {fetches: 1}\n"))
    (www.root / "t.csv").write_bytes(data)
    trigger(daemon, "s")
    trigger(daemon, "t")

    def running():
        st = daemon.call("status")["result"]
        r = [x for x in st["running"] if x["task"] == "fetch" and x.get("bytes_done", 0) > 0]
        return (st, r[0]) if r else None
    st, fetch = wait_for("a running fetch with progress", running, 10, daemon)
    assert fetch["bytes_total"] == len(data)
    assert st["queued"] == 1 and st["running_count"] == 1
    assert st["scheduler"]["classes"]["fetches"] == {"running": 1, "limit": 1, "queued": 1}
    out = daemon.ctl("status").stdout
    assert "% of" in out or "MB" in out
    daemon.stop()


# ---- convert with the real Spark ----

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv" / "bin"


def test_convert_runs_spark_and_checks_the_manifest(daemon, tmp, www):
    if not (VENV / "spark-submit").exists():
        pytest.fail("PySpark is not installed in %s (run scripts/setup)" % VENV)
    (www.root / "t.csv").write_text(
        "incident_id,reported_date\n1,2026-11-20 08:00:00\n2,2026-11-21 09:30:00\n"
        "3,2026-11-22 17:45:10\n")
    url = "http://127.0.0.1:%d/t.csv" % www.port
    ds = ("t:\n  url: %s\n  schedule: \"15 6 * * *\"\n  retries: 0\n  convert: true\n"
          "  schema:\n    key: [incident_id]\n    event_time: reported_date\n"
          "    timestamp_formats: [\"%%Y-%%m-%%d %%H:%%M:%%S\"]\n"
          "    columns:\n      - {name: incident_id, type: int}\n"
          "      - {name: reported_date, type: timestamp}\n" % url)
    spark = ("spark:\n  submit: %s\n  master: \"local[1]\"\n  driver_memory: 1GiB\n"
             "  python: %s\n  jobs_dir: %s\n  conf: {spark.ui.enabled: \"false\"}\n"
             % (VENV / "spark-submit", VENV / "python", ROOT / "jobs"))
    daemon.start(base_config(tmp, datasets=ds, extra=spark),
                 env={"PATH": "%s:%s" % (VENV, os.environ["PATH"])})
    r = daemon.ctl("trigger", "t", "--wait", timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr + daemon.log()[-3000:]
    run = q1(daemon, "SELECT * FROM runs")
    manifest = daemon.state / "work" / ("run-%d" % run["id"]) / "manifest.json"
    m = json.loads(manifest.read_text())
    assert m["rows_read"] == 3
    assert list((daemon.state / "datastore" / "t").rglob("*.parquet"))
    conv = q1(daemon, "SELECT a.* FROM attempts a JOIN tasks t ON a.task_id=t.id"
                      " WHERE t.name='convert'")
    assert conv["outcome"] == "succeeded" and conv["exit_code"] == 0
    daemon.stop()
