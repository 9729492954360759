#!/usr/bin/env python3
"""Scheduler benchmarks (figures, not pass/fail tests).

  1. A job that depends on a dataset starts within 10 ms of the dataset's
     run ending: measured from the store's timestamps (the dataset run's
     `ended`, the job attempt's `started`, both unix ms from one clock).
  2. Idle daemon with 1,000 datasets configured and 100,000 runs in the
     store: start to READY=1 (sd_notify, through our own NOTIFY_SOCKET),
     RSS, CPU used over 10 s while nothing is due, `status` round trips,
     and RSS once idle again after one run (fetch and check) has finished.

Targets (issue 3): 1. <= 10 ms; 2. READY <= 200 ms, RSS <= 16 MB, no CPU
while idle, status <= 5 ms.  No peer is measured in the same run: Airflow's
scheduler needs a database server and tens of processes, and neither cron
nor a systemd timer runs dependent tasks or answers status; the figures are
printed next to the targets instead.

Usage: tests/bench/bench_sched.py [--build DIR] [--datasets N] [--runs N]
"""
import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def fmt_ms(x):
    return "%.2f ms" % x


class Daemon:
    """The built denverd on a temporary config, with our NOTIFY_SOCKET."""

    def __init__(self, build, cfg_path, sock_path, notify_path, log_path):
        self.build = build
        self.cfg = cfg_path
        self.sock = sock_path
        self.notify_path = notify_path
        self.log = open(log_path, "ab")
        self.proc = None

    def start(self):
        try:
            os.unlink(self.notify_path)
        except FileNotFoundError:
            pass
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(self.notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, DENVERD_LOG="stderr")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([os.path.join(self.build, "daemon", "denverd"), "-c",
                                      self.cfg], env=env, stdout=self.log, stderr=self.log)
        notify.settimeout(30)
        ready = None
        while ready is None:
            msg = notify.recv(4096).decode()
            if "READY=1" in msg.split("\n"):
                ready = time.monotonic() - t0
        notify.close()
        return ready * 1000

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)

    def stat(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])    # utime + stime, ticks

    def rss_kb(self):
        out = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])
        return out


def call(sock_path, cmd, args=None, conn=None):
    """One request on CONN (or a new connection); returns (reply, seconds)."""
    own = conn is None
    if own:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(sock_path)
    req = json.dumps({"v": 1, "id": 1, "cmd": cmd, "args": args or {}}) + "\n"
    t0 = time.perf_counter()
    conn.sendall(req.encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = conn.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    dt = time.perf_counter() - t0
    if own:
        conn.close()
    return json.loads(buf), dt


def write_config(path, state_dir, sock, datasets, jobs=""):
    with open(path, "w") as f:
        f.write("state_dir: %s\nsocket: %s\nallow_file_urls: true\nlog_level: warning\n"
                "limits: {fetches: 2, jobs: 1}\n" % (state_dir, sock))
        f.write("datasets:\n" + datasets + jobs)
    os.chmod(path, 0o644)


def bench_dependency(build, tmp, n):
    """A dataset run whose end creates and starts a job run, N times."""
    state = os.path.join(tmp, "dep")
    os.makedirs(state)
    csv = os.path.join(tmp, "a.csv")
    with open(csv, "w") as f:
        f.write("id\n1\n2\n")
    cfg = os.path.join(tmp, "dep.yaml")
    sock = os.path.join(tmp, "dep.sock")
    write_config(cfg, state, sock,
                 "  a:\n    url: file://%s\n    schedule: \"0 3 * * *\"\n    convert: false\n"
                 "    schema: {columns: [{name: id, type: int}], key: [id]}\n" % csv,
                 "jobs:\n  j:\n    after: [a]\n    command: [\"true\"]\n")
    d = Daemon(build, cfg, sock, os.path.join(tmp, "dep.notify"), os.path.join(tmp, "dep.log"))
    d.start()
    try:
        for i in range(n):
            date = "2026-%02d-%02d" % (1 + i // 28, 1 + i % 28)
            rep, _ = call(sock, "trigger", {"dataset": "a", "date": date, "force": True})
            assert rep["ok"], rep
        deadline = time.time() + 120
        db = sqlite3.connect(os.path.join(state, "state.db"))
        while time.time() < deadline:
            done = db.execute("SELECT count(*) FROM runs WHERE kind='job' AND state IN"
                              " ('succeeded','failed')").fetchone()[0]
            if done == n:
                break
            time.sleep(0.2)
        rows = db.execute(
            "SELECT r.ended, j.created, a.started FROM runs r"
            " JOIN runs j ON j.kind='job' AND j.exec_date=r.exec_date"
            " JOIN tasks t ON t.run_id=j.id JOIN attempts a ON a.task_id=t.id AND a.n=1"
            " WHERE r.kind='dataset' AND r.state='succeeded'").fetchall()
        db.close()
    finally:
        d.stop()
    created = [c - e for e, c, s in rows]
    started = [s - e for e, c, s in rows]
    print("1. dependent job start (%d runs): dataset run end -> job run created: median %s,"
          " max %s; -> job attempt started: median %s, max %s   (target <= 10 ms)"
          % (len(rows), fmt_ms(statistics.median(created)), fmt_ms(max(created)),
             fmt_ms(statistics.median(started)), fmt_ms(max(started))))


def fill_store(db_path, n_datasets, n_runs):
    """N_RUNS finished runs (3 tasks, one attempt each, 2 events) over the
    datasets, as if the daemon had run for a long time."""
    db = sqlite3.connect(db_path)
    rnd = random.Random(7)
    t = 1700000000000
    db.execute("BEGIN")
    run_rows, task_rows, att_rows, ev_rows = [], [], [], []
    task_id = att_id = 0
    for run_id in range(1, n_runs + 1):
        ds = "ds_%04d" % rnd.randrange(n_datasets)
        date = "20%02d-%02d-%02d" % (20 + run_id // 10000, 1 + run_id % 12, 1 + run_id % 28)
        t += 60000
        state = rnd.choice(["succeeded"] * 8 + ["unchanged", "failed"])
        run_rows.append((run_id, ds, "dataset", date, "schedule", state, 0, t, t + 1, t + 90000,
                         None if state != "failed" else "check: rows: 3 rows (passes: >= 1000)"))
        for seq, name in enumerate(("fetch", "check", "convert")):
            task_id += 1
            task_rows.append((task_id, run_id, name, seq, state if seq == 0 else "skipped"
                              if state != "succeeded" else "succeeded", 0))
            att_id += 1
            att_rows.append((att_id, task_id, 1, t + seq, t + seq + 30000, "succeeded", 0, None,
                             1234, None, None))
        ev_rows.append((t, "info", "run.state", ds, run_id, None, "run queued (schedule)"))
        ev_rows.append((t + 90000, "info", "run.state", ds, run_id, None, "run " + state))
    db.executemany("INSERT INTO runs(id, target, kind, exec_date, trigger, state, force,"
                   " created, started, ended, error) VALUES (?,?,?,?,?,?,?,?,?,?,?)", run_rows)
    db.executemany("INSERT INTO tasks(id, run_id, name, seq, state, attempts)"
                   " VALUES (?,?,?,?,?,?)", task_rows)
    db.executemany("INSERT INTO attempts(id, task_id, n, started, ended, outcome, exit_code,"
                   " signal, pid, error, output_tail) VALUES (?,?,?,?,?,?,?,?,?,?,?)", att_rows)
    db.executemany("INSERT INTO events(ts, level, type, dataset, run_id, task, message)"
                   " VALUES (?,?,?,?,?,?,?)", ev_rows)
    db.commit()
    db.close()
    return os.path.getsize(db_path)


def bench_idle(build, tmp, n_datasets, n_runs):
    state = os.path.join(tmp, "idle")
    os.makedirs(state)
    cfg = os.path.join(tmp, "idle.yaml")
    sock = os.path.join(tmp, "idle.sock")
    rnd = random.Random(1)
    ds = "".join("  ds_%04d:\n    url: file://%s/ds_%04d.csv\n    schedule: \"%d %d * * *\"\n"
                 "    convert: false\n"
                 % (i, tmp, i, rnd.randrange(60), rnd.randrange(24)) for i in range(n_datasets))
    with open(os.path.join(tmp, "ds_0000.csv"), "w") as f:     # for the run after idling
        f.write("id,name\n" + "".join("%d,row %d\n" % (i, i) for i in range(100000)))
    write_config(cfg, state, sock, ds)
    d = Daemon(build, cfg, sock, os.path.join(tmp, "idle.notify"),
               os.path.join(tmp, "idle.log"))
    first = d.start()            # creates the schema and the datasets rows
    time.sleep(1)
    empty_rss = d.rss_kb()
    d.stop()
    size = fill_store(os.path.join(state, "state.db"), n_datasets, n_runs)
    ready = [d.start()]
    d.stop()
    ready.append(d.start())
    try:
        time.sleep(2)
        rss = d.rss_kb()
        c0 = d.stat()
        w0 = time.monotonic()
        time.sleep(10)
        cpu = (d.stat() - c0) / CLK_TCK
        wall = time.monotonic() - w0
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(sock)
        lat = []
        for _ in range(200):
            rep, dt = call(sock, "status", conn=conn)
            assert rep["ok"], rep
            lat.append(dt * 1000)
        conn.close()
        n_ds = len(rep["result"]["datasets"])
        lat.sort()
        rss_after = d.rss_kb()
        # One run (fetch and check of a 1.4 MB file), then idle again: the
        # libraries a run touches stay mapped, so this is the daily figure.
        rep, _ = call(sock, "trigger", {"dataset": "ds_0000", "force": True})
        assert rep["ok"], rep
        run_id = rep["result"]["run_id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rep, _ = call(sock, "show", {"run": run_id})
            if rep["result"]["run"]["state"] not in ("queued", "running"):
                break
            time.sleep(0.1)
        run_state = rep["result"]["run"]["state"]
        time.sleep(2)
        rss_run = d.rss_kb()
    finally:
        d.stop()
    print("2. idle, %d datasets, %d runs (state.db %.1f MB):" % (n_datasets, n_runs, size / 1e6))
    print("   start to READY=1: %s (empty store: %s)   (target <= 200 ms)"
          % (", ".join(fmt_ms(r) for r in ready), fmt_ms(first)))
    print("   RSS %.1f MB, peak %.1f MB; after 200 status calls %.1f MB; with an empty store"
          " %.1f MB   (target <= 16 MB)" % (rss["VmRSS"] / 1024, rss["VmHWM"] / 1024,
                                          rss_after["VmRSS"] / 1024, empty_rss["VmRSS"] / 1024))
    print("   RSS idle again after one run (%s): %.1f MB" % (run_state, rss_run["VmRSS"] / 1024))
    print("   CPU while idle: %.2f s over %.1f s   (target: none)" % (cpu, wall))
    print("   status (%d datasets in the reply): median %s, p99 %s, max %s   (target <= 5 ms)"
          % (n_ds, fmt_ms(statistics.median(lat)), fmt_ms(lat[int(len(lat) * 0.99) - 1]),
             fmt_ms(lat[-1])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("DENVERD_BUILD", os.path.join(TOP, "build")))
    ap.add_argument("--datasets", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=100000)
    ap.add_argument("--dependent", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="denverd-bench-") as tmp:
        bench_dependency(args.build, tmp, args.dependent)
        bench_idle(args.build, tmp, args.datasets, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
