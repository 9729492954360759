"""layers.py - Denver's two layouts as emulator layers (ARCGIS.md 1.2-1.3),
deterministic by seed, and the JSON layer specs of the emulator's CLI.

The values come from the project's CSV generator (data/generate.py: its
neighbourhoods, weather model, vocabularies and quirks), read back and typed
the way the FeatureServer holds them:

  traffic_layer(n)           ODC_CRIME_TRAFFICACCIDENTS5YR_P/325, 47 fields in
      Denver's mixed case, OID `object_id` from 279,506,448, point geometry
      from geo_lon/geo_lat (native Web Mercator), dates as epoch ms; ids are
      text and rows reported from 2025-12-01 on have `DP...` incident ids;
      whitespace-only conditions are two spaces ("  ", not null); padded
      offense names and district ids; upper-case vocabulary before 2021 and
      title case after; the `UI` district; (0, 0) coordinates (no geometry);
      rare nulls in the numeric indicator and count fields.
  service_requests_layer(n)  ODC_service_requests_311/66, a table of 25
      fields (`OBJECTID` from 1, aliases with spaces), Case_Created_Date /
      Case_Closed_Date as epoch ms next to the *_dttm text they came from;
      Type, Topic, Division, Major_Area, Neighborhood almost always null;
      zero or swapped coordinates, 00000 and ZIP+4 zips, 0 districts.

DATES: "wallclock" (default) stores Denver wall-clock time as if it were UTC
(what devinbrady's loader says the live layer does); "utc" stores true UTC
(the other reading), so Case_Created_Date and Case_Created_dttm then
differ by the Denver offset (ARCGIS.md open question 1).
"""
import argparse
import calendar
import csv
import datetime as dt
import io
import json
import os
import random
import sys
import zoneinfo

import fslayer

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "data"))
import generate  # noqa: E402

TRAFFIC_SERVICE = "ODC_CRIME_TRAFFICACCIDENTS5YR_P"
TRAFFIC_ITEM = "db00bd99ea534d8987e0913a191ebe19"
SR311_SERVICE = "ODC_service_requests_311"
DENVER = zoneinfo.ZoneInfo("America/Denver")
DP_FROM = dt.date(2025, 12, 1)     # "As of Dec 2025 ... incident_id ... start with DP"

S, N, D, T = "String", "Integer", "Double", "Date"
_TU = ["VEHICLE_TYPE", "TRAVEL_DIRECTION", "VEHICLE_MOVEMENT", "DRIVER_ACTION", "DRIVER_HUMANCONTRIBFACTOR",
       "PEDESTRIAN_ACTION"]
TRAFFIC_FIELDS = (
    [("object_id", "OID", None), ("incident_id", S, 20), ("offense_id", S, 30), ("offense_code", S, 10),
     ("offense_code_extension", N, None), ("top_traffic_accident_offense", S, 50),
     ("first_occurrence_date", T, 8), ("last_occurrence_date", T, 8), ("reported_date", T, 8),
     ("incident_address", S, 255), ("geo_x", D, None), ("geo_y", D, None), ("geo_lon", D, None),
     ("geo_lat", D, None), ("district_id", S, 10), ("precinct_id", N, None), ("neighborhood_id", S, 50),
     ("bicycle_ind", N, None), ("pedestrian_ind", N, None)]
    + [(f"HARMFUL_EVENT_SEQ_{i}", S, 100) for i in (1, 2, 3)]
    + [(n, S, 100) for n in ("road_location", "ROAD_DESCRIPTION", "ROAD_CONTOUR", "ROAD_CONDITION",
                             "LIGHT_CONDITION")]
    + [(f"TU{u}_{n}", S, 100) for u in (1, 2) for n in _TU]
    + [("SERIOUSLY_INJURED", N, None), ("FATALITIES", N, None)]
    + [(n, S, 50) for n in ("FATALITY_MODE_1", "FATALITY_MODE_2", "SERIOUSLY_INJURED_MODE_1",
                            "SERIOUSLY_INJURED_MODE_2")]
    + [("POINT_X", D, None), ("POINT_Y", D, None)])
SR311_FIELDS = [
    ("OBJECTID", "OID", None), ("Case_Summary", S, 255), ("Case_Status", S, 50), ("Case_Source", S, 50),
    ("Case_Created_Date", T, 8), ("Case_Created_dttm", S, 30), ("Case_Closed_Date", T, 8),
    ("Case_Closed_dttm", S, 30), ("First_Call_Resolution", S, 5), ("Customer_Zip_Code", S, 20),
    ("Incident_Address_1", S, 255), ("Incident_Address_2", S, 255), ("Incident_Intersection_1", S, 255),
    ("Incident_Intersection_2", S, 255), ("Incident_Zip_Code", S, 20), ("Longitude", D, None),
    ("Latitude", D, None), ("Agency", S, 100), ("Division", S, 100), ("Major_Area", S, 100), ("Type", S, 50),
    ("Topic", S, 100), ("Council_District", S, 20), ("Police_District", S, 20), ("Neighborhood", S, 100)]
NULLABLE_COUNTS = ("bicycle_ind", "pedestrian_ind", "SERIOUSLY_INJURED", "FATALITIES", "precinct_id")


def field_specs(table, aliases=False):
    return [{"name": n, "type": t, "length": ln if t == S else None,
             "alias": n.replace("_", " ") if aliases and t != "OID" else n} for n, t, ln in table]


def _gen_args(seed, start, end, vintage):
    return argparse.Namespace(vintage=vintage, seed=seed, start=start, end=end, blank_neighborhood=True,
                              unescaped_quotes=False)


def _lines(gen, n, chunk=2048):
    """The generator's CSV rows, parsed, in chunks; repeated values (the
    vocabularies) share one str object, which halves a big layer's memory."""
    left, seen = n, {}
    while left > 0:
        k = min(chunk, left)
        text = "\r\n".join(gen.row() for _ in range(k))
        for vals in csv.reader(io.StringIO(text, newline="")):
            yield [seen.setdefault(v, v) if len(v) < 40 else v for v in vals]
        left -= k
        if len(seen) > 200000:
            seen.clear()


def us_ms(text, dates):
    """`8/2/2025 4:16:00 PM` (Denver wall clock) -> epoch ms, None for ''."""
    if not text:
        return None
    d, clock, ampm = text.split(" ")
    mo, day, y = d.split("/")
    h, mi, s = clock.split(":")
    h = int(h) % 12 + (12 if ampm == "PM" else 0)
    if dates == "utc":
        t = dt.datetime(int(y), int(mo), int(day), h, int(mi), int(s), tzinfo=DENVER)
        return int(t.timestamp()) * 1000
    return calendar.timegm((int(y), int(mo), int(day), h, int(mi), int(s))) * 1000


def _num(text, kind=float):
    return None if text == "" else kind(text)


def traffic_rows(n, seed=1, dates="wallclock", start=dt.date(2013, 1, 1), end=dt.date(2026, 11, 23),
                 start_oid=279506448):
    """N typed rows of layer 325 (dicts in field order)."""
    gen = generate.TrafficGen(_gen_args(seed, start, end, "2025"))
    rng = random.Random(f"layer325:{seed}")
    names = [f[0] for f in TRAFFIC_FIELDS]
    kinds = {f[0]: f[1] for f in TRAFFIC_FIELDS}
    rows = []
    for k, vals in enumerate(_lines(gen, n)):
        r = {}
        for name, v in zip(names, vals):
            t = kinds[name]
            if t == S:
                r[name] = v if v != "" else None
            elif t == T:
                r[name] = us_ms(v, dates)
            elif t == D:
                r[name] = _num(v)
            else:
                r[name] = _num(v, int)
        r["object_id"] = start_oid + k
        for name in ("ROAD_CONDITION", "LIGHT_CONDITION"):
            if r[name] == " ":
                r[name] = "  "            # Denver's two-space blank, not null
        if r["reported_date"] is not None and r["reported_date"] >= calendar.timegm(DP_FROM.timetuple()) * 1000:
            r["incident_id"] = "DP" + r["incident_id"]
            r["offense_id"] = "DP" + r["offense_id"]
        for name in NULLABLE_COUNTS:
            if rng.random() < 0.004:
                r[name] = None
        rows.append(r)
    return rows


def service_request_rows(n, seed=1, dates="wallclock", end=dt.date(2026, 11, 23), start_oid=1):
    """N typed rows of the 311 table."""
    gen = generate.ServiceGen(_gen_args(seed, end - dt.timedelta(days=365), end, "2024"))
    rng = random.Random(f"table66:{seed}")
    rows = []
    for k, v in enumerate(_lines(gen, n)):
        e = {i: (x if x != "" else None) for i, x in enumerate(v)}
        r = {"OBJECTID": start_oid + k, "Case_Summary": e[0], "Case_Status": e[1], "Case_Source": e[2],
             "Case_Created_Date": us_ms(v[4], dates), "Case_Created_dttm": e[4],
             "Case_Closed_Date": us_ms(v[6], dates), "Case_Closed_dttm": e[6], "First_Call_Resolution": e[7],
             "Customer_Zip_Code": e[8], "Incident_Address_1": e[9], "Incident_Address_2": e[10],
             "Incident_Intersection_1": e[11], "Incident_Intersection_2": e[12], "Incident_Zip_Code": e[13],
             "Longitude": _num(v[14]), "Latitude": _num(v[15]), "Agency": e[16], "Division": None,
             "Major_Area": None, "Type": e[19] if rng.random() < 0.0005 else None, "Topic": None,
             "Council_District": e[21], "Police_District": e[22], "Neighborhood": None}
        u = rng.random()
        if u < 0.01:
            r["Council_District"] = "0"
        elif u < 0.012:
            r["Police_District"] = "  "
        if rng.random() < 0.0008:
            r["Neighborhood"] = "Five Points"
        rows.append(r)
    return rows


def traffic_layer(n=1000, seed=1, dates="wallclock", max_record_count=2000, rows=None, start=None, end=None,
                  **kw):
    """Layer 325 with N generated rows (or ROWS), reported between START and
    END (dates; default traffic_rows')."""
    span = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    return fslayer.Layer(TRAFFIC_SERVICE, 325, "traffic_accidents", field_specs(TRAFFIC_FIELDS),
                         traffic_rows(n, seed, dates, **span) if rows is None else rows,
                         geometry={"lon": "geo_lon", "lat": "geo_lat"}, item_id=TRAFFIC_ITEM,
                         max_record_count=max_record_count, seed=seed, typed=rows is None, **kw)


def service_requests_layer(n=1000, seed=1, dates="wallclock", max_record_count=2000, rows=None, end=None,
                           **kw):
    """The rolling 311 table 66 with N generated rows (or ROWS), created in
    the year up to END (a date; default service_request_rows')."""
    span = {"end": end} if end is not None else {}
    return fslayer.Layer(SR311_SERVICE, 66, "service_requests_311", field_specs(SR311_FIELDS, aliases=True),
                         service_request_rows(n, seed, dates, **span) if rows is None else rows,
                         max_record_count=max_record_count, seed=seed, typed=rows is None, **kw)


SPEC_KEYS = {"type": "kind", "objectIdField": "oid_field", "maxRecordCount": "max_record_count",
             "standardMaxRecordCount": "standard_max_record_count", "tileMaxRecordCount": "tile_max_record_count",
             "itemId": "item_id", "editingInfo": "editing_info", "startOid": "start_oid", "collation": "collation",
             "emptyFields": "empty_fields", "description": "description", "geometry": "geometry",
             "dateFieldsTimeReference": "time_reference", "hub": "hub_options", "seed": "seed"}


def layer_from_spec(service, spec, base_dir=None):
    """A Layer from a JSON spec (a dict, a JSON text or a file path):
      {"id": 0, "name": "...", "fields": [{name, type, alias, length}, ...],
       "rows": [{...}, ...] | "csv": "file.csv" (+ "csvEncoding", "csvHeader": "name"|"alias"),
       "geometry": {"lon": f, "lat": f}, "maxRecordCount": 2000, "objectIdField": ..., "itemId": ...,
       "editingInfo": {...}, "type": "Table", "collation": "ci", "hub": {"header": "alias", "tz": ...},
       "quirks" are the caller's (emulator.py --quirks)}
    or a Denver layout: {"layout": "traffic" | "311", "rows": N, "seed": S, "dates": "utc",
    "start": "2019-01-01" (traffic only), "end": "2026-11-30", ...options}: the rows' dates fall
    between start and end (ISO dates; default traffic_rows' and service_request_rows')."""
    if isinstance(spec, str):
        if spec.lstrip().startswith("{"):
            spec = json.loads(spec)
        else:
            base_dir = base_dir or os.path.dirname(os.path.abspath(spec))
            with open(spec) as f:
                spec = json.load(f)
    spec = dict(spec)
    kw = {SPEC_KEYS[k]: spec.pop(k) for k in list(spec) if k in SPEC_KEYS}
    layout = spec.pop("layout", None)
    if layout:
        n = int(spec.pop("rows", 1000))
        maker = {"traffic": traffic_layer, "311": service_requests_layer}[layout]
        dates = spec.pop("dates", "wallclock")
        for k in ("start", "end") if layout == "traffic" else ("end",):
            if k in spec:
                kw[k] = dt.date.fromisoformat(spec.pop(k))
        if spec:
            raise ValueError(f"unknown layer spec keys {sorted(spec)}")
        ly = maker(n, kw.pop("seed", 1), dates, kw.pop("max_record_count", 2000), **kw)
        if service and service != ly.service:
            ly.service = service
        return ly
    fields = spec.pop("fields")
    rows = spec.pop("rows", [])
    empty_is_null = False
    if "csv" in spec:
        path = os.path.join(base_dir or ".", spec.pop("csv"))
        rows = fslayer.read_csv_rows(path, spec.pop("csvEncoding", "utf-8-sig"), spec.pop("csvHeader", "name"),
                                     fields)
        empty_is_null = True
    lid, name = spec.pop("id", 0), spec.pop("name", service)
    if spec:
        raise ValueError(f"unknown layer spec keys {sorted(spec)}")
    return fslayer.Layer(service, lid, name, fields, rows, empty_is_null=empty_is_null, **kw)
