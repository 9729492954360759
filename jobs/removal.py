"""removal.py - why a row left the city's file: the datastore's
``removed_on`` and ``removal`` columns, as convert.py writes them.

Removed rows.  ``removed_on`` is the exec date a row was first missing and
``removal`` why: ``aged_out`` when its event time is before that exec
date's window start, else ``withdrawn``; both are NULL while the row is in
the newest snapshot.  The window start of exec date D is D's 00:00 local
minus the spec's ``window_seconds`` when given, else the earliest event
time among D's good rows (the same rule as the daemon's check,
daemon/quality/dq.h); each commit records it (``window_start``, local
time) in its provenance record.  Both columns are a function of the set of
converted exec dates, not of the order they were converted in:
``removed_on`` is the first converted exec date after the row's
``last_seen`` (every later snapshot lacked the row: ``last_seen`` is the
newest that had it), and ``removal`` follows from that date's window
start (of its newest commit, when the date was converted more than once).
The converted exec dates are those of the dataset's commit records plus
this one.  So a row that comes back clears both and keeps its
``first_seen``; re-running an exec date re-judges the rows first missing
on it against its new window; backfilling an older date after a newer one
can only move ``removed_on`` earlier (to the backfilled date, for rows
last seen before it) or, for rows the backfilled snapshot had, later.  A
commit record without ``window_start`` (written before denverd kept one)
leaves ``removal`` NULL for rows first missing on that date, unless the
spec gives ``window_seconds``.
"""
import datetime as dt


def converted_windows(spec, store, window_start):
    """{exec date: window start text or None} of every converted exec date
    (the commit records, the newest commit of a date winning) and this
    one (`window_start`)."""
    out = {}
    for rec in sorted(store.commits(), key=lambda r: r.get("seq", 0)):
        try:
            d = dt.date.fromisoformat(rec.get("exec_date"))
        except (TypeError, ValueError):
            continue
        out[d] = rec.get("window_start") or configured_window(spec, d)
    out[dt.date.fromisoformat(spec["exec_date"])] = window_start
    return out


def configured_window(spec, day):
    """The window start of exec date `day` from the spec's window_seconds,
    as local text, or None when the spec has none."""
    secs = spec.get("window_seconds")
    if not secs:
        return None
    return (dt.datetime.combine(day, dt.time()) - dt.timedelta(seconds=int(secs))).strftime(
        "%Y-%m-%d %H:%M:%S")


def removal_exprs(F, spec, windows):
    """(removed_on, removal) as expressions of `last_seen` and the event
    time, given the converted exec dates and their window starts."""
    dates = sorted(windows)
    removed_on = F.array_min(F.filter(F.array(*[F.lit(d) for d in dates]),
                                      lambda x: x > F.col("last_seen")))
    known = [(d, w) for d, w in windows.items() if w is not None]
    start = F.lit(None).cast("timestamp")
    if known:
        pairs = []
        for d, w in sorted(known):
            pairs += [F.lit(d), F.to_timestamp(F.lit(w))]
        start = F.element_at(F.create_map(*pairs), removed_on)
    ev = F.col(spec["event_time"]).cast("timestamp")
    removal = (F.when(removed_on.isNull() | start.isNull(), F.lit(None).cast("string"))
               .when(ev < start, F.lit("aged_out")).otherwise(F.lit("withdrawn")))
    return removed_on, removal
