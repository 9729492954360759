"""Integration tests of daemon/io/hub.c (and fetch.c on its result URL)
through tests/tools/hub_one, against the Hub of the ArcGIS emulator
(tests/arcgis, in-process, on loopback; 3 answers before Completed).

The flow: polls with redirect=false until resultUrl, then the file through
its signed-blob redirect, byte-identical to the emulator's export."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "arcgis"))
import testbed  # noqa: E402

BUILD = os.environ.get("DENVERD_BUILD", os.path.join(ROOT, "build"))
HUB_ONE = os.path.join(BUILD, "tests", "tools", "hub_one")
DATE = "2026-01-02"


@pytest.fixture(scope="module")
def server():
    if not os.access(HUB_ONE, os.X_OK):
        pytest.skip("hub_one is not built")
    with testbed.serving() as emu:
        yield emu


@pytest.fixture
def emu(server):
    server.reset(counts=True, quirks=True, data=True)
    polls, ttl = server.hub.polls, server.hub.blob_ttl
    yield server
    server.hub.polls, server.hub.blob_ttl = polls, ttl


def run(emu, state, *args, layer=325, url=None, code=0, timeout=30):
    cmd = [HUB_ONE, "--url", url or emu.hub_url(layer), "--state-dir", str(state),
           "--dataset", "ds", "--exec-date", DATE, "--poll-ms", "20", *args]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    assert p.returncode == code, p.stderr
    return json.loads(p.stdout) if code == 0 else p.stderr.decode()


def hub_log(emu):
    return [e for e in emu.log if e["route"] == "hub"]


def export_body(emu, result_url):
    return emu.hub.files[result_url.rsplit("/", 1)[1]].body


def test_polls_until_the_file_and_fetches_it_byte_identical(emu, tmp_path):
    r = run(emu, tmp_path)
    h, f = r["hub"], r["fetch"]
    assert h["outcome"] == "ready" and h["status"] == "Completed", r
    assert h["polls"] == 4 and h["requests"] == 4 and h["record_count"] == testbed.TRAFFIC_ROWS
    assert h["cache_status"] == "updated"
    polls = hub_log(emu)
    assert len(polls) == 4 and all(e["query"].get("redirect") == "false" for e in polls)
    assert all("updateCache" not in e["query"] and "trackCacheUpdate" not in e["query"]
               for e in polls)
    # the file came through the replica's 302 to the signed blob
    assert [e["route"] for e in emu.log[4:]] == ["replica", "blob"]
    assert f["outcome"] == "published" and f["http_status"] == 200, f
    with open(f["path"], "rb") as fh:
        data = fh.read()
    assert data == export_body(emu, h["result_url"]) and f["bytes"] == len(data)
    assert data.startswith(b"\xef\xbb\xbfobject_id,")
    assert r["resolves"] == 1
    assert not os.listdir(os.path.join(tmp_path, "staging", ".partial"))


def test_unchanged_layer_is_current_at_once_and_the_same_bytes(emu, tmp_path):
    first = run(emu, tmp_path / "a")
    emu.reset()
    again = run(emu, tmp_path / "b", "--last-hash", first["fetch"]["hash"])
    assert again["hub"]["polls"] == 1 and again["hub"]["cache_status"] == "current"
    assert again["hub"]["result_url"] == first["hub"]["result_url"]
    assert again["fetch"]["outcome"] == "unchanged" and again["fetch"]["path"] is None


def test_a_rebuild_has_a_new_name_and_the_old_one_is_gone(emu, tmp_path):
    first = run(emu, tmp_path / "a")
    emu.mutate(325, "delete", n=1)       # new data: the next ask builds a new export
    second = run(emu, tmp_path / "b")
    u1, u2 = first["hub"]["result_url"], second["hub"]["result_url"]
    assert u1 != u2 and second["hub"]["cache_status"] == "updated"
    assert second["fetch"]["outcome"] == "published"
    with open(second["fetch"]["path"], "rb") as fh:
        assert fh.read() == export_body(emu, u2)
    # never cached: each run asked the Hub; the old name now 404s
    assert len(hub_log(emu)) == 8
    emu.reset()
    stale = run(emu, tmp_path / "c", "--resolve-only")
    assert stale["hub"]["result_url"] == u2
    import urllib.error
    import urllib.request
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(u1)
    assert e.value.code == 404


def test_update_cache_then_track_cache_update(emu, tmp_path):
    run(emu, tmp_path / "a")
    emu.reset()
    r = run(emu, tmp_path / "b", "--update-cache")
    polls = hub_log(emu)
    assert polls[0]["query"].get("updateCache") == "true"
    assert all(e["query"].get("trackCacheUpdate") == "true" for e in polls[1:])
    assert r["hub"]["cache_status"] == "updated" and r["hub"]["polls"] == 4


def test_failed_with_http_200_fails_with_its_message(emu, tmp_path):
    emu.quirks.add("hub_failed", at=3)
    r = run(emu, tmp_path)
    h = r["hub"]
    assert h["outcome"] == "failed" and h["status"] == "Failed" and h["http_status"] == 200
    assert "Export failed" in h["error"] and h["retryable"], h
    assert h["polls"] == 3 and r["fetch"] is None


@pytest.mark.parametrize("status,retryable", [(500, True), (503, True), (429, True),
                                              (404, False), (400, False)])
def test_non_2xx_fails_with_the_body_message(emu, tmp_path, status, retryable):
    emu.quirks.add("hub_error", status=status, message=f"no export ({status})", at=2)
    h = run(emu, tmp_path)["hub"]
    assert h["outcome"] == "failed" and h["http_status"] == status, h
    assert h["error"].endswith(f": no export ({status})") and h["retryable"] == retryable
    assert h["requests"] == 2


def test_202_while_pending_is_polled_on(emu, tmp_path):
    emu.quirks.add("hub_202")
    r = run(emu, tmp_path)
    assert r["hub"]["outcome"] == "ready" and r["fetch"]["outcome"] == "published", r
    assert [e["status"] for e in hub_log(emu)] == [202, 202, 202, 200]


def test_hub_block_is_for_redirect_mode_only(emu, tmp_path):
    emu.quirks.add("hub_block", seconds=5)
    r = run(emu, tmp_path, timeout=4)
    assert r["hub"]["outcome"] == "ready" and r["hub"]["polls"] == 4


def test_a_body_that_is_not_json_is_asked_again(emu, tmp_path):
    emu.quirks.add("maintenance", route="hub", at=2)     # HTML with HTTP 200
    r = run(emu, tmp_path)
    assert r["hub"]["outcome"] == "ready" and r["hub"]["polls"] == 4, r
    assert r["hub"]["requests"] == 5 and r["fetch"]["outcome"] == "published"


def test_only_non_answers_fail_retryable_after_the_retries(emu, tmp_path):
    emu.quirks.add("maintenance", route="hub")
    h = run(emu, tmp_path, "--retries", "2")["hub"]
    assert h["outcome"] == "failed" and h["retryable"] and h["polls"] == 0
    assert h["requests"] == 3 and "not a JSON object" in h["error"], h


def test_the_deadline_bounds_the_polls(emu, tmp_path):
    emu.hub.polls = 10 ** 6
    h = run(emu, tmp_path, "--poll-ms", "50", "--deadline-ms", "400")["hub"]
    assert h["outcome"] == "failed" and h["err"] == -110 and h["retryable"], h   # ETIMEDOUT
    assert 4 <= h["polls"] <= 9 and "still" in h["error"]


def test_expired_blob_is_a_403_and_one_fresh_resolve(emu, tmp_path):
    emu.hub.blob_ttl = 0                 # every signed URL is already expired
    r = run(emu, tmp_path)
    f = r["fetch"]
    assert f["outcome"] == "failed" and f["http_status"] == 403 and not f["retryable"], f
    assert r["resolves"] == 2
    assert [e["route"] for e in emu.log if e["route"] in ("replica", "blob")] == \
        ["replica", "blob"] * 2
    assert not os.path.exists(os.path.join(tmp_path, "staging", "ds"))


def test_cancel_while_polling(emu, tmp_path):
    emu.hub.polls = 10 ** 6
    h = run(emu, tmp_path, "--cancel-after", "100")["hub"]
    assert h["outcome"] == "cancelled" and h["polls"] >= 1


@pytest.mark.parametrize("url", ["ftp://x/api/download/v1/items/a/csv?layers=1",
                                 "http://x/api/download/v1/items/a/csv?layers=1&redirect=false"])
def test_bad_urls_are_refused(emu, tmp_path, url):
    assert "hub_one:" in run(emu, tmp_path, url=url, code=2)
