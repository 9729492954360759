"""Every quirk switch of the emulator (ARCGIS.md 7.4-7.5), its schedules and
counters, in-process, over /__quirks and riding on the URL; over real HTTP."""
import email.utils
import http.client
import json
import random
import re
import urllib.error

import client
import pytest
from testbed import TRAFFIC_ROWS, M

COUNT = {"count": TRAFFIC_ROWS}
ERR500 = {"error": {"code": 500, "message": "Error performing query operation.", "details": []}}
ERR429 = {"error": {"code": 429, "message": "Too many requests. Try again later.", "details": []}}


def q(emu, which=325, **params):
    params.setdefault("f", "json")
    return client.get(emu.url(which) + "/query", **params)


def count(emu, which=325, **kw):
    return q(emu, which, where="1=1", returnCountOnly="true", **kw)


def offsets(d):
    return [f["attributes"]["object_id"] for f in d["features"]]


# ---- errors, schedules, counters ------------------------------------------------
def test_the_third_query_fails_once(emu):
    rule = emu.quirks.add("error", at=3)
    got = [count(emu) for _ in range(5)]
    assert [r.json() for r in got] == [COUNT, COUNT, ERR500, COUNT, COUNT]
    assert {r.status for r in got} == {200}
    client.get(emu.url(325), f="json")                 # metadata is not a query: not counted
    assert (rule.seen, rule.fired) == (5, 1)
    assert [e["quirks"] for e in emu.log] == [[], [], ["error"], [], [], []]


@pytest.mark.parametrize("spec,fires", [
    ({"every": 2}, [2, 4, 6]), ({"after": 3, "times": 1}, [4]), ({"at": [1, 5]}, [1, 5]),
    ({"after": 1, "every": 3}, [3, 6]), ({}, [1, 2, 3, 4, 5, 6])])
def test_schedules(emu, spec, fires):
    emu.quirks.add("error", **spec)
    got = [count(emu).json() for _ in range(6)]
    assert [i + 1 for i, d in enumerate(got) if "error" in d] == fires


def test_probability_schedule_is_seeded(emu):
    emu.quirks.add("error", prob=0.5, seed=7)
    rng = random.Random(7)
    want = [rng.random() < 0.5 for _ in range(12)]
    assert ["error" in count(emu).json() for _ in range(12)] == want
    assert 0 < sum(want) < 12


@pytest.mark.parametrize("code,body", [
    (498, {"code": 498, "message": "Invalid token.", "details": []}),
    (499, {"code": 499, "message": "Token Required", "details": []}),
    (400, {"code": 400, "message": "Unable to complete operation.", "details": ["Unable to perform query operation."]}),
    (503, {"code": 503, "message": "Service not started ", "details": []})])
def test_json_errors_with_http_200(emu, code, body):
    emu.quirks.add("error", code=code, route="any")
    for r in (count(emu), client.get(emu.url(325), f="json")):
        assert (r.status, r.json()) == (200, {"error": body})


def test_json_error_with_a_real_status_and_custom_text(emu):
    emu.quirks.add("error", code=504, http=504, message="Your request has timed out.", details=["x"])
    r = count(emu)
    assert (r.status, r.json()) == (504, {"error": {"code": 504, "message": "Your request has timed out.",
                                                    "details": ["x"]}})


def test_pressure_errors_let_a_halving_client_recover(emu):
    emu.quirks.add("error", min_records=3)
    assert q(emu, where="1=1", outFields="*", resultOffset=0).json() == ERR500         # M = 7 rows asked
    assert q(emu, where="1=1", outFields="*", resultOffset=0, resultRecordCount=6).json() == ERR500
    d = q(emu, where="1=1", outFields="*", resultOffset=0, resultRecordCount=3).json()
    assert len(d["features"]) == 3 and d["exceededTransferLimit"] is True
    assert count(emu).json() == COUNT                  # a count is not a page


@pytest.mark.parametrize("status,text", [(502, b"502 Bad Gateway"), (503, b"503 Service Unavailable"),
                                         (504, b"504 Gateway Timeout")])
def test_html_error_pages(emu, status, text):
    emu.quirks.add("html", status=status, retry_after=5, times=1)
    r = count(emu)
    assert r.status == status and r.headers["content-type"].startswith("text/html") and text in r.body
    assert r.headers["retry-after"] == "5"
    assert count(emu).json() == COUNT


def test_maintenance_page_on_every_path(emu):
    emu.quirks.add("maintenance")
    for url in (emu.url(325), emu.url(325) + "/query", emu.hub_url(325), emu.service_url("X")):
        r = client.get(url, f="json")
        assert r.status == 200 and b"undergoing scheduled maintenance" in r.body
        with pytest.raises(ValueError):
            r.json()


# ---- throttling --------------------------------------------------------------------
def test_rate_limit_429_with_retry_after_and_a_window(emu):
    rule = emu.quirks.add("rate_limit", limit=2, retry_after=7)
    assert count(emu).json() == COUNT and client.get(emu.url(325), f="json").status == 200
    r = count(emu)
    assert (r.status, r.headers["retry-after"], r.json()) == (429, "7", ERR429)
    assert count(emu).status == 429
    emu.clock.advance(61)                              # the 60 s window has passed
    assert count(emu).json() == COUNT
    assert (rule.seen, rule.fired) == (5, 2)


def test_rate_limit_without_retry_after_and_the_json_only_variant(emu):
    emu.quirks.add("rate_limit", at=1)
    r = count(emu)
    assert r.status == 429 and "retry-after" not in r.headers and r.json() == ERR429
    emu.quirks.clear()
    emu.quirks.add("rate_limit", http=200, at=1)
    r = count(emu)
    assert (r.status, r.json()) == (200, ERR429)


def test_long_get_404_but_post_works(emu, traffic):
    emu.quirks.add("long_get")
    ids = ",".join(str(i) for i in range(279506448, 279506448 + 400))
    r = q(emu, objectIds=ids, outFields="object_id")
    assert r.status == 404 and r.headers["content-type"].startswith("text/html")
    r = client.post(emu.url(325) + "/query", objectIds=ids, outFields="object_id", f="json")
    assert offsets(r.json()) == traffic.snapshot().oids[:M]
    assert count(emu).json() == COUNT


# ---- broken transfers ------------------------------------------------------------------
def test_delay_past_the_client_timeout(emu):
    emu.quirks.add("delay", seconds=0.6, times=1)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        client.get(emu.url(325) + "/query", timeout=0.2, where="1=1", returnCountOnly="true", f="json")
    assert count(emu).json() == COUNT


def test_truncated_json_with_a_matching_length(emu):
    emu.quirks.add("truncate", bytes=100, times=1)
    r = q(emu, where="1=1", outFields="*")
    assert r.status == 200 and len(r.body) == int(r.headers["content-length"]) == 100
    with pytest.raises(ValueError):
        r.json()
    assert len(q(emu, where="1=1", outFields="*").json()["features"]) == M


def test_short_body_then_close(emu):
    full = len(q(emu, where="1=1", outFields="*").body)
    emu.quirks.add("truncate", mode="short", fraction=0.25, times=1)
    conn = client.Conn(emu.port)
    with pytest.raises(http.client.IncompleteRead):
        conn.get(emu.url(325)[len(emu.base):] + "/query", where="1=1", outFields="*", f="json")
    assert (emu.log[-1]["status"], emu.log[-1]["bytes"]) == (200, int(full * 0.25))


def test_connection_reset_mid_page(emu):
    emu.quirks.add("reset", at_byte=50, times=1)
    conn = client.Conn(emu.port)
    with pytest.raises((ConnectionResetError, http.client.IncompleteRead, http.client.RemoteDisconnected)):
        conn.get(emu.url(325)[len(emu.base):] + "/query", where="1=1", outFields="*", f="json")
    assert emu.log[-1]["bytes"] == 50
    assert count(emu).json() == COUNT


# ---- mutations during a download ---------------------------------------------------------
def editing(emu):
    return client.get(emu.url(325), f="json").json()["editingInfo"]


def test_reload_mid_download_forces_a_restart(emu, traffic):
    emu.quirks.add("mutate", op="reload", at=3)
    attempts = []
    for _ in range(3):                                 # the restart rule of ARCGIS.md 3.4
        before = editing(emu)
        rows = client.rows_of(client.offset_pages(emu.url(325), order="object_id ASC"))
        attempts.append(rows)
        if editing(emu) == before:
            break
    assert len(attempts) == 2
    first, final = attempts
    assert len(first) == TRAFFIC_ROWS and first != traffic.snapshot().rows     # two generations mixed
    assert final == traffic.snapshot().rows and final[0]["object_id"] == 279506448 + 2 * TRAFFIC_ROWS
    key = sorted(r["offense_id"] for r in final)
    assert sorted(r["offense_id"] for r in first) != key


def test_edit_mid_download_moves_count_and_date(emu):
    emu.quirks.add("mutate", op="insert", n=3, at=2)
    before = editing(emu)
    pages = client.offset_pages(emu.url(325), order="object_id")
    assert len(client.rows_of(pages)) == TRAFFIC_ROWS + 3
    after = editing(emu)
    assert after["dataLastEditDate"] > before["dataLastEditDate"] and count(emu).json() == {"count": 63}


# ---- pages that lie ----------------------------------------------------------------------------
def test_short_pages_with_the_flag_still_reach_every_row(emu, traffic):
    emu.quirks.add("short_page", drop=2)
    pages = client.offset_pages(emu.url(325), order="object_id")
    assert client.rows_of(pages) == traffic.snapshot().rows
    assert len(pages[0]["features"]) == 5 and all(p["exceededTransferLimit"] for p in pages[:-1])
    assert pages[-1]["exceededTransferLimit"] is False


def test_an_empty_page_with_the_flag_is_not_the_end(emu, traffic):
    emu.quirks.add("empty_page", at=2)
    pages = client.offset_pages(emu.url(325), order="object_id")
    assert pages[1]["features"] == [] and pages[1]["exceededTransferLimit"] is True
    assert client.rows_of(pages) == traffic.snapshot().rows


def test_ignore_count(emu):
    emu.quirks.add("ignore_count")
    assert len(q(emu, where="1=1", resultOffset=0, resultRecordCount=3).json()["features"]) == M
    emu.quirks.clear()
    emu.quirks.add("ignore_count", size=5)
    assert len(q(emu, where="1=1", resultOffset=0, resultRecordCount=2).json()["features"]) == 5


def test_lying_pagination(emu, traffic):
    ids = traffic.snapshot().oids
    emu.quirks.add("ignore_offset")
    d = q(emu, where="1=1", resultOffset=14, orderByFields="object_id").json()
    assert offsets(d) == ids[:M] and d["exceededTransferLimit"] is True
    emu.quirks.clear()
    emu.quirks.add("empty_after_first")
    d = q(emu, where="1=1", resultOffset=7).json()
    assert d["features"] == [] and d["exceededTransferLimit"] is False
    d = q(emu, where="1=1", resultOffset=7, returnGeometry="false").json()
    assert offsets(d) == ids[7:14]
    assert offsets(q(emu, where="1=1", resultOffset=0).json()) == ids[:7]


def test_legacy_flag_is_omitted_on_the_last_page(emu):
    emu.quirks.add("legacy_flag")
    pages = client.offset_pages(emu.url(325), order="object_id")
    assert "exceededTransferLimit" not in pages[-1] and pages[0]["exceededTransferLimit"] is True
    assert len(client.rows_of(pages)) == TRAFFIC_ROWS


def test_unstable_order_without_sort_repeats_and_skips(emu, traffic):
    ids = traffic.snapshot().oids
    stable = [r["object_id"] for r in client.rows_of(client.offset_pages(emu.url(325)))]
    assert stable == ids                               # off by default: object-id order
    emu.quirks.add("unstable_order", seed=3)
    got = [r["object_id"] for r in client.rows_of(client.offset_pages(emu.url(325)))]
    assert got[:M] == ids[:M] and len(got) == TRAFFIC_ROWS
    assert len(set(got)) < TRAFFIC_ROWS                # duplicates, hence misses
    got = [r["object_id"] for r in client.rows_of(client.offset_pages(emu.url(325), order="object_id"))]
    assert got == ids


def test_unstable_ties_under_a_non_unique_sort(emu):
    fields = {"outFields": "object_id,district_id"}
    got = [r["object_id"] for r in client.rows_of(client.offset_pages(emu.url(325), order="district_id", **fields))]
    assert len(set(got)) == TRAFFIC_ROWS               # stable ties by default
    emu.quirks.add("unstable_order", ties=True, seed=1)
    got = [r["object_id"] for r in client.rows_of(client.offset_pages(emu.url(325), order="district_id", **fields))]
    assert len(set(got)) < TRAFFIC_ROWS


def test_unsorted_ids_and_statistics_name_case(emu, traffic):
    emu.quirks.add("unsorted_ids")
    ids = q(emu, where="1=1", returnIdsOnly="true").json()["objectIds"]
    assert ids != traffic.snapshot().oids and sorted(ids) == traffic.snapshot().oids
    emu.quirks.add("stat_case")
    st = json.dumps([{"statisticType": "max", "onStatisticField": "object_id", "outStatisticFieldName": "maxOid"}])
    d = q(emu, where="1=1", outStatistics=st).json()
    assert d["features"] == [{"attributes": {"MAXoID": 279506448 + TRAFFIC_ROWS - 1}}]


def test_no_pagination(emu):
    emu.quirks.add("no_pagination")
    d = client.get(emu.url(325), f="json").json()
    assert d["advancedQueryCapabilities"]["supportsPagination"] is False
    assert q(emu, where="1=1", resultOffset=0).json() == {
        "error": {"code": 400, "message": "Pagination is not supported.", "details": []}}
    assert len(q(emu, where="1=1").json()["features"]) == M


def test_no_oid_field(emu):
    emu.quirks.add("no_oid")
    d = client.get(emu.url(325), f="json").json()
    assert d["objectIdField"] is None and "object_id" not in [f["name"] for f in d["fields"]]
    assert q(emu, where="1=1", resultOffset=7).json() == {"error": {
        "code": 400, "message": "Pagination request requires either orderBy field or the layer/table needs to "
                                "have OID Field", "details": []}}
    assert len(q(emu, where="1=1", resultOffset=7, orderByFields="reported_date").json()["features"]) == M


def test_result_type_standard(emu):
    assert len(q(emu, where="1=1", resultType="standard", resultRecordCount=50).json()["features"]) == M
    emu.quirks.add("result_type")
    assert len(q(emu, where="1=1", resultType="standard", resultRecordCount=50).json()["features"]) == 50


# ---- caches and headers ----------------------------------------------------------------------------
def test_cdn_serves_stale_bytes_until_max_age(emu):
    emu.quirks.add("cdn", max_age=30)
    r = count(emu)
    assert r.headers["cache-control"] == "public, max-age=30, s-maxage=30" and r.headers["x-cache"].startswith("Miss")
    doc = client.get(emu.url(325), f="json").json()
    emu.mutate(325, "insert", n=1)
    r = count(emu)
    assert r.json() == COUNT and r.headers["x-cache"] == "Hit from cloudfront" and "age" in r.headers
    assert client.get(emu.url(325), f="json").json()["editingInfo"] == doc["editingInfo"]      # stale metadata
    assert client.post(emu.url(325) + "/query", where="1=1", returnCountOnly="true", f="json").json() == \
        {"count": 61}                                  # POST is not cached
    assert count(emu, outFields="*").json() == {"count": 61}                                  # another URL
    emu.clock.advance(31)
    assert count(emu).json() == {"count": 61}


def test_validators(emu, traffic):
    emu.quirks.add("validators")
    a, b = count(emu), count(emu)
    assert re.fullmatch(r"sd\d+_-?\d+", a.headers["etag"]) and a.headers["etag"] == b.headers["etag"]
    assert a.headers["last-modified"] == email.utils.formatdate(traffic.editing["lastEditDate"] / 1000, usegmt=True)
    emu.mutate(325, "insert", n=1)
    assert count(emu).headers["etag"] != a.headers["etag"]
    emu.quirks.clear()
    emu.quirks.add("validators", random=True, conditional=True)
    tags = {count(emu).headers["etag"] for _ in range(3)}
    assert len(tags) == 3
    emu.quirks.clear()
    emu.quirks.add("validators", conditional=True)
    tag = count(emu).headers["etag"]
    r = count(emu, headers={"If-None-Match": tag})
    assert (r.status, r.body) == (304, b"")


# ---- how rules are given ------------------------------------------------------------------------------
def test_rules_riding_on_the_url(emu):
    base = emu.url(325)
    pre = base.replace(emu.base, emu.base + "/__quirk/error;code=503;at=2+3")
    got = [client.get(pre + "/query", where="1=1", returnCountOnly="true", f="json").json() for _ in range(4)]
    assert [("error" in d) and d["error"]["code"] for d in got] == [False, 503, 503, False]
    assert count(emu).json() == COUNT                  # the plain URL is not affected
    state = client.get(emu.base + "/__quirks").json()
    assert state == [{"kind": "error", "code": 503, "at": [2, 3], "seen": 4, "fired": 2,
                      "prefix": "error;code=503;at=2+3"}]
    r = client.get(base.replace(emu.base, emu.base + "/__quirk/nosuch") + "/query", f="json")
    assert r.status == 400


def test_rules_over_http(emu):
    c = client.Conn(emu.port)
    r = c.request("POST", "/__quirks", json.dumps([{"kind": "error", "code": 498, "layer": 66},
                                                   {"kind": "error", "method": "POST", "layer": 325}]))
    assert [x["kind"] for x in r.json()] == ["error", "error"]
    assert count(emu).json() == COUNT
    assert count(emu, 66).json()["error"]["code"] == 498
    assert client.post(emu.url(325) + "/query", where="1=1", returnCountOnly="true", f="json").json() == ERR500
    r = c.request("POST", "/__quirks?replace=1", json.dumps({"kind": "error", "params": {"resultOffset": "^14$"}}))
    assert len(r.json()) == 1
    assert len(q(emu, where="1=1", resultOffset=7).json()["features"]) == M
    assert q(emu, where="1=1", resultOffset=14).json() == ERR500
    assert c.request("POST", "/__quirks", json.dumps({"kind": "nosuch"})).status == 400
    assert c.request("DELETE", "/__quirks").json() == []
    assert count(emu, 66).json() == {"count": 30}
    assert c.request("GET", "/__clock?advance=5").json()["offset"] == 5.0
