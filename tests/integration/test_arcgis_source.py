"""A dataset with source: arcgis, end to end through the built daemon and
denverctl: the emulator (tests/arcgis) serves Denver's layer 325 on
loopback, a triggered run pages it into the canonical CSV and records the
snapshot with its stamp, and the next run ends unchanged after the layer
document alone.  With the pages slowed down (the emulator's delay quirk):
status, show and trigger --wait (on a pseudo-terminal) report the paging
while it runs, and a kill -9 of the daemon mid-layer resumes after the
last page on disk, with the bytes of an uninterrupted run."""

import csv
import hashlib
import json
import os
import pty
import re
import select
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import DENVERCTL, DENVERD, base_config, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "arcgis"))
import emulator  # noqa: E402
import layers  # noqa: E402

ROWS = 120
PAGE = 20                       # page_size of config(): 6 pages of the 120 rows
PAGES = {"outFields": r"\*"}    # a quirk with these params hits the pages, not count/ids


@pytest.fixture
def emu():
    e = emulator.Emulator()
    e.add_layer(layers.traffic_layer(ROWS, max_record_count=25))
    e.start()
    yield e
    e.stop()


def config(tmp, url, extra="", names=("traffic",)):
    """Datasets NAMES (each the same layer at URL), paged PAGE rows at a time."""
    return base_config(tmp, datasets="".join(textwrap.dedent(f"""\
      {name}:
        source: arcgis
        url: {url}
        schedule: "15 6 * * *"
        convert: false
        retries: 0
        arcgis: {{allow_http: true, page_size: {PAGE}{extra}}}
    """) for name in names))


def slow_pages(emu, seconds):
    """Every page answers SECONDS late, so the paging can be watched."""
    return emu.quirks.add("delay", params=PAGES, seconds=seconds)


def trigger(daemon, dataset):
    r = daemon.call("trigger", dataset=dataset)
    assert r["ok"], r
    return r["result"]["run_id"]


def run_state(daemon, run_id):
    r = json.loads(daemon.ctl("show", run_id, json_out=True).stdout)["result"]
    return r["run"]["state"]


def wait_final(daemon, run_id, timeout=60.0):
    return wait_for(f"run {run_id} to end", lambda: (
        s if (s := run_state(daemon, run_id)) in ("succeeded", "failed", "unchanged", "cancelled",
                                                   "skipped") else None), timeout, daemon)


def snapshot(tmp, dataset):
    snaps = list((tmp / "state" / "staging" / dataset).glob(f"exec_date=*/{dataset}.csv"))
    assert len(snaps) == 1, snaps
    return snaps[0]


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_layer_is_paged_recorded_and_then_unchanged(daemon, tmp, emu):
    daemon.start(config(tmp, emu.url(325)))
    r = daemon.ctl("trigger", "traffic", "--wait", check=False, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr + daemon.log()

    runs = json.loads(daemon.ctl("runs", "--dataset", "traffic", json_out=True).stdout)
    assert [x["state"] for x in runs["result"]["runs"]] == ["succeeded"]
    snaps = list((tmp / "state" / "staging" / "traffic").glob("exec_date=*/traffic.csv"))
    assert len(snaps) == 1
    with open(snaps[0], newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert header[:2] == ["object_id", "incident_id"] and header[-2:] == ["x", "y"]
    assert "HARMFUL_EVENT_SEQ_1" in header              # the layer's own spelling
    assert len(rows) == ROWS + 1
    rd = rows[1][header.index("reported_date")]
    assert rd[10] == "T" and rd[-6] in "+-" and rd[-3] == ":", rd   # ISO with offset

    # The stamp is kept as the snapshot's validator; an unchanged layer
    # ends the next run after one request.
    emu.reset(counts=True)
    r = daemon.ctl("trigger", "traffic", "--force", "--wait", check=False, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    r = daemon.ctl("trigger", "traffic", "--date", "2026-01-02", "--wait", check=False,
                   timeout=60)
    runs = json.loads(daemon.ctl("runs", "--dataset", "traffic", json_out=True).stdout)
    states = sorted(x["state"] for x in runs["result"]["runs"])
    assert "unchanged" in states, (states, daemon.log())


def test_http_layer_urls_need_allow_http(daemon, tmp, emu):
    p = tmp / "bad.yaml"
    p.write_text(config(tmp, emu.url(325)).replace("allow_http: true, ", ""))
    r = subprocess.run([str(DENVERD), "--check", "-c", str(p)], capture_output=True, text=True)
    assert r.returncode != 0 and "arcgis.allow_http" in r.stderr, r.stderr


# ---- paging progress ----

def running_fetch(daemon):
    """The running fetch of status, once it has a page on disk."""
    st = daemon.call("status")["result"]
    r = [x for x in st["running"] if x["task"] == "fetch" and x.get("pages", 0) >= 1]
    return r[0] if r else None


def test_status_and_show_report_paging_progress(daemon, tmp, emu):
    slow_pages(emu, 0.4)
    daemon.start(config(tmp, emu.url(325)))
    run = trigger(daemon, "traffic")

    # status: pages, rows of the layer's count, for a fetch half done
    seen = []
    while len(seen) < 2 or seen[-1]["pages"] == seen[0]["pages"]:
        p = wait_for("a running fetch with a page on disk", lambda: running_fetch(daemon), 20, daemon)
        assert p["run_id"] == run and p["rows_total"] == ROWS
        assert 1 <= p["pages"] < ROWS // PAGE and p["rows_done"] == p["pages"] * PAGE, p
        assert p["bytes_done"] > 0 and p["bytes_total"] is None
        seen.append(p)
        time.sleep(0.05)
    assert [x["rows_done"] for x in seen] == sorted(x["rows_done"] for x in seen)

    out = daemon.ctl("status").stdout
    m = re.search(rf"^{run}\s+traffic\s+\S+\s+fetch\s+page (\d+), (\d+) of {ROWS} rows$", out, re.M)
    assert m and int(m[2]) == int(m[1]) * PAGE, out

    # show RUN: the same figures on the fetch task, in text and JSON
    shown = json.loads(daemon.ctl("show", run, json_out=True).stdout)["result"]
    fetch = next(t for t in shown["tasks"] if t["name"] == "fetch")
    prog = fetch["progress"]
    assert prog["rows_total"] == ROWS and 1 <= prog["pages"] and prog["rows_done"] == prog["pages"] * PAGE
    out = daemon.ctl("show", run).stdout
    assert re.search(rf"^  fetch\s+running\s+.*, page \d+, \d+ of {ROWS} rows$", out, re.M), out

    assert wait_final(daemon, run) == "succeeded"
    assert running_fetch(daemon) is None


def run_on_pty(argv, timeout):
    """Run ARGV with a pseudo-terminal as stdin, stdout and stderr; its exit
    status and every byte it wrote."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:           # EIO: the child closed its side
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
        else:
            p.kill()
            raise AssertionError(f"{argv} did not end in {timeout}s; wrote {out!r}")
        return p.wait(10), out.decode()
    finally:
        os.close(master)


def test_trigger_wait_draws_a_paging_bar_on_a_tty(daemon, tmp, emu):
    slow_pages(emu, 0.6)              # 3.6 s of pages: progress comes once a second
    daemon.start(config(tmp, emu.url(325)))
    rc, out = run_on_pty([str(DENVERCTL), "-s", str(daemon.socket), "trigger", "traffic", "--wait"],
                         timeout=60)
    assert rc == 0, out + daemon.log()
    # Each draw goes back to the line's start, clears it and draws
    # "fetch    [####..........] 33%  page 2, 40 of 120 rows".
    draws = re.findall(r"\r\x1b\[Kfetch +\[([#.]{30})\] +(\d+)%  page (\d+), (\d+) of (\d+) rows", out)
    assert len(draws) >= 2, repr(out)
    for bar, pct, pages, rows, total in draws:
        assert int(total) == ROWS and int(rows) == int(pages) * PAGE
        assert bar == "#" * (30 * int(rows) // ROWS) + "." * (30 - 30 * int(rows) // ROWS), bar
        assert int(pct) == round(100 * int(rows) / ROWS)
    assert len({d[2] for d in draws}) >= 2                      # it moved
    assert [int(d[3]) for d in draws] == sorted(int(d[3]) for d in draws)
    # the bar is wiped before the next line, and the run ends as usual
    assert re.search(r" rows\r\x1b\[K[0-9-]{10} [0-9:]{8} UTC fetch succeeded", out), repr(out)
    assert out.rstrip().endswith("run 1 succeeded"), repr(out)


# ---- kill -9 of the daemon mid-layer ----

def page_ranges(emu):
    """The object-id ranges of the pages asked for since the last reset, as
    the emulator's /__log has them (`(1=1) AND object_id >= a AND object_id <= b`)."""
    with urllib.request.urlopen(f"{emu.base}/__log", timeout=10) as r:
        log = json.load(r)
    ranges = []
    for e in log:
        m = re.search(r"object_id >= (\d+) AND object_id <= (\d+)", (e.get("form") or {}).get("where", ""))
        if e["route"] == "query" and m:
            ranges.append((int(m[1]), int(m[2])))
    return ranges


def test_kill9_of_the_daemon_mid_layer_resumes_after_the_last_page(daemon, tmp, emu):
    daemon.start(config(tmp, emu.url(325), names=("clean", "traffic")))
    # The uninterrupted run of the same layer, as the reference.
    assert wait_final(daemon, trigger(daemon, "clean")) == "succeeded"
    clean = sha256(snapshot(tmp, "clean"))

    emu.reset()
    slow_pages(emu, 0.4)
    run = trigger(daemon, "traffic")
    partial = tmp / "state" / "staging" / ".partial"

    def sidecar():
        for p in partial.glob("traffic.*.part.arcgis"):
            try:
                side = json.loads(p.read_text())
            except (OSError, ValueError):     # replaced under us: read it again
                return None
            return side if side["pages"] >= 2 else None
        return None
    wait_for("two pages of the layer on disk", sidecar, 20, daemon)
    daemon.kill9()
    side = sidecar()                          # as the crash left it
    assert 2 <= side["pages"] < ROWS // PAGE and side["rows"] == side["pages"] * PAGE, side
    before = page_ranges(emu)
    assert any(hi == side["last_oid"] for _, hi in before), (before, side)

    emu.reset(quirks=True)                    # well again; the log starts afresh
    daemon.start()
    assert wait_final(daemon, run) == "succeeded", daemon.log()
    after = page_ranges(emu)
    # Resumed at the page after the last one on disk: the first pages are
    # not asked for again, and the rest are asked for once each.
    assert after and min(lo for lo, _ in after) == side["last_oid"] + 1, (after, side)
    assert len(after) == ROWS // PAGE - side["pages"], after
    assert sha256(snapshot(tmp, "traffic")) == clean

    shown = json.loads(daemon.ctl("show", run, json_out=True).stdout)["result"]
    fetch = next(t for t in shown["tasks"] if t["name"] == "fetch")
    assert [a["outcome"] for a in fetch["attempts"]] == ["interrupted", "succeeded"], fetch
    assert not list(partial.glob("traffic.*"))
