"""Security review (issue 7, part 6) against the built daemon: commands that
change state are refused to a second uid while reads work, names and dates
from the configuration or a request can never make a path outside state_dir,
and a configuration file others could change is warned about.  (The socket's
0660 mode and the refusal of `reload` are tested in test_lifecycle.py.)"""
import json
import os
import signal
import subprocess
import textwrap

import pytest

from conftest import DENVERD, base_config

NOBODY = 65534

# Per CONTRACTS.md section 6 and denverd(8): what changes state, and what
# reads (with arguments a reader would send; show and diff have nothing to
# find yet, which is ENOENT, not EPERM).
MUTATING = ["reload", "trigger", "backfill", "retry", "cancel", "pause", "resume", "promote",
            "purge"]
READING = {"status": {}, "version": {}, "runs": {}, "schedule": {}, "metrics": {},
           "alerts": {}, "dq": {"dataset": "demo"}, "diff": {"dataset": "demo"},
           "show": {"run": 1}}
NOT_FOUND = {"diff", "show"}

# A client run as another user: one request per line of argv[2:], each reply
# printed on its own line.  /usr/bin/python3, so nothing of root's is needed.
CLIENT = textwrap.dedent("""\
    import json, socket, sys
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    f = s.makefile("rb")
    for req in sys.argv[2:]:
        s.sendall(req.encode() + b"\\n")
        sys.stdout.write(f.readline().decode())
""")


def as_user(uid, socket_path, requests):
    r = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                        "/usr/bin/python3", "-c", CLIENT, str(socket_path),
                        *[json.dumps(q) for q in requests]],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_mutating_commands_are_refused_to_another_uid_and_reads_work(daemon, tmp):
    daemon.start(base_config(tmp, extra='socket_mode: "0666"\n'))
    unknown = [c for c in MUTATING + list(READING)
               if daemon.call(c).get("error", {}).get("code") == "EUNKNOWN"]
    assert not unknown, f"not registered: {unknown}"
    requests = [{"v": 1, "id": c, "cmd": c, "args": {}} for c in MUTATING] + \
               [{"v": 1, "id": c, "cmd": c, "args": a} for c, a in READING.items()]
    for rep in as_user(NOBODY, daemon.socket, requests):
        if rep["id"] in MUTATING:
            assert rep["ok"] is False and rep["error"]["code"] == "EPERM", rep
        elif rep["id"] in NOT_FOUND:
            assert rep["ok"] is False and rep["error"]["code"] == "ENOENT", rep
        else:
            assert rep["ok"] is True, rep
    # Root gets past the permission check with the same requests.
    for c in MUTATING:
        rep = daemon.call(c)
        assert rep["ok"] or rep["error"]["code"] != "EPERM", rep
    for c in MUTATING:
        assert f"refused '{c}' from uid {NOBODY}" in daemon.log()


BAD_NAMES = [
    ("dataset name", "  ../escape:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"),
    ("dataset name", "  a/b:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"),
    ("dataset name", "  ..:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"),
    ("file_name", "  d:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"
                  "    file_name: ../../../etc/cron.d/x\n"),
    ("file_name", "  d:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"
                  "    file_name: sub/dir.csv\n"),
    ("file_name", "  d:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"
                  "    file_name: \"..\"\n"),
    ("file_name", "  d:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"
                  "    file_name: \"{exec_date}/../../x\"\n"),
]


@pytest.mark.parametrize("what,datasets", BAD_NAMES)
def test_names_that_would_leave_state_dir_are_refused(tmp, what, datasets):
    cfg = tmp / "bad.yaml"
    cfg.write_text(f"state_dir: {tmp}/state\ndatasets:\n{datasets}")
    r = subprocess.run([DENVERD, "--check", "-c", cfg], capture_output=True, text=True)
    assert r.returncode == 78, (r.stdout, r.stderr)
    assert f"{cfg}:" in r.stderr


def test_state_dir_must_be_absolute(tmp):
    cfg = tmp / "bad.yaml"
    cfg.write_text("state_dir: var/lib/denverd\n")
    r = subprocess.run([DENVERD, "--check", "-c", cfg], capture_output=True, text=True)
    assert r.returncode == 78 and "state_dir" in r.stderr, r.stderr


def test_dates_and_names_in_requests_cannot_make_paths(daemon, tmp):
    daemon.start(base_config(tmp))
    before = sorted(p.name for p in tmp.iterdir())
    for date in ("../../x", "2026-13-01", "2026-01-01/../../x", "2026-01-01\n", "", "20260101"):
        rep = daemon.call("trigger", dataset="demo", date=date)
        assert rep["ok"] is False and rep["error"]["code"] == "EINVAL", (date, rep)
        rep = daemon.call("backfill", dataset="demo", **{"from": date, "to": "2026-01-02"})
        assert rep["ok"] is False and rep["error"]["code"] == "EINVAL", (date, rep)
    for name in ("../demo", "demo/..", "/etc", "demo\u0000x", ""):
        for cmd in ("trigger", "pause", "schedule"):
            rep = daemon.call(cmd, dataset=name)
            # (jansson itself refuses a NUL inside a string: EPARSE)
            assert rep["ok"] is False and \
                rep["error"]["code"] in ("ENOENT", "EINVAL", "EPARSE"), (cmd, name, rep)
    assert sorted(p.name for p in tmp.iterdir()) == before
    # Nothing was written under the state directory either,
    made = sorted(str(p.relative_to(daemon.state)) for p in daemon.state.rglob("*"))
    # Only what every start makes: the store and the scheduler's lock.
    assert all(m.startswith("state.db") or m == "sched.lock" for m in made), made


def test_configuration_writable_by_others_is_warned_about(daemon, tmp):
    config = base_config(tmp)
    daemon.write_config(config)
    os.chmod(daemon.config, 0o666)
    daemon.start()
    warning = f"configuration {daemon.config}: {daemon.config} is writable by everyone"
    assert warning in daemon.log()

    def reload_and_log():
        mark = len(daemon.notify.messages)
        n = len(daemon.log())
        daemon.send(signal.SIGHUP)
        daemon.notify.wait_for("READY=1", after=mark)
        return daemon.log()[n:]

    os.chmod(daemon.config, 0o644)
    assert "is writable" not in reload_and_log()
    os.chmod(daemon.config, 0o664)
    assert f"{daemon.config} is writable by group" in reload_and_log()
    # A secret in a world-readable file.
    daemon.write_config(config + "alerts:\n  webhook: https://hooks.example.org/T0KEN\n")
    os.chmod(daemon.config, 0o644)
    log = reload_and_log()
    assert "holds a secret (alerts.webhook) and is readable by everyone" in log
    assert "T0KEN" not in daemon.log()
    os.chmod(daemon.config, 0o640)
    assert "configuration" not in reload_and_log().replace("configuration reloaded", "")
