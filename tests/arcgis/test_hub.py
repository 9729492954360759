"""The Hub download flow (ARCGIS.md 5.1-5.3, 7.6) end to end over loopback:
polling, the signed redirect, the export CSV, rebuilds with new names,
expiry, the Hub quirks, redirect mode, and CSV items behind /data."""
import csv
import hashlib
import io
import json
import re
import urllib.parse
import urllib.request

import client
import emulator
import hub
import layers
import pytest
from testbed import SR_ROWS, TRAFFIC_ROWS

NAME = re.compile(r"ODC_CRIME_TRAFFICACCIDENTS5YR_P_\d{19}\.csv")


def poll(emu, which=325, fmt="csv", **params):
    return client.get(emu.hub_url(which, fmt, redirect="false", **params))


def until_done(emu, which=325, limit=10, **params):
    """Poll like hub.js: until resultUrl; returns the answers."""
    seen = []
    for _ in range(limit):
        r = poll(emu, which, **params)
        seen.append(r)
        if "resultUrl" in r.json():
            return seen
    raise AssertionError(f"not done after {limit}: {seen}")


def fetch_file(result_url):
    r = client.get(result_url)
    assert r.status == 302
    blob = r.headers["location"]
    return blob, client.get(blob)


def test_polling_from_pending_to_the_file(emu, traffic):
    answers = until_done(emu)
    assert [a.json()["status"] for a in answers] == ["Pending", "InProgress", "ConvertingData", "Completed"]
    assert [a.json()["progressInPercent"] for a in answers] == [0, 25, 50, 100]
    assert {a.status for a in answers} == {200}
    done = answers[-1].json()
    assert done["recordCount"] == TRAFFIC_ROWS and done["cacheStatus"] == "updated"
    url = done["resultUrl"]
    assert url.startswith(emu.base + f"/{emu.org}/arcgis/rest/services/{layers.TRAFFIC_SERVICE}/FeatureServer/"
                                     "replicafilescache/")
    assert NAME.fullmatch(url.rsplit("/", 1)[1])
    # unchanged data: Completed at once, the same file
    again = poll(emu).json()
    assert again["status"] == "Completed" and again["resultUrl"] == url and again["cacheStatus"] == "current"
    blob, f = fetch_file(url)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(blob).query)
    assert urllib.parse.urlsplit(blob).path == "/exportfiles-7647-160430/" + url.rsplit("/", 1)[1]
    assert set(q) == {"sv", "sr", "sig", "se", "sp"} and q["sp"] == ["r"] and q["sr"] == ["b"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", q["se"][0])
    assert f.status == 200 and f.headers["content-type"] == "text/csv"
    assert f.headers["content-disposition"] == f'attachment; filename="{url.rsplit("/", 1)[1]}"'
    check_traffic_csv(f.body, traffic.snapshot().rows)


def check_traffic_csv(body, rows):
    assert body.startswith(b"\xef\xbb\xbfobject_id,incident_id,offense_id,")
    text = body.decode("utf-8-sig")
    assert text.count("\r\n") == len(rows) + 1 and "\n" not in text.replace("\r\n", "")
    recs = list(csv.reader(io.StringIO(text, newline="")))
    head, data = recs[0], recs[1:]
    assert head == [f[0] for f in layers.TRAFFIC_FIELDS] + ["x", "y"] and len(data) == len(rows)
    col = {n: i for i, n in enumerate(head)}
    r0 = data[0]
    assert r0[col["object_id"]] == "279506448" and r0[col["incident_id"]] == "DP202600000002"
    assert r0[col["reported_date"]] == "8/27/2026 11:46:00 AM" and r0[col["last_occurrence_date"]] == ""
    assert r0[col["precinct_id"]] == "" and r0[col["district_id"]] == "5     "
    assert r0[col["x"]] == repr(rows[0]["geo_lon"]) and r0[col["y"]] == repr(rows[0]["geo_lat"])
    assert r0[col["geo_x"]] == "%d" % rows[0]["geo_x"]           # a whole double has no ".0"
    assert data[22][col["LIGHT_CONDITION"]] == "  " and data[24][col["x"]] == "" and data[24][col["geo_lon"]] == "0"


def test_the_311_csv_keeps_line_breaks_and_aliases_on_request(emu, table):
    done = until_done(emu, 66)[-1].json()
    assert done["recordCount"] == SR_ROWS and done["resultUrl"].endswith(".csv")
    _, f = fetch_file(done["resultUrl"])
    assert f.body.startswith(b"\xef\xbb\xbfOBJECTID,Case_Summary,Case_Status,")
    assert b'"Graffiti Removal\nsee notes"' in f.body                    # LF inside a quoted field
    recs = list(csv.reader(io.StringIO(f.body.decode("utf-8-sig"), newline="")))
    assert len(recs) == SR_ROWS + 1 and recs[7][1] == "Graffiti Removal\nsee notes"
    assert recs[1][4] == "1/9/2026 8:36:36 AM" == recs[1][5]             # the epoch date and the text agree
    alias = hub.csv_bytes(table, header="alias")
    assert alias.startswith("\ufeffOBJECTID,Case Summary,Case Status".encode())
    utc = layers.service_requests_layer(3, dates="utc")
    r = utc.snapshot().rows[0]
    assert r["Case_Created_dttm"] == "1/9/2026 8:36:36 AM" and r["Case_Created_Date"] == 1767947796000 + 7 * 3600000
    den = hub.csv_bytes(utc, tz="America/Denver").decode("utf-8-sig").splitlines()[1].split(",")
    assert den[4] == "1/9/2026 8:36:36 AM"


def test_a_changed_layer_gets_a_new_file_and_the_old_name_dies(emu):
    first = until_done(emu)[-1].json()["resultUrl"]
    emu.mutate(325, "reload")
    answers = until_done(emu)
    assert answers[0].json() == {"status": "Pending", "progressInPercent": 0} and len(answers) == 4
    second = answers[-1].json()["resultUrl"]
    assert second != first and NAME.fullmatch(second.rsplit("/", 1)[1])
    assert client.get(first).status == 404 and client.get(second).status == 302
    # updateCache forces a rebuild even though nothing changed; trackCacheUpdate polls it
    r = poll(emu, updateCache="true").json()
    assert r["status"] == "Pending"
    assert poll(emu).json()["resultUrl"] == second      # meanwhile others still get the current file
    answers = until_done(emu, trackCacheUpdate="true")
    third = answers[-1].json()["resultUrl"]
    assert len(answers) == 3 and third not in (first, second) and emu.hub.builds == 3


def test_blob_expiry_signature_and_range(emu):
    url = until_done(emu)[-1].json()["resultUrl"]
    blob, f = fetch_file(url)
    r = client.get(blob, headers={"Range": "bytes=3-12"})
    assert r.status == 206 and r.body == f.body[3:13] and r.headers["content-range"] == f"bytes 3-12/{len(f.body)}"
    bad = re.sub(r"sig=[^&]+", "sig=AAAA", blob)
    r = client.get(bad)
    assert r.status == 403 and b"<Code>AuthenticationFailed</Code>" in r.body and b"Signature did not match" in r.body
    emu.clock.advance(3601)
    r = client.get(blob)
    assert r.status == 403 and b"Signed expiry time [" in r.body and r.headers["x-ms-error-code"] == \
        "AuthenticationFailed"
    blob2, f2 = fetch_file(url)                         # a fresh redirect is signed again
    assert blob2 != blob and f2.body == f.body
    assert client.get(blob2.replace(url.rsplit("/", 1)[1], "nope.csv")).status == 404


def test_failed_with_200_then_a_fresh_job(emu):
    emu.quirks.add("hub_failed", at=2)
    a, b, c = poll(emu), poll(emu), poll(emu)
    assert a.json()["status"] == "Pending" and (b.status, b.json()["status"]) == (200, "Failed")
    assert c.json() == {"status": "Pending", "progressInPercent": 0}
    assert "resultUrl" in until_done(emu)[-1].json()


def test_hub_error_and_202_quirks(emu):
    emu.quirks.add("hub_error", at=1, status=503, message="Service Unavailable")
    r = poll(emu)
    assert (r.status, r.json()) == (503, {"message": "Service Unavailable"})
    emu.quirks.clear()
    emu.quirks.add("hub_202")
    answers = until_done(emu)
    assert [a.status for a in answers] == [202, 202, 202, 200]


def test_redirect_mode(emu, traffic):
    url = emu.hub_url(325)
    answers = [client.get(url) for _ in range(3)]
    assert [(a.status, a.json()["status"]) for a in answers] == [(202, "Pending"), (202, "InProgress"),
                                                                 (202, "ConvertingData")]
    r = client.get(url)
    assert r.status == 302 and NAME.fullmatch(r.headers["location"].rsplit("/", 1)[1])
    with urllib.request.urlopen(url) as f:               # a client that just follows redirects
        check_traffic_csv(f.read(), traffic.snapshot().rows)
    emu.mutate(325, "touch")                               # metadata only: the file is still current
    assert client.get(url).status == 302
    emu.mutate(325, "insert", n=1)
    emu.quirks.add("hub_block", seconds=0.05)
    r = client.get(url)
    assert r.status == 302 and client.get(r.headers["location"]).status == 302


def test_where_geojson_and_errors(emu, traffic):
    rows = traffic.snapshot().rows
    done = until_done(emu, where="bicycle_ind = 1 OR pedestrian_ind = 1")[-1].json()
    assert done["recordCount"] == sum(1 for r in rows if r["bicycle_ind"] == 1 or r["pedestrian_ind"] == 1) > 0
    done = until_done(emu, fmt="geojson")[-1].json()
    _, f = fetch_file(done["resultUrl"])
    d = json.loads(f.body)
    assert done["resultUrl"].endswith(".geojson") and len(d["features"]) == TRAFFIC_ROWS
    assert d["features"][0]["properties"] == rows[0] and "properties" not in d
    r = client.get(f"{emu.base}/api/download/v1/items/{'0' * 32}/csv?layers=0&redirect=false")
    assert r.status == 404 and r.json() == {"message": f"Item {'0' * 32} not found"}
    assert poll(emu, fmt="kml").status == 400 and poll(emu, where="nope = 1").status == 400
    assert client.get(emu.hub_url(325, layers=9, redirect="false")).status == 400


def test_multi_layer_item_needs_layers():
    emu = emulator.Emulator(hub_polls=0).start()
    try:
        a = emu.add("Svc", 0, "a", [{"name": "OBJECTID", "type": "OID"}], [{}, {}], item_id="1" * 32)
        emu.add("Svc", 1, "b", [{"name": "OBJECTID", "type": "OID"}], [{}], item_id="1" * 32)
        base = f"{emu.base}/api/download/v1/items/{'1' * 32}/csv?redirect=false"
        assert client.get(base).status == 400
        d = client.get(base + "&layers=1").json()
        assert d["status"] == "Completed" and d["recordCount"] == 1          # no polls configured
        assert client.get(emu.hub_url(a, redirect="false")).json()["recordCount"] == 2
    finally:
        emu.stop()


def test_csv_item_behind_data_is_replaced_in_place(emu, table):
    item = "5bdb9b3033d74782a4c410e548887ede"
    body = hub.csv_bytes(table, encoding="cp1252", quote_all=True, header="alias")
    emu.hub.add_item(item, body, name="311 2025.csv")
    r = client.get(f"{emu.base}/sharing/rest/content/items/{item}/data")
    assert r.status == 302 and r.headers["location"] == f"{emu.base}/itemfiles/{item}/311%202025.csv"
    f = client.get(r.headers["location"])
    assert f.body == body and f.body.startswith(b'"OBJECTID","Case Summary","Case Status"')
    assert f.headers["etag"] == '"%s"' % hashlib.md5(body).hexdigest()
    info = client.get(f"{emu.base}/sharing/rest/content/items/{item}", f="json").json()
    assert (info["type"], info["size"], info["name"]) == ("CSV", len(body), "311 2025.csv")
    client.Conn(emu.port).request("POST", f"/__item?id={item}", b"a,b\r\n1,2\r\n")
    g = client.get(r.headers["location"])
    assert g.body == b"a,b\r\n1,2\r\n" and g.headers["etag"] != f.headers["etag"]
    assert client.get(f"{emu.base}/sharing/rest/content/items/{'9' * 32}/data").json()["error"]["code"] == 400
    fs = client.get(f"{emu.base}/sharing/rest/content/items/{layers.TRAFFIC_ITEM}", f="json").json()
    assert fs["type"] == "Feature Service" and fs["url"] == emu.service_url(layers.TRAFFIC_SERVICE)


@pytest.mark.parametrize("ms,text", [(0, "1/1/1970 12:00:00 AM"), (1787831160000, "8/27/2026 11:46:00 AM"),
                                     (1767225599000, "12/31/2025 11:59:59 PM"), (43200000, "1/1/1970 12:00:00 PM")])
def test_csv_date_text(ms, text):
    assert hub.fmt_date(ms, None) == text
