"""Issue 2: start-up, READY=1, status, reload, signals, the control socket's
limits and permissions -- against the built denverd and denverctl."""
import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import time

from conftest import DENVERD, base_config, recv_line


def test_check_accepts_a_good_file(tmp):
    cfg = tmp / "good.yaml"
    cfg.write_text(base_config(tmp))
    r = subprocess.run([DENVERD, "--check", "-c", cfg], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout


def test_check_reports_every_error_with_position_and_exits_78(tmp):
    cfg = tmp / "bad.yaml"
    cfg.write_text(
        "timezone: America/Denver\n"
        f"state_dir: {tmp}/state\n"
        "datasets:\n"
        "  traffic_accidents:\n"
        "    url: https://example.org/t.csv\n"
        "    shedule: \"15 6 * * *\"\n"
        "  Bad-Name:\n"
        "    url: https://example.org/u.csv\n"
        "    schedule: \"15 6 * * *\"\n")
    r = subprocess.run([DENVERD, "--check", "-c", cfg], capture_output=True, text=True)
    assert r.returncode == 78
    lines = r.stderr.strip().splitlines()
    assert len(lines) >= 2, r.stderr
    for line in lines:
        assert re.match(rf"^{re.escape(str(cfg))}:\d+:\d+: ", line), line
    assert any(":6:5: unknown key 'shedule', did you mean 'schedule'?" in ln for ln in lines), lines
    assert any(":7:3: " in ln for ln in lines), lines


def test_ready_status_and_clean_stop(daemon, tmp):
    daemon.start(base_config(tmp))
    r = daemon.ctl("status")
    assert "denverd" in r.stdout and "demo" in r.stdout
    j = json.loads(daemon.ctl("status", json_out=True).stdout)
    assert j["ok"] is True and j["v"] == 1
    assert j["result"]["datasets"][0]["name"] == "demo"
    assert j["result"]["pid"] == daemon.proc.pid
    mark = len(daemon.notify.messages)
    assert daemon.stop(signal.SIGTERM) == 0
    daemon.notify.wait_for("STOPPING=1", after=mark)
    assert not daemon.socket.exists(), "socket file left behind after a clean stop"
    assert (daemon.state / "state.db").exists()


def test_socket_path_from_environment(daemon, tmp):
    daemon.start(base_config(tmp))
    r = subprocess.run([str(DENVERD.parent.parent / "ctl" / "denverctl"), "status"],
                       capture_output=True, text=True,
                       env={**os.environ, "DENVERD_SOCKET": str(daemon.socket)})
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(DENVERD.parent.parent / "ctl" / "denverctl"), "status"],
                       capture_output=True, text=True,
                       env={**os.environ, "DENVERD_SOCKET": str(tmp / "nothing.sock")})
    assert r.returncode == 3
    assert "cannot connect" in r.stderr


def test_reload_keeps_running_config_when_new_one_is_broken(daemon, tmp):
    daemon.start(base_config(tmp))
    daemon.write_config(base_config(tmp).replace("schedule:", "shedule:"))
    mark = len(daemon.notify.messages)
    daemon.send(signal.SIGHUP)
    daemon.notify.wait_for("READY=1", after=mark)
    assert "reload failed; keeping the running configuration" in daemon.log()
    assert "did you mean 'schedule'" in daemon.log()
    assert json.loads(daemon.ctl("status", json_out=True).stdout)["result"]["datasets"][0]["name"] == "demo"

    # A valid file is taken, by signal and over the socket.
    daemon.write_config(base_config(tmp, datasets=(
        "other:\n  url: http://127.0.0.1:9/o.csv\n  schedule: \"0 7 * * *\"\n")))
    daemon.ctl("reload")
    names = [d["name"] for d in daemon.call("status")["result"]["datasets"]]
    assert names == ["other"]
    # A broken file over the socket: an error reply, config kept.
    daemon.write_config("datasets: [")
    r = daemon.ctl("reload", check=False)
    assert r.returncode == 1 and "EINVAL" in r.stderr
    assert [d["name"] for d in daemon.call("status")["result"]["datasets"]] == ["other"]


def test_bad_requests_cost_the_connection_not_the_daemon(daemon, tmp):
    daemon.start(base_config(tmp))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(daemon.socket))
        f = s.makefile("rb")        # replies may arrive together: read lines
        s.sendall(b"this is not json\n")
        r = json.loads(f.readline())
        assert r["ok"] is False and r["error"]["code"] == "EPARSE"
        s.sendall(b'{"v":1,"id":2,"cmd":"no_such_thing"}\n')
        r = json.loads(f.readline())
        assert r["error"]["code"] == "EUNKNOWN" and r["id"] == 2
        s.sendall(b'{"v":99,"id":3,"cmd":"status"}\n')
        assert json.loads(f.readline())["error"]["code"] == "EVERSION"
        s.sendall(b'[1,2]\n{"v":1,"id":4,"cmd":"status"}\n')
        assert json.loads(f.readline())["error"]["code"] == "EPARSE"
        assert json.loads(f.readline())["result"]["version"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(daemon.socket))
        try:
            s.sendall(b"x" * (200 * 1024))
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = json.loads(recv_line(s))
        assert r["error"]["code"] == "ETOOBIG"
        try:                               # and the connection is closed
            assert s.recv(10) == b""       # (a reset when our bytes were unread)
        except ConnectionResetError:
            pass
    assert daemon.call("status")["ok"] is True


def test_a_client_that_does_not_read_its_replies_is_paused(daemon, tmp):
    """Requests sent without reading the replies do not pile up replies in
    the daemon: it stops reading that client until they drain, then answers
    every request."""
    daemon.start(base_config(tmp))

    def rss_kb():
        for line in open(f"/proc/{daemon.proc.pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1])

    before = rss_kb()
    n = 400000                                 # ~200 MB of status replies
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(daemon.socket))
        s.settimeout(3)
        req = b'{"v":1,"cmd":"version"}\n{"v":1,"cmd":"status"}\n'
        sent = 0
        try:
            while sent < n:
                s.sendall(req)
                sent += 2
        except TimeoutError:
            pass                               # the daemon stopped reading us
        assert rss_kb() - before < 32 * 1024
        assert daemon.call("version")["ok"] is True   # others are served
        s.settimeout(30)
        f = s.makefile("rb")
        got = 0
        while got < sent:
            if not json.loads(f.readline())["ok"]:
                break
            got += 1
        assert got >= sent - 2                 # a request cut by the timeout


def test_client_cap(daemon, tmp):
    daemon.start(base_config(tmp, extra="limits:\n  clients: 3\n"))
    held = []
    for _ in range(3):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(daemon.socket))
        held.append(s)
    time.sleep(0.2)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(daemon.socket))
        assert json.loads(recv_line(s))["error"]["code"] == "EBUSY"
    for s in held:
        s.close()
    time.sleep(0.2)
    assert daemon.call("status")["ok"] is True


def test_socket_mode_and_peer_credentials(daemon, tmp):
    daemon.start(base_config(tmp, extra='socket_mode: "0666"\n'))
    assert stat.S_IMODE(os.stat(daemon.socket).st_mode) == 0o666
    nobody = 65534
    r = daemon.ctl("status", user=nobody)
    assert "demo" in r.stdout
    r = daemon.ctl("reload", user=nobody, check=False)
    assert r.returncode == 1 and "EPERM" in r.stderr, r.stderr
    assert "refused 'reload' from uid 65534" in daemon.log()


def test_default_socket_mode_is_0660(daemon, tmp):
    daemon.start(base_config(tmp))
    assert stat.S_IMODE(os.stat(daemon.socket).st_mode) == 0o660


def test_watchdog_pings_while_the_loop_turns(daemon, tmp):
    daemon.start(base_config(tmp), env={"WATCHDOG_USEC": "200000"})
    i, _, _ = daemon.notify.wait_for("WATCHDOG=1", timeout=3)
    daemon.notify.wait_for("WATCHDOG=1", timeout=3, after=i + 1)
    # A stopped process sends no pings: the ping proves the loop turns.
    daemon.send(signal.SIGSTOP)
    time.sleep(0.3)
    n = len(daemon.notify.messages)
    time.sleep(0.5)
    assert not any(m == "WATCHDOG=1" for _, m in daemon.notify.messages[n:])
    daemon.send(signal.SIGCONT)
    daemon.notify.wait_for("WATCHDOG=1", timeout=3, after=n)


def test_stale_socket_is_replaced_but_a_live_one_is_not(daemon, tmp):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(daemon.socket))
    s.close()                               # a dead daemon's leftover
    daemon.start(base_config(tmp))
    second = subprocess.run([DENVERD, "-c", daemon.config], capture_output=True,
                            text=True, timeout=10, env={**os.environ, "DENVERD_LOG": "stderr"})
    assert second.returncode != 0
    assert "another denverd is listening there" in second.stderr
    assert daemon.call("status")["ok"] is True


def test_database_from_a_newer_schema_is_refused(daemon, tmp):
    (tmp / "state").mkdir()
    db = sqlite3.connect(tmp / "state" / "state.db")
    db.execute("PRAGMA user_version = 999")
    db.close()
    daemon.start(base_config(tmp), wait_ready=False)
    assert daemon.proc.wait(10) != 0
    assert "written by a newer denverd (schema version 999" in daemon.log()


def test_damaged_store_found_after_ready_stops_the_daemon(daemon, tmp):
    """The integrity check runs beside the loop after READY=1 (its cost grows
    with history; start-up must not): damage in a page start-up never reads
    still stops the daemon, with status 1 and SQLite's words."""
    daemon.start(base_config(tmp))
    deadline = time.monotonic() + 10
    while "integrity check ok" not in daemon.log() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert daemon.stop() == 0
    assert "integrity check ok" in daemon.log()
    path = tmp / "state" / "state.db"
    db = sqlite3.connect(path)
    db.executemany("INSERT INTO events(ts, level, type, message) VALUES (?, 'info', 't', ?)",
                   [(i, "x" * 200) for i in range(2000)])
    db.commit()
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    leaf = db.execute("SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf'"
                      " ORDER BY pageno LIMIT 1 OFFSET 10").fetchone()[0]
    db.close()
    assert not (tmp / "state" / "state.db-wal").exists()
    with open(path, "r+b") as f:          # an invalid b-tree page type
        f.seek((leaf - 1) * page_size)
        f.write(b"\x42")
    daemon.start(wait_ready=False)
    assert daemon.proc.wait(10) == 1
    log = daemon.log()
    assert "integrity check failed" in log and f"failed: Page {leaf}: btreeInitPage" in log, log
    assert "restore state.db from a backup" in log


def test_check_data_runs_the_checks_without_a_daemon(tmp):
    """denverd --check-data: the shipped Denver checks on the real 2014
    sample (an old vintage: too few rows for today's file, so `rows` fails)."""
    from conftest import ROOT
    sample = ROOT / "data" / "traffic_accidents.2014-05.sample.csv"
    r = subprocess.run([DENVERD, "--check-data", "traffic_accidents", sample,
                        "-c", ROOT / "etc" / "denverd.yaml", "--date", "2014-05-08",
                        "--json"], capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    report = json.loads(r.stdout)
    assert report["rows"] == 4171
    outcomes = {c["name"]: c["outcome"] for c in report["checks"]}
    assert outcomes["rows"] == "fail" and outcomes["key_unique"] == "pass"
    r = subprocess.run([DENVERD, "--check-data", "no_such_dataset", sample,
                        "-c", ROOT / "etc" / "denverd.yaml"], capture_output=True, text=True)
    assert r.returncode == 2 and "no_such_dataset" in r.stderr


def test_reload_refuses_settings_bound_at_start(daemon, tmp):
    daemon.start(base_config(tmp))
    daemon.write_config(base_config(tmp).replace("timezone: America/Denver",
                                                 "timezone: America/New_York"))
    r = daemon.ctl("reload", check=False)
    assert r.returncode == 1
    assert "timezone cannot change on reload; restart denverd" in r.stderr
    assert daemon.call("status")["result"]["timezone"] == "America/Denver"


def test_stop_waits_for_work_on_the_thread_pool(daemon, tmp):
    """A big store makes the metrics rendering go to a worker thread at
    start; a SIGTERM right after READY must still end the process cleanly
    (the loop outlives the worker), not hang at exit."""
    import importlib.util

    from conftest import ROOT
    spec = importlib.util.spec_from_file_location(
        "bench_sched", ROOT / "tests" / "bench" / "bench_sched.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    datasets = "".join(f"ds_{i:04d}:\n  url: http://127.0.0.1:9/{i}.csv\n"
                       f"  schedule: \"0 3 * * *\"\n  missed: none\n" for i in range(50))
    daemon.start(base_config(tmp, datasets=datasets))
    daemon.stop()
    bench.fill_store(str(daemon.state / "state.db"), 50, 30000)
    for _ in range(3):
        daemon.start()
        t0 = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - t0 < 10
