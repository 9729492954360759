"""Statistics and the one plain sentence answering each question.

Each question function takes what its namesake in queries.py returned and
gives an `Answer`: everything report.json records for the question (its
``questions.<key>`` object, ``answer`` the last key) plus what the charts
need beyond that.  Pure Python and numpy: no Spark, no files, so the
numbers and sentences can be checked on hand-made rows (any objects with
the Row field names queries.py documents).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from .common import CELL_LAT, CELL_LON, CONDITIONS, LAT_MAX, LAT_MIN, LON_MAX, LON_MIN, MONTHS, fmt_r, human_hours, rnd


@dataclass
class Answer:
    """One answered question.  `key` names it in report.json, `title` is
    its heading on the page (sections are ordered by it), `data` is its
    report.json object (``data["answer"]`` the sentence), `extra` holds
    chart inputs report.json does not keep."""

    key: str
    title: str
    data: dict
    extra: dict = field(default_factory=dict)

    @property
    def text(self):
        """The one-sentence answer."""
        return self.data["answer"]


# ---------------------------------------------------------------------------
# Small statistics (the inputs are a few thousand numbers)
def pearson(x, y):
    """Pearson's r of two equal-length sequences; None for fewer than 3
    pairs or a constant side."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def ranks(v):
    """Ranks 1..n, ties sharing their average rank."""
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
    """Spearman's rho (Pearson's r of the ranks); None for fewer than 3 pairs."""
    if len(x) < 3:
        return None
    return pearson(ranks(x), ranks(y))


def corr_block(x, y):
    """report.json's correlation object of two count sequences: n, pearson,
    spearman and pearson_log (Pearson's r of log(1 + count)), 3 decimals."""
    return {"n": len(x), "pearson": rnd(pearson(x, y)), "spearman": rnd(spearman(x, y)),
            "pearson_log": rnd(pearson([math.log1p(a) for a in x], [math.log1p(b) for b in y]))}


def cell_centre(i, j):
    """(latitude, longitude) of the centre of grid cell (i, j)."""
    return LAT_MIN + (i + .5) * CELL_LAT, LON_MIN + (j + .5) * CELL_LON


# ---------------------------------------------------------------------------
def seasonality(rows):
    """Q1 from queries.seasonality.  The seasonal index of a calendar month
    is its count over its year's mean month, averaged over the complete
    years (all years when none is complete); year-over-year change compares
    the same months of consecutive years."""
    counts = {(r.y, r.m): r.n for r in rows["monthly"]}
    weekly = rows["weekly"]
    years = sorted({y for y, _ in counts})
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
    return Answer("q1_seasonality", "1. Do traffic accidents vary over the year?", q)


def road_conditions(rows):
    """Q2 from queries.road_conditions: each condition's share per calendar
    month, accidents per day by season and condition, and the correlation
    over (year, month) of the accident count with the share of icy, snowy or
    slushy roads.  Without any recorded condition only the row counts and
    the raw values are kept."""
    by_month = rows["by_month"]
    n_known = sum(r.n for r in by_month)
    q = {"rows_with_condition": n_known, "raw_values": [{"value": r.v, "n": r.n} for r in rows["values"]]}
    if not n_known:
        q["answer"] = ("Cannot tell: no accident in the datastore records a road condition "
                       "(the 2014-2017 files have no such column).")
        return Answer("q2_road_conditions", "2. Do accidents follow road conditions?", q)
    tot_m = {}
    cnt = {}
    for r in by_month:
        tot_m[r.m] = tot_m.get(r.m, 0) + r.n
        cnt[(r.m, r.cond)] = r.n
    share = {MONTHS[m - 1]: {c: rnd(cnt.get((m, c), 0) / tot_m[m], 4) for c in CONDITIONS}
             for m in range(1, 13) if m in tot_m}
    # accidents per day by condition and season (days = calendar days covered)
    days = rows["season_days"]
    per_season = {}
    for r in rows["by_season"]:
        per_season.setdefault(r.season, {})[r.cond] = {"accidents": r.n, "per_day": rnd(r.n / days[r.season], 3)}
    # month-level correlation: accidents vs icy/snowy share, per (year, month)
    ym = rows["year_month"]
    corr = corr_block([r.bad for r in ym], [r.n for r in ym])
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
    parts.append(f"worst months for road conditions: {', '.join(q['worst_months'])}; "
                 f"best: {', '.join(q['best_months'])}")
    answer = "; ".join(parts)
    q["answer"] = answer[0].upper() + answer[1:] + "."
    return Answer("q2_road_conditions", "2. Do accidents follow road conditions; which times of year are worse?", q)


def _shares(rows):
    """(k, n) rows -> ([{name, calls, share}], total calls)."""
    known = sum(r.n for r in rows)
    return [{"name": r.k, "calls": r.n, "share": rnd(r.n / known, 4)} for r in rows], known


def where_311(rows):
    """Q3 from queries.where_311: calls by council district, police district
    and neighborhood with their shares, the densest grid cells, and how many
    coordinates are usable.  ``extra["cells"]`` is {(i, j): calls} of every
    cell with calls (Q4 and the heat map use it)."""
    states = rows["coord_states"]
    total = sum(states.values())
    council, n_council = _shares(rows["council_district"])
    police, _ = _shares(rows["police_district"])
    hood, n_hood = _shares(rows["neighborhood"])
    cells = {(int(c.i), int(c.j)): c.n for c in rows["grid"]}
    top_cells = sorted(cells.items(), key=lambda t: -t[1])[:10]
    q = {"calls": total, "coordinates": states, "by_council_district": council,
         "by_police_district": police, "by_neighborhood": hood[:50],
         "neighborhood_filled_share": rnd(n_hood / total if total else 0, 4),
         "grid": {"cell_deg_lat": CELL_LAT, "cell_deg_lon": CELL_LON, "cells_with_calls": len(rows["grid"]),
                  "box": [LAT_MIN, LAT_MAX, LON_MIN, LON_MAX],
                  "top_cells": [{"lat": rnd(cell_centre(i, j)[0], 4), "lon": rnd(cell_centre(i, j)[1], 4),
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
        lat, lon = cell_centre(i, j)
        parts.append(f"the densest ~1 km cell is around {lat:.3f} N, {-lon:.3f} W with {n} calls")
    ok = states.get("ok", 0)
    parts.append(f"{ok} of {total} calls have usable coordinates ({states.get('swapped', 0)} with the latitude "
                 f"in the longitude column, {states.get('missing', 0)} without, "
                 f"{states.get('outside', 0)} outside Denver)")
    q["answer"] = ("311 calls are unevenly spread: " + "; ".join(parts) + ".") if total else "Cannot tell: no 311 data."
    return Answer("q3_where_311", "3. Where do 311 service calls occur?", q, {"cells": cells})


def same_areas(rows, sr_cells):
    """Q4 from queries.same_areas and Q3's ``extra["cells"]``: both datasets
    counted on every grid cell with activity in either (0 where one has
    none), correlated; the same for neighborhoods when at least 3 are named
    in both (else None)."""
    span, overlap = rows["span"], rows["overlap"]
    t_cells = {(int(r.i), int(r.j)): r.n for r in rows["traffic_grid"]}
    keys = sorted(set(t_cells) | set(sr_cells))
    x = [sr_cells.get(k, 0) for k in keys]
    y = [t_cells.get(k, 0) for k in keys]
    grid_corr = corr_block(x, y)
    hoods = rows["neighborhoods"]
    hood_corr = corr_block([r.sr for r in hoods], [r.tr for r in hoods]) if len(hoods) >= 3 else None
    if overlap:
        period = f"between {span.lo} and {span.hi}"
    else:
        period = "over all dates (the two datasets do not overlap in time)"
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
        answer += (f"; across {hood_corr['n']} neighborhoods named in both, "
                   f"Pearson r = {fmt_r(hood_corr['pearson'])}, Spearman rho = {fmt_r(hood_corr['spearman'])}")
    q["answer"] = answer + "."
    return Answer("q4_same_areas", "4. Do those areas have a similar number of traffic accidents?", q)


def _close_stats(rows):
    """(k, n, med, p90) rows -> [{name, closed, median_hours, p90_hours}]."""
    return [{"name": r.k, "closed": r.n, "median_hours": rnd(r.med, 2), "p90_hours": rnd(r.p90, 2)} for r in rows]


def close_times(rows):
    """Q5 from queries.close_times: median and 90th percentile hours to
    close, overall, by agency and by case type.  The slowest and fastest
    agency are chosen by median among those with at least 20 closed cases
    (all of them when none has)."""
    overall, still_open = rows["overall"], rows["open"]
    agency = _close_stats(rows["agency"])
    summary = _close_stats(rows["case_summary"])
    q = {"closed": overall.n, "open": still_open, "median_hours": rnd(overall.med, 2),
         "p90_hours": rnd(overall.p90, 2), "by_agency": agency, "by_case_summary": summary}
    if overall.n:
        big = [a for a in agency if a["closed"] >= 20] or agency
        slow = max(big, key=lambda a: a["median_hours"])
        fast = min(big, key=lambda a: a["median_hours"])
        answer = (f"Half of the {overall.n} closed 311 cases closed within {human_hours(overall.med)} and 90% within "
                  f"{human_hours(overall.p90)} ({still_open} still open); by agency, {slow['name']} is slowest "
                  f"(median {human_hours(slow['median_hours'])}, 90th percentile {human_hours(slow['p90_hours'])}) "
                  f"and {fast['name']} fastest (median {human_hours(fast['median_hours'])}).")
    else:
        answer = "Cannot tell: no closed 311 case."
    q["answer"] = answer
    return Answer("q5_close_times", "5. How long do 311 cases take to close?", q)
