"""A dataset with source: arcgis_hub, end to end through the built daemon
and denverctl against the Hub of the ArcGIS emulator (tests/arcgis, on
loopback): a triggered run polls the Download API until the export is
ready and publishes the file byte for byte; the next run with the same
content ends unchanged; a Failed status fails the run with the Hub's
message; a run cancelled while the Hub builds its export ends cancelled,
and status shows the Hub's state meanwhile."""

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import DENVERD, base_config, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "arcgis"))
import testbed  # noqa: E402


@pytest.fixture
def emu():
    e = testbed.make_emulator()          # 3 answers before Completed
    e.start()
    yield e
    e.stop()


def config(tmp, url, hub="allow_http: true, poll_interval: 100ms"):
    return base_config(tmp, datasets=textwrap.dedent(f"""\
      sr:
        source: arcgis_hub
        url: "{url}"
        schedule: "15 6 * * *"
        convert: false
        retries: 0
        hub: {{{hub}}}
    """))


def q(daemon, sql, *args):
    with sqlite3.connect(str(daemon.state / "state.db"), timeout=10) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql, args).fetchall()]


def hub_log(emu):
    return [e for e in emu.log if e["route"] == "hub"]


def runs(daemon):
    return json.loads(daemon.ctl("runs", "--dataset", "sr", json_out=True).stdout)["result"]["runs"]


def test_polls_then_the_file_then_unchanged(daemon, tmp, emu):
    url = emu.hub_url(325)
    daemon.start(config(tmp, url))
    r = daemon.ctl("trigger", "sr", "--wait", check=False, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr + daemon.log()
    assert [x["state"] for x in runs(daemon)] == ["succeeded"]

    polls = hub_log(emu)
    assert len(polls) == 4 and all(e["query"].get("redirect") == "false" for e in polls)
    assert [e["route"] for e in emu.log if e["route"] in ("replica", "blob")] == \
        ["replica", "blob"]
    snaps = list((tmp / "state" / "staging" / "sr").glob("exec_date=*/sr.csv"))
    assert len(snaps) == 1
    data = snaps[0].read_bytes()
    export = next(iter(emu.hub.files.values())).body
    assert data == export and data.startswith(b"\xef\xbb\xbfobject_id,")
    # the row keeps the configured URL, never the export's, and no validators
    row = q(daemon, "SELECT url, etag, last_modified, bytes FROM snapshots")[0]
    assert row == {"url": url, "etag": None, "last_modified": None, "bytes": len(data)}

    # The same export again: asked for anew (one poll, the cache is current),
    # downloaded unconditionally, and the same hash ends the run unchanged.
    emu.reset(counts=True)
    r = daemon.ctl("trigger", "sr", "--date", "2026-01-02", "--wait", check=False, timeout=60)
    states = sorted(x["state"] for x in runs(daemon))
    assert states == ["succeeded", "unchanged"], (states, daemon.log())
    assert len(hub_log(emu)) == 1
    blob = [e for e in emu.log if e["route"] == "blob"]
    assert len(blob) == 1
    assert len(q(daemon, "SELECT id FROM snapshots")) == 1


def test_failed_status_fails_the_run_with_the_hubs_message(daemon, tmp, emu):
    emu.quirks.add("hub_failed", at=3)
    daemon.start(config(tmp, emu.hub_url(325)))
    daemon.ctl("trigger", "sr", "--wait", check=False, timeout=60)
    assert [x["state"] for x in runs(daemon)] == ["failed"], daemon.log()
    err = q(daemon, "SELECT error FROM attempts")[0]["error"]
    assert "the export failed: Export failed" in err, err
    assert not any(e["route"] in ("replica", "blob") for e in emu.log)


def test_an_expired_blob_is_asked_for_once_more(daemon, tmp, emu):
    emu.hub.blob_ttl = 0                 # every signed URL is already expired
    daemon.start(config(tmp, emu.hub_url(325)))
    daemon.ctl("trigger", "sr", "--wait", check=False, timeout=60)
    assert [x["state"] for x in runs(daemon)] == ["failed"], daemon.log()
    assert [e["route"] for e in emu.log if e["route"] in ("replica", "blob")] == \
        ["replica", "blob"] * 2
    assert "HTTP 403" in q(daemon, "SELECT error FROM attempts")[0]["error"]
    assert "asking the Hub again" in daemon.log()


def test_cancel_while_polling_and_status_shows_the_hub(daemon, tmp, emu):
    emu.hub.polls = 10 ** 6
    daemon.start(config(tmp, emu.hub_url(325)))
    r = daemon.call("trigger", dataset="sr")
    assert r["ok"], r
    run = r["result"]["run_id"]

    def hub_running():
        st = json.loads(daemon.ctl("status", json_out=True).stdout)["result"]
        x = [t for t in st.get("running", []) if t["task"] == "fetch"]
        return x[0] if x and x[0].get("hub_polls", 0) >= 2 else None
    t = wait_for("a polling fetch in status", hub_running, daemon=daemon)
    assert t["hub_status"] and t["bytes_done"] == 0 and t["bytes_total"] is None, t
    assert "hub_percent" in t
    assert "Hub: " in daemon.ctl("status").stdout

    daemon.ctl("cancel", run)
    wait_for("the cancelled run", lambda: runs(daemon)[0]["state"] == "cancelled",
             daemon=daemon)
    n = len(hub_log(emu))
    time.sleep(0.4)
    assert len(hub_log(emu)) == n                  # no poll after the cancel
    assert q(daemon, "SELECT outcome FROM attempts")[0]["outcome"] == "cancelled"
    assert not (tmp / "state" / "staging" / "sr").exists()


def test_http_hub_urls_need_hub_allow_http(daemon, tmp, emu):
    p = tmp / "bad.yaml"
    p.write_text(config(tmp, emu.hub_url(325), hub="poll_interval: 100ms"))
    r = subprocess.run([str(DENVERD), "--check", "-c", str(p)], capture_output=True, text=True)
    assert r.returncode != 0 and "hub.allow_http" in r.stderr, r.stderr
