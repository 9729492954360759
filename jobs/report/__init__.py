"""Build the analysis report from the Parquet datastore (Spark SQL + matplotlib).

Run by the daemon's report job after both datasets converted
(CONTRACTS.md section 5), through the entry point jobs/report.py::

    spark-submit [--master M --conf k=v ...] report.py --exec-date D \\
        --out <state_dir>/reports/exec_date=D [--datastore <state_dir>/datastore]
    SPARK_REMOTE=sc://host:port python report.py ...    # as a Spark Connect client

(the choice is jobs/session.py's).

Without --datastore the datastore is <state_dir>/datastore, <state_dir> being
two levels above --out.  ``--storage JSON`` (the convert spec's ``storage``
object, storage.py) puts it on S3: ``--datastore s3a://bucket/prefix/datastore
--storage '{"type": "s3", "endpoint": ..., "region": ..., "path_style": true}'``,
the credentials in the job's environment (AWS_ACCESS_KEY_ID, ...); the
output files stay local.  Questions answered, each with numbers, a chart and
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

Besides the questions: the rows the city removed, per dataset and month of
removal, withdrawn (inside its window) or aged out (report.json
``datasets.<name>.removals``, the page's "Withdrawn and aged-out rows"
section; the columns are convert.py's ``removed_on`` and ``removal``).

Output: index.html (self-contained: inline CSS, tables, <img> of the PNGs
next to it), report.json (every number), *.png.

Reproducible: report.json ``state`` names, per dataset, the state the report
read: the content fingerprint of its data files, the number of commits
behind them and the newest commit records (run id, exec date, snapshot
hash; datastore.py, "Provenance"), and the page shows the same in its last
section.  Everything in report.json but ``timings`` and ``report_seconds``
(wall times) is a function of that state and the command line: run again
on the same state it is the same, byte for byte.  A datastore that changes
while the report reads it fails the report (no output).  Whether the state
has changed since is for `denverctl report` to say (a static page cannot
know).  Everything is written into
a temporary sibling directory which is then renamed to --out, so a half
report never appears; an older report at --out is replaced whole.  Rows
whose ``source_file`` contains "generated" come from synthetic files
(data/generate.py); the page and report.json say so, with their share.

The stages, one module each: queries (Spark SQL over the datastore) ->
answers (statistics and the sentence) -> charts (PNGs) -> page (index.html,
report.json, the directory swap); common holds the shared constants.  This
module wires them together (`build`) and parses the command line (`main`).
The package needs jobs/ on sys.path (for datastore.py); running
jobs/report.py does that.
"""

import argparse
import datetime as dt
import json
import os
import time

import storage

from . import answers, charts, page, queries
from .common import REPORT_VERSION, SR311, TRAFFIC, log


def build(spark, args):
    """Compute the whole report for the parsed command line `args` into a
    temporary directory, then swap it into ``args.out``.  Returns the
    report.json data."""
    charts.headless()
    t0 = time.monotonic()
    spark.conf.set("spark.sql.session.timeZone", args.timezone)
    with page.staged(args.out) as tmp:
        db = queries.Datastore(spark, args.datastore, args.filesystem)
        data = {"version": REPORT_VERSION, "exec_date": args.exec_date, "label": args.label,
                "datasets": {}, "questions": {}, "timings": db.timings}
        have = {}
        for name, view, columns in ((args.traffic, "traffic", queries.TRAFFIC_COLS),
                                    (args.sr311, "sr", queries.SR_COLS)):
            info = db.load(name, view, columns)
            data["datasets"][name] = info or {"rows": 0}
            have[view] = info is not None
        answered = []
        if have["traffic"]:
            answered.append(answers.seasonality(queries.seasonality(db)))
            answered.append(answers.road_conditions(queries.road_conditions(db)))
        if have["sr"]:
            where = answers.where_311(queries.where_311(db))
            answered += [where, answers.close_times(queries.close_times(db))]
        if have["traffic"] and have["sr"]:
            answered.append(answers.same_areas(queries.same_areas(db), where.extra["cells"]))
        sections, made = [], []
        for a in answered:
            files = charts.render(a, tmp)
            made += files
            sections.append(page.section(a, files))
            data["questions"][a.key] = a.data
        sections += [page.no_data_section(name) for name, view in ((args.traffic, "traffic"), (args.sr311, "sr"))
                     if not have[view]]
        sections.sort(key=lambda s: s[0])
        data["state"] = db.state
        changed = db.changed_since_read()
        if changed:
            raise SystemExit(f"report: the datastore of {', '.join(changed)} changed while the report read it; "
                             "no report written (run it again)")
        data["report_seconds"] = round(time.monotonic() - t0, 3)
        page.mark_generated(data, args.label)
        tail = [page.removals_section(data["datasets"]), page.state_section(data["state"])]
        page.write(tmp, data, sections + tail, made, args.exec_date, args.label)
        db.drop_views()
    return data


def main(argv=None, spark=None):
    """The command line (argv: sys.argv[1:] by default).  Uses `spark`, or
    gets one from session.py (Spark Connect when SPARK_REMOTE is set, else
    classic) and stops it at the end.  Logs the answers; returns 0."""
    ap = argparse.ArgumentParser(prog="report.py", description="Build the HTML/JSON report from the datastore.")
    ap.add_argument("--exec-date", required=True, type=dt.date.fromisoformat)
    ap.add_argument("--out", required=True, help="output directory (replaced whole)")
    ap.add_argument("--datastore", help="default: <--out>/../../datastore")
    ap.add_argument("--storage", default="null",
                    help="the datastore's storage, as the convert spec's `storage` (JSON; default null: "
                         "local; an s3 object for an s3a:// --datastore, credentials from the environment)")
    ap.add_argument("--timezone", default="America/Denver", help="for months and weeks (default America/Denver)")
    ap.add_argument("--traffic", default=TRAFFIC, help=f"traffic dataset name (default {TRAFFIC})")
    ap.add_argument("--sr311", default=SR311, help=f"311 dataset name (default {SR311})")
    ap.add_argument("--label", default="", help="a notice shown on top of the page (e.g. 'demo data')")
    args = ap.parse_args(argv)
    args.exec_date = args.exec_date.isoformat()
    if not args.datastore:
        args.datastore = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.out))), "datastore")
    try:
        args.filesystem = storage.filesystem(json.loads(args.storage))
        storage.require_url(args.filesystem, args.datastore, "--datastore")
        storage.check_access(args.filesystem, args.datastore, json.loads(args.storage))
    except ValueError as e:
        raise SystemExit(f"report: error: --storage is not JSON: {e}") from None
    except storage.StorageError as e:
        raise SystemExit(f"report: error: {e}") from None
    own = spark is None
    if own:
        import session
        spark = session.get("denverd-report")
    try:
        data = build(spark, args)
    finally:
        if own:
            spark.stop()    # through Connect: frees this client's server-side session
    log(f"{args.out}: {len(data['charts'])} charts, {data['report_seconds']} s")
    for k, v in data["answers"].items():
        log(f"{k}: {v}")
    return 0
