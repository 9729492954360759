"""Build the analysis report from the Parquet datastore (Spark SQL + matplotlib).

Run by the daemon's report job after both datasets converted
(CONTRACTS.md section 5)::

    spark-submit [--master M --conf k=v ...] report.py --exec-date D \\
        --out <state_dir>/reports/exec_date=D [--datastore <state_dir>/datastore]

Without --datastore the datastore is <state_dir>/datastore, <state_dir> being
two levels above --out.  Questions answered, each with numbers, a chart and
one plain sentence:

 1. Do traffic accidents vary over the year?  Counts per month and per ISO
    week for every year, a seasonal index per calendar month (each month's
    count over its year's monthly mean, averaged over complete years), and
    year over year change.
 2. Does that follow road conditions?  The city's mixed-case conditions
    normalised to dry/wet/snowy/icy/slushy/other; share by calendar month,
    accidents per day by condition and season, and the correlation of the
    monthly count with the monthly icy-or-snowy share.
 3. Where do 311 service calls occur?  By council district, police district
    and neighborhood (where the files fill it) and on a ~1 km latitude/
    longitude grid drawn as a heat map; zero, swapped (latitude in the
    longitude column) and out-of-town coordinates are counted and left out.
 4. Do those areas have as many traffic accidents?  Both datasets counted on
    the same grid cells (and neighborhoods, when both name them) over the
    period both cover; Pearson and Spearman correlation with the sample
    size, and a scatter plot.
 5. How long do 311 cases take to close, by agency and by case type
    (median and 90th percentile)?

Output: index.html (self-contained: inline CSS, tables, <img> of the PNGs
next to it), report.json (every number), *.png.  Everything is written into
a temporary sibling directory which is then renamed to --out, so a half
report never appears; an older report at --out is replaced whole.  Rows
whose ``source_file`` contains "generated" come from synthetic files
(data/generate.py); the page and report.json say so, with their share.
"""

import argparse
import datetime as dt
import html
import json
import math
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datastore import Store  # noqa: E402

REPORT_VERSION = 1
TRAFFIC, SR311 = "traffic_accidents", "service_requests_311"
LAT_MIN, LAT_MAX, LON_MIN, LON_MAX = 39.61, 39.92, -105.11, -104.60
CELL_LAT, CELL_LON = 0.01, 0.013          # about 1.1 km each way at 39.75 N
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
SEASONS = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
           6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}
CONDITIONS = ["dry", "wet", "snowy", "icy", "slushy", "other"]
TOP_N = 15


def log(msg):
    print(f"report: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Small statistics (numpy only; the inputs are a few thousand numbers)
def pearson(x, y):
    import numpy as np
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def ranks(v):
    """Ranks 1..n, ties sharing their average rank."""
    import numpy as np
    v = np.asarray(v, float)
    order = np.argsort(v, kind="mergesort")
    r = np.empty(len(v))
    sv = v[order]
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and sv[j + 1] == sv[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(x, y):
    if len(x) < 3:
        return None
    return pearson(ranks(x), ranks(y))


def corr_block(x, y):
    return {"n": len(x), "pearson": rnd(pearson(x, y)), "spearman": rnd(spearman(x, y)),
            "pearson_log": rnd(pearson([math.log1p(a) for a in x], [math.log1p(b) for b in y]))}


def rnd(v, nd=3):
    return None if v is None else round(v, nd)


def human_hours(h):
    if h is None:
        return "n/a"
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:.1f} h"
    return f"{h / 24:.1f} days"


def fmt_r(v):
    return "n/a" if v is None else f"{v:.2f}"


# ---------------------------------------------------------------------------
class Report:
    def __init__(self, spark, args, tmpdir):
        self.spark = spark
        self.args = args
        self.dir = tmpdir
        self.data = {"version": REPORT_VERSION, "exec_date": args.exec_date, "label": args.label,
                     "datasets": {}, "questions": {}, "timings": {}}
        self.charts = []            # (file, caption)
        self.sections = []          # (title, answer sentence, html body)

    def sql(self, name, query):
        """Run one Spark SQL query, collect it, time it."""
        t = time.monotonic()
        rows = self.spark.sql(query).collect()
        self.data["timings"][name] = round(time.monotonic() - t, 3)
        return rows

    def save(self, fig, name, caption):
        fig.savefig(os.path.join(self.dir, name), dpi=90)
        import matplotlib.pyplot as plt
        plt.close(fig)
        self.charts.append((name, caption))
        return f'<figure><img src="{name}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'

    # -- loading --------------------------------------------------------------
    def load(self, name, view, columns):
        """Register `view` over datastore/<name> if it holds data.  Returns
        the dataset summary dict or None."""
        path = os.path.join(self.args.datastore, name)
        store = Store(self.spark, path)
        rolled = store.recover()
        if rolled:
            log(f"{name}: finished interrupted commits {', '.join(rolled)}")
        if not store.months():
            self.data["datasets"][name] = {"rows": 0}
            return None
        df = self.spark.read.parquet(path)
        have = set(df.columns)
        missing = [c for c in columns if c not in have]
        if missing:
            raise SystemExit(f"report: {path}: datastore lacks columns {', '.join(missing)}")
        df.select(*columns, "year", "month").createOrReplaceTempView(view)
        self.spark.sql(f"CACHE TABLE {view}")
        ev = columns[0]
        r = self.sql(f"{view}_summary", f"""
            SELECT count(*) n, date_format(min({ev}), 'yyyy-MM-dd HH:mm:ss') lo,
                   date_format(max({ev}), 'yyyy-MM-dd HH:mm:ss') hi,
                   sum(CASE WHEN lower(source_file) LIKE '%generated%' THEN 1 ELSE 0 END) gen,
                   min(first_seen) fs, max(last_seen) ls
            FROM {view}""")[0]
        info = {"rows": r.n, "first_event": str(r.lo), "last_event": str(r.hi),
                "generated_rows": r.gen, "generated_share": rnd(r.gen / r.n if r.n else 0, 4),
                "first_seen": str(r.fs), "last_seen": str(r.ls)}
        self.data["datasets"][name] = info
        return info

    # -- Q1 -------------------------------------------------------------------
    def q1_seasonality(self):
        import numpy as np
        import matplotlib.pyplot as plt
        rows = self.sql("q1_monthly", """
            SELECT year(reported_date) y, month(reported_date) m, count(*) n
            FROM traffic GROUP BY 1, 2 ORDER BY 1, 2""")
        weekly = self.sql("q1_weekly", """
            SELECT year(reported_date) y, weekofyear(reported_date) w, count(*) n
            FROM traffic GROUP BY 1, 2 ORDER BY 1, 2""")
        counts = {(r.y, r.m): r.n for r in rows}
        years = sorted({r.y for r in rows})
        complete = [y for y in years if all((y, m) in counts for m in range(1, 13))]
        basis = complete or years
        idx = np.zeros(12)
        nyears = np.zeros(12)
        for y in basis:
            vals = [counts.get((y, m)) for m in range(1, 13)]
            present = [v for v in vals if v]
            if not present:
                continue
            mean = sum(present) / len(present)
            for m in range(12):
                if vals[m]:
                    idx[m] += vals[m] / mean
                    nyears[m] += 1
        seasonal = [rnd(idx[m] / nyears[m]) if nyears[m] else None for m in range(12)]
        per_year = {y: sum(counts.get((y, m), 0) for m in range(1, 13)) for y in years}
        yoy = []
        for a, b in zip(years, years[1:]):
            months_b = [m for m in range(1, 13) if (b, m) in counts]
            last_b = max(months_b)
            # compare like with like: a partial year against the same months before
            same_a = sum(counts.get((a, m), 0) for m in range(1, last_b + 1))
            same_b = sum(counts.get((b, m), 0) for m in range(1, last_b + 1))
            yoy.append({"year": b, "accidents": per_year[b], "months": len(months_b),
                        "change_same_months": rnd((same_b - same_a) / same_a, 4) if same_a else None})
        winter = [counts[(y, m)] for y in basis for m in (12, 1, 2) if (y, m) in counts]
        summer = [counts[(y, m)] for y in basis for m in (6, 7, 8) if (y, m) in counts]
        w_avg = sum(winter) / len(winter) if winter else None
        s_avg = sum(summer) / len(summer) if summer else None
        valid = [(m, s) for m, s in enumerate(seasonal) if s is not None]
        q = {"monthly": [{"year": y, "month": m, "accidents": n} for (y, m), n in sorted(counts.items())],
             "weekly": [{"year": r.y, "iso_week": r.w, "accidents": r.n} for r in weekly],
             "seasonal_index": dict(zip(MONTHS, seasonal)), "index_years": basis,
             "complete_years": complete, "per_year": [{"year": y, "accidents": per_year[y]} for y in years],
             "year_over_year": yoy, "winter_monthly_mean": rnd(w_avg, 1), "summer_monthly_mean": rnd(s_avg, 1)}
        if valid:
            peak = max(valid, key=lambda t: t[1])
            low = min(valid, key=lambda t: t[1])
            amp = peak[1] / low[1] if low[1] else None
            q["peak_month"], q["low_month"], q["peak_to_low"] = MONTHS[peak[0]], MONTHS[low[0]], rnd(amp)
            varies = amp is not None and amp >= 1.10
            ws = (f"; December to February average {w_avg:.0f} accidents a month against {s_avg:.0f} in "
                  f"June to August ({(w_avg / s_avg - 1) * 100:+.0f}%)") if w_avg and s_avg else ""
            answer = (f"{'Yes' if varies else 'Only a little'}: {MONTHS[peak[0]]} is the busiest month "
                      f"(seasonal index {peak[1]:.2f}) and {MONTHS[low[0]]} the quietest ({low[1]:.2f}){ws}; "
                      f"based on {sum(per_year.values())} accidents in {len(years)} years "
                      f"({len(complete)} complete).")
        else:
            answer = "Cannot tell: no dated accidents."
        q["answer"] = answer
        # charts
        fig, ax = plt.subplots(figsize=(10, 3.6))
        xs = [dt.date(y, m, 15) for (y, m) in sorted(counts)]
        ax.plot(xs, [counts[k] for k in sorted(counts)], lw=1.2, color="#1f5fa8")
        ax.set_title("Traffic accidents per month")
        ax.set_ylabel("accidents")
        ax.grid(alpha=.3)
        fig.tight_layout()
        body = self.save(fig, "q1_monthly.png", "Traffic accidents per month, all years")
        fig, ax = plt.subplots(figsize=(7, 3.4))
        ax.bar(MONTHS, [s or 0 for s in seasonal], color=["#6d9ecf" if SEASONS[m + 1] != "winter" else "#1f5fa8" for m in range(12)])
        ax.axhline(1.0, color="k", lw=.8)
        ax.set_title("Seasonal index (1 = an average month)")
        fig.tight_layout()
        body += self.save(fig, "q1_seasonal_index.png", "Seasonal index per calendar month")
        wk_years = sorted({r.y for r in weekly})
        grid = np.full((len(wk_years), 53), np.nan)
        for r in weekly:
            grid[wk_years.index(r.y), r.w - 1] = r.n
        fig, ax = plt.subplots(figsize=(10, 0.35 * len(wk_years) + 1.4))
        im = ax.imshow(grid, aspect="auto", cmap="magma_r", interpolation="nearest")
        ax.set_yticks(range(len(wk_years)), [str(y) for y in wk_years])
        ax.set_xlabel("ISO week")
        ax.set_title("Accidents per ISO week (year of the date)")
        fig.colorbar(im, ax=ax, pad=0.01)
        fig.tight_layout()
        body += self.save(fig, "q1_weekly.png", "Accidents per ISO week and year")
        body += table(["month", "seasonal index"], [(MONTHS[m], fmt_num(seasonal[m])) for m in range(12)])
        body += table(["year", "accidents", "months with data", "change vs same months a year before"],
                      [(y["year"], y["accidents"], y["months"], pct(y["change_same_months"])) for y in yoy][-8:])
        self.data["questions"]["q1_seasonality"] = q
        self.sections.append(("1. Do traffic accidents vary over the year?", answer, body))

    # -- Q2 -------------------------------------------------------------------
    def q2_conditions(self):
        import matplotlib.pyplot as plt
        cond_sql = """CASE
              WHEN rc IS NULL OR rc = '' OR rc LIKE 'unknown%' THEN NULL
              WHEN rc LIKE 'dry%' THEN 'dry' WHEN rc LIKE 'wet%' THEN 'wet'
              WHEN rc LIKE 'snow%' THEN 'snowy' WHEN rc LIKE 'ic%' THEN 'icy'
              WHEN rc LIKE 'slush%' THEN 'slushy' ELSE 'other' END"""
        self.spark.sql(f"""CREATE OR REPLACE TEMP VIEW traffic_cond AS
            SELECT reported_date, month(reported_date) m, year(reported_date) y, {cond_sql} cond
            FROM (SELECT reported_date, lower(regexp_replace(trim(road_condition), '\\\\s+', ' ')) rc FROM traffic)""")
        by_month = self.sql("q2_by_month", """
            SELECT m, cond, count(*) n FROM traffic_cond WHERE cond IS NOT NULL GROUP BY 1, 2""")
        raw_values = self.sql("q2_values", """
            SELECT road_condition v, count(*) n FROM traffic WHERE road_condition IS NOT NULL
            GROUP BY 1 ORDER BY 2 DESC LIMIT 40""")
        n_known = sum(r.n for r in by_month)
        q = {"rows_with_condition": n_known, "raw_values": [{"value": r.v, "n": r.n} for r in raw_values]}
        if not n_known:
            q["answer"] = answer = ("Cannot tell: no accident in the datastore records a road condition "
                                    "(the 2014-2017 files have no such column).")
            self.data["questions"]["q2_road_conditions"] = q
            self.sections.append(("2. Do accidents follow road conditions?", answer, ""))
            return
        tot_m = {}
        cnt = {}
        for r in by_month:
            tot_m[r.m] = tot_m.get(r.m, 0) + r.n
            cnt[(r.m, r.cond)] = r.n
        share = {MONTHS[m - 1]: {c: rnd(cnt.get((m, c), 0) / tot_m[m], 4) for c in CONDITIONS}
                 for m in range(1, 13) if m in tot_m}
        # accidents per day by condition and season (days = calendar days covered)
        seasonal = self.sql("q2_by_season", f"""
            SELECT CASE WHEN m IN (12,1,2) THEN 'winter' WHEN m IN (3,4,5) THEN 'spring'
                        WHEN m IN (6,7,8) THEN 'summer' ELSE 'autumn' END season,
                   cond, count(*) n
            FROM traffic_cond WHERE cond IS NOT NULL GROUP BY 1, 2""")
        days = {r.season: r.days for r in self.sql("q2_days", """
            SELECT CASE WHEN m IN (12,1,2) THEN 'winter' WHEN m IN (3,4,5) THEN 'spring'
                        WHEN m IN (6,7,8) THEN 'summer' ELSE 'autumn' END season,
                   count(DISTINCT to_date(reported_date)) days
            FROM traffic_cond WHERE cond IS NOT NULL GROUP BY 1""")}
        per_season = {}
        for r in seasonal:
            per_season.setdefault(r.season, {})[r.cond] = {"accidents": r.n, "per_day": rnd(r.n / days[r.season], 3)}
        # month-level correlation: accidents vs icy/snowy share, per (year, month)
        ym = self.sql("q2_year_month", """
            SELECT y, m, count(*) n, avg(CASE WHEN cond IN ('icy','snowy','slushy') THEN 1D ELSE 0D END) bad
            FROM traffic_cond WHERE cond IS NOT NULL GROUP BY 1, 2""")
        x = [r.bad for r in ym]
        ycount = [r.n for r in ym]
        corr = corr_block(x, ycount)
        adverse = {MONTHS[m - 1]: rnd(sum(cnt.get((m, c), 0) for c in ("icy", "snowy", "slushy")) / tot_m[m], 4)
                   for m in range(1, 13) if m in tot_m}
        ranked = sorted(adverse.items(), key=lambda t: t[1])
        win = [share[m] for m in ("Dec", "Jan", "Feb") if m in share]
        summ = [share[m] for m in ("Jun", "Jul", "Aug") if m in share]
        w_bad = sum(s["icy"] + s["snowy"] + s["slushy"] for s in win) / len(win) if win else None
        s_bad = sum(s["icy"] + s["snowy"] + s["slushy"] for s in summ) / len(summ) if summ else None
        q.update({"share_by_month": share, "adverse_share_by_month": adverse, "by_season": per_season,
                  "season_days": days, "monthly_count_vs_adverse_share": corr,
                  "worst_months": [m for m, _ in ranked[::-1][:3]], "best_months": [m for m, _ in ranked[:3]]})
        r_ = corr["pearson"]
        strength = ("strongly" if r_ is not None and r_ >= 0.5 else "moderately" if r_ is not None and r_ >= 0.3
                    else "weakly" if r_ is not None and r_ > 0.1 else "hardly")
        parts = []
        if w_bad is not None and s_bad is not None:
            parts.append(f"icy, snowy or slushy roads are recorded in {w_bad:.0%} of winter (Dec-Feb) accidents "
                         f"and {s_bad:.0%} of summer (Jun-Aug) ones")
        parts.append(f"the monthly accident count {strength} follows the share of such roads "
                     f"(Pearson r = {fmt_r(r_)}, Spearman {fmt_r(corr['spearman'])}, n = {corr['n']} months)")
        parts.append(f"worst months for road conditions: {', '.join(q['worst_months'])}; best: {', '.join(q['best_months'])}")
        answer = "; ".join(parts)
        answer = answer[0].upper() + answer[1:] + "."
        q["answer"] = answer
        fig, ax = plt.subplots(figsize=(9, 3.8))
        colors = {"dry": "#d9c27a", "wet": "#5c9bd1", "snowy": "#c7d9ee", "icy": "#274f8c", "slushy": "#8fa7b8", "other": "#999999"}
        ms = [m for m in MONTHS if m in share]
        bottom = [0.0] * len(ms)
        for c in CONDITIONS:
            vals = [share[m][c] for m in ms]
            ax.bar(ms, vals, bottom=bottom, label=c, color=colors[c])
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_ylim(0, 1)
        ax.set_title("Road condition recorded at accidents, share by month")
        ax.legend(ncol=6, fontsize=8, loc="lower center")
        fig.tight_layout()
        body = self.save(fig, "q2_conditions_by_month.png", "Share of road conditions by month")
        fig, ax = plt.subplots(figsize=(8, 3.6))
        seasons = [s for s in ("winter", "spring", "summer", "autumn") if s in per_season]
        width = 0.8 / len(CONDITIONS)
        for i, c in enumerate(CONDITIONS):
            ax.bar([j + i * width for j in range(len(seasons))],
                   [per_season[s].get(c, {}).get("per_day", 0) for s in seasons], width, label=c, color=colors[c])
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(seasons))], seasons)
        ax.set_ylabel("accidents per day")
        ax.set_title("Accidents per day by road condition and season")
        ax.legend(ncol=3, fontsize=8)
        fig.tight_layout()
        body += self.save(fig, "q2_conditions_by_season.png", "Accidents per day by road condition and season")
        body += table(["month", "icy/snowy/slushy share", "dry share", "wet share"],
                      [(m, pct(adverse[m]), pct(share[m]["dry"]), pct(share[m]["wet"])) for m in ms])
        self.data["questions"]["q2_road_conditions"] = q
        self.sections.append(("2. Do accidents follow road conditions; which times of year are worse?", answer, body))

    # -- Q3 -------------------------------------------------------------------
    def q3_where(self):
        import numpy as np
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm
        self.spark.sql(f"""CREATE OR REPLACE TEMP VIEW sr_loc AS
            SELECT *, CASE
              WHEN longitude IS NULL OR latitude IS NULL THEN 'missing'
              WHEN longitude BETWEEN {LAT_MIN - 1} AND {LAT_MAX + 1} THEN 'swapped'
              WHEN latitude BETWEEN {LAT_MIN} AND {LAT_MAX} AND longitude BETWEEN {LON_MIN} AND {LON_MAX} THEN 'ok'
              ELSE 'outside' END loc_state
            FROM sr""")
        states = {r.s: r.n for r in self.sql("q3_coord_states", "SELECT loc_state s, count(*) n FROM sr_loc GROUP BY 1")}
        total = sum(states.values())

        def by(col, name):
            rows = self.sql(f"q3_by_{name}", f"""
                SELECT {col} k, count(*) n FROM sr WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY n DESC, k""")
            known = sum(r.n for r in rows)
            return [{"name": r.k, "calls": r.n, "share": rnd(r.n / known, 4)} for r in rows], known
        council, n_council = by("council_district", "council_district")
        police, n_police = by("police_district", "police_district")
        hood, n_hood = by("neighborhood", "neighborhood")
        cells = self.sql("q3_grid", f"""
            SELECT floor((latitude - {LAT_MIN}) / {CELL_LAT}) i, floor((longitude - ({LON_MIN})) / {CELL_LON}) j, count(*) n
            FROM sr_loc WHERE loc_state = 'ok' GROUP BY 1, 2""")
        ni = int(math.ceil((LAT_MAX - LAT_MIN) / CELL_LAT))
        nj = int(math.ceil((LON_MAX - LON_MIN) / CELL_LON))
        grid = np.zeros((ni, nj))
        for c in cells:
            grid[min(int(c.i), ni - 1), min(int(c.j), nj - 1)] += c.n
        self.sr_cells = {(int(c.i), int(c.j)): c.n for c in cells}
        top_cells = sorted(self.sr_cells.items(), key=lambda t: -t[1])[:10]
        q = {"calls": total, "coordinates": states, "by_council_district": council,
             "by_police_district": police, "by_neighborhood": hood[:50],
             "neighborhood_filled_share": rnd(n_hood / total if total else 0, 4),
             "grid": {"cell_deg_lat": CELL_LAT, "cell_deg_lon": CELL_LON, "cells_with_calls": len(cells),
                      "box": [LAT_MIN, LAT_MAX, LON_MIN, LON_MAX],
                      "top_cells": [{"lat": rnd(LAT_MIN + (i + .5) * CELL_LAT, 4), "lon": rnd(LON_MIN + (j + .5) * CELL_LON, 4),
                                     "calls": n} for (i, j), n in top_cells]}}
        parts = []
        if council:
            top2 = council[:2]
            parts.append("council district " + " and ".join(f"{d['name']} ({d['share']:.0%})" for d in top2)
                         + f" receive the most calls of the {n_council} with a council district, "
                         f"district {council[-1]['name']} the fewest ({council[-1]['share']:.0%})")
        if hood:
            parts.append(f"the busiest neighborhoods are {', '.join(h['name'] for h in hood[:3])}")
        if top_cells:
            (i, j), n = top_cells[0]
            parts.append(f"the densest ~1 km cell is around {LAT_MIN + (i + .5) * CELL_LAT:.3f} N, "
                         f"{-(LON_MIN + (j + .5) * CELL_LON):.3f} W with {n} calls")
        ok = states.get("ok", 0)
        parts.append(f"{ok} of {total} calls have usable coordinates ({states.get('swapped', 0)} with the latitude "
                     f"in the longitude column, {states.get('missing', 0)} without, {states.get('outside', 0)} outside Denver)")
        answer = ("311 calls are unevenly spread: " + "; ".join(parts) + ".") if total else "Cannot tell: no 311 data."
        q["answer"] = answer
        fig, ax = plt.subplots(figsize=(8, 6.2))
        masked = np.ma.masked_where(grid == 0, grid)
        im = ax.imshow(masked, origin="lower", extent=[LON_MIN, LON_MAX, LAT_MIN, LAT_MAX], cmap="inferno_r",
                       norm=LogNorm(vmin=1, vmax=max(grid.max(), 2)), interpolation="nearest",
                       aspect=1 / math.cos(math.radians(39.75)))
        ax.set_facecolor("#eef0f2")
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.set_title("311 service calls per ~1 km cell")
        fig.colorbar(im, ax=ax, label="calls (log scale)", shrink=0.8)
        fig.tight_layout()
        body = self.save(fig, "q3_311_heatmap.png", "311 calls on a latitude/longitude grid (map-like heat chart)")
        if council:
            fig, ax = plt.subplots(figsize=(7, 3.2))
            srt = sorted(council, key=lambda d: _num(d["name"]))
            ax.bar([str(d["name"]) for d in srt], [d["calls"] for d in srt], color="#8c3b5a")
            ax.set_xlabel("council district")
            ax.set_ylabel("calls")
            ax.set_title("311 calls by council district")
            fig.tight_layout()
            body += self.save(fig, "q3_council_districts.png", "311 calls by council district")
        body += table(["council district", "calls", "share"], [(d["name"], d["calls"], pct(d["share"])) for d in council])
        body += table(["police district", "calls", "share"], [(d["name"], d["calls"], pct(d["share"])) for d in police])
        if hood:
            body += table(["neighborhood (top 15)", "calls", "share"], [(d["name"], d["calls"], pct(d["share"])) for d in hood[:TOP_N]])
        else:
            body += "<p>The files leave Neighborhood empty, so there is no neighborhood table.</p>"
        self.data["questions"]["q3_where_311"] = q
        self.sections.append(("3. Where do 311 service calls occur?", answer, body))

    # -- Q4 -------------------------------------------------------------------
    def q4_same_areas(self):
        import matplotlib.pyplot as plt
        # timestamps stay in SQL: collected ones would come back in the
        # Python process's zone, not the session's
        span = self.sql("q4_span", """SELECT date_format(min(case_created_dttm), 'yyyy-MM-dd') lo,
            date_format(max(case_created_dttm), 'yyyy-MM-dd') hi FROM sr""")[0]
        where = ("reported_date BETWEEN (SELECT min(case_created_dttm) FROM sr) "
                 "AND (SELECT max(case_created_dttm) FROM sr)")
        overlap = self.sql("q4_overlap", f"SELECT count(*) n FROM traffic WHERE {where}")[0].n
        if overlap == 0:
            where = "true"
        tc = self.sql("q4_traffic_grid", f"""
            SELECT floor((geo_lat - {LAT_MIN}) / {CELL_LAT}) i, floor((geo_lon - ({LON_MIN})) / {CELL_LON}) j, count(*) n
            FROM traffic WHERE {where} AND geo_lat BETWEEN {LAT_MIN} AND {LAT_MAX}
              AND geo_lon BETWEEN {LON_MIN} AND {LON_MAX} GROUP BY 1, 2""")
        t_cells = {(int(r.i), int(r.j)): r.n for r in tc}
        keys = sorted(set(t_cells) | set(self.sr_cells))
        x = [self.sr_cells.get(k, 0) for k in keys]
        y = [t_cells.get(k, 0) for k in keys]
        grid_corr = corr_block(x, y)
        # neighborhoods, when both datasets name them (traffic uses slugs)
        hoods = self.sql("q4_neighborhoods", f"""
            SELECT s.k, s.n sr, t.n tr FROM
              (SELECT regexp_replace(lower(trim(neighborhood)), '[^a-z0-9]+', '-') k, count(*) n FROM sr
               WHERE neighborhood IS NOT NULL GROUP BY 1) s
            JOIN
              (SELECT regexp_replace(lower(trim(neighborhood_id)), '[^a-z0-9]+', '-') k, count(*) n FROM traffic
               WHERE {where} AND neighborhood_id IS NOT NULL GROUP BY 1) t
            ON s.k = t.k""")
        hood_corr = corr_block([r.sr for r in hoods], [r.tr for r in hoods]) if len(hoods) >= 3 else None
        period = f"between {span.lo} and {span.hi}" if overlap else "over all dates (the two datasets do not overlap in time)"
        q = {"period": {"from": str(span.lo), "to": str(span.hi), "overlap_used": overlap > 0},
             "traffic_in_period": overlap, "grid_cells": grid_corr,
             "neighborhoods": hood_corr,
             "cells": [{"i": k[0], "j": k[1], "sr311": a, "traffic": b} for k, a, b in zip(keys, x, y)]}
        r_, rho = grid_corr["pearson"], grid_corr["spearman"]
        verdict = ("Yes, largely" if (rho or 0) >= 0.6 else "Partly" if (rho or 0) >= 0.3 else "Not much")
        answer = (f"{verdict}: on {grid_corr['n']} grid cells of about 1 km with activity in either dataset {period}, "
                  f"311 calls and traffic accidents per cell correlate with Pearson r = {fmt_r(r_)} and "
                  f"Spearman rho = {fmt_r(rho)}")
        if hood_corr:
            answer += (f"; across {hood_corr['n']} neighborhoods named in both, Pearson r = {fmt_r(hood_corr['pearson'])}, "
                       f"Spearman rho = {fmt_r(hood_corr['spearman'])}")
        answer += "."
        q["answer"] = answer
        fig, ax = plt.subplots(figsize=(6.4, 5))
        ax.scatter([a + 1 for a in x], [b + 1 for b in y], s=10, alpha=.55, color="#1f5fa8", edgecolors="none")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("311 calls per cell (+1)")
        ax.set_ylabel("traffic accidents per cell (+1)")
        ax.set_title(f"Same ~1 km cells: r = {fmt_r(r_)}, rho = {fmt_r(rho)}, n = {grid_corr['n']}")
        ax.grid(alpha=.3, which="both")
        fig.tight_layout()
        body = self.save(fig, "q4_scatter.png", "311 calls vs traffic accidents on the same grid cells")
        rows = [("grid cells (~1 km)", grid_corr["n"], fmt_r(r_), fmt_r(rho), fmt_r(grid_corr["pearson_log"]))]
        if hood_corr:
            rows.append(("neighborhoods", hood_corr["n"], fmt_r(hood_corr["pearson"]), fmt_r(hood_corr["spearman"]),
                         fmt_r(hood_corr["pearson_log"])))
        body += table(["areas", "n", "Pearson r", "Spearman rho", "Pearson r of log(1+count)"], rows)
        self.data["questions"]["q4_same_areas"] = q
        self.sections.append(("4. Do those areas have a similar number of traffic accidents?", answer, body))

    # -- Q5 -------------------------------------------------------------------
    def q5_close_times(self):
        import matplotlib.pyplot as plt
        self.spark.sql("""CREATE OR REPLACE TEMP VIEW sr_close AS
            SELECT agency, case_summary, type,
                   (unix_timestamp(case_closed_dttm) - unix_timestamp(case_created_dttm)) / 3600D h
            FROM sr WHERE case_closed_dttm IS NOT NULL AND case_closed_dttm >= case_created_dttm""")

        def stats(col, name, limit):
            rows = self.sql(f"q5_by_{name}", f"""
                SELECT {col} k, count(*) n, percentile_approx(h, 0.5, 10000) med, percentile_approx(h, 0.9, 10000) p90
                FROM sr_close WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY n DESC LIMIT {limit}""")
            return [{"name": r.k, "closed": r.n, "median_hours": rnd(r.med, 2), "p90_hours": rnd(r.p90, 2)} for r in rows]
        overall = self.sql("q5_overall", """
            SELECT count(*) n, percentile_approx(h, 0.5, 10000) med, percentile_approx(h, 0.9, 10000) p90 FROM sr_close""")[0]
        still_open = self.sql("q5_open", "SELECT count(*) n FROM sr WHERE case_closed_dttm IS NULL")[0].n
        agency = stats("agency", "agency", 40)
        summary = stats("case_summary", "case_summary", TOP_N)
        q = {"closed": overall.n, "open": still_open, "median_hours": rnd(overall.med, 2), "p90_hours": rnd(overall.p90, 2),
             "by_agency": agency, "by_case_summary": summary}
        if overall.n:
            big = [a for a in agency if a["closed"] >= 20] or agency
            slow = max(big, key=lambda a: a["median_hours"])
            fast = min(big, key=lambda a: a["median_hours"])
            answer = (f"Half of the {overall.n} closed 311 cases closed within {human_hours(overall.med)} and 90% within "
                      f"{human_hours(overall.p90)} ({still_open} still open); by agency, {slow['name']} is slowest "
                      f"(median {human_hours(slow['median_hours'])}, 90th percentile {human_hours(slow['p90_hours'])}) and "
                      f"{fast['name']} fastest (median {human_hours(fast['median_hours'])}).")
        else:
            answer = "Cannot tell: no closed 311 case."
        q["answer"] = answer
        body = ""
        if agency:
            fig, ax = plt.subplots(figsize=(9, 0.32 * len(agency) + 1.2))
            srt = sorted(agency, key=lambda a: a["median_hours"])
            names = [a["name"][:45] for a in srt]
            ax.barh(names, [a["median_hours"] / 24 for a in srt], color="#3b7a57", label="median")
            ax.scatter([a["p90_hours"] / 24 for a in srt], names, color="#b03a2e", zorder=3, label="90th percentile", s=14)
            ax.set_xscale("symlog", linthresh=0.1)
            ax.set_xlabel("days to close")
            ax.set_title("Time to close 311 cases by agency")
            ax.legend(fontsize=8)
            fig.tight_layout()
            body += self.save(fig, "q5_close_by_agency.png", "Time to close 311 cases by agency (median and p90)")
        body += table(["agency", "closed cases", "median", "90th percentile"],
                      [(a["name"], a["closed"], human_hours(a["median_hours"]), human_hours(a["p90_hours"])) for a in agency])
        body += table(["case type (top 15)", "closed cases", "median", "90th percentile"],
                      [(a["name"], a["closed"], human_hours(a["median_hours"]), human_hours(a["p90_hours"])) for a in summary])
        self.data["questions"]["q5_close_times"] = q
        self.sections.append(("5. How long do 311 cases take to close?", answer, body))

    # -- page -----------------------------------------------------------------
    def banner(self):
        gen = {n: d.get("generated_share", 0) for n, d in self.data["datasets"].items() if d.get("rows")}
        synthetic = {n: s for n, s in gen.items() if s}
        self.data["generated"] = bool(synthetic) or bool(self.args.label)
        self.data["generated_share"] = synthetic
        msgs = []
        if synthetic:
            msgs.append("GENERATED DATA: " + ", ".join(f"{s:.0%} of {n} rows" for n, s in synthetic.items())
                        + " come from files labelled generated (synthetic, made by data/generate.py). "
                          "The numbers below describe that synthetic data, not Denver.")
        if self.args.label:
            msgs.append(self.args.label)
        return "".join(f'<p class="banner">{html.escape(m)}</p>' for m in msgs)

    def write_html(self):
        ds_rows = [(n, d.get("rows", 0), d.get("first_event", "")[:10], d.get("last_event", "")[:10],
                    d.get("last_seen", ""), pct(d.get("generated_share"))) for n, d in self.data["datasets"].items()]
        parts = [f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>denverd report {html.escape(self.args.exec_date)}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; max-width: 1040px; margin: 2em auto; padding: 0 1em; color: #222; }}
h1 {{ font-size: 1.5em; }} h2 {{ font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }}
.answer {{ background: #f3f6fa; border-left: 4px solid #1f5fa8; padding: .6em .9em; }}
.banner {{ background: #fff3cd; border: 1px solid #e0b000; padding: .6em .9em; font-weight: 600; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 13px; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; }} figcaption {{ font-size: 12px; color: #555; }}
</style></head><body>
<h1>Denver traffic accidents and 311 service requests: report for {html.escape(self.args.exec_date)}</h1>
{self.banner()}
{table(["dataset", "rows", "first event", "last event", "last snapshot", "generated share"], ds_rows)}
"""]
        for title, answer, body in self.sections:
            parts.append(f'<h2>{html.escape(title)}</h2>\n<p class="answer">{html.escape(answer)}</p>\n{body}\n')
        parts.append("<p><small>Made by jobs/report.py with Spark SQL over the Parquet datastore; "
                     "numbers in report.json.</small></p>\n"
                     # lets a headless browser test see how many images really loaded
                     "<script>addEventListener('load', () => { document.body.dataset.imagesLoaded = "
                     "[...document.images].filter(i => i.complete && i.naturalWidth > 0).length; "
                     "document.body.dataset.images = document.images.length; });</script>\n"
                     "</body></html>\n")
        with open(os.path.join(self.dir, "index.html"), "w", encoding="utf-8") as f:
            f.write("".join(parts))
        self.data["charts"] = [{"file": n, "caption": c} for n, c in self.charts]
        self.data["answers"] = {k: v.get("answer") for k, v in self.data["questions"].items()}
        with open(os.path.join(self.dir, "report.json"), "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=1, default=str)
            f.write("\n")


def _num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return float("inf")


def fmt_num(v):
    return "" if v is None else f"{v:.2f}"


def pct(v):
    return "" if v is None else f"{v:.1%}"


def table(head, rows):
    def cell(v):
        cls = ' class="n"' if isinstance(v, (int, float)) else ""
        return f"<td{cls}>{html.escape(str(v))}</td>"
    h = "".join(f"<th>{html.escape(str(x))}</th>" for x in head)
    b = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{b}</table>\n"


# ---------------------------------------------------------------------------
TRAFFIC_COLS = ["reported_date", "geo_lat", "geo_lon", "road_condition", "neighborhood_id", "district_id",
                "source_file", "first_seen", "last_seen"]
SR_COLS = ["case_created_dttm", "case_closed_dttm", "latitude", "longitude", "council_district",
           "police_district", "neighborhood", "agency", "case_summary", "type", "source_file",
           "first_seen", "last_seen"]


def build(spark, args):
    """Compute everything into a temp dir, then swap it into args.out."""
    import matplotlib
    matplotlib.use("Agg")
    t0 = time.monotonic()
    spark.conf.set("spark.sql.session.timeZone", args.timezone)
    out = os.path.abspath(args.out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(out)}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        rep = Report(spark, args, tmp)
        has_t = rep.load(args.traffic, "traffic", TRAFFIC_COLS)
        has_s = rep.load(args.sr311, "sr", SR_COLS)
        if has_t:
            rep.q1_seasonality()
            rep.q2_conditions()
        if has_s:
            rep.q3_where()
            rep.q5_close_times()
        if has_t and has_s:
            rep.q4_same_areas()
        for name, have in ((args.traffic, has_t), (args.sr311, has_s)):
            if not have:
                rep.sections.append((f"No data for {name}", f"The datastore holds no {name} rows yet, "
                                     "so the questions that need it are not answered.", ""))
        rep.sections.sort(key=lambda s: s[0])
        rep.data["report_seconds"] = round(time.monotonic() - t0, 3)
        rep.banner()
        rep.write_html()
        for view in ("traffic", "sr"):
            spark.catalog.dropTempView(view)
        old = None
        if os.path.exists(out):
            old = os.path.join(parent, f".{os.path.basename(out)}.old-{os.getpid()}")
            os.rename(out, old)
        os.rename(tmp, out)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return rep.data


def main(argv=None, spark=None):
    ap = argparse.ArgumentParser(prog="report.py", description="Build the HTML/JSON report from the datastore.")
    ap.add_argument("--exec-date", required=True, type=dt.date.fromisoformat)
    ap.add_argument("--out", required=True, help="output directory (replaced whole)")
    ap.add_argument("--datastore", help="default: <--out>/../../datastore")
    ap.add_argument("--timezone", default="America/Denver", help="for months and weeks (default America/Denver)")
    ap.add_argument("--traffic", default=TRAFFIC, help=f"traffic dataset name (default {TRAFFIC})")
    ap.add_argument("--sr311", default=SR311, help=f"311 dataset name (default {SR311})")
    ap.add_argument("--label", default="", help="a notice shown on top of the page (e.g. 'demo data')")
    args = ap.parse_args(argv)
    args.exec_date = args.exec_date.isoformat()
    if not args.datastore:
        args.datastore = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.out))), "datastore")
    if spark is None:
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.appName("denverd-report").getOrCreate()
    data = build(spark, args)
    log(f"{args.out}: {len(data['charts'])} charts, {data['report_seconds']} s")
    for k, v in data["answers"].items():
        log(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
