# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Denver traffic accidents and 311 service requests: the analysts' notebook
#
# The questions of denverd's report (`jobs/report/`), answered with Spark SQL over the
# Parquet datastore the daemon keeps: each query is in a cell of its own, to read, change
# and run again. The statistics and the one-sentence answers are the report's own
# (`jobs/report/answers.py`), so on the same datastore the figures here are those of
# `report.json` (`tests/spark/test_notebook.py` checks that).
#
# **Spark**: Spark Connect at `$SPARK_REMOTE` when it is set; else the Connect endpoint a
# running denverd reports (`denverctl --json status`, socket `$DENVERD_SOCKET`) when it is
# ready; else local Spark in this kernel (`local[*]`). The next cells say which and why.
#
# **Reading only**: the notebook never writes to the datastore. A commit that a convert is
# swapping in right now (or that a crash left) is reported, not finished: the daemon's
# next job does that.
#
# **Parameters** (the cell below, or the environment): `DENVERD_DATASTORE`, the datastore
# directory (`<state_dir>/datastore`); `DENVERD_EXEC_DATE`, the report to compare with at
# the end (`<state_dir>/reports/exec_date=D/report.json`; default the newest).

# %% tags=["parameters"]
import os

DATASTORE = os.environ.get("DENVERD_DATASTORE", "")  # "": the demo's (.demo/state/datastore), else /var/lib/denverd's
EXEC_DATE = os.environ.get("DENVERD_EXEC_DATE", "")  # yyyy-mm-dd of the report to compare with; "": the newest
TIMEZONE = "America/Denver"  # months, weeks and seasons are local dates, as in the report
CACHE = None  # cache the two views in memory; None: in local Spark only (a Connect server is shared with jobs)

# %%
import datetime as dt
import json
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

# the checkout this notebook belongs to (the report's code is in its jobs/):
# $DENVERD_TOP, else the first directory at or above the working directory that has one
where = [Path(os.environ["DENVERD_TOP"])] if os.environ.get("DENVERD_TOP") else [Path.cwd(), *Path.cwd().parents]
TOP = next((p for p in where if (p / "jobs" / "datastore.py").is_file()), None)
if TOP is None:
    raise FileNotFoundError(f"no denverd checkout (jobs/datastore.py) in {where[0]} or above; set DENVERD_TOP")
sys.path[:0] = [str(TOP / "jobs"), str(TOP / "notebooks")]
import spark_endpoint
from report import answers, queries
from report.common import CELL_LAT, CELL_LON, LAT_MAX, LAT_MIN, LON_MAX, LON_MIN, MONTHS, SR311, TOP_N, TRAFFIC

if not DATASTORE:
    demo = TOP / ".demo" / "state" / "datastore"
    DATASTORE = str(demo if demo.is_dir() else Path("/var/lib/denverd/datastore"))
if not os.path.isdir(DATASTORE):
    raise FileNotFoundError(f"{DATASTORE}: no datastore here; set DENVERD_DATASTORE to <state_dir>/datastore")

# %% [markdown]
# ## Spark
#
# The choice and its reason are printed (never a token). To use a daemon's endpoint,
# start Jupyter with `DENVERD_SOCKET` set to its control socket (`denverctl status` shows
# the endpoint); a Connect server reads the datastore at the same path, so it must run on
# this machine (or see the same files).

# %%
choice = spark_endpoint.choose()
print(choice)  # the URL without any token
spark = spark_endpoint.session(choice, {"spark.sql.session.timeZone": TIMEZONE})
print("Spark", spark.version)

# %% [markdown]
# ## The datastore
#
# Each dataset becomes a view with the columns the report reads: `traffic` (traffic
# accidents, event time `reported_date`) and `sr` (311 service requests, event time
# `case_created_dttm`), cached in memory in local Spark (`CACHE`; on a Connect server,
# which the daemon's jobs share, each query reads the Parquet files). `db.sql(name,
# query)` runs a query, collects its rows and times it (`db.timings`); `spark.sql(query)`
# gives a DataFrame for anything else.
# `db.state` names the state read: each dataset's content fingerprint and its newest
# commits (run, exec date, snapshot hash), as in `report.json`.

# %%
db = queries.Datastore(spark, DATASTORE)
cache = choice.mode == "local" if CACHE is None else CACHE
summary = {TRAFFIC: db.load(TRAFFIC, "traffic", queries.TRAFFIC_COLS, recover=False, cache=cache),
           SR311: db.load(SR311, "sr", queries.SR_COLS, recover=False, cache=cache)}
empty = [name for name, s in summary.items() if s is None]
if empty:
    raise RuntimeError(f"{DATASTORE}: no data yet for {', '.join(empty)}; the questions need both datasets")
display(pd.DataFrame(summary).T)
print({name: st["fingerprint"] for name, st in db.state.items()})

# %% [markdown]
# ## 1. Do traffic accidents vary over the year?
#
# Accidents per calendar month and per ISO week of each year (local dates). The seasonal
# index of a month is its count over its year's mean month, averaged over the complete
# years; year over year compares the same months of consecutive years.

# %%
q1_monthly = db.sql("q1_monthly", """
    SELECT year(reported_date) AS y, month(reported_date) AS m, count(*) AS n
    FROM traffic
    GROUP BY y, m
    ORDER BY y, m""")
q1_weekly = db.sql("q1_weekly", """
    SELECT year(reported_date) AS y, weekofyear(reported_date) AS w, count(*) AS n
    FROM traffic
    GROUP BY y, w
    ORDER BY y, w""")
a1 = answers.seasonality({"monthly": q1_monthly, "weekly": q1_weekly})

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 3.6), gridspec_kw={"width_ratios": [2, 1]})
left.plot([dt.date(r.y, r.m, 15) for r in q1_monthly], [r.n for r in q1_monthly], lw=1.2)
left.set_title("Traffic accidents per month")
left.grid(alpha=.3)
right.bar(MONTHS, [v or 0 for v in a1.data["seasonal_index"].values()], color="#1f5fa8")
right.axhline(1, color="k", lw=.8)
right.set_title(f"Seasonal index ({len(a1.data['index_years'])} years)")
fig.tight_layout()
plt.show()
display(pd.DataFrame(a1.data["year_over_year"]).set_index("year"))
display(Markdown(f"**Answer.** {a1.text}"))

# %% [markdown]
# ## 2. Do accidents follow road conditions; which times of year are worse?
#
# The city records road conditions in mixed case and wording; the report's normalisation
# (`queries.COND_SQL`, printed below) maps them to dry, wet, snowy, icy, slushy and other
# (NULL: not recorded). The question is whether the monthly accident count rises with the
# share of icy, snowy or slushy roads among that month's accidents.

# %%
print(queries.COND_SQL)
spark.sql(f"""
    CREATE OR REPLACE TEMP VIEW traffic_cond AS
    SELECT reported_date, month(reported_date) AS m, year(reported_date) AS y, {queries.COND_SQL} AS cond
    FROM (SELECT reported_date, lower(regexp_replace(trim(road_condition), '\\\\s+', ' ')) AS rc FROM traffic)""")
q2 = {
    "by_month": db.sql("q2_by_month", """
        SELECT m, cond, count(*) AS n FROM traffic_cond
        WHERE cond IS NOT NULL GROUP BY m, cond ORDER BY m, cond"""),
    "values": db.sql("q2_values", """
        SELECT road_condition AS v, count(*) AS n FROM traffic
        WHERE road_condition IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT 40"""),
}
q2.update({"by_season": None, "season_days": None, "year_month": None})
if sum(r.n for r in q2["by_month"]):
    q2["by_season"] = db.sql("q2_by_season", f"""
        SELECT {queries.SEASON_SQL} AS season, cond, count(*) AS n FROM traffic_cond
        WHERE cond IS NOT NULL GROUP BY season, cond ORDER BY season, cond""")
    q2["season_days"] = {r.season: r.days for r in db.sql("q2_days", f"""
        SELECT {queries.SEASON_SQL} AS season, count(DISTINCT to_date(reported_date)) AS days
        FROM traffic_cond WHERE cond IS NOT NULL GROUP BY season ORDER BY season""")}
    q2["year_month"] = db.sql("q2_year_month", """
        SELECT y, m, count(*) AS n, avg(CASE WHEN cond IN ('icy', 'snowy', 'slushy') THEN 1 ELSE 0 END) AS bad
        FROM traffic_cond WHERE cond IS NOT NULL GROUP BY y, m ORDER BY y, m""")
a2 = answers.road_conditions(q2)

# %%
if "share_by_month" in a2.data:
    shares = pd.DataFrame(a2.data["share_by_month"]).T
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 3.6))
    shares.plot.bar(stacked=True, ax=left, width=.85, colormap="tab20c")
    left.set_title("Road condition of accidents, by calendar month")
    left.legend(fontsize=8, ncol=6, loc="upper center", bbox_to_anchor=(.5, -.12))
    ym = q2["year_month"]
    right.scatter([r.bad for r in ym], [r.n for r in ym], s=14)
    right.set_xlabel("share of icy, snowy or slushy roads")
    right.set_ylabel("accidents that month")
    right.set_title("Each month of each year")
    fig.tight_layout()
    plt.show()
display(Markdown(f"**Answer.** {a2.text}"))

# %% [markdown]
# ## 3. Where do 311 service calls occur?
#
# By council district, police district and neighborhood, and on a grid of about 1 km over
# Denver's box. `sr_loc` labels each call's coordinates: `ok`, `swapped` (the latitude in
# the longitude column), `missing`, or `outside` the box; only `ok` ones go on the grid.

# %%
spark.sql(f"""
    CREATE OR REPLACE TEMP VIEW sr_loc AS
    SELECT *, CASE
        WHEN longitude IS NULL OR latitude IS NULL THEN 'missing'
        WHEN longitude BETWEEN {LAT_MIN - 1} AND {LAT_MAX + 1} THEN 'swapped'
        WHEN latitude BETWEEN {LAT_MIN} AND {LAT_MAX} AND longitude BETWEEN {LON_MIN} AND {LON_MAX} THEN 'ok'
        ELSE 'outside' END AS loc_state
    FROM sr""")
q3 = {"coord_states": {r.s: r.n for r in db.sql("q3_coord_states", """
    SELECT loc_state AS s, count(*) AS n FROM sr_loc GROUP BY s ORDER BY s""")}}
for col in ("council_district", "police_district", "neighborhood"):
    q3[col] = db.sql(f"q3_by_{col}", f"""
        SELECT {col} AS k, count(*) AS n FROM sr
        WHERE {col} IS NOT NULL GROUP BY k ORDER BY n DESC, k""")
q3["grid"] = db.sql("q3_grid", f"""
    SELECT floor((latitude - {LAT_MIN}) / {CELL_LAT}) AS i, floor((longitude - ({LON_MIN})) / {CELL_LON}) AS j,
           count(*) AS n
    FROM sr_loc WHERE loc_state = 'ok' GROUP BY i, j ORDER BY i, j""")
a3 = answers.where_311(q3)


# %%
def grid_image(cells):
    """{(i, j): count} -> a 2-D array over Denver's box (rows: latitude, south first)."""
    img = np.zeros((int((LAT_MAX - LAT_MIN) / CELL_LAT) + 1, int((LON_MAX - LON_MIN) / CELL_LON) + 1))
    for (i, j), n in cells.items():
        img[i, j] = n
    return img


fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
shown = left.imshow(np.log1p(grid_image(a3.extra["cells"])), origin="lower", cmap="magma",
                    extent=(LON_MIN, LON_MAX, LAT_MIN, LAT_MAX), aspect="auto")
fig.colorbar(shown, ax=left, label="log(1 + calls)")
left.set_title("311 calls per ~1 km cell")
left.set_xlabel("longitude")
left.set_ylabel("latitude")
council = pd.DataFrame(a3.data["by_council_district"]).set_index("name")
council["calls"].plot.barh(ax=right)
right.invert_yaxis()
right.set_title("311 calls by council district")
fig.tight_layout()
plt.show()
display(pd.DataFrame(a3.data["by_neighborhood"][:TOP_N]).set_index("name"))
display(Markdown(f"**Answer.** {a3.text}"))

# %% [markdown]
# ## 4. Do those areas have a similar number of traffic accidents?
#
# Accidents on the same grid, over the period the 311 data covers (all dates when no
# accident falls in it), against Question 3's cells; every cell with activity in either
# dataset counts (0 where one has none). Also by neighborhood, where both name it
# (the accident files name neighborhoods by slug; the 311 names are made into slugs).

# %%
q4 = {"span": db.sql("q4_span", """
    SELECT date_format(min(case_created_dttm), 'yyyy-MM-dd') AS lo,
           date_format(max(case_created_dttm), 'yyyy-MM-dd') AS hi
    FROM sr""")[0]}
period = "reported_date BETWEEN (SELECT min(case_created_dttm) FROM sr) AND (SELECT max(case_created_dttm) FROM sr)"
q4["overlap"] = db.sql("q4_overlap", f"SELECT count(*) AS n FROM traffic WHERE {period}")[0].n
if q4["overlap"] == 0:
    period = "true"
q4["traffic_grid"] = db.sql("q4_traffic_grid", f"""
    SELECT floor((geo_lat - {LAT_MIN}) / {CELL_LAT}) AS i, floor((geo_lon - ({LON_MIN})) / {CELL_LON}) AS j,
           count(*) AS n
    FROM traffic
    WHERE {period} AND geo_lat BETWEEN {LAT_MIN} AND {LAT_MAX} AND geo_lon BETWEEN {LON_MIN} AND {LON_MAX}
    GROUP BY i, j ORDER BY i, j""")
q4["neighborhoods"] = db.sql("q4_neighborhoods", f"""
    WITH calls AS (
        SELECT regexp_replace(lower(trim(neighborhood)), '[^a-z0-9]+', '-') AS k, count(*) AS n
        FROM sr WHERE neighborhood IS NOT NULL GROUP BY k),
    accidents AS (
        SELECT regexp_replace(lower(trim(neighborhood_id)), '[^a-z0-9]+', '-') AS k, count(*) AS n
        FROM traffic WHERE {period} AND neighborhood_id IS NOT NULL GROUP BY k)
    SELECT calls.k, calls.n AS sr, accidents.n AS tr
    FROM calls JOIN accidents ON calls.k = accidents.k
    ORDER BY calls.k""")
a4 = answers.same_areas(q4, a3.extra["cells"])

# %%
cells = pd.DataFrame(a4.data["cells"])
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4))
left.scatter(np.log1p(cells["sr311"]), np.log1p(cells["traffic"]), s=10, alpha=.6)
left.set_xlabel("log(1 + 311 calls)")
left.set_ylabel("log(1 + accidents)")
left.set_title(f"{len(cells)} grid cells")
hoods = q4["neighborhoods"]
right.scatter([r.sr for r in hoods], [r.tr for r in hoods], s=14)
right.set_xlabel("311 calls")
right.set_ylabel("accidents")
right.set_title(f"{len(hoods)} neighborhoods named in both")
fig.tight_layout()
plt.show()
display(Markdown(f"**Answer.** {a4.text}"))

# %% [markdown]
# ## 5. How long do 311 cases take to close?
#
# Hours from creation to closing of the closed cases (a closing before the creation is
# left out), overall, by agency (the 40 with most closed cases) and by case type;
# medians and 90th percentiles by `percentile_approx` with accuracy 10000.

# %%
spark.sql("""
    CREATE OR REPLACE TEMP VIEW sr_close AS
    SELECT agency, case_summary, type,
           (unix_timestamp(case_closed_dttm) - unix_timestamp(case_created_dttm)) / 3600D AS h
    FROM sr WHERE case_closed_dttm IS NOT NULL AND case_closed_dttm >= case_created_dttm""")
q5 = {
    "overall": db.sql("q5_overall", """
        SELECT count(*) AS n, percentile_approx(h, 0.5, 10000) AS med, percentile_approx(h, 0.9, 10000) AS p90
        FROM sr_close""")[0],
    "open": db.sql("q5_open", "SELECT count(*) AS n FROM sr WHERE case_closed_dttm IS NULL")[0].n,
}
for col, limit in (("agency", 40), ("case_summary", TOP_N)):
    q5[col] = db.sql(f"q5_by_{col}", f"""
        SELECT {col} AS k, count(*) AS n,
               percentile_approx(h, 0.5, 10000) AS med, percentile_approx(h, 0.9, 10000) AS p90
        FROM sr_close WHERE {col} IS NOT NULL
        GROUP BY k ORDER BY n DESC, k LIMIT {limit}""")
a5 = answers.close_times(q5)

# %%
agencies = pd.DataFrame(a5.data["by_agency"][:12]).set_index("name")
ax = agencies[["median_hours", "p90_hours"]].plot.barh(figsize=(10, 4.5), logx=True)
ax.invert_yaxis()
ax.set_xlabel("hours to close (log scale)")
ax.set_title("311 cases: median and 90th percentile hours to close, by agency")
plt.tight_layout()
plt.show()
display(pd.DataFrame(a5.data["by_case_summary"]).set_index("name"))
display(Markdown(f"**Answer.** {a5.text}"))

# %% [markdown]
# ## The answers, and the report
#
# The five sentences; then every figure of each question against the `report.json` of
# `EXEC_DATE` (or the newest report), and whether that report read the same datastore
# state (its fingerprints). The last cell keeps each question's key figures in `results`
# (the names of `report.json` `questions`).

# %%
answered = [a1, a2, a3, a4, a5]
for a in answered:
    display(Markdown(f"**{a.title}** {a.text}"))

# %%
reports = Path(DATASTORE).parent / "reports"
if EXEC_DATE:
    report_json = reports / f"exec_date={EXEC_DATE}" / "report.json"
else:
    report_json = max(reports.glob("exec_date=*/report.json"), default=None)
if report_json is None or not report_json.is_file():
    print(f"no report to compare with ({report_json or reports})")
else:
    report = json.loads(report_json.read_text(encoding="utf-8"))
    same_state = all(report.get("state", {}).get(n, {}).get("fingerprint") == st["fingerprint"]
                     for n, st in db.state.items())
    differ = [f"{a.key}.{f}" for a in answered for f, v in json.loads(json.dumps(a.data, default=str)).items()
              if report["questions"].get(a.key, {}).get(f) != v]
    print(f"{report_json}: {'the same' if same_state else 'another'} datastore state; "
          + (f"differs in {', '.join(differ)}" if differ else "every figure the same"))

# %% [markdown]
# When done, `spark.stop()` ends this session (on a Connect server it releases the
# session's state there; the server keeps running).

# %%
KEY_FIGURES = {
    "q1_seasonality": ["peak_month", "low_month", "peak_to_low", "seasonal_index", "complete_years",
                       "per_year", "winter_monthly_mean", "summer_monthly_mean"],
    "q2_road_conditions": ["rows_with_condition", "adverse_share_by_month", "monthly_count_vs_adverse_share",
                           "worst_months", "best_months"],
    "q3_where_311": ["calls", "coordinates", "by_council_district", "neighborhood_filled_share"],
    "q4_same_areas": ["period", "traffic_in_period", "grid_cells", "neighborhoods"],
    "q5_close_times": ["closed", "open", "median_hours", "p90_hours", "by_agency"],
}
results = {"datasets": {name: s["rows"] for name, s in summary.items()},
           **{a.key: {f: a.data[f] for f in KEY_FIGURES[a.key] if f in a.data} for a in answered}}
results
