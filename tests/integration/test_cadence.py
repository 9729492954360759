"""Issue 16, item 2: the publisher's own cadence, end to end.  A daemon
polls the loopback server whose file changes once a day at 06:00 Denver
time; each day is a restart with DENVERD_NOW (the documented clock hook)
placed on it, across the spring-forward night.  `denverctl source` then
shows the cadence, the `late` alert fires through alerts.command when the
next change is overdue, and a change ends it."""
import json
import time

import pytest

from conftest import base_config
from opsutil import Webhook

DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def www():
    h = Webhook().start()
    yield h
    h.stop()


def config(tmp, url):
    datasets = (f"demo:\n  url: {url}/demo.csv\n  schedule: \"0 0 1 1 *\"\n"
                f"  missed: none\n  convert: false\n  retries: 0\n  max_age: 0\n"
                f"  cadence_margin: 6h\n")
    extra = ("alerts:\n  min_interval: 1s\n"
             "  command: [sh, -c, 'echo \"$1: $2\" >> \"$0\"', \"{state_dir}/alerts.log\","
             " \"{reason}\", \"{message}\"]\n")
    return base_config(tmp, datasets=datasets, extra=extra)


def poll(daemon, www, day, body):
    """Restart on DAY at 06:00 local with BODY published, and poll once."""
    www.files["/demo.csv"] = (200, body)
    daemon.start(env={"DENVERD_NOW": day})
    r = daemon.ctl("trigger", "demo", "--wait", check=False, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr + daemon.log()[-3000:]
    daemon.stop()


def wait_line(tmp, phrase, timeout=10):
    """The line of alerts.command's log that holds PHRASE."""
    log = tmp / "state" / "alerts.log"
    deadline = time.monotonic() + timeout
    while True:
        lines = log.read_text().splitlines() if log.exists() else []
        found = [ln for ln in lines if phrase in ln]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no alert with {phrase!r}: {lines}"
        time.sleep(0.05)


def test_cadence_and_late_alert(daemon, tmp, www):
    daemon.write_config(config(tmp, www.url))
    days = [f"2026-03-0{d}T06:00:00-07:00" for d in range(2, 8)] + \
           ["2026-03-08T06:00:00-06:00"]
    for i, day in enumerate(days):
        poll(daemon, www, day, f"id\n{i}\n".encode())
    # The same bytes a day later: a poll (a run), not a change.
    poll(daemon, www, "2026-03-08T18:00:00-06:00", b"id\n6\n")

    daemon.start(env={"DENVERD_NOW": "2026-03-09T09:00:00-06:00"})
    r = json.loads(daemon.ctl("source", "demo", json_out=True).stdout)["result"]
    assert r["changes"] == 7 and r["enough"]
    assert [c["kind"] for c in r["recent"]] == ["bytes"] * 7
    assert r["typical_time"] == "06:00"
    assert r["weekdays"] == [1, 1, 1, 1, 1, 1, 1]        # Mon 2nd .. Sun 8th
    assert r["timezone"] == "America/Denver"
    # 23 h over the spring-forward night, 24 h otherwise (plus the seconds
    # each poll took in real time).
    assert abs(r["median_gap_ms"] - DAY_MS) < 60_000
    assert abs(r["p95_gap_ms"] - DAY_MS) < 60_000
    assert r["late_after_ms"] == r["p95_gap_ms"] + 6 * 3600 * 1000
    assert not r["late"]
    text = daemon.ctl("source", "demo").stdout
    assert "at 06:00" in text and ", margin 6h" in text and "late:           no" in text, text
    assert not (tmp / "state" / "alerts.log").exists()
    daemon.stop()

    # Past 06:00 on the 8th + 1d + 6h: late, from the freshness timer.
    daemon.start(env={"DENVERD_NOW": "2026-03-09T12:05:00-06:00"})
    line = wait_line(tmp, "later than its usual")
    assert line.startswith("late: demo has not changed for 1d6h")
    r = json.loads(daemon.ctl("source", "demo", json_out=True).stdout)["result"]
    assert r["late"] and r["overdue_ms"] > 0
    assert "late:           yes" in daemon.ctl("source", "demo").stdout
    alerts = json.loads(daemon.ctl("alerts", json_out=True).stdout)["result"]
    assert {"dataset": "demo", "reason": "late", "notified": True} in alerts["firing"]
    assert "later than its usual 1d" in alerts["alerts"][0]["message"]

    # New bytes: a change, and the episode ends.
    www.files["/demo.csv"] = (200, b"id\n7\n")
    r = daemon.ctl("trigger", "demo", "--wait", check=False, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert wait_line(tmp, "changed again").startswith("late: demo changed again")
    r = json.loads(daemon.ctl("source", "demo", json_out=True).stdout)["result"]
    assert r["changes"] == 8 and not r["late"]
    daemon.stop()


def test_source_of_an_unknown_dataset(daemon, tmp):
    daemon.start(base_config(tmp))
    r = daemon.ctl("source", "nope", check=False)
    assert r.returncode != 0 and "no dataset named" in r.stderr
    out = daemon.ctl("source", "demo").stdout
    assert "not enough history" in out and "none recorded" in out
