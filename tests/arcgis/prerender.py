"""prerender.py - the emulator's pre-rendered mode, for benchmarks: every
page body of a layer's page sequences is rendered once, in advance, by the
same code that answers live (fsquery.Query.run), and kept as bytes (and
gzip bytes); a request whose canonical query (Query.key: field names and
keywords in any case, any spacing of the where) matches is answered with
those bytes, so a benchmark measures the client, not the Python server.
Anything else is answered live; a pre-rendered page is dropped once its
layer's data generation changes, and never used when a query-shaping
quirk fired.

The sequences (P = min(page size, maxRecordCount), N rows, oid the layer's
object-id field):
  offset   where=1=1&outFields=*&orderByFields=<oid> ASC&resultOffset=k*P
           &resultRecordCount=P, k = 0 .. ceil(N/P)-1
  oid      where=<oid> >= a AND <oid> <= b&outFields=*, [a, b] the first
           and last id of each run of P sorted ids (ARCGIS.md 6.8 step 4)
  pager    the oid ranges as denverd's pager asks them (daemon/io/arcgis.c):
           where=<oid> >= a AND <oid> <= b&orderByFields=<oid> ASC
           &resultRecordCount=<ids in the run>&outFields=*
  esridump pyesridump's statistics strategy (esridump/dumper.py):
           where=<oid> > lo AND <oid> <= hi&outFields=*, lo from
           min(oid) - 1 in steps of P, hi = min(lo + P, max(oid))
  and in all: returnCountOnly=true and returnIdsOnly=true with where=1=1.
Offset and oid are the default modes.
All with f (json), returnGeometry (false: the coordinates are attributes)
and outSR as given.  One more sequence, not rendered by default:
  denverd  the pages as the daemon asks for them with the shipped
           configuration (daemon/io/arcgis.c page_form, no user filter):
           where=<oid> >= a AND <oid> <= b&outFields=*&outSR=4326
           &returnGeometry=<the layer's>
           &orderByFields=<oid> ASC&resultRecordCount=<ids in [a, b]>, for
           the same runs of P ids, so a benchmark of the daemon gets the
           pre-rendered bytes.
"""
import gzip as gzip_mod
import urllib.parse

import fsquery

MODES = ("offset", "oid")
ALL_MODES = MODES + ("pager", "esridump")


def sequence(layer, page_size=None, modes=MODES, f="json", return_geometry=False, out_sr=None):
    """The parameter dicts (ArcGIS spelling) of the page sequences, in order."""
    snap = layer.snapshot()
    p = min(page_size or layer.max_record_count, layer.max_record_count)
    common = {"outFields": "*", "returnGeometry": "true" if return_geometry else "false", "f": f}
    if out_sr:
        common["outSR"] = str(out_sr)
    oid = layer.oid
    out = [{"where": "1=1", "returnCountOnly": "true", "f": f},
           {"where": "1=1", "returnIdsOnly": "true", "f": f}]
    n = len(snap.rows)
    if "offset" in modes:
        for k in range(max(1, -(-n // p))):
            out.append(dict(common, where="1=1", orderByFields=f"{oid} ASC", resultOffset=str(k * p),
                            resultRecordCount=str(p)))
    if "oid" in modes or "pager" in modes:
        ids = snap.oids
        for k in range(0, n, p):
            chunk = ids[k:k + p]
            where = f"{oid} >= {chunk[0]} AND {oid} <= {chunk[-1]}"
            if "oid" in modes:
                out.append(dict(common, where=where))
            if "pager" in modes:
                out.append(dict(common, where=where, orderByFields=f"{oid} ASC",
                                resultRecordCount=str(len(chunk))))
    if "esridump" in modes and n:
        lo_id, hi_id = min(snap.oids), max(snap.oids)
        for lo in range(lo_id - 1, hi_id, p):
            out.append(dict(common, where=f"{oid} > {lo} AND {oid} <= {min(lo + p, hi_id)}"))
    if "denverd" in modes:
        ids = snap.oids
        for k in range(0, n, p):
            chunk = ids[k:k + p]
            out.append({"where": f"{oid} >= {chunk[0]} AND {oid} <= {chunk[-1]}", "outFields": "*",
                        "outSR": "4326", "returnGeometry": "true" if layer.geometry else "false",
                        "orderByFields": f"{oid} ASC", "resultRecordCount": str(len(chunk)), "f": f})
    return out


def query_path(emu, layer, params):
    """The request path (with query string) of one step of a sequence."""
    return (f"/{emu.org}/arcgis/rest/services/{layer.service}/FeatureServer/{layer.id}/query?"
            + urllib.parse.urlencode(params))


def render(emu, layer, page_size=None, modes=MODES, gzip=False, f="json", return_geometry=False, out_sr=None):
    """Render the sequences into emu.prerendered; returns a summary with the
    request paths to replay (in order)."""
    snap = layer.snapshot()
    steps = sequence(layer, page_size, modes, f, return_geometry, out_sr)
    total = pages = 0
    paths = []
    for params in steps:
        q = fsquery.Query(layer, {k.lower(): v for k, v in params.items()})
        body = q.run(snap)
        gz = gzip_mod.compress(body, 6, mtime=0) if gzip else None
        with emu.lock:
            emu.prerendered[q.key()] = (snap.generation, body, gz)
        total += len(body)
        pages += 1
        paths.append(query_path(emu, layer, params))
    return {"layer": layer.key, "pages": pages, "bytes": total, "generation": snap.generation, "paths": paths}
