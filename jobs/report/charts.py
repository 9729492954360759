"""matplotlib PNG charts of each answered question.

`render` draws the charts of one `answers.Answer` from its report.json data
(and ``extra``), writes them as PNG files (90 dpi) into the output directory
and returns their (file name, caption) pairs in the order the page shows
them.  Nothing else is written; the figures are closed.  Call `headless`
once before the first chart.
"""

import datetime as dt
import math
import os

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from .common import CELL_LAT, CELL_LON, CONDITIONS, LAT_MAX, LAT_MIN, LON_MAX, LON_MIN, MONTHS, SEASONS, fmt_r

COND_COLORS = {"dry": "#d9c27a", "wet": "#5c9bd1", "snowy": "#c7d9ee", "icy": "#274f8c", "slushy": "#8fa7b8",
               "other": "#999999"}


def headless():
    """Draw without a display (the Agg backend)."""
    matplotlib.use("Agg")


def _save(fig, outdir, name, caption, made):
    """Write `fig` to outdir/name, close it, append (name, caption) to `made`."""
    fig.savefig(os.path.join(outdir, name), dpi=90)
    plt.close(fig)
    made.append((name, caption))


def _num(s):
    """`s` as a number for sorting; non-numbers last."""
    try:
        return float(s)
    except (TypeError, ValueError):
        return float("inf")


def seasonality(q, extra, outdir, made):
    """Q1: accidents per month (line), seasonal index (bars, winter darker),
    accidents per ISO week and year (heat map)."""
    monthly = q["monthly"]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    xs = [dt.date(r["year"], r["month"], 15) for r in monthly]
    ax.plot(xs, [r["accidents"] for r in monthly], lw=1.2, color="#1f5fa8")
    ax.set_title("Traffic accidents per month")
    ax.set_ylabel("accidents")
    ax.grid(alpha=.3)
    fig.tight_layout()
    _save(fig, outdir, "q1_monthly.png", "Traffic accidents per month, all years", made)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.bar(MONTHS, [s or 0 for s in q["seasonal_index"].values()],
           color=["#6d9ecf" if SEASONS[m + 1] != "winter" else "#1f5fa8" for m in range(12)])
    ax.axhline(1.0, color="k", lw=.8)
    ax.set_title("Seasonal index (1 = an average month)")
    fig.tight_layout()
    _save(fig, outdir, "q1_seasonal_index.png", "Seasonal index per calendar month", made)
    weekly = q["weekly"]
    wk_years = sorted({r["year"] for r in weekly})
    grid = np.full((len(wk_years), 53), np.nan)
    for r in weekly:
        grid[wk_years.index(r["year"]), r["iso_week"] - 1] = r["accidents"]
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(wk_years) + 1.4))
    im = ax.imshow(grid, aspect="auto", cmap="magma_r", interpolation="nearest")
    ax.set_yticks(range(len(wk_years)), [str(y) for y in wk_years])
    ax.set_xlabel("ISO week")
    ax.set_title("Accidents per ISO week (year of the date)")
    fig.colorbar(im, ax=ax, pad=0.01)
    fig.tight_layout()
    _save(fig, outdir, "q1_weekly.png", "Accidents per ISO week and year", made)


def road_conditions(q, extra, outdir, made):
    """Q2 (none without recorded conditions): condition shares by month
    (stacked bars), accidents per day by condition and season."""
    if "share_by_month" not in q:
        return
    share, per_season = q["share_by_month"], q["by_season"]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    ms = [m for m in MONTHS if m in share]
    bottom = [0.0] * len(ms)
    for c in CONDITIONS:
        vals = [share[m][c] for m in ms]
        ax.bar(ms, vals, bottom=bottom, label=c, color=COND_COLORS[c])
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylim(0, 1)
    ax.set_title("Road condition recorded at accidents, share by month")
    ax.legend(ncol=6, fontsize=8, loc="lower center")
    fig.tight_layout()
    _save(fig, outdir, "q2_conditions_by_month.png", "Share of road conditions by month", made)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    seasons = [s for s in ("winter", "spring", "summer", "autumn") if s in per_season]
    width = 0.8 / len(CONDITIONS)
    for i, c in enumerate(CONDITIONS):
        ax.bar([j + i * width for j in range(len(seasons))],
               [per_season[s].get(c, {}).get("per_day", 0) for s in seasons], width, label=c, color=COND_COLORS[c])
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(seasons))], seasons)
    ax.set_ylabel("accidents per day")
    ax.set_title("Accidents per day by road condition and season")
    ax.legend(ncol=3, fontsize=8)
    fig.tight_layout()
    _save(fig, outdir, "q2_conditions_by_season.png", "Accidents per day by road condition and season", made)


def where_311(q, extra, outdir, made):
    """Q3: calls per grid cell over the city's box (log-scale heat map,
    cells past the box's edge counted in the last row/column), calls by
    council district (bars, when any)."""
    ni = int(math.ceil((LAT_MAX - LAT_MIN) / CELL_LAT))
    nj = int(math.ceil((LON_MAX - LON_MIN) / CELL_LON))
    grid = np.zeros((ni, nj))
    for (i, j), n in extra["cells"].items():
        grid[min(i, ni - 1), min(j, nj - 1)] += n
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
    _save(fig, outdir, "q3_311_heatmap.png", "311 calls on a latitude/longitude grid (map-like heat chart)", made)
    council = q["by_council_district"]
    if council:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        srt = sorted(council, key=lambda d: _num(d["name"]))
        ax.bar([str(d["name"]) for d in srt], [d["calls"] for d in srt], color="#8c3b5a")
        ax.set_xlabel("council district")
        ax.set_ylabel("calls")
        ax.set_title("311 calls by council district")
        fig.tight_layout()
        _save(fig, outdir, "q3_council_districts.png", "311 calls by council district", made)


def same_areas(q, extra, outdir, made):
    """Q4: 311 calls against traffic accidents per grid cell (log-log scatter)."""
    x = [c["sr311"] for c in q["cells"]]
    y = [c["traffic"] for c in q["cells"]]
    g = q["grid_cells"]
    fig, ax = plt.subplots(figsize=(6.4, 5))
    ax.scatter([a + 1 for a in x], [b + 1 for b in y], s=10, alpha=.55, color="#1f5fa8", edgecolors="none")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("311 calls per cell (+1)")
    ax.set_ylabel("traffic accidents per cell (+1)")
    ax.set_title(f"Same ~1 km cells: r = {fmt_r(g['pearson'])}, rho = {fmt_r(g['spearman'])}, n = {g['n']}")
    ax.grid(alpha=.3, which="both")
    fig.tight_layout()
    _save(fig, outdir, "q4_scatter.png", "311 calls vs traffic accidents on the same grid cells", made)


def close_times(q, extra, outdir, made):
    """Q5 (when any agency closed a case): median (bars) and 90th percentile
    (dots) days to close by agency, symlog scale."""
    agency = q["by_agency"]
    if not agency:
        return
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
    _save(fig, outdir, "q5_close_by_agency.png", "Time to close 311 cases by agency (median and p90)", made)


CHARTS = {"q1_seasonality": seasonality, "q2_road_conditions": road_conditions, "q3_where_311": where_311,
          "q4_same_areas": same_areas, "q5_close_times": close_times}


def render(answer, outdir):
    """Write the charts of `answer` into `outdir`; returns [(file, caption)]."""
    made = []
    CHARTS[answer.key](answer.data, answer.extra, outdir, made)
    return made
