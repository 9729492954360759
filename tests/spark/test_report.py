"""jobs/report.py against real Spark, and its page in headless Chromium."""

import json
import os
import re
import shutil
import struct
import subprocess

import pytest

import datastore
import report
from conftest import Jobs, gen_file, run_convert

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--virtual-time-budget=10000"]


def png_size(path):
    """(width, height) of a PNG file; fails unless it is one."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def built(spark, report_state):
    out = os.path.join(report_state, "reports", "exec_date=2026-11-21")
    assert report.main(["--exec-date", "2026-11-21", "--out", out], spark=spark) == 0
    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
        return out, json.load(f)


def test_report_answers_the_four_questions(built):
    out, data = built
    q = data["questions"]
    assert set(q) == {"q1_seasonality", "q2_road_conditions", "q3_where_311", "q4_same_areas", "q5_close_times"}
    assert data["generated"] is True
    assert data["generated_share"] == {"traffic_accidents": 1.0, "service_requests_311": 1.0}
    assert data["datasets"]["traffic_accidents"]["rows"] == 4000
    # 1: seasonality
    q1 = q["q1_seasonality"]
    idx = q1["seasonal_index"]
    assert len(idx) == 12 and all(v is not None and 0.5 < v < 1.6 for v in idx.values())
    assert sum(idx.values()) == pytest.approx(12, abs=0.05)
    assert q1["complete_years"] == [2023, 2024, 2025]
    assert q1["peak_month"] in ("Nov", "Dec", "Jan", "Feb", "Mar")
    assert q1["winter_monthly_mean"] > q1["summer_monthly_mean"]
    assert sum(m["accidents"] for m in q1["monthly"]) == 4000
    assert sum(w["accidents"] for w in q1["weekly"]) == 4000
    assert [y["year"] for y in q1["year_over_year"]] == [2024, 2025, 2026]
    # 2: road conditions
    q2 = q["q2_road_conditions"]
    adv = q2["adverse_share_by_month"]
    assert adv["Jan"] > 0.1 and adv["Jul"] < 0.02
    c = q2["monthly_count_vs_adverse_share"]
    assert c["n"] == 47 and c["pearson"] > 0.2
    assert set(q2["by_season"]) == {"winter", "spring", "summer", "autumn"}
    assert "icy" not in q2["by_season"]["summer"] or q2["by_season"]["summer"]["icy"]["per_day"] < \
        q2["by_season"]["winter"]["icy"]["per_day"]
    # 3: where 311 calls are
    q3 = q["q3_where_311"]
    coords = q3["coordinates"]
    assert coords["ok"] > 500 and coords["swapped"] > 0 and sum(coords.values()) == q3["calls"]
    council = q3["by_council_district"]
    assert len(council) == 11 and sum(d["share"] for d in council) == pytest.approx(1, abs=0.01)
    assert council[0]["calls"] >= council[-1]["calls"]
    assert q3["by_neighborhood"] and q3["by_police_district"]
    for cell in q3["grid"]["top_cells"]:
        assert 39.61 <= cell["lat"] <= 39.92 and -105.11 <= cell["lon"] <= -104.60
    # 4: same areas
    q4 = q["q4_same_areas"]
    g = q4["grid_cells"]
    assert g["n"] > 50 and -1 <= g["pearson"] <= 1 and -1 <= g["spearman"] <= 1
    assert g["n"] == len(q4["cells"])
    assert q4["period"]["overlap_used"] and 0 < q4["traffic_in_period"] < 4000
    assert q4["neighborhoods"]["n"] > 20
    # 5: close times
    q5 = q["q5_close_times"]
    assert q5["closed"] + q5["open"] == q3["calls"]
    assert 0 < q5["median_hours"] < q5["p90_hours"]
    agencies = {a["name"]: a for a in q5["by_agency"]}
    assert agencies["311"]["median_hours"] < 1 < agencies["Solid Waste Management"]["median_hours"]
    # one plain sentence per question, with numbers, on the page
    page = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    assert "GENERATED DATA" in page
    for key, sentence in data["answers"].items():
        assert re.search(r"\d", sentence), key
        assert sentence.replace("'", "&#x27;") in page, key
    assert not [n for n in os.listdir(os.path.dirname(out)) if n.startswith(".")]   # no temp dirs left


def test_report_page_loads_every_image_in_chromium(built, tmp_path):
    out, data = built
    url = "file://" + os.path.join(out, "index.html")
    srcs = re.findall(r'<img src="([^"]+)"', open(os.path.join(out, "index.html"), encoding="utf-8").read())
    assert len(srcs) == len(data["charts"]) >= 9
    for s in srcs:
        w, h = png_size(os.path.join(out, s))
        assert w > 200 and h > 150
    env = dict(os.environ, HOME=str(tmp_path))
    dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile-dom'}",
                          "--dump-dom", url], capture_output=True, text=True, timeout=120, env=env)
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout).group(1)
    loaded = int(re.search(r'data-images-loaded="(\d+)"', body).group(1))
    total = int(re.search(r'data-images="(\d+)"', body).group(1))
    assert loaded == total == len(srcs)
    shot = tmp_path / "report.png"            # kept as the test's artifact
    r = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile-shot'}",
                        "--window-size=1100,4000", f"--screenshot={shot}", url],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert png_size(shot) == (1100, 4000)


def test_report_without_one_dataset_and_rerun_replaces(spark, report_state, tmp_path):
    out = os.path.join(tmp_path, "reports", "exec_date=2026-11-22")
    os.makedirs(out)
    open(os.path.join(out, "stale.png"), "wb").close()
    argv = ["--exec-date", "2026-11-22", "--out", out, "--datastore", os.path.join(report_state, "datastore"),
            "--sr311", "not_converted_yet", "--label", "test run"]
    assert report.main(argv, spark=spark) == 0
    data = json.load(open(os.path.join(out, "report.json"), encoding="utf-8"))
    assert set(data["questions"]) == {"q1_seasonality", "q2_road_conditions"}
    assert data["datasets"]["not_converted_yet"] == {"rows": 0}
    page = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    assert "No data for not_converted_yet" in page and "test run" in page
    assert not os.path.exists(os.path.join(out, "stale.png"))      # replaced whole


def comparable(path):
    """report.json at `path` without its wall times (timings,
    report_seconds), as the text json.dumps makes of it."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    del data["timings"], data["report_seconds"]
    return json.dumps(data, indent=1)


def test_report_names_the_state_it_read(built, report_state):
    out, data = built
    st = data["state"]
    assert set(st) == {"traffic_accidents", "service_requests_311"}
    for name, run_id in (("traffic_accidents", 1), ("service_requests_311", 2)):
        root = os.path.join(report_state, "datastore", name)
        assert {k: st[name][k] for k in ("fingerprint", "files", "bytes")} == datastore.fingerprint(root)
        assert st[name]["fingerprint"].startswith("sha256:") and st[name]["files"] >= 1
        assert st[name]["commit_count"] == 1
        (c,) = st[name]["commits"]
        assert (c["seq"], c["run_id"], c["exec_date"]) == (1, run_id, "2026-11-21")
        assert c["snapshot_hash"] and len(c["snapshot_hash"]) == 32
    page = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    assert "Datastore state" in page
    tr = st["traffic_accidents"]
    assert tr["fingerprint"] in page and tr["commits"][0]["snapshot_hash"] in page


def test_rerun_on_the_same_state_gives_the_same_report(spark, built, report_state, tmp_path):
    out, _ = built
    again = os.path.join(tmp_path, "reports", "exec_date=2026-11-21")
    argv = ["--exec-date", "2026-11-21", "--out", again, "--datastore", os.path.join(report_state, "datastore")]
    assert report.main(argv, spark=spark) == 0
    assert comparable(os.path.join(again, "report.json")) == comparable(os.path.join(out, "report.json"))


def test_a_new_convert_changes_the_fingerprint(spark, built, report_state, tmp_path, gen_dir):
    _, data = built
    shutil.copytree(os.path.join(report_state, "datastore"), os.path.join(tmp_path, "datastore"))
    root = os.path.join(tmp_path, "datastore", "traffic_accidents")
    assert datastore.fingerprint(root)["fingerprint"] == data["state"]["traffic_accidents"]["fingerprint"]
    more = gen_file(gen_dir, "traffic_accidents", 50, start="2026-11-01", end="2026-11-21", seed=12)
    run_convert(spark, tmp_path, "traffic_accidents", more, "utf-8", "2026-11-22", run_id=7)
    assert datastore.fingerprint(root)["fingerprint"] != data["state"]["traffic_accidents"]["fingerprint"]
    (rec,) = datastore.Store(root).commits()[1:]
    assert (rec["seq"], rec["run_id"], rec["exec_date"]) == (2, 7, "2026-11-22")
    # the 311 datastore, untouched, keeps its fingerprint
    assert datastore.fingerprint(os.path.join(tmp_path, "datastore", "service_requests_311"))["fingerprint"] == \
        data["state"]["service_requests_311"]["fingerprint"]


def test_report_through_connect_equals_classic(built, report_state, connect_url, tmp_path):
    """The report as a Spark Connect client (`python jobs/report.py` with
    SPARK_REMOTE, as the daemon runs it in Connect mode) gives the same
    report.json as the classic run, but for the wall times."""
    out, _ = built
    again = os.path.join(tmp_path, "reports", "exec_date=2026-11-21")
    argv = ["--exec-date", "2026-11-21", "--out", again, "--datastore", os.path.join(report_state, "datastore")]
    client = Jobs("connect", url=connect_url)
    assert client.report(argv, tmp_path) == 0, client.last.stderr[-3000:]
    assert "report: q4_same_areas: " in client.last.stderr
    assert comparable(os.path.join(again, "report.json")) == comparable(os.path.join(out, "report.json"))
