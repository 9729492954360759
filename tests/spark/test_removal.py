"""jobs/convert.py's removed rows against real Spark: ``removed_on`` and
``removal`` (aged out / withdrawn) over two and three snapshots, a row that
comes back, a re-run of an exec date, and a backfill of an older date after
a newer one giving the same datastore as converting in date order.

Sixty traffic accidents, one a day from 2026-05-27 (rows 0-4 in May, the
rest June and July), in three snapshots:

  S1 (D1)  rows 0-49
  S2 (D2)  rows 5-59 without 20, 21: 0-4 aged out (before S2's earliest
           event, 2026-06-01 in a month S2 does not touch), 20 and 21
           withdrawn, 50-59 new
  S3 (D3)  rows 8-59 without 21 and 30 (so 20 again): 5-7 aged out, 30 withdrawn,
           20 back (both cleared, first_seen still D1), 21 still withdrawn
           on D2
"""

import datetime as dt
import json
import os
import shutil

import pytest

import convert
import datastore
import report
import specs
from conftest import csv_rows, gen_file, read_store, rows_by, run_convert, write_csv

D1, D2, D3 = "2026-08-01", "2026-08-02", "2026-08-03"
DAY = {D1: dt.date(2026, 8, 1), D2: dt.date(2026, 8, 2), D3: dt.date(2026, 8, 3)}


@pytest.fixture(scope="module")
def series(tmp_path_factory, gen_dir):
    d = tmp_path_factory.mktemp("removal")
    src = gen_file(gen_dir, "traffic_accidents", 60, start="2026-06-01", end="2026-07-30", seed=5)
    header, rows = csv_rows(src)
    col = {h: i for i, h in enumerate(header)}
    rows = [list(r) for r in rows[:60]]
    assert len(rows) == 60
    first = dt.datetime(2026, 5, 27, 9, 30)
    for i, r in enumerate(rows):
        r[col["reported_date"]] = (first + dt.timedelta(days=i)).strftime("%m/%d/%Y %I:%M:%S %p")
        r[col["offense_id"]] = str(7000000 + i)
        r[col["incident_id"]] = str(8000000 + i)

    def snap(name, keep):
        return write_csv(os.path.join(d, f"{name}.generated.csv"), header, [rows[i] for i in keep])
    s1 = snap("s1", range(0, 50))
    s2 = snap("s2", [i for i in range(5, 60) if i not in (20, 21)])
    s3 = snap("s3", [i for i in range(8, 60) if i not in (21, 30)])
    return {"s1": s1, "s2": s2, "s3": s3, "oid": lambda i: str(7000000 + i)}


def marks(root, oid, rows):
    """{row: (removed_on, removal, first_seen, last_seen)} of the datastore."""
    by = rows_by(root, "offense_id")
    out = {}
    for i in rows:
        (r,) = by[oid(i)]
        out[i] = (r["removed_on"], r["removal"], r["first_seen"], r["last_seen"])
    return out


def convert_in(spark, state, order, series, run0=1):
    out = []
    for n, (date, snap) in enumerate(order):
        out.append(run_convert(spark, state, "traffic_accidents", series[snap], "utf-8", date,
                               run_id=run0 + n))
    return out


@pytest.fixture(scope="module")
def in_order(spark, tmp_path_factory, series):
    state = tmp_path_factory.mktemp("in_order")
    (spec, m1), (_, m2) = convert_in(spark, state, [(D1, "s1"), (D2, "s2")], series)
    after2 = read_store(spec["datastore"])
    marks2 = marks(spec["datastore"], series["oid"], range(60))
    (_, m3), = convert_in(spark, state, [(D3, "s3")], series, run0=3)
    return {"state": state, "root": spec["datastore"], "m": [m1, m2, m3], "after2": after2,
            "marks2": marks2, "after3": read_store(spec["datastore"])}


def test_two_snapshots(in_order, series):
    m2, mk = in_order["m"][1], in_order["marks2"]
    d1, d2 = DAY[D1], DAY[D2]
    for i in range(5):                                   # aged out, in May (untouched by S2)
        assert mk[i] == (d2, "aged_out", d1, d1)
    for i in (20, 21):
        assert mk[i] == (d2, "withdrawn", d1, d1)
    for i in list(range(5, 20)) + list(range(22, 50)):
        assert mk[i] == (None, None, d1, d2)
    for i in range(50, 60):
        assert mk[i] == (None, None, d2, d2)
    assert "year=2026/month=5" in m2["partitions"]      # rewritten for its removed rows
    assert m2["rows_removed"] == {"aged_out": 5, "withdrawn": 2}
    assert m2["window_start"] == "2026-06-01 09:30:00" and m2["datastore_rows"] == 60
    assert in_order["m"][0]["rows_removed"] == {"aged_out": 0, "withdrawn": 0}


def test_three_snapshots_and_a_row_that_comes_back(in_order, series):
    mk = marks(in_order["root"], series["oid"], range(60))
    d1, d2, d3 = DAY[D1], DAY[D2], DAY[D3]
    for i in range(5):
        assert mk[i] == (d2, "aged_out", d1, d1)     # unchanged by D3
    for i in range(5, 8):
        assert mk[i] == (d3, "aged_out", d1, d2)
    assert mk[20] == (None, None, d1, d3)            # back: cleared, first seen D1
    assert mk[21] == (d2, "withdrawn", d1, d1)       # still gone: first missing on D2
    assert mk[30] == (d3, "withdrawn", d1, d2)
    assert mk[40] == (None, None, d1, d3)
    m3 = in_order["m"][2]
    assert m3["rows_removed"] == {"aged_out": 3, "withdrawn": 1}   # 5-7, 30
    assert "year=2026/month=5" not in m3["partitions"]   # nothing there changed


def test_report_counts_removals_by_month(spark, tmp_path, in_order):
    out = str(tmp_path / "report")
    argv = ["--exec-date", D3, "--out", out, "--datastore", os.path.join(in_order["state"], "datastore")]
    assert report.main(argv, spark=spark) == 0
    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
        data = json.load(f)
    # withdrawn: 21 (D2) and 30 (D3), 20 came back; aged out: 0-4 and 5-7
    assert data["datasets"]["traffic_accidents"]["removals"] == [
        {"month": "2026-08", "withdrawn": 2, "aged_out": 8, "unknown": 0}]
    with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
        page = f.read()
    assert "Withdrawn and aged-out rows" in page
    assert "The city withdrew 2 traffic_accidents rows still inside its window" in page


def test_commit_records_carry_the_window(spark, in_order):
    recs = datastore.Store(in_order["root"]).commits()[:3]
    assert [r["window_start"] for r in recs] == ["2026-05-27 09:30:00", "2026-06-01 09:30:00",
                                                  "2026-06-04 09:30:00"]


def test_rerun_and_backfill_give_the_same_datastore(spark, tmp_path, in_order, series):
    # re-running the newest date, then an older one after it: no change
    state = tmp_path / "rerun"
    shutil.copytree(os.path.join(in_order["state"], "datastore"), state / "datastore")
    root = str(state / "datastore" / "traffic_accidents")
    convert_in(spark, state, [(D3, "s3"), (D2, "s2")], series, run0=10)
    assert read_store(root) == in_order["after3"]
    # a backfill of D2 after D3 gives what D1, D2, D3 in order gave
    state = tmp_path / "backfill"
    (spec, _), _, (_, mb) = convert_in(spark, state, [(D1, "s1"), (D3, "s3"), (D2, "s2")], series,
                                       run0=20)
    assert read_store(spec["datastore"]) == in_order["after3"]
    assert mb["rows_removed"] == {"aged_out": 5, "withdrawn": 1}   # 0-4 and 21 first missing on D2


def test_window_seconds_and_legacy_records(spark, tmp_path, series):
    """window_seconds sets the window start (D2 00:00 minus 64 days =
    2026-05-30: rows 0-2 aged out, 3-4 withdrawn); a commit record without
    window_start leaves removal NULL for rows first missing on its date."""
    state = tmp_path / "window"
    convert_in(spark, state, [(D1, "s1")], series)
    spec = specs.make_spec("traffic_accidents", str(state), D2, series["s2"], "utf-8", run_id=2)
    spec["window_seconds"] = 64 * 86400
    assert convert.main(["--spec", specs.write_spec(spec)], spark=spark) == 0
    with open(spec["manifest"], encoding="utf-8") as f:
        assert json.load(f)["window_start"] == "2026-05-30 00:00:00"
    mk = marks(spec["datastore"], series["oid"], range(5))
    assert [mk[i][1] for i in range(5)] == ["aged_out"] * 3 + ["withdrawn"] * 2
    # the D2 record as an older denverd wrote it: no window_start
    cdir = os.path.join(spec["datastore"], "_denverd", "commits")
    name = sorted(n for n in os.listdir(cdir) if datastore.is_commit_name(n))[-1]
    with open(os.path.join(cdir, name), encoding="utf-8") as f:
        rec = json.load(f)
    del rec["window_start"]
    with open(os.path.join(cdir, name), "w", encoding="utf-8") as f:
        json.dump(rec, f)
    crc = os.path.join(cdir, f".{name}.crc")           # Hadoop's checksum of the old text
    if os.path.exists(crc):
        os.unlink(crc)
    convert_in(spark, state, [(D3, "s3")], series, run0=3)
    mk = marks(spec["datastore"], series["oid"], list(range(5)) + [30])
    assert [mk[i][:2] for i in range(5)] == [(DAY[D2], None)] * 5
    assert mk[30][:2] == (DAY[D3], "withdrawn")


def test_bad_window_seconds_is_refused(spark, tmp_path, series, capsys):
    spec = specs.make_spec("traffic_accidents", str(tmp_path), D1, series["s1"], "utf-8")
    spec["window_seconds"] = -5
    assert convert.main(["--spec", specs.write_spec(spec)], spark=spark) == 2
    assert "window_seconds -5 must be null or a whole number >= 0" in capsys.readouterr().err
