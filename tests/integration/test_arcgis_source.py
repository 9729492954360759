"""A dataset with source: arcgis, end to end through the built daemon and
denverctl: the emulator (tests/arcgis) serves Denver's layer 325 on
loopback, a triggered run pages it into the canonical CSV and records the
snapshot with its stamp, and the next run ends unchanged after the layer
document alone."""

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import DENVERD, base_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "arcgis"))
import emulator  # noqa: E402
import layers  # noqa: E402

ROWS = 120


@pytest.fixture
def emu():
    e = emulator.Emulator()
    e.add_layer(layers.traffic_layer(ROWS, max_record_count=25))
    e.start()
    yield e
    e.stop()


def config(tmp, url, extra=""):
    return base_config(tmp, datasets=textwrap.dedent(f"""\
      traffic:
        source: arcgis
        url: {url}
        schedule: "15 6 * * *"
        convert: false
        retries: 0
        arcgis: {{allow_http: true, page_size: 20{extra}}}
    """))


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
