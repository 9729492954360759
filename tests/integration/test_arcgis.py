"""Integration tests of daemon/io/arcgis*.c through tests/tools/arcgis_one,
against the ArcGIS emulator of tests/arcgis (in-process, on loopback).

Each test runs arcgis_one as a child process, so a kill -9 is a real
crash.  Layer 325 (traffic, 60 rows, maxRecordCount 7) and table 66 (311,
30 rows) come from tests/arcgis/testbed.py."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "arcgis"))
import testbed  # noqa: E402

BUILD = os.environ.get("DENVERD_BUILD", os.path.join(ROOT, "build"))
ARCGIS_ONE = os.path.join(BUILD, "tests", "tools", "arcgis_one")
DATE = "2026-01-02"
PAGES = {"outFields": r"\*"}          # the quirks hit the pages, not count/ids


@pytest.fixture(scope="module")
def server():
    if not os.access(ARCGIS_ONE, os.X_OK):
        pytest.skip("arcgis_one is not built")
    with testbed.serving() as emu:
        yield emu


@pytest.fixture
def emu(server):
    server.reset(counts=True, quirks=True, data=True)
    return server


def run(emu, state, *args, layer=325, url=None, **kw):
    cmd = [ARCGIS_ONE, "--url", url or emu.url(layer), "--state-dir", str(state),
           "--dataset", "ds", "--exec-date", DATE, "--retry-delay", "10", *args]
    p = subprocess.run(cmd, capture_output=True, timeout=30, **kw)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def part(state):
    return os.path.join(state, "staging", ".partial", f"ds.{DATE}.part")


def queries(emu):
    return [e for e in emu.log if e["route"] == "query"]


@pytest.fixture
def clean(emu, tmp_path_factory):
    """An uninterrupted run's result and the sha256 of its file."""
    r = run(emu, tmp_path_factory.mktemp("clean"))
    assert r["outcome"] == "published", r
    emu.reset(counts=True)
    return r, sha(r["path"])


def test_publishes_the_canonical_csv(emu, tmp_path):
    r = run(emu, tmp_path)
    assert r["outcome"] == "published" and r["rows"] == 60 and r["count"] == 60
    assert r["pages"] == 9            # ceil(60 / 7)
    with open(r["path"], "rb") as f:
        data = f.read()
    lines = data.split(b"\r\n")
    assert lines[0].startswith(b"object_id,incident_id,") and lines[0].endswith(b",x,y")
    assert len(lines) == 62 and lines[-1] == b""
    assert b"-07:00" in data and b"-06:00" in data           # both sides of DST
    oids = [int(x.split(b",", 1)[0]) for x in lines[1:-1]]
    assert oids == sorted(oids) and len(set(oids)) == 60
    pages = [e for e in queries(emu) if "outFields" in e["form"]]
    assert all(e["method"] == "POST" for e in queries(emu))
    assert all(int(e["form"]["resultRecordCount"]) <= 7 for e in pages)
    assert not os.path.exists(part(tmp_path))


def test_table_has_no_xy(emu, tmp_path):
    r = run(emu, tmp_path, layer=66)
    assert r["outcome"] == "published" and r["rows"] == 30
    with open(r["path"], "rb") as f:
        header = f.readline()
    assert header.startswith(b"OBJECTID,") and not header.rstrip().endswith(b",x,y")


def test_unchanged_metadata_is_one_request(emu, tmp_path, clean):
    r = run(emu, tmp_path, "--last", clean[0]["validator"])
    assert r["outcome"] == "unchanged" and r["metadata_only"], r
    assert r["requests"] == 1 and r["request_bytes"] < 20000
    assert r["digest"] == clean[0]["digest"]


def test_same_content_after_reload_is_unchanged(emu, tmp_path, clean):
    emu.mutate(325, "reload")         # new ids, other order, same rows
    r = run(emu, tmp_path, "--last", clean[0]["validator"])
    assert r["outcome"] == "unchanged" and not r["metadata_only"], r
    assert r["digest"] == clean[0]["digest"] and r["path"] is None
    assert not os.path.exists(part(tmp_path))


@pytest.mark.parametrize("kind,spec", [
    ("short_page", {"at": 2}),
    ("empty_page", {"at": 3}),
    ("ignore_count", {"size": 20}),
    ("error", {"code": 500, "at": 2}),
    ("error", {"code": 503, "at": 1}),
    ("html", {"status": 502, "at": 2}),
    ("maintenance", {"at": 3}),
    ("truncate", {"mode": "json", "fraction": 0.5, "at": 2}),
    ("truncate", {"mode": "short", "fraction": 0.5, "at": 3}),
    ("reset", {"at_byte": 200, "at": 4}),
    ("corrupt_gzip", {"at": 2}),
    ("corrupt_gzip", {"at_byte": 12, "n": 4, "at": 1}),
])
def test_quirk_survived_with_the_same_file(emu, tmp_path, clean, kind, spec):
    rule = emu.quirks.add(kind, params=PAGES, **spec) if kind != "maintenance" \
        else emu.quirks.add(kind, **spec)
    r = run(emu, tmp_path)
    assert r["outcome"] == "published", r
    assert rule.fired >= 1
    assert sha(r["path"]) == clean[1]


def test_answers_come_gzip_and_the_same_file(emu, tmp_path, clean):
    # Accept-Encoding: gzip is sent (and inflated by denverd, not libcurl):
    # far fewer bytes on the wire than without gzip, the same file.
    assert clean[0]["request_bytes"] > 0
    emu.quirks.add("no_gzip")
    r = run(emu, tmp_path)
    assert r["outcome"] == "published" and sha(r["path"]) == clean[1]
    assert clean[0]["request_bytes"] * 3 < r["request_bytes"], (clean[0], r)


def test_corrupt_gzip_every_time_fails_retryable(emu, tmp_path):
    emu.quirks.add("corrupt_gzip", params=PAGES)
    r = run(emu, tmp_path, "--retries", "1")
    assert r["outcome"] == "failed" and r["retryable"] and "gzip" in r["error"], r


def test_short_chunk_asks_for_missing_ids_by_objectids(emu, tmp_path, clean):
    emu.quirks.add("short_page", params=PAGES, at=2)
    r = run(emu, tmp_path)
    assert sha(r["path"]) == clean[1]
    asks = [e for e in queries(emu) if e["form"].get("objectIds")]
    assert len(asks) == 1 and len(asks[0]["form"]["objectIds"].split(",")) == 3


def test_chunk_short_twice_fails_retryable(emu, tmp_path):
    emu.quirks.add("short_page", params=PAGES)
    r = run(emu, tmp_path)
    assert r["outcome"] == "failed" and r["retryable"], r
    assert "did not come" in r["error"]
    assert os.path.exists(part(tmp_path))


def test_json_400_fails_with_the_servers_message(emu, tmp_path):
    emu.quirks.add("error", code=400, params=PAGES, at=1)
    r = run(emu, tmp_path)
    assert r["outcome"] == "failed" and not r["retryable"], r
    assert "Unable to complete operation" in r["error"]


def test_invalid_url_fails_not_retryable(emu, tmp_path):
    url = emu.url(325).rsplit("/", 1)[0] + "/999"
    r = run(emu, tmp_path, url=url)
    assert r["outcome"] == "failed" and not r["retryable"] and "Invalid URL" in r["error"]


def test_persistent_500_fails_retryable_after_the_retries(emu, tmp_path):
    emu.quirks.add("error", code=500, params=PAGES, after=1)
    r = run(emu, tmp_path, "--retries", "2")
    assert r["outcome"] == "failed" and r["retryable"] and "3 tries" in r["error"], r
    assert os.path.exists(part(tmp_path) + ".arcgis")     # page 1 kept for a resume


def test_429_honours_retry_after(emu, tmp_path, clean):
    emu.quirks.add("rate_limit", params=PAGES, at=2, retry_after=1)
    t0 = time.monotonic()
    r = run(emu, tmp_path)
    assert r["outcome"] == "published" and time.monotonic() - t0 >= 1.0
    assert sha(r["path"]) == clean[1]


def test_429_without_retry_after_waits_the_rate_wait(emu, tmp_path):
    emu.quirks.add("rate_limit", params=PAGES, at=2)
    t0 = time.monotonic()
    r = run(emu, tmp_path, "--rate-wait", "700")
    assert r["outcome"] == "published" and time.monotonic() - t0 >= 0.7


def test_reload_during_paging_restarts(emu, tmp_path, clean):
    emu.quirks.add("mutate", op="reload", params=PAGES, at=3)
    r = run(emu, tmp_path)
    assert r["outcome"] == "published", r
    assert r["digest"] == clean[0]["digest"]            # same rows, fresh ids
    assert r["rows"] == 60 and r["data_edit_ms"] != clean[0]["data_edit_ms"]


def test_insert_during_paging_is_seen_by_the_recheck(emu, tmp_path):
    emu.quirks.add("mutate", op="insert", n=1, params=PAGES, at=9)
    r = run(emu, tmp_path)
    assert r["outcome"] == "published" and r["rows"] == 61, r
    metas = [e for e in emu.log if e["route"] == "layer"]
    assert len(metas) == 4            # meta, recheck (moved), meta, recheck


def test_reload_on_every_page_fails_retryable(emu, tmp_path):
    emu.quirks.add("mutate", op="reload", params=PAGES)
    r = run(emu, tmp_path)
    assert r["outcome"] == "failed" and r["retryable"] and "moved" in r["error"], r
    assert not os.path.exists(part(tmp_path))


def assert_resumed(emu, state, clean):
    """The next run, with the emulator well again, goes on from the
    sidecar and publishes the uninterrupted run's bytes."""
    emu.reset(quirks=True)
    r = run(emu, state)
    assert r["outcome"] == "published" and r["pages"] < 9, r
    assert sha(r["path"]) == clean[1]


def test_cancel_then_resume_is_byte_identical(emu, tmp_path, clean):
    emu.quirks.add("delay", params=PAGES, seconds=0.15)
    r = run(emu, tmp_path, "--cancel-after", "700")
    assert r["outcome"] == "cancelled", r
    assert os.path.exists(part(tmp_path) + ".arcgis")
    assert_resumed(emu, tmp_path, clean)


def test_kill_9_then_resume_is_byte_identical(emu, tmp_path, clean):
    emu.quirks.add("delay", params=PAGES, seconds=0.15)
    p = subprocess.Popen([ARCGIS_ONE, "--url", emu.url(325), "--state-dir", str(tmp_path),
                          "--dataset", "ds", "--exec-date", DATE],
                         stdout=subprocess.PIPE)
    side = part(tmp_path) + ".arcgis"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(side) and json.load(open(side))["pages"] >= 3:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert json.load(open(side))["pages"] >= 3
    assert_resumed(emu, tmp_path, clean)


def test_resume_of_another_layer_version_starts_over(emu, tmp_path, clean):
    emu.quirks.add("delay", params=PAGES, seconds=0.15)
    assert run(emu, tmp_path, "--cancel-after", "700")["outcome"] == "cancelled"
    emu.reset(quirks=True)
    emu.mutate(325, "insert", n=1)
    r = run(emu, tmp_path)
    assert r["outcome"] == "published" and r["pages"] == 9 and r["rows"] == 61, r


# ---- page halving (ARCGIS.md 2.5, 6.8 step 5) ----

@pytest.mark.parametrize("kind,spec", [
    ("error", {"code": 500}),                                   # Error performing query operation
    ("error", {"code": 504, "message": "Gateway Timeout"}),
    ("html", {"status": 504}),
    ("html", {"status": 500}),
])
def test_heavy_pages_halve_down_to_the_floor_with_the_same_file(emu, tmp_path, clean, kind, spec):
    rule = emu.quirks.add(kind, params=PAGES, min_records=2, **spec)   # pages of > 2 rows fail
    r = run(emu, tmp_path, "--min-page-size", "1")
    assert r["outcome"] == "published", r
    assert r["page_size"] == 1 and r["halvings"] == 2, r              # 7 -> 3 -> 1
    assert rule.fired == 4                                             # two at 7, two at 3
    assert sha(r["path"]) == clean[1]
    sizes = [int(e["form"]["resultRecordCount"]) for e in queries(emu) if "outFields" in e["form"]]
    assert sizes[:5] == [7, 7, 3, 3, 1] and set(sizes[5:]) == {1}
    assert r["rows"] == 60


def test_one_heavy_page_is_retried_not_halved(emu, tmp_path, clean):
    emu.quirks.add("error", params=PAGES, code=500, at=2)
    r = run(emu, tmp_path, "--min-page-size", "1")
    assert r["outcome"] == "published" and r["halvings"] == 0 and r["page_size"] == 7, r
    assert sha(r["path"]) == clean[1]


def test_halving_stops_at_the_floor(emu, tmp_path):
    emu.quirks.add("error", params=PAGES, code=500, min_records=2)
    r = run(emu, tmp_path, "--min-page-size", "5", "--retries", "3")
    assert r["outcome"] == "failed" and r["retryable"], r
    assert r["page_size"] == 5 and r["halvings"] == 1
    assert "Error performing query operation" in r["error"]


def test_a_non_heavy_error_does_not_halve(emu, tmp_path, clean):
    emu.quirks.add("error", params=PAGES, code=503, min_records=2, times=3)
    r = run(emu, tmp_path, "--min-page-size", "1")
    assert r["outcome"] == "published" and r["halvings"] == 0, r
    assert sha(r["path"]) == clean[1]


def test_halving_resumes_byte_identical_after_kill(emu, tmp_path, clean):
    emu.quirks.add("error", params=PAGES, code=500, min_records=3)
    emu.quirks.add("delay", params=PAGES, seconds=0.05)
    p = subprocess.Popen([ARCGIS_ONE, "--url", emu.url(325), "--state-dir", str(tmp_path),
                          "--dataset", "ds", "--exec-date", DATE, "--retry-delay", "10",
                          "--min-page-size", "1"], stdout=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not os.path.exists(part(tmp_path) + ".arcgis"):
        time.sleep(0.02)
    time.sleep(0.2)
    p.send_signal(signal.SIGKILL)
    p.wait()
    r = run(emu, tmp_path, "--min-page-size", "1")
    assert r["outcome"] == "published", r
    assert sha(r["path"]) == clean[1]
