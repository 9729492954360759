"""The report's output: index.html, report.json and the directory swap.

index.html is self-contained (inline CSS, tables, ``<img>`` of the PNGs
next to it); report.json holds every number.  `staged` makes the output
appear whole or not at all.  The questions' tables are built here from
their report.json data, so the page shows what report.json says.
"""

import contextlib
import html
import json
import os
import shutil

from .common import MONTHS, TOP_N, fmt_r, human_hours


def fmt_num(v):
    """Two decimals; "" for None."""
    return "" if v is None else f"{v:.2f}"


def pct(v):
    """A share as a percentage with one decimal; "" for None."""
    return "" if v is None else f"{v:.1%}"


def table(head, rows):
    """An HTML table: `head` the header cells, `rows` sequences of values
    (numbers right-aligned); every value escaped."""
    def cell(v):
        cls = ' class="n"' if isinstance(v, (int, float)) else ""
        return f"<td{cls}>{html.escape(str(v))}</td>"
    h = "".join(f"<th>{html.escape(str(x))}</th>" for x in head)
    b = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{b}</table>\n"


def figure(name, caption):
    """The <figure> of one chart file next to index.html."""
    return (f'<figure><img src="{name}" alt="{html.escape(caption)}">'
            f'<figcaption>{html.escape(caption)}</figcaption></figure>')


# -- the tables under each question's charts (from its report.json data) ------
def _seasonality(q):
    seasonal = list(q["seasonal_index"].values())
    yoy = q["year_over_year"]
    return (table(["month", "seasonal index"], [(MONTHS[m], fmt_num(seasonal[m])) for m in range(12)])
            + table(["year", "accidents", "months with data", "change vs same months a year before"],
                    [(y["year"], y["accidents"], y["months"], pct(y["change_same_months"])) for y in yoy][-8:]))


def _road_conditions(q):
    if "share_by_month" not in q:
        return ""
    share, adverse = q["share_by_month"], q["adverse_share_by_month"]
    return table(["month", "icy/snowy/slushy share", "dry share", "wet share"],
                 [(m, pct(adverse[m]), pct(share[m]["dry"]), pct(share[m]["wet"])) for m in MONTHS if m in share])


def _where_311(q):
    def rows(ds):
        return [(d["name"], d["calls"], pct(d["share"])) for d in ds]
    hood = q["by_neighborhood"]
    body = table(["council district", "calls", "share"], rows(q["by_council_district"]))
    body += table(["police district", "calls", "share"], rows(q["by_police_district"]))
    if hood:
        body += table(["neighborhood (top 15)", "calls", "share"], rows(hood[:TOP_N]))
    else:
        body += "<p>The files leave Neighborhood empty, so there is no neighborhood table.</p>"
    return body


def _same_areas(q):
    g, h = q["grid_cells"], q["neighborhoods"]
    rows = [("grid cells (~1 km)", g["n"], fmt_r(g["pearson"]), fmt_r(g["spearman"]), fmt_r(g["pearson_log"]))]
    if h:
        rows.append(("neighborhoods", h["n"], fmt_r(h["pearson"]), fmt_r(h["spearman"]), fmt_r(h["pearson_log"])))
    return table(["areas", "n", "Pearson r", "Spearman rho", "Pearson r of log(1+count)"], rows)


def _close_times(q):
    def rows(ds):
        return [(a["name"], a["closed"], human_hours(a["median_hours"]), human_hours(a["p90_hours"])) for a in ds]
    return (table(["agency", "closed cases", "median", "90th percentile"], rows(q["by_agency"]))
            + table(["case type (top 15)", "closed cases", "median", "90th percentile"], rows(q["by_case_summary"])))


TABLES = {"q1_seasonality": _seasonality, "q2_road_conditions": _road_conditions, "q3_where_311": _where_311,
          "q4_same_areas": _same_areas, "q5_close_times": _close_times}


def section(answer, charts):
    """(title, sentence, HTML body) of one answered question: its charts
    [(file, caption)] as figures, then its tables."""
    body = "".join(figure(n, c) for n, c in charts) + TABLES[answer.key](answer.data)
    return answer.title, answer.text, body


def no_data_section(name):
    """The section standing in for the questions a missing dataset cannot answer."""
    return (f"No data for {name}", f"The datastore holds no {name} rows yet, "
            "so the questions that need it are not answered.", "")


def removals_section(datasets):
    """Rows the city removed, per dataset and month of removal
    (report.json ``datasets.<name>.removals``): withdrawn inside its window,
    or aged out of it."""
    rows, total = [], {}
    for name, d in datasets.items():
        for r in d.get("removals") or []:
            rows.append((name, r["month"], r["withdrawn"], r["aged_out"], r["unknown"]))
            total[name] = total.get(name, 0) + r["withdrawn"]
    text = ("; ".join(f"the city withdrew {n} {name} rows still inside its window" for name, n in total.items())
            or "No row has left a snapshot yet")
    body = (table(["dataset", "month removed", "withdrawn", "aged out", "not judged"], rows) if rows else "")
    return ("Withdrawn and aged-out rows",
            text[0].upper() + text[1:] + ". A row missing from a newer snapshot aged out when its event time is "
            "before that snapshot's window, else the city withdrew it (jobs/README.md, \"Removed rows\").", body)


def state_section(state):
    """The last section: the datastore state the report read (report.json
    ``state``), per dataset its fingerprint and newest commits."""
    body = ""
    for name, st in state.items():
        body += (f"<p><b>{html.escape(name)}</b>: {st['files']} files, {st['bytes']} bytes, "
                 f"{st['commit_count']} commits; fingerprint <code>{html.escape(st['fingerprint'])}</code></p>\n")
        if st["commits"]:
            body += table(["commit", "run", "exec date", "snapshot", "snapshot hash", "rows written", "months"],
                          [(c.get("seq"), c.get("run_id"), c.get("exec_date"), c.get("snapshot"),
                            c.get("snapshot_hash") or "", c.get("rows_written"), len(c.get("months", [])))
                           for c in reversed(st["commits"])])
    return ("Datastore state",
            "The report read the datastore in this state; `denverctl report` tells whether it has changed since "
            "(this page cannot know).", body)


# -- the generated-data notice --------------------------------------------------
def mark_generated(data, label):
    """Set report.json ``generated`` (synthetic rows seen, or a `label`
    given) and ``generated_share`` ({dataset: share of rows from files
    named "generated"}, non-zero ones only)."""
    gen = {n: d.get("generated_share", 0) for n, d in data["datasets"].items() if d.get("rows")}
    synthetic = {n: s for n, s in gen.items() if s}
    data["generated"] = bool(synthetic) or bool(label)
    data["generated_share"] = synthetic


def banner(data, label):
    """The notices on top of the page: generated data (after
    `mark_generated`), then `label`."""
    synthetic = data["generated_share"]
    msgs = []
    if synthetic:
        msgs.append("GENERATED DATA: " + ", ".join(f"{s:.0%} of {n} rows" for n, s in synthetic.items())
                    + " come from files labelled generated (synthetic, made by data/generate.py). "
                      "The numbers below describe that synthetic data, not Denver.")
    if label:
        msgs.append(label)
    return "".join(f'<p class="banner">{html.escape(m)}</p>' for m in msgs)


# -- files ----------------------------------------------------------------------
STYLE = "\n".join([
    "body { font: 15px/1.45 system-ui, sans-serif; max-width: 1040px; margin: 2em auto; padding: 0 1em;"
    " color: #222; }",
    "h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }",
    ".answer { background: #f3f6fa; border-left: 4px solid #1f5fa8; padding: .6em .9em; }",
    ".banner { background: #fff3cd; border: 1px solid #e0b000; padding: .6em .9em; font-weight: 600; }",
    "table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }",
    "td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; }",
    "td.n { text-align: right; font-variant-numeric: tabular-nums; }",
    "figure { margin: 1em 0; } img { max-width: 100%; } figcaption { font-size: 12px; color: #555; }",
    ""])
FOOTER = ("<p><small>Made by jobs/report.py with Spark SQL over the Parquet datastore; "
          "numbers in report.json.</small></p>\n"
          # lets a headless browser test see how many images really loaded
          "<script>addEventListener('load', () => { document.body.dataset.imagesLoaded = "
          "[...document.images].filter(i => i.complete && i.naturalWidth > 0).length; "
          "document.body.dataset.images = document.images.length; });</script>\n"
          "</body></html>\n")


def write(outdir, data, sections, charts, exec_date, label):
    """Write outdir/index.html (dataset table, then `sections` [(title,
    sentence, body)] in the order given) and outdir/report.json: `data`
    plus ``charts`` ([{file, caption}] from `charts` [(file, caption)]) and
    ``answers`` ({question: sentence}), which are added to `data`."""
    e = html.escape(exec_date)
    ds_rows = [(n, d.get("rows", 0), d.get("first_event", "")[:10], d.get("last_event", "")[:10],
                d.get("last_seen", ""), pct(d.get("generated_share"))) for n, d in data["datasets"].items()]
    parts = [f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>denverd report {e}</title>
<style>
{STYLE}</style></head><body>
<h1>Denver traffic accidents and 311 service requests: report for {e}</h1>
{banner(data, label)}
{table(["dataset", "rows", "first event", "last event", "last snapshot", "generated share"], ds_rows)}
"""]
    for title, answer, body in sections:
        parts.append(f'<h2>{html.escape(title)}</h2>\n<p class="answer">{html.escape(answer)}</p>\n{body}\n')
    parts.append(FOOTER)
    with open(os.path.join(outdir, "index.html"), "w", encoding="utf-8") as f:
        f.write("".join(parts))
    data["charts"] = [{"file": n, "caption": c} for n, c in charts]
    data["answers"] = {k: v.get("answer") for k, v in data["questions"].items()}
    with open(os.path.join(outdir, "report.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, default=str)
        f.write("\n")


@contextlib.contextmanager
def staged(out):
    """Yield a new empty temporary sibling directory of `out` to write the
    report into.  On normal exit it is renamed to `out` (an older `out`
    moved aside first, then deleted), so readers see the old report or the
    new one, whole; on any exception it is deleted and `out` is untouched."""
    out = os.path.abspath(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(out)}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        yield tmp
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
