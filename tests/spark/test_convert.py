"""jobs/convert.py against real Spark: every header vintage, typing,
rejected rows, merging two snapshots, idempotent re-runs and crashes."""

import datetime as dt
import json
import os
import shutil
from zoneinfo import ZoneInfo

import pytest

import convert
import datastore
import specs
from conftest import SAMPLE_2014, csv_rows, gen_file, read_store, rows_by, run_convert, write_csv

DENVER = ZoneInfo("America/Denver")


def local(ts):
    """A Parquet timestamp (UTC instant) as Denver wall-clock time."""
    return ts.astimezone(DENVER).replace(tzinfo=None)


def us_time(text):
    return dt.datetime.strptime(text.strip(), "%m/%d/%Y %I:%M:%S %p")


# ---------------------------------------------------------------------------
def test_real_2014_sample(spark, tmp_path):
    spec, m = run_convert(spark, tmp_path, "traffic_accidents", SAMPLE_2014, "utf-8", "2014-05-08")
    assert m["version"] == 1 and m["dataset"] == "traffic_accidents" and m["exec_date"] == "2014-05-08"
    assert m["rows_read"] == 4171
    # one row per offense: 8 incidents have two offenses, so the key is
    # offense_id (etc/denverd.yaml), and nothing is rejected
    assert m["rows_rejected"] == {}
    assert m["rows_written"] == 4171 == m["datastore_rows"]
    assert "year=2014/month=1" in m["partitions"] and "year=2009/month=4" in m["partitions"]
    assert m["partitions"] == sorted(m["partitions"], key=convert._month_key)
    assert "road_condition" in m["columns_missing"] and m["columns_unmapped"] == []
    assert m["values_unparsed"] == {}
    assert isinstance(m["spark_seconds"], float) and m["spark_seconds"] > 0
    by_inc = rows_by(spec["datastore"], "incident_id")
    assert len(by_inc) == 4163 and sum(len(v) == 2 for v in by_inc.values()) == 8
    # ids are strings (etc/denverd.yaml): kept as the file writes them, so
    # the 2014 incident ids keep their float text's ".0"
    assert {r["offense_code"] for r in by_inc["201430514.0"]} == {5441, 5420}
    by_id = rows_by(spec["datastore"], "offense_id")
    (r,) = by_id["20148031043544100"]
    assert r["incident_id"] == "20148031043.0"
    assert r["geo_lon"] == pytest.approx(-104.7155146)   # header alias `longitude`
    assert r["geo_lat"] == pytest.approx(39.8343955)
    assert r["geo_x"] == 3220315.0 and r["precinct_id"] == 759
    assert local(r["reported_date"]) == dt.datetime(2014, 1, 7, 14, 20, 59)
    assert r["last_occurrence_date"] is None and r["road_condition"] is None
    assert (r["year"], r["month"]) == (2014, 1)
    assert r["first_seen"] == r["last_seen"] == dt.date(2014, 5, 8)
    assert r["source_file"] == os.path.basename(SAMPLE_2014)
    # line 3779's RFC 4180 doubled quotes
    addr = [x for v in by_id.values() for x in v if x["incident_address"] and x["incident_address"].startswith("LAT:")]
    assert addr and addr[0]["incident_address"] == (
        "LAT:39?41'48.29\"N LONG:105?01'30.21\"W S FEDERAL BLVD / W MISSISSIPPI AVE")


@pytest.mark.parametrize("vintage,start,end", [("2016", "2016-01-01", "2016-03-31"),
                                               ("2019", "2019-01-01", "2019-03-31")])
def test_older_generated_vintages(spark, tmp_path, gen_dir, vintage, start, end):
    path = gen_file(gen_dir, "traffic_accidents", 300, vintage=vintage, start=start, end=end)
    spec, m = run_convert(spark, tmp_path, "traffic_accidents", path, "utf-8", end)
    header, rows = csv_rows(path)
    assert m["rows_read"] == 300 == m["rows_written"] and m["rows_rejected"] == {}
    assert m["values_unparsed"] == {}
    assert m["partitions"] == [f"year={start[:4]}/month={k}" for k in (1, 2, 3)]
    by_id = rows_by(spec["datastore"], "offense_id")
    first = dict(zip(header, rows[0]))
    (r,) = by_id[first["OFFENSE_ID"].strip()]                # ids are strings, as written
    assert r["incident_id"] == first["INCIDENT_ID"].strip()
    assert local(r["reported_date"]) == dt.datetime.fromisoformat(first["REPORTED_DATE"])
    assert r["district_id"] == first["DISTRICT_ID"].strip()
    if vintage == "2016":
        assert first["INCIDENT_ID"].endswith(".0")          # integral float text, kept as text
        assert r["offense_type_id"] == first["OFFENSE_TYPE_ID"]
        assert r["bicycle_ind"] == int(first["BICYCLE_IND"])
        assert "road_condition" in m["columns_missing"]
    else:
        assert r["object_id"] == int(first["OBJECTID_1"])   # alias objectid_1
        assert r["harmful_event_seq_1"] == first["HARMFUL_EVENT_SEQ_1"]
        assert r["top_traffic_accident_offense"] == first["TOP_TRAFFIC_ACCIDENT_OFFENSE"].strip()
        assert "point_x" in m["columns_missing"]


def test_current_traffic_vintage_values(spark, tmp_path, gen_dir):
    path = gen_file(gen_dir, "traffic_accidents", 1500, start="2026-07-01", end="2026-09-30", seed=3)
    spec, m = run_convert(spark, tmp_path, "traffic_accidents", path, "utf-8", "2026-10-01")
    header, rows = csv_rows(path)
    # the old file download: no x and y (the arcgis source's geometry)
    assert len(header) == 47 and m["columns_missing"] == ["offense_type_id", "offense_category_id", "x", "y"]
    assert m["rows_read"] == 1500 == m["rows_written"] == m["datastore_rows"]
    by_id = rows_by(spec["datastore"], "offense_id")
    src = {r[2]: dict(zip(header, r)) for r in rows}                   # offense_id, a string
    seen = {"pad": 0, "blank_cond": 0, "zero": 0, "ui": 0}
    for iid, s in src.items():
        (r,) = by_id[iid]
        assert local(r["reported_date"]) == us_time(s["reported_date"])     # 8/2/2025 4:16:00 PM style
        assert r["top_traffic_accident_offense"] == s["top_traffic_accident_offense"].strip()
        seen["pad"] += s["top_traffic_accident_offense"] != r["top_traffic_accident_offense"]
        assert r["district_id"] == s["district_id"].strip()
        seen["ui"] += r["district_id"] == "UI"
        if not s["ROAD_CONDITION"].strip():
            assert r["road_condition"] is None
            seen["blank_cond"] += 1
        else:
            assert r["road_condition"] == s["ROAD_CONDITION"]
        if s["geo_lon"] == "0":
            assert r["geo_lon"] is None                   # nulls: ["0"]
            seen["zero"] += 1
        else:
            assert r["geo_lon"] == pytest.approx(float(s["geo_lon"]))
        assert r["bicycle_ind"] == int(s["bicycle_ind"]) and r["precinct_id"] == int(s["precinct_id"])
        assert (r["year"], r["month"]) == (us_time(s["reported_date"]).year, us_time(s["reported_date"]).month)
    assert seen["pad"] > 100 and seen["blank_cond"] > 5 and seen["zero"] >= 1


def test_arcgis_canonical_form(spark, tmp_path, gen_dir):
    """The arcgis source's snapshot (denverd.yaml(5), ARCGIS SOURCES), read
    with the shipped schema: ISO 8601 dates with an offset (the first
    timestamp format, %z), ids as text with DP ones among them, and x and
    y after the fields."""
    path = gen_file(gen_dir, "traffic_accidents", 200, start="2026-01-01", end="2026-09-30", seed=8)
    header, rows = csv_rows(path)
    col = {h: i for i, h in enumerate(header)}
    dates = ("first_occurrence_date", "last_occurrence_date", "reported_date")
    out = []
    for r in rows:
        r = list(r)
        for d in dates:
            if r[col[d]].strip():
                r[col[d]] = us_time(r[col[d]]).replace(tzinfo=DENVER).isoformat()
        lon, lat = r[col["geo_lon"]], r[col["geo_lat"]]
        out.append(r + (["", ""] if lon == "0" else [lon, lat]))
    out[0][col["incident_id"]], out[0][col["offense_id"]] = "DP2026473926", "DP2026473926544100"
    arc = write_csv(os.path.join(tmp_path, "traffic_accidents.csv"), header + ["x", "y"], out)
    spec, m = run_convert(spark, tmp_path, "traffic_accidents", arc, "utf-8", "2026-10-01")
    assert m["rows_read"] == 200 == m["rows_written"] and m["rows_rejected"] == {}
    assert m["values_unparsed"] == {} and m["columns_unmapped"] == []
    assert m["columns_missing"] == ["offense_type_id", "offense_category_id"]
    by_id = rows_by(spec["datastore"], "offense_id")
    offsets = set()
    for s in out:
        (r,) = by_id[s[col["offense_id"]]]
        iso = dt.datetime.fromisoformat(s[col["reported_date"]])
        offsets.add(iso.utcoffset())
        assert local(r["reported_date"]) == iso.replace(tzinfo=None)   # the wall-clock time written
        assert (r["year"], r["month"]) == (iso.year, iso.month)
        if s[-1]:
            assert (r["x"], r["y"]) == (pytest.approx(float(s[-2])), pytest.approx(float(s[-1])))
        else:
            assert r["x"] is None and r["y"] is None
    assert offsets == {dt.timedelta(hours=-7), dt.timedelta(hours=-6)}   # MST and MDT
    (r,) = by_id["DP2026473926544100"]
    assert r["incident_id"] == "DP2026473926"


def test_311_windows_1252_multiline(jobs, tmp_path, gen_dir):
    path = gen_file(gen_dir, "service_requests_311", 2500, start="2026-09-01", end="2026-11-20", seed=4)
    raw = open(path, "rb").read()
    assert b"\xa0" in raw and b"\x92" in raw and raw.startswith(b'"Case Summary"')
    spec, m = jobs.convert(tmp_path, "service_requests_311", path, "windows-1252", "2026-11-21")
    header, rows = csv_rows(path, "cp1252")
    assert m["rows_read"] == len(rows) == 2500
    assert m["rows_written"] + sum(m["rows_rejected"].values()) == 2500
    assert set(m["rows_rejected"]) <= {"duplicate_key"}
    assert m["columns_missing"] == ["objectid"] and m["values_unparsed"] == {}
    got, months = read_store(spec["datastore"])
    assert months == ["year=2026/month=10", "year=2026/month=11", "year=2026/month=9"]
    got = [dict(r) for r in got]
    assert len(got) == m["datastore_rows"] == m["rows_written"]
    summaries = {r["case_summary"] for r in got}
    assert "Driver\u2019s License Question" in summaries           # 0x92
    assert any("\n" in s for s in summaries)                       # LF inside quotes
    assert any("\u00a0" in (r["incident_address_1"] or "") for r in got)  # 0xA0
    assert all(r["customer_zip_code"] != "00000" for r in got)
    assert all(r["longitude"] != 0 for r in got)
    assert any(r["longitude"] is not None and r["longitude"] > 39 for r in got)   # swapped kept as is
    closed = [r for r in got if r["case_closed_dttm"] is not None]
    assert closed and all(r["first_call_resolution"] in (True, False) for r in got)
    assert all(r["case_created_date"] == local(r["case_created_dttm"]).date() for r in got)


# ---------------------------------------------------------------------------
def test_rejected_rows_counted_by_reason(spark, tmp_path, gen_dir):
    path = gen_file(gen_dir, "traffic_accidents", 12, start="2026-07-01", end="2026-07-31", seed=5)
    header, rows = csv_rows(path)
    col = {h: i for i, h in enumerate(header)}
    rows[0][col["offense_id"]] = "   "                       # no_key
    # bad_key is a key value that does not type.  offense_id is a string
    # now (etc/denverd.yaml: Denver's ids can start with DP), and any text
    # types as a string, so a traffic row can no longer be a bad key: this
    # id, and "12ab" alike, is a good key.  bad_key is exercised below
    # with 311, whose key holds a timestamp column.
    rows[1][col["offense_id"]] = "DP2026473926"              # a good key
    rows[2][col["reported_date"]] = "31/31/2026 9:00:00 XM"  # bad_event_time
    rows[3][col["reported_date"]] = ""                       # no_event_time
    rows[4] = rows[4][:10]                                   # malformed: 10 of 47 fields
    rows[5][col["offense_id"]] = rows[6][col["offense_id"]]  # duplicate_key
    rows[7][col["geo_x"]] = "east"                           # bad value, row kept
    rows[8][col["offense_id"]] = "12ab"                      # a good key too
    bad = write_csv(os.path.join(tmp_path, "bad.generated.csv"), header, rows)
    spec, m = run_convert(spark, tmp_path, "traffic_accidents", bad, "utf-8", "2026-08-01")
    assert m["rows_read"] == 12
    assert m["rows_rejected"] == {"no_key": 1, "bad_event_time": 1, "no_event_time": 1,
                                  "malformed": 1, "duplicate_key": 1}
    assert m["rows_written"] == 7 == m["datastore_rows"]
    assert m["values_unparsed"] == {"reported_date": 1, "geo_x": 1}
    with open(os.path.join(os.path.dirname(spec["manifest"]), "rejected.jsonl"), encoding="utf-8") as f:
        rej = [json.loads(line) for line in f]
    assert sorted(r["reason"] for r in rej) == ["bad_event_time", "malformed", "no_event_time", "no_key"]
    by_id = rows_by(spec["datastore"], "offense_id")
    assert by_id[rows[7][col["offense_id"]]][0]["geo_x"] is None
    assert len(by_id["DP2026473926"]) == 1 and len(by_id["12ab"]) == 1

    # bad_key: 311's key includes case_created_dttm, a timestamp; a value
    # that does not parse is a bad key (it is the event time too, and
    # bad_key is the reason given first)
    path = gen_file(gen_dir, "service_requests_311", 12, start="2026-07-01", end="2026-07-31", seed=5)
    header, rows = csv_rows(path, "cp1252")
    col = {h: i for i, h in enumerate(header)}
    rows[1][col["Case Created dttm"]] = "31/31/2026 9:00:00 XM"
    bad = write_csv(os.path.join(tmp_path, "bad311.generated.csv"), header, rows)
    spec, m = run_convert(spark, tmp_path, "service_requests_311", bad, "utf-8", "2026-08-01", run_id=2)
    assert m["rows_read"] == 12 and m["rows_rejected"] == {"bad_key": 1}
    assert m["rows_written"] == 11 == m["datastore_rows"]
    assert m["values_unparsed"] == {"case_created_dttm": 1}
    with open(os.path.join(os.path.dirname(spec["manifest"]), "rejected.jsonl"), encoding="utf-8") as f:
        rej = [json.loads(line) for line in f]
    assert [r["reason"] for r in rej] == ["bad_key"]
    assert rej[0]["fields"][col["Case Created dttm"]] == "31/31/2026 9:00:00 XM"


def test_huge_method_limit_where_the_jvm_cannot_compile(spark, tmp_path, gen_dir):
    """A classic JVM started without -XX:-DontCompileHugeMethods (the
    suite's) gets Spark's limit at HotSpot's 8000 bytes, so no generated
    method too big to be compiled runs interpreted; denverd's Connect
    server, which compiles them, keeps the default (test_session.py)."""
    assert not convert.compiles_huge_methods(spark)
    spark.conf.unset("spark.sql.codegen.hugeMethodLimit")
    run_convert(spark, tmp_path, "traffic_accidents", gen_file(gen_dir, "traffic_accidents", 20), "utf-8",
                "2026-08-01")
    assert spark.conf.get("spark.sql.codegen.hugeMethodLimit") == "8000"


def test_padding_trimmed_at_the_ends_only(spark, tmp_path, gen_dir):
    """Spaces, tabs, NBSPs and BOMs at a value's ends are padding, in any
    mix; inside a value they stay; a value of padding alone is NULL."""
    path = gen_file(gen_dir, "traffic_accidents", 9, start="2026-07-01", end="2026-07-31", seed=6)
    header, rows = csv_rows(path)
    col = {h: i for i, h in enumerate(header)}
    values = ["\u00a0 1 Main St\t", "  \ufeff\u00a02 Elm St \u00a0 ", "3\u00a0Oak\tSt", "\t \ufeff\u00a0 ",
              "\ufeff4 Pine St", "5 Ash St\ufeff", "  6 Fir St  ", "7 Yew St"]
    expect = ["1 Main St", "2 Elm St", "3\u00a0Oak\tSt", None, "4 Pine St", "5 Ash St", "6 Fir St", "7 Yew St"]
    for r, v in zip(rows, values):
        r[col["incident_address"]] = v
    rows[-1][col["geo_lat"]] = "\u00a039.7\t"                   # a typed value is trimmed first
    rows[-1][col["reported_date"]] = "\t" + rows[-1][col["reported_date"]] + "\u00a0"
    padded = write_csv(os.path.join(tmp_path, "padded.generated.csv"), header, rows)
    spec, m = run_convert(spark, tmp_path, "traffic_accidents", padded, "utf-8", "2026-08-01")
    assert m["rows_read"] == 9 == m["rows_written"] and m["values_unparsed"] == {}
    by_id = rows_by(spec["datastore"], "offense_id")
    assert [by_id[r[col["offense_id"]]][0]["incident_address"] for r in rows[:8]] == expect
    last = by_id[rows[-1][col["offense_id"]]][0]
    assert last["geo_lat"] == 39.7 and last["reported_date"] is not None


def test_duplicate_keys_of_a_311_merge(jobs, tmp_path, gen_dir):
    """A key twice in the snapshot is one duplicate_key, whether or not the
    datastore holds it already (311: the key holds the event time, so the
    merge takes its one-shuffle path); the newer snapshot's row wins."""
    path = gen_file(gen_dir, "service_requests_311", 40, start="2026-07-01", end="2026-08-31", seed=8)
    header, rows = csv_rows(path, "cp1252")
    col = {h: i for i, h in enumerate(header)}
    first = write_csv(os.path.join(tmp_path, "a.generated.csv"), header, rows[:30])
    spec, ma = jobs.convert(tmp_path, "service_requests_311", first, "utf-8", "2026-09-01", run_id=1)
    assert ma["rows_written"] == 30 and "duplicate_key" not in ma["rows_rejected"]
    # rows[5] (in the datastore) and rows[35] (new) each twice: the second
    # copies differ in a field outside the key
    again = [list(r) for r in rows]
    for i in (5, 35):
        twin = list(rows[i])
        twin[col["Case Status"]] = "Twin"
        again.append(twin)
    second = write_csv(os.path.join(tmp_path, "b.generated.csv"), header, again)
    spec, mb = jobs.convert(tmp_path, "service_requests_311", second, "utf-8", "2026-09-02", run_id=2)
    assert mb["rows_read"] == 42 and mb["rows_rejected"] == {"duplicate_key": 2}
    assert mb["rows_written"] == 40 == mb["datastore_rows"]
    got, _ = read_store(spec["datastore"])
    assert len(got) == 40
    commits = os.path.join(spec["datastore"], "_denverd", "commits")
    last = max(n for n in os.listdir(commits) if datastore.is_commit_name(n))
    with open(os.path.join(commits, last), encoding="utf-8") as f:
        assert json.load(f)["rows_written"] == 40


def test_bad_spec_and_missing_column_fail_cleanly(spark, tmp_path, capsys):
    import specs
    nohdr = write_csv(os.path.join(tmp_path, "x.generated.csv"), ["foo", "bar"], [["1", "2"]])
    spec, m = run_convert(spark, tmp_path, "traffic_accidents", nohdr, "utf-8", "2026-08-01", expect_rc=2)
    assert m is None and not os.path.exists(spec["manifest"])
    err = capsys.readouterr().err
    assert "required columns missing from the header: incident_id, offense_id" in err
    spec["encoding"] = "latin-9"
    assert convert.main(["--spec", specs.write_spec(spec)], spark=spark) == 2
    assert "encoding 'latin-9' not one of" in capsys.readouterr().err
    assert convert.main(["--spec", os.path.join(tmp_path, "nope.json")], spark=spark) == 2


# ---------------------------------------------------------------------------
D1, D2 = "2026-10-01", "2026-10-02"
NEW_OFFENSE = 999900000000544100


def new_offense(i):
    """The offense id (a string, etc/denverd.yaml) of snapshot B's i-th new row."""
    return str(NEW_OFFENSE + i)


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory, gen_dir):
    """Snapshot A (exec D1) and B (exec D2): B drops 20 rows of A (aged
    out), changes one row's road condition, moves one row's event time to
    another month and adds 10 new incidents."""
    d = tmp_path_factory.mktemp("snap")
    a = gen_file(gen_dir, "traffic_accidents", 300, start="2026-07-01", end="2026-09-30", seed=7)
    header, rows = csv_rows(a)
    col = {h: i for i, h in enumerate(header)}
    b_rows = [list(r) for r in rows[20:]]
    changed, moved = b_rows[0], b_rows[1]
    changed[col["ROAD_CONDITION"]] = "Icy W/Visible Icy Road Treatment"
    moved_from = us_time(moved[col["reported_date"]])
    moved[col["reported_date"]] = "6/15/2026 3:00:00 PM"
    for i, r in enumerate(rows[-10:]):
        n = list(r)
        n[col["incident_id"]] = str(999900000000 + i)
        n[col["offense_id"]] = new_offense(i)
        b_rows.append(n)
    b = write_csv(os.path.join(d, "b.generated.csv"), header, b_rows)
    oid = col["offense_id"]
    return {"a": a, "b": b, "col": col, "rows": rows, "gone": [r[oid] for r in rows[:20]],
            "changed": changed[oid], "moved": moved[oid], "moved_from": moved_from,
            "new": [new_offense(i) for i in range(10)], "unchanged": rows[50][oid]}


@pytest.fixture(scope="module")
def merged(jobs, tmp_path_factory, snapshots):
    """The datastore after A then B, and the manifests, converted in each
    mode (`jobs`: classic in-process, then Spark Connect clients)."""
    state = tmp_path_factory.mktemp("merge")
    spec, ma = jobs.convert(state, "traffic_accidents", snapshots["a"], "utf-8", D1, run_id=1)
    after_a = read_store(spec["datastore"])
    state_a = tmp_path_factory.mktemp("after_a")
    shutil.copytree(os.path.join(state, "datastore"), os.path.join(state_a, "datastore"))
    spec, mb = jobs.convert(state, "traffic_accidents", snapshots["b"], "utf-8", D2, run_id=2)
    return {"state": state, "root": spec["datastore"], "ma": ma, "mb": mb, "after_a": after_a, "state_a": state_a,
            "after_b": read_store(spec["datastore"])}


def test_merge_two_snapshots(merged, snapshots):
    ma, mb = merged["ma"], merged["mb"]
    assert ma["rows_written"] == 300 and ma["datastore_rows"] == 300
    assert mb["rows_read"] == 290 == mb["rows_written"]
    assert mb["datastore_rows"] == 310                    # 300 + 10 new, aged-out rows kept
    by_id = rows_by(merged["root"], "offense_id")
    assert len(by_id) == 310 and all(len(v) == 1 for v in by_id.values())
    for iid in snapshots["gone"]:                          # aged out: kept, last seen in A
        r = by_id[iid][0]
        assert (r["first_seen"], r["last_seen"]) == (dt.date(2026, 10, 1), dt.date(2026, 10, 1))
    r = by_id[snapshots["changed"]][0]                     # changed: B's value, first seen in A
    assert r["road_condition"] == "Icy W/Visible Icy Road Treatment"
    assert (r["first_seen"], r["last_seen"]) == (dt.date(2026, 10, 1), dt.date(2026, 10, 2))
    for iid in snapshots["new"]:
        r = by_id[iid][0]
        assert (r["first_seen"], r["last_seen"]) == (dt.date(2026, 10, 2), dt.date(2026, 10, 2))
    r = by_id[snapshots["moved"]][0]                       # moved to June, gone from its old month
    assert (r["year"], r["month"]) == (2026, 6)
    assert local(r["reported_date"]) == dt.datetime(2026, 6, 15, 15, 0)
    old = f"year=2026/month={snapshots['moved_from'].month}"
    assert old in mb["partitions"] and "year=2026/month=6" in mb["partitions"]
    assert "year=2026/month=6" not in ma["partitions"]
    r = by_id[snapshots["unchanged"]][0]
    assert (r["first_seen"], r["last_seen"]) == (dt.date(2026, 10, 1), dt.date(2026, 10, 2))
    assert os.listdir(os.path.join(merged["state"], "datastore", ".txn", "traffic_accidents", "journal")) == []


def commit_seqs(root):
    """The sequence numbers of the commit records of dataset directory `root`."""
    d = os.path.join(root, "_denverd", "commits")
    return sorted(int(n[:-5]) for n in os.listdir(d) if datastore.is_commit_name(n)) if os.path.isdir(d) else []


def test_each_commit_leaves_its_provenance(spark, merged, snapshots):
    recs = datastore.Store(merged["root"]).commits()[:2]      # later tests add more
    for seq, rec, m, path, d in ((1, recs[0], merged["ma"], snapshots["a"], D1),
                                 (2, recs[1], merged["mb"], snapshots["b"], D2)):
        assert rec["seq"] == seq and rec["version"] == 1 and rec["dataset"] == "traffic_accidents"
        assert (rec["run_id"], rec["exec_date"], rec["snapshot"]) == (seq, d, os.path.basename(path))
        assert rec["snapshot_hash"] == specs.snapshot_hash(path) and rec["snapshot_id"] == seq
        assert rec["snapshot_bytes"] == os.path.getsize(path)
        assert rec["rows_written"] == m["rows_written"] and rec["months"] == m["partitions"]
        assert rec["txn"].startswith(f"{d}.{seq}.") and rec["committed"].endswith("Z")
    # the readers of the datastore do not see it (Spark skips "_" names)
    assert spark.read.parquet(merged["root"]).count() == 310
    assert not [f for f in spark.read.parquet(merged["root"]).inputFiles() if "_denverd" in f]


def test_rerun_is_idempotent_and_backfill_keeps_newer(jobs, merged, snapshots):
    state = merged["state"]
    _, m = jobs.convert(state, "traffic_accidents", snapshots["b"], "utf-8", D2, run_id=3)
    assert read_store(merged["root"]) == merged["after_b"]
    assert {k: v for k, v in m.items() if k not in ("spark_seconds", "seconds", "run_id")} == \
           {k: v for k, v in merged["mb"].items() if k not in ("spark_seconds", "seconds", "run_id")}
    # an older snapshot run again later changes nothing: B's rows are newer
    jobs.convert(state, "traffic_accidents", snapshots["a"], "utf-8", D1, run_id=4)
    assert read_store(merged["root"]) == merged["after_b"]


def test_crash_inside_the_swap_rolls_forward(jobs, tmp_path, merged, snapshots):
    shutil.copytree(os.path.join(merged["state_a"], "datastore"), os.path.join(tmp_path, "datastore"))
    # rename 1 publishes the journal (the commit point); then month 6 is
    # new (2), month 7 swaps (3, 4), month 8 goes to trash (5) and the
    # crash hits before its replacement moves in (6)
    jobs.convert(tmp_path, "traffic_accidents", snapshots["b"], "utf-8", D2, run_id=2, expect_rc=1,
                 crash="rename:6")
    root = os.path.join(tmp_path, "datastore", "traffic_accidents")
    rows, months = read_store(root)                         # still readable, one month in flight
    assert rows and len(rows) < 310 and "year=2026/month=8" not in months
    journal = os.path.join(tmp_path, "datastore", ".txn", "traffic_accidents", "journal")
    assert [n for n in os.listdir(journal) if n.endswith(".json")]
    assert commit_seqs(root) == [1]                          # the swap is not done: no record yet
    assert datastore.Store(root).recover()           # what the next job does first
    assert read_store(root) == merged["after_b"]
    assert commit_seqs(root) == [1, 2]                       # the roll-forward wrote it, once
    assert datastore.Store(root).recover() == [] and commit_seqs(root) == [1, 2]
    assert datastore.Store(root).commits()[1]["run_id"] == 2


def test_crash_before_commit_leaves_old_datastore(jobs, tmp_path, merged, snapshots):
    shutil.copytree(os.path.join(merged["state_a"], "datastore"), os.path.join(tmp_path, "datastore"))
    jobs.convert(tmp_path, "traffic_accidents", snapshots["b"], "utf-8", D2, run_id=2, expect_rc=1, crash="commit")
    root = os.path.join(tmp_path, "datastore", "traffic_accidents")
    assert read_store(root) == merged["after_a"]
    staging = os.path.join(tmp_path, "datastore", ".txn", "traffic_accidents", "staging")
    assert os.listdir(staging)                               # Spark's output, never swapped in
    assert datastore.Store(root).recover() == []
    assert os.listdir(staging) == [] and read_store(root) == merged["after_a"]
    assert commit_seqs(root) == [1]
