"""The emulator's metadata, query semantics, formats, transport, log, CLI and
pre-rendered mode, over real HTTP on loopback (client.py).  Expected values
are computed independently from the fixture rows with plain Python, or are
literals."""
import gzip
import json
import math
import os
import subprocess
import sys
import time
import urllib.parse

import client
import emulator
import layers
import pytest
from testbed import SR_ROWS, TRAFFIC_ROWS, M

HERE = os.path.dirname(os.path.abspath(__file__))
ERR_QUERY = {"error": {"code": 400, "message": "Unable to complete operation.",
                       "details": ["Unable to perform query operation."]}}
ERR_URL = {"error": {"code": 400, "message": "Invalid URL", "details": ["Invalid URL"]}}
MERC = 20037508.342789244


def q(emu, which=325, **params):
    params.setdefault("f", "json")
    return client.get(emu.url(which) + "/query", **params)


def oids(d, name="object_id"):
    return [f["attributes"][name] for f in d["features"]]


# ---- metadata -----------------------------------------------------------------
def test_service_documents(emu):
    d = client.get(emu.service_url(layers.TRAFFIC_SERVICE), f="json").json()
    assert d["layers"] == [{"id": 325, "name": "traffic_accidents", "parentLayerId": -1, "defaultVisibility": True,
                            "subLayerIds": None, "minScale": 0, "maxScale": 0, "geometryType": "esriGeometryPoint"}]
    assert d["tables"] == [] and d["maxRecordCount"] == M
    assert d["supportedQueryFormats"] == "JSON, geoJSON, PBF"
    assert d["serviceItemId"] == layers.TRAFFIC_ITEM
    d = client.get(emu.service_url(layers.SR311_SERVICE), f="json").json()
    assert d["layers"] == [] and [t["id"] for t in d["tables"]] == [66]
    d = client.get(f"{emu.base}/{emu.org}/arcgis/rest/services", f="json").json()
    assert [s["name"] for s in d["services"]] == sorted([layers.SR311_SERVICE, layers.TRAFFIC_SERVICE])


def test_layer_document(emu):
    d = client.get(emu.url(325), f="json").json()
    assert [f["name"] for f in d["fields"]] == [f[0] for f in layers.TRAFFIC_FIELDS]
    assert len(d["fields"]) == 47
    by = {f["name"]: f for f in d["fields"]}
    assert by["object_id"] == {"name": "object_id", "type": "esriFieldTypeOID", "alias": "object_id",
                               "sqlType": "sqlTypeOther", "domain": None, "defaultValue": None,
                               "nullable": False, "editable": False}
    assert by["incident_id"]["type"] == "esriFieldTypeString" and by["incident_id"]["length"] == 20
    assert by["reported_date"]["type"] == "esriFieldTypeDate"
    assert by["geo_lon"]["type"] == "esriFieldTypeDouble" and by["precinct_id"]["type"] == "esriFieldTypeInteger"
    assert (d["type"], d["geometryType"], d["objectIdField"]) == ("Feature Layer", "esriGeometryPoint", "object_id")
    assert d["uniqueIdField"] == {"name": "object_id", "isSystemMaintained": True}
    assert d["maxRecordCount"] == M and d["standardMaxRecordCount"] > M and d["tileMaxRecordCount"] > M
    aq = d["advancedQueryCapabilities"]
    assert aq["supportsPagination"] is True and aq["supportsOrderBy"] is True and aq["supportsStatistics"] is True
    assert d["editingInfo"] == {"lastEditDate": 1764547200000, "schemaLastEditDate": 1704067200000,
                                "dataLastEditDate": 1764547200000}
    assert d["extent"]["spatialReference"] == {"wkid": 102100, "latestWkid": 3857}
    assert -11.8e6 < d["extent"]["xmin"] < d["extent"]["xmax"] < -11.6e6
    assert d["serviceItemId"] == layers.TRAFFIC_ITEM
    t = client.get(emu.url(66), f="json").json()
    assert (t["type"], t["objectIdField"]) == ("Table", "OBJECTID") and "geometryType" not in t
    assert {f["name"]: f["alias"] for f in t["fields"]}["Case_Created_dttm"] == "Case Created dttm"
    assert [f["name"] for f in t["fields"]] == [f[0] for f in layers.SR311_FIELDS] and len(t["fields"]) == 25


def test_layers_route_and_feature_route(emu, traffic):
    d = client.get(emu.service_url(layers.TRAFFIC_SERVICE) + "/layers", f="json").json()
    assert [x["id"] for x in d["layers"]] == [325] and d["tables"] == []
    row = traffic.snapshot().rows[3]
    f = client.get(emu.url(325) + "/%d" % row["object_id"], f="json", outSR="4326").json()["feature"]
    assert f["attributes"] == row and f["geometry"] == {"x": row["geo_lon"], "y": row["geo_lat"]}
    assert client.get(emu.url(325) + "/5", f="json").json()["error"]["code"] == 404


@pytest.mark.parametrize("path", ["/{org}/arcgis/rest/services/NOPE/FeatureServer",
                                  "/{org}/arcgis/rest/services/ODC_CRIME_TRAFFICACCIDENTS5YR_P/FeatureServer/9",
                                  "/{org}/arcgis/rest/services/ODC_CRIME_TRAFFICACCIDENTS5YR_P/FeatureServer/325/x/y",
                                  "/otherorg/arcgis/rest/services/ODC_CRIME_TRAFFICACCIDENTS5YR_P/FeatureServer"])
def test_invalid_urls_are_json_errors_with_200(emu, path):
    r = client.get(emu.base + path.format(org=emu.org), f="json")
    assert r.status == 200 and r.json() == ERR_URL


def test_formats(emu):
    r = client.get(emu.url(325))
    assert r.status == 200 and r.headers["content-type"].startswith("text/html") and b"<html>" in r.body
    j = client.get(emu.url(325), f="json")
    p = client.get(emu.url(325), f="pjson")
    assert p.json() == j.json() and p.body.startswith(b'{\n  "currentVersion": ') and b"\n" not in j.body
    r = q(emu, f="pbf")
    assert r.json()["error"]["code"] == 400 and r.json()["error"]["message"] == "Invalid format"
    assert q(emu, f="kml").json()["error"]["message"] == "Invalid format"
    r = client.get(emu.url(325) + "/query", where="1=1")       # no f: the HTML form
    assert r.headers["content-type"].startswith("text/html")


# ---- counts, ids, unpaged queries ----------------------------------------------------
def test_count_and_ids(emu, traffic):
    want = [r["object_id"] for r in traffic.snapshot().rows]
    assert want[0] == 279506448 and want == list(range(279506448, 279506448 + TRAFFIC_ROWS))
    assert q(emu, where="1=1", returnCountOnly="true").json() == {"count": TRAFFIC_ROWS}
    assert q(emu, where="1=1", returnIdsOnly="true").json() == {"objectIdFieldName": "object_id", "objectIds": want}
    # count wins over ids, and neither is paged
    assert q(emu, where="1=1", returnCountOnly="true", returnIdsOnly="true",
             resultRecordCount=2).json() == {"count": TRAFFIC_ROWS}
    assert q(emu, 66, where="1=1", returnCountOnly="true").json() == {"count": SR_ROWS}


def test_unpaged_query_is_capped_and_flagged(emu, traffic):
    d = q(emu, where="1=1", outFields="*").json()
    assert len(d["features"]) == M and d["exceededTransferLimit"] is True
    few = traffic.snapshot().oids[:3]
    d = q(emu, where=f"object_id <= {few[-1]}", outFields="*").json()
    assert oids(d) == few and "exceededTransferLimit" not in d
    d = q(emu, where="object_id < 0", outFields="*").json()
    assert d["features"] == [] and "fields" not in d and "exceededTransferLimit" not in d


# ---- paging --------------------------------------------------------------------
@pytest.mark.parametrize("page", [None, M, 5000, 3])
def test_offset_paging_with_order_gets_every_row_once(emu, traffic, page):
    pages = client.offset_pages(emu.url(325), page=page, order="object_id ASC")
    got = client.rows_of(pages)
    assert got == traffic.snapshot().rows
    size = min(page or M, M)
    assert [len(p["features"]) for p in pages] == [size] * (TRAFFIC_ROWS // size) + (
        [TRAFFIC_ROWS % size] if TRAFFIC_ROWS % size else [])
    assert [p["exceededTransferLimit"] for p in pages] == [True] * (len(pages) - 1) + [False]


def test_full_download_at_denvers_2000():
    """ARCGIS.md 7.7 (1)-(2) at Denver's real maxRecordCount: 4,500 rows, pages asked of 5000."""
    e = emulator.Emulator().start()
    try:
        ly = e.add_layer(layers.traffic_layer(4500, seed=2))
        assert client.get(e.url(325), f="json").json()["maxRecordCount"] == 2000
        pages = client.offset_pages(e.url(325), page=5000, order="object_id ASC", use_post=True)
        assert [len(p["features"]) for p in pages] == [2000, 2000, 500]
        assert client.rows_of(pages) == ly.snapshot().rows
        pages = client.oid_range_pages(e.url(325), "object_id", 2000, use_post=True)
        assert [len(p["features"]) for p in pages] == [2000, 2000, 500]
        got = client.rows_of(pages)
        assert len({r["incident_id"] + r["offense_id"] for r in got}) == len(got) == 4500
    finally:
        e.stop()


def test_offset_paging_by_post_and_on_the_table(emu, table):
    got = client.rows_of(client.offset_pages(emu.url(66), order="OBJECTID", use_post=True))
    assert got == table.snapshot().rows and len(got) == SR_ROWS


@pytest.mark.parametrize("inclusive", [True, False])
def test_oid_range_paging(emu, traffic, inclusive):
    pages = client.oid_range_pages(emu.url(325), "object_id", M, inclusive=inclusive)
    assert client.rows_of(pages) == traffic.snapshot().rows
    assert [len(p["features"]) for p in pages] == [7] * 8 + [4]
    assert all("exceededTransferLimit" not in p for p in pages)


def test_order_by_desc_puts_nulls_last_and_ties_stay_in_oid_order(emu, traffic):
    rows = traffic.snapshot().rows
    d = q(emu, where="1=1", outFields="object_id,precinct_id", orderByFields="precinct_id DESC, object_id ASC",
          resultRecordCount=M, resultOffset=TRAFFIC_ROWS - M).json()
    want = sorted(rows, key=lambda r: (r["precinct_id"] is not None, r["precinct_id"] or 0, -r["object_id"]),
                  reverse=True)
    assert oids(d) == [r["object_id"] for r in want[-M:]]
    assert d["features"][-1]["attributes"]["precinct_id"] is None
    d = q(emu, where="1=1", outFields="object_id", orderByFields="PRECINCT_ID", resultRecordCount=2).json()
    assert [f["attributes"] for f in d["features"]] == [{"object_id": r["object_id"]} for r in rows
                                                        if r["precinct_id"] is None][:2]


# ---- where -------------------------------------------------------------------------
WHERES = [
    ("1=1", lambda r: True),
    ("1=0", lambda r: False),
    ("object_id > 279506450 AND object_id <= 279506460", lambda r: 279506450 < r["object_id"] <= 279506460),
    ("OBJECT_ID >= 279506500", lambda r: r["object_id"] >= 279506500),
    ("object_id IN (279506448, 279506449, 279506999)", lambda r: r["object_id"] in (279506448, 279506449)),
    ("object_id NOT IN (279506448)", lambda r: r["object_id"] != 279506448),
    ("object_id BETWEEN 279506450 AND 279506452", lambda r: 279506450 <= r["object_id"] <= 279506452),
    ("(object_id < 279506450 OR object_id > 279506505) AND NOT bicycle_ind = 1",
     lambda r: (r["object_id"] < 279506450 or r["object_id"] > 279506505) and r["bicycle_ind"] == 0),
    ("incident_id LIKE 'DP%'", lambda r: r["incident_id"].startswith("DP")),
    ("incident_id NOT LIKE 'DP%'", lambda r: not r["incident_id"].startswith("DP")),
    ("precinct_id IS NULL", lambda r: r["precinct_id"] is None),
    ("precinct_id IS NOT NULL AND precinct_id < 300",
     lambda r: r["precinct_id"] is not None and r["precinct_id"] < 300),
    ("LIGHT_CONDITION = '  '", lambda r: r["LIGHT_CONDITION"] == "  "),
    ("light_condition = 'Daylight'", lambda r: r["LIGHT_CONDITION"] == "Daylight"),
    ("district_id = '5     '", lambda r: r["district_id"] == "5     "),
    ("district_id = '5'", lambda r: False),
    ("incident_address = 'it''s'", lambda r: False),
    ("reported_date >= DATE '2026-01-01'", lambda r: r["reported_date"] >= 1767225600000),
    ("reported_date < TIMESTAMP '2020-06-01 12:30:00'", lambda r: r["reported_date"] < 1591014600000),
    ("geo_lon = 0 OR geo_lat > 39.8", lambda r: r["geo_lon"] == 0 or r["geo_lat"] > 39.8),
    ("geo_lon < -105.0 AND NOT (geo_lat > 39.7)", lambda r: r["geo_lon"] < -105.0 and not r["geo_lat"] > 39.7),
    ("HARMFUL_EVENT_SEQ_2 <> 'Broadside'", lambda r: r["HARMFUL_EVENT_SEQ_2"] not in (None, "Broadside")),
    ("NOT HARMFUL_EVENT_SEQ_2 = 'Broadside'", lambda r: r["HARMFUL_EVENT_SEQ_2"] not in (None, "Broadside")),
]


@pytest.mark.parametrize("where,pred", WHERES, ids=[w for w, _ in WHERES])
def test_where_subset(emu, traffic, where, pred):
    want = [r["object_id"] for r in traffic.snapshot().rows if pred(r)]
    got = q(emu, where=where, returnIdsOnly="true").json()["objectIds"]
    assert got == want
    assert q(emu, where=where, returnCountOnly="true").json() == {"count": len(want)}


NONE = {"1=0", "district_id = '5'", "incident_address = 'it''s'"}


def test_where_subsets_are_not_vacuous(traffic):
    rows = traffic.snapshot().rows
    for where, pred in WHERES:
        n = sum(1 for r in rows if pred(r))
        want = "none" if where in NONE else "all" if where == "1=1" else "some"
        assert ("none" if n == 0 else "all" if n == len(rows) else "some") == want, where
    assert 0 < sum(1 for r in rows if r["incident_id"].startswith("DP")) < len(rows)
    assert any(r["LIGHT_CONDITION"] == "  " for r in rows) and any(r["precinct_id"] is None for r in rows)


@pytest.mark.parametrize("where", [
    "1=1; DROP TABLE x", "nosuch = 1", "UPPER(district_id) = 'UI'", "object_id = 'abc'", "reported_date > 5",
    "object_id + 1 > 2", '"object_id" > 1', "object_id >", "district_id = 'open", "reported_date > DATE '2026-02-30'",
    "object_id IN ()", "district_id LIKE 5", "object_id > 1 AND", "1", "object_id == 3"])
def test_where_rejected_with_the_arcgis_error(emu, where):
    r = q(emu, where=where, outFields="*")
    assert r.status == 200 and r.json() == ERR_QUERY
    assert emu.log[-1]["reason"]


def test_object_ids_param_is_anded_with_where(emu, traffic):
    ids = traffic.snapshot().oids
    d = q(emu, objectIds=f"{ids[1]},{ids[2]},{ids[5]},12", where=f"object_id > {ids[1]}", outFields="object_id").json()
    assert oids(d) == [ids[2], ids[5]]
    assert q(emu, objectIds="1,x").json()["error"]["code"] == 400


# ---- outFields, values, geometry -------------------------------------------------------
def test_out_fields(emu, traffic):
    row = traffic.snapshot().rows[0]
    d = q(emu, where="1=1", outFields="REPORTED_DATE, incident_id,object_id", resultRecordCount=1).json()
    assert d["features"][0]["attributes"] == {"reported_date": row["reported_date"], "incident_id": row["incident_id"],
                                              "object_id": row["object_id"]}
    assert [f["name"] for f in d["fields"]] == ["reported_date", "incident_id", "object_id"]
    d = q(emu, where="1=1", resultRecordCount=1, outFields="").json()
    assert d["features"][0]["attributes"] == {"object_id": row["object_id"]}
    assert q(emu, where="1=1", outFields="object_id,nope").json() == ERR_QUERY


def test_values_keep_denver_quirks(emu, traffic):
    rows = traffic.snapshot().rows
    got = client.rows_of(client.offset_pages(emu.url(325), order="object_id"))
    r0 = got[0]
    assert r0["incident_id"] == "DP202600000002" and r0["offense_id"] == "DP202600000002540100"
    assert r0["reported_date"] == 1787831160000 and isinstance(r0["reported_date"], int)
    assert r0["district_id"] == "5     " and r0["precinct_id"] is None and r0["last_occurrence_date"] is None
    assert r0["top_traffic_accident_offense"] == "TRAF - ACCIDENT - HIT & RUN   "         # padded to 30
    assert [r["LIGHT_CONDITION"] for r in got].count("  ") == [r["LIGHT_CONDITION"] for r in rows].count("  ") == 2
    assert got[51]["ROAD_CONDITION"] == "  " and got[22]["HARMFUL_EVENT_SEQ_3"] is None
    assert {"DAY LIGHT", "Daylight"} <= {r["LIGHT_CONDITION"] for r in got}   # both vocabularies
    t = client.rows_of(client.offset_pages(emu.url(66), order="OBJECTID"))
    assert t[0]["Case_Created_dttm"] == "1/9/2026 8:36:36 AM" and t[0]["Case_Created_Date"] == 1767947796000
    assert t[6]["Case_Summary"] == "Graffiti Removal\nsee notes"


def merc(lon, lat):
    return lon * MERC / 180, math.log(math.tan((90 + lat) * math.pi / 360)) / (math.pi / 180) * MERC / 180


def test_geometry_in_native_and_wgs84(emu, traffic):
    rows = traffic.snapshot().rows
    d = q(emu, where="object_id >= 279506468 AND object_id <= 279506474", outFields="object_id").json()
    assert len(d["features"]) == M                                               # returnGeometry defaults to true
    assert d["spatialReference"] == {"wkid": 102100, "latestWkid": 3857} and d["geometryType"] == "esriGeometryPoint"
    for f in d["features"]:
        r = rows[f["attributes"]["object_id"] - 279506448]
        if r["geo_lon"] == 0:
            assert "geometry" not in f          # (0, 0): no point
        else:
            x, y = merc(r["geo_lon"], r["geo_lat"])
            assert f["geometry"]["x"] == pytest.approx(x, abs=1e-6) and f["geometry"]["y"] == pytest.approx(y, abs=1e-6)
    assert sum("geometry" not in f for f in d["features"]) == 1
    d = q(emu, where="object_id = 279506448", outFields="geo_lon", outSR="4326").json()
    assert d["spatialReference"] == {"wkid": 4326, "latestWkid": 4326}
    assert d["features"][0]["geometry"] == {"x": rows[0]["geo_lon"], "y": rows[0]["geo_lat"]}
    d2 = q(emu, where="object_id = 279506448", outFields="geo_lon", outSR='{"wkid": 102100}').json()
    assert d2["features"][0]["geometry"]["x"] == pytest.approx(merc(rows[0]["geo_lon"], 0)[0], abs=1e-6)
    d = q(emu, where="object_id = 279506448", returnGeometry="false").json()
    assert "geometry" not in d["features"][0] and d["features"][0]["attributes"] == {"object_id": 279506448}
    assert q(emu, where="1=1", outSR="2232").json()["error"]["code"] == 400
    t = q(emu, 66, where="1=1", outFields="*").json()
    assert "spatialReference" not in t and all("geometry" not in f for f in t["features"])


def test_native_coordinates_carried_in_the_rows():
    """A layer whose native reference (State Plane, 2232) comes from its own x/y fields."""
    e = emulator.Emulator().start()
    try:
        fields = [{"name": "OBJECTID", "type": "OID"}, {"name": "lon", "type": "Double"},
                  {"name": "lat", "type": "Double"}, {"name": "gx", "type": "Double"}, {"name": "gy", "type": "Double"}]
        e.add("SP", 0, "pts", fields, [{"lon": -104.99, "lat": 39.74, "gx": 3143000.0, "gy": 1694000.0},
                                       {"lon": -105.02, "lat": 39.70, "gx": 3135000.0, "gy": 1680000.0}],
              geometry={"lon": "lon", "lat": "lat", "x": "gx", "y": "gy", "sr": {"wkid": 2232, "latestWkid": 2232}})
        url = e.url() + "/query"
        d = client.get(url, where="1=1", f="json").json()
        assert d["spatialReference"] == {"wkid": 2232, "latestWkid": 2232}
        assert [f["geometry"] for f in d["features"]] == [{"x": 3143000.0, "y": 1694000.0},
                                                          {"x": 3135000.0, "y": 1680000.0}]
        assert client.get(url, where="1=1", f="json", outSR="2232").body == client.get(url, where="1=1", f="json").body
        d = client.get(url, where="1=1", f="json", outSR="4326").json()
        assert d["features"][1]["geometry"] == {"x": -105.02, "y": 39.70}
        d = client.get(url, where="1=1", f="json", outSR="3857").json()
        assert d["spatialReference"] == {"wkid": 102100, "latestWkid": 3857}
        assert d["features"][0]["geometry"]["x"] == pytest.approx(merc(-104.99, 39.74)[0], abs=1e-6)
        d = client.get(url, where="1=1", f="json", returnExtentOnly="true", returnCountOnly="true").json()
        assert d == {"count": 2, "extent": {"xmin": 3135000.0, "ymin": 1680000.0, "xmax": 3143000.0,
                                            "ymax": 1694000.0, "spatialReference": {"wkid": 2232, "latestWkid": 2232}}}
        d = client.get(url, where="OBJECTID = 2", f="geojson", returnExtentOnly="true").json()
        assert d == {"bbox": [-105.02, 39.70, -105.02, 39.70]}
        assert client.get(e.url(), f="json").json()["extent"]["xmax"] == 3143000.0
    finally:
        e.stop()


def test_geojson(emu, traffic):
    rows = traffic.snapshot().rows
    d = q(emu, where="1=1", outFields="object_id,reported_date", f="geojson", resultRecordCount=2).json()
    assert d["type"] == "FeatureCollection" and d["properties"] == {"exceededTransferLimit": True}
    assert "exceededTransferLimit" not in d
    assert d["features"][0] == {"type": "Feature", "id": 279506448,
                                "geometry": {"type": "Point", "coordinates": [rows[0]["geo_lon"], rows[0]["geo_lat"]]},
                                "properties": {"object_id": 279506448, "reported_date": rows[0]["reported_date"]}}
    d = q(emu, where="1=1", f="geojson", resultOffset=TRAFFIC_ROWS - 2).json()
    assert len(d["features"]) == 2 and "properties" not in d


def test_statistics(emu, traffic):
    rows = traffic.snapshot().rows
    stats = [{"statisticType": "min", "onStatisticField": "object_id", "outStatisticFieldName": "lo"},
             {"statisticType": "MAX", "onStatisticField": "OBJECT_ID", "outStatisticFieldName": "hi"},
             {"statisticType": "count", "onStatisticField": "precinct_id", "outStatisticFieldName": "n"},
             {"statisticType": "max", "onStatisticField": "reported_date"}]
    d = client.post(emu.url(325) + "/query", where="1=1", outStatistics=json.dumps(stats), f="json").json()
    assert d["features"] == [{"attributes": {"lo": 279506448, "hi": 279506448 + TRAFFIC_ROWS - 1,
                                             "n": sum(r["precinct_id"] is not None for r in rows),
                                             "MAX_reported_date": max(r["reported_date"] for r in rows)}}]
    assert [f["type"] for f in d["fields"]] == ["esriFieldTypeInteger"] * 3 + ["esriFieldTypeDate"]
    assert q(emu, outStatistics="[{}]").json()["error"]["code"] == 400


# ---- transport -------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {"where": "1=1", "outFields": "*", "resultOffset": 7, "resultRecordCount": 7, "orderByFields": "object_id"},
    {"where": "object_id IN (279506450, 279506451)", "outFields": "incident_id", "outSR": "4326"},
    {"where": "1=1", "returnIdsOnly": "true"}, {"where": "1=1", "returnCountOnly": "true", "f": "pjson"},
    {"where": "nope = 1"}])
def test_post_and_get_answer_the_same_bytes(emu, params):
    params = dict({"f": "json"}, **params)
    g = client.get(emu.url(325) + "/query", **params)
    p = client.post(emu.url(325) + "/query", **params)
    assert (g.status, g.body) == (p.status, p.body) and g.status == 200
    log = emu.log
    assert log[-1]["method"] == "POST" and log[-1]["form"] == {k: str(v) for k, v in params.items()}
    assert log[-1]["query"] == {} and log[-2]["query"] == log[-1]["form"]


def test_headers_by_default(emu):
    r = q(emu, where="1=1", outFields="*")
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.headers["access-control-allow-origin"] == "*"
    for h in ("etag", "last-modified", "cache-control", "content-encoding"):
        assert h not in r.headers


def test_gzip_on_request(emu):
    plain = q(emu, where="1=1", outFields="*")
    gz = q(emu, where="1=1", outFields="*", headers={"Accept-Encoding": "gzip, deflate"})
    assert gz.headers["content-encoding"] == "gzip" and gzip.decompress(gz.body) == plain.body
    assert int(gz.headers["content-length"]) == len(gz.body) < len(plain.body)
    r = q(emu, where="1=1", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in r.headers
    emu.quirks.add("no_gzip")
    r = q(emu, where="1=1", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in r.headers and r.body == client.get(emu.url(325) + "/query", where="1=1",
                                                                         f="json").body


def test_log_and_reset(emu):
    q(emu, where="1=1", returnCountOnly="true", headers={"X-Test": "1"})
    client.post(emu.url(66) + "/query", where="1=1", f="json")
    log = emu.log
    assert [(e["method"], e["route"], e["layer"], e["status"]) for e in log] == [
        ("GET", "query", f"{layers.TRAFFIC_SERVICE}/325", 200), ("POST", "query", f"{layers.SR311_SERVICE}/66", 200)]
    assert log[0]["query"] == {"where": "1=1", "returnCountOnly": "true", "f": "json"}
    assert log[0]["headers"]["x-test"] == "1" and log[0]["bytes"] == len(b'{"count":60}')
    path = f"/{emu.org}/arcgis/rest/services/{layers.TRAFFIC_SERVICE}/FeatureServer/325/query?"
    assert log[0]["path"].startswith(path)
    # the handler stamps an entry's end after its last byte is written, so
    # the client may hold the answer first: compare once both have ended
    deadline = time.monotonic() + 5
    while any(e["end"] is None for e in emu.log) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.get(emu.base + "/__log").json() == json.loads(json.dumps(emu.log))
    assert emu.counts == {"query": 2}
    assert client.get(emu.base + "/__reset").status == 200
    assert emu.log == [] and emu.counts == {"query": 2}
    client.get(emu.base + "/__reset?counts=1")
    assert emu.counts == {}


# ---- mutations and edit dates ----------------------------------------------------------------
def test_mutations_move_the_right_edit_dates(emu, traffic):
    before = dict(traffic.editing)
    rows = traffic.snapshot().rows
    content = sorted(json.dumps({k: v for k, v in r.items() if k != "object_id"}, sort_keys=True) for r in rows)
    r = client.post(emu.base + "/__mutate", headers={"Content-Type": "application/json"})
    assert r.status == 400         # no layer named
    r = client.Conn(emu.port).request("POST", "/__mutate", json.dumps({"layer": 325, "op": "reload"}))
    after = r.json()["editingInfo"]
    assert after["dataLastEditDate"] == after["lastEditDate"] > before["dataLastEditDate"]
    assert after["schemaLastEditDate"] == before["schemaLastEditDate"]
    ids = q(emu, where="1=1", returnIdsOnly="true").json()["objectIds"]
    assert ids == list(range(279506448 + 2 * TRAFFIC_ROWS, 279506448 + 3 * TRAFFIC_ROWS))
    new_rows = client.rows_of(client.offset_pages(emu.url(325), order="object_id"))
    assert sorted(json.dumps({k: v for k, v in r.items() if k != "object_id"}, sort_keys=True)
                  for r in new_rows) == content
    assert [r["incident_id"] for r in new_rows] != [r["incident_id"] for r in rows]     # reordered
    e1 = dict(traffic.editing)
    emu.mutate(325, "touch")
    assert traffic.editing["lastEditDate"] > e1["lastEditDate"] and traffic.editing["dataLastEditDate"] == \
        e1["dataLastEditDate"]
    emu.mutate(325, "add_field", spec={"name": "updated_at", "type": "Date"})
    d = client.get(emu.url(325), f="json").json()
    assert d["fields"][-1]["name"] == "updated_at" and d["editingInfo"]["schemaLastEditDate"] > e1["schemaLastEditDate"]
    emu.mutate(325, "insert", n=2)
    assert q(emu, where="1=1", returnCountOnly="true").json() == {"count": TRAFFIC_ROWS + 2}
    emu.mutate(325, "delete", n=5)
    assert q(emu, where="1=1", returnCountOnly="true").json() == {"count": TRAFFIC_ROWS - 3}


# ---- CLI and specs ------------------------------------------------------------------------------
def test_cli_serves_spec_layers(tmp_path):
    csv_path = tmp_path / "t.csv"
    csv_path.write_bytes(b"\xef\xbb\xbfID,Name,When,Score\r\n7,  ,2024-01-02 03:04:05,1.5\r\n9,Bo,,\r\n")
    spec = {"id": 3, "name": "demo", "fields": [{"name": "ID", "type": "OID"}, {"name": "Name", "type": "String"},
                                               {"name": "When", "type": "esriFieldTypeDate"},
                                               {"name": "Score", "type": "Double"}],
            "csv": "t.csv", "maxRecordCount": 1}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    inline = json.dumps({"layout": "311", "rows": 5, "maxRecordCount": 2})
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "emulator.py"), "--layer", f"Demo={tmp_path}/spec.json",
                          "--layer", f"{layers.SR311_SERVICE}={inline}", "--port", "0"], stdout=subprocess.PIPE)
    try:
        port = int(p.stdout.readline())
        base = f"http://127.0.0.1:{port}/{emulator.DEFAULT_ORG}/arcgis/rest/services"
        d = client.get(base + "/Demo/FeatureServer/3/query", where="1=1", outFields="*", f="json",
                       resultOffset=1).json()
        assert d["features"] == [{"attributes": {"ID": 9, "Name": "Bo", "When": None, "Score": None}}]
        assert d["exceededTransferLimit"] is False
        d = client.get(base + "/Demo/FeatureServer/3/query", where="Name = '  '", outFields="*", f="json").json()
        assert d["features"] == [{"attributes": {"ID": 7, "Name": "  ", "When": 1704164645000, "Score": 1.5}}]
        d = client.get(base + f"/{layers.SR311_SERVICE}/FeatureServer/66/query", where="1=1", f="json",
                       returnCountOnly="true").json()
        assert d == {"count": 5}
    finally:
        p.terminate()
        assert p.wait(10) == 0


# ---- pre-rendered mode --------------------------------------------------------------------------
def test_prerendered_pager_and_esridump_modes_are_the_live_bytes(emu, traffic):
    """The sequences arcgis_bench replays for denverd's pager (with
    geometry in 4326) and pyesridump (statistics ranges): live == pre-rendered."""
    conn = client.Conn(emu.port)
    s1 = emu.prerender(325, 5, modes=["pager"], return_geometry=True, out_sr=4326)
    s2 = emu.prerender(325, 5, modes=["esridump"], out_sr=4326)
    paths = s1["paths"][2:] + s2["paths"][2:]
    assert len(s1["paths"]) == 2 + 12 and len(s2["paths"]) == 2 + 12
    assert all("orderByFields" in p and "resultRecordCount" in p for p in s1["paths"][2:])
    emu.prerendered_enabled = False
    live = {p: conn.get(p).body for p in paths}
    emu.prerendered_enabled = True
    emu.reset()
    for p in paths:
        assert conn.get(p).body == live[p]
    assert all(e["prerendered"] for e in emu.log)
    ids = [f["attributes"]["object_id"] for p in s2["paths"][2:] for f in json.loads(live[p])["features"]]
    assert ids == sorted(set(ids)) and len(ids) == TRAFFIC_ROWS
    assert all(any("geometry" in f for f in json.loads(live[p])["features"]) for p in s1["paths"][2:])
    conn.close()


def test_prerendered_pages_are_the_live_bytes(emu, traffic):
    conn = client.Conn(emu.port)
    live = {}
    summary = emu.prerender(325, 5, gzip=True)
    assert summary["pages"] == 2 + 12 + 12 and len(summary["paths"]) == 26
    emu.prerendered_enabled = False
    for path in summary["paths"]:
        live[path] = (conn.get(path), conn.get(path, headers={"Accept-Encoding": "gzip"}))
    assert not any(e["prerendered"] for e in emu.log)
    emu.prerendered_enabled = True
    emu.reset()
    for path in summary["paths"]:
        plain, gz = conn.get(path), conn.get(path, headers={"Accept-Encoding": "gzip"})
        assert (plain.status, plain.body) == (200, live[path][0].body)
        assert (gz.headers["content-encoding"], gz.body) == ("gzip", live[path][1].body)
    assert all(e["prerendered"] for e in emu.log) and len(emu.log) == 52
    # the same query spelt otherwise hits the same page
    r = conn.get(emu.url(325).split(str(emu.port), 1)[1] + "/query?" + urllib.parse.urlencode(
        {"WHERE": "object_id>=279506448 and OBJECT_ID<=279506452", "outfields": "*", "returngeometry": "FALSE",
         "f": "json"}))
    assert emu.log[-1]["prerendered"] and r.json()["features"][4]["attributes"] == traffic.snapshot().rows[4]
    # a mutation makes every pre-rendered page stale: answered live again
    emu.mutate(325, "reload")
    r = conn.get(summary["paths"][0])
    assert r.json() == {"count": TRAFFIC_ROWS} and emu.log[-1]["prerendered"] is False
    conn.close()


def test_prerender_over_http_and_timing(emu):
    r = client.Conn(emu.port).request("POST", "/__prerender", json.dumps({"layer": 66, "page_size": 10}))
    d = r.json()
    assert d["pages"] == 2 + 5 + 5 and d["layer"] == f"{layers.SR311_SERVICE}/66"
    t = time.monotonic()
    bodies = [client.get(emu.base + p).json() for p in d["paths"]]
    assert time.monotonic() - t < 5
    assert bodies[0] == {"count": SR_ROWS} and len(bodies[1]["objectIds"]) == SR_ROWS
    assert [len(b["features"]) for b in bodies[2:]] == [7, 7, 7, 7, 2] * 2
    assert all(e["prerendered"] for e in emu.log[-len(bodies):])
