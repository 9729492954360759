"""hub.py - the Hub Download API, its export files and item data (ARCGIS.md
5.1-5.3, 7.6), for the emulator.  No HTTP here: each method answers
(status, headers, body).

  /api/download/v1/items/<item>/<csv|geojson>?layers=<id>[&redirect=false]
      [&updateCache=true | &trackCacheUpdate=true][&where=...][&spatialRefId=4326]
      one job per (item, layer, format, where, spatialRefId): Pending ->
      InProgress -> PagingData ... -> ConvertingData -> Completed with a
      resultUrl after `polls` answers; Completed at once while the cached
      file is current (the layer's data and schema stamps unchanged);
      updateCache=true rebuilds.  Without redirect=false: 302 to the file
      when ready, else 202 with the status (or, quirk hub_block, a wait).
  .../FeatureServer/replicafilescache/<SERVICE>_<19 digits>.<ext>
      302 to a "signed blob" URL with se=<expiry>; a rebuilt export gets a
      new name and the old name answers 404.
  /exportfiles-7647-160430/<name>?sv=..&sr=b&sig=..&se=..&sp=r
      the file (Range supported); 403 with an Azure XML body once expired
      or with a bad signature, 404 for an unknown blob.
  /sharing/rest/content/items/<item>/data  302 to /itemfiles/<item>/<name>,
      a stable URL whose bytes replace_item() can swap in place;
      /sharing/rest/content/items/<item>?f=json gives the item's description.

The CSV is what a feature-service export looks like: UTF-8 with BOM, CRLF,
quoted only where needed (embedded line breaks kept), header = field names
(or aliases), dates as `M/D/YYYY h:mm:ss AM` text, nulls empty, text
whitespace kept, extra x, y (WGS84) columns at the end for point layers.
csv_bytes(..., encoding="cp1252", quote_all=True) gives the 2024/2025 CSV
item style instead.
"""
import base64
import csv
import datetime as dt
import email.utils
import hashlib
import hmac
import io
import json
import os
import random
import sys
import threading
import time
import urllib.parse
import zoneinfo

import fsquery

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
from httpd import parse_range  # noqa: E402

BLOB_DIR = "exportfiles-7647-160430"
JSON_TYPE = "application/json; charset=utf-8"


def fmt_date(ms, tz):
    """Epoch ms -> `8/2/2025 4:16:00 PM` in TZ (None: UTC)."""
    t = dt.datetime.fromtimestamp(ms / 1000, tz or dt.UTC)
    h = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {h}:{t.minute:02d}:{t.second:02d} {'PM' if t.hour >= 12 else 'AM'}"


def fmt_number(v):
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


def csv_bytes(layer, snap=None, idx=None, encoding="utf-8-sig", quote_all=False, header=None, tz=None):
    """The layer's rows (or the rows at IDX of SNAP) as a Hub export CSV."""
    snap = snap or layer.snapshot()
    opts = layer.hub_options
    header = header or opts.get("header", "name")
    tzname = tz or opts.get("tz")
    zone = zoneinfo.ZoneInfo(tzname) if tzname and tzname != "UTC" else None
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    fields = layer.fields
    names = [f.alias if header == "alias" else f.name for f in fields]
    point = bool(layer.geometry)
    w.writerow(names + (["x", "y"] if point else []))
    dates = {f.name for f in fields if f.type == "esriFieldTypeDate"}
    for i in (range(len(snap.rows)) if idx is None else idx):
        row = snap.rows[i]
        vals = []
        for f in fields:
            v = row[f.name]
            if v is None:
                vals.append("")
            elif f.name in dates:
                vals.append(fmt_date(v, zone))
            elif isinstance(v, str):
                vals.append(v)
            else:
                vals.append(fmt_number(v))
        if point:
            g = snap.geoms[i]
            vals += [fmt_number(g[0]), fmt_number(g[1])] if g else ["", ""]
        w.writerow(vals)
    return out.getvalue().encode(encoding, errors="replace")


class Export:
    def __init__(self, name, body, ctype, layer, stamps, records, created):
        self.name, self.body, self.ctype = name, body, ctype
        self.layer, self.stamps, self.records, self.created = layer, stamps, records, created
        self.etag = '"0x8D%s"' % hashlib.sha1(body).hexdigest()[:13].upper()


class Item:
    def __init__(self, item_id, name, body, ctype, title, modified):
        self.id, self.name, self.body, self.ctype = item_id, name, body, ctype
        self.title, self.modified = title, modified


class Hub:
    def __init__(self, emu, polls=3, blob_ttl=3600, seed=0):
        self.emu = emu
        self.polls = polls              # answers before Completed
        self.blob_ttl = blob_ttl        # seconds a signed blob URL stays valid
        self.lock = threading.Lock()
        self.rng = random.Random(f"hub:{seed}")
        self.secret = b"denverd-emulator-%d" % seed
        self.jobs = {}                  # key -> polls answered so far
        self.cache = {}                 # key -> Export (the current file)
        self.files = {}                 # name -> Export
        self.items = {}                 # item id -> Item
        self.builds = 0

    def reset(self):
        with self.lock:
            self.jobs.clear()
            self.cache.clear()
            self.files.clear()
            self.items.clear()
            self.builds = 0

    # ---- the download API ---------------------------------------------------
    def download(self, item_id, fmt, params, fired, base):
        """GET /api/download/v1/items/ITEM/FMT; BASE: the URL root to put
        in resultUrl."""
        layers = self.emu.item_layers(item_id)
        if not layers:
            return msg(404, f"Item {item_id} not found")
        if "hub_error" in fired:
            r = fired["hub_error"]
            return msg(int(r.params.get("status", 500)), r.params.get("message", "Internal Server Error"))
        want = params.get("layers", "").strip()
        if not want and len(layers) > 1:
            return msg(400, "The layers parameter is required for a multi-layer item")
        layer = layers[0] if not want else next((ly for ly in layers if str(ly.id) == want), None)
        if layer is None:
            return msg(400, f"Layer {want} is not a layer of item {item_id}")
        if fmt not in ("csv", "geojson"):
            return msg(400, f"Format {fmt} is not supported by the emulator")
        where = params.get("where", "")
        try:
            wh = layer.compile_where(where)
        except ValueError as e:
            return msg(400, f"Invalid where clause: {e}")
        key = (item_id, layer.id, fmt, wh.canon, params.get("spatialrefid", ""))
        redirect = params.get("redirect", "").lower() != "false"
        stamps = (layer.editing["dataLastEditDate"], layer.editing["schemaLastEditDate"])
        with self.lock:
            cur = self.cache.get(key)
            # a rebuild that updateCache=true started is followed by polls with trackCacheUpdate=true;
            # other requests keep getting the current file meanwhile
            tracking = params.get("trackcacheupdate", "").lower() == "true" and key in self.jobs
            fresh = (cur is not None and cur.stamps == stamps and not tracking
                     and params.get("updatecache", "").lower() != "true")
            if fresh:
                return self.completed(cur, base, redirect, "current")
            n = self.jobs.get(key, -1) + 1
            if "hub_block" in fired and redirect:
                time.sleep(float(fired["hub_block"].params.get("seconds", 0.2)))
                n = self.polls
            if "hub_failed" in fired:
                self.jobs.pop(key, None)
                return 200, [], json.dumps({"status": "Failed", "progressInPercent": progress(n, self.polls),
                                            "message": "Export failed"}).encode()
            if n < self.polls:
                self.jobs[key] = n
                body = json.dumps({"status": step(n, self.polls),
                                   "progressInPercent": progress(n, self.polls)}).encode()
                return (202 if ("hub_202" in fired or redirect) else 200), [], body
            self.jobs.pop(key, None)
            export = self.build(layer, fmt, wh, stamps, key)
            return self.completed(export, base, redirect, "updated")

    def completed(self, export, base, redirect, cache_status):
        url = self.result_url(export, base)
        if redirect:
            return 302, [("Location", url)], b""
        return 200, [], json.dumps({"status": "Completed", "progressInPercent": 100, "recordCount": export.records,
                                    "resultUrl": url, "cacheStatus": cache_status}).encode()

    def result_url(self, export, base):
        ly = export.layer
        return f"{base}/{self.emu.org}/arcgis/rest/services/{ly.service}/FeatureServer/replicafilescache/{export.name}"

    def build(self, layer, fmt, wh, stamps, key):
        """Make a new export file (a new random name); the old one goes away."""
        snap = layer.snapshot()
        q = fsquery.Query(layer, {"f": "geojson", "outfields": "*", "where": wh.text})
        idx = q.matching(snap)
        if fmt == "csv":
            body, ctype = csv_bytes(layer, snap, idx), "text/csv"
        else:
            body, ctype = q.geojson(snap, idx, None), "application/geo+json"
        name = "%s_%019d.%s" % (layer.service, self.rng.randrange(10**18, 10**19), fmt)
        old = self.cache.get(key)
        if old:
            self.files.pop(old.name, None)
        export = Export(name, body, ctype, layer, stamps, len(idx), self.emu.clock.time())
        self.cache[key] = export
        self.files[name] = export
        self.builds += 1
        return export

    # ---- files -------------------------------------------------------------
    def sign(self, name, se):
        mac = hmac.new(self.secret, f"{name}\n{se}".encode(), hashlib.sha256).digest()
        return base64.b64encode(mac).decode()

    def replica(self, name, base):
        """replicafilescache/NAME -> 302 to the signed blob URL."""
        with self.lock:
            if name not in self.files:
                return 404, [("Content-Type", "text/html")], b"<html><body>404 Not Found</body></html>\n"
        exp = dt.datetime.fromtimestamp(self.emu.clock.time() + self.blob_ttl, dt.UTC)
        se = exp.strftime("%Y-%m-%dT%H:%M:%SZ")
        q = urllib.parse.urlencode({"sv": "2018-03-28", "sr": "b", "sig": self.sign(name, se), "se": se, "sp": "r"})
        return 302, [("Location", f"{base}/{BLOB_DIR}/{name}?{q}")], b""

    def blob(self, name, params, headers):
        with self.lock:
            export = self.files.get(name)
        if export is None:
            return azure_error(404, "BlobNotFound", "The specified blob does not exist.")
        se = params.get("se", "")
        if not hmac.compare_digest(params.get("sig", ""), self.sign(name, se)):
            return azure_error(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure "
                               "the value of Authorization header is formed correctly including the signature.",
                               "Signature did not match.")
        try:
            expiry = dt.datetime.strptime(se, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
        except ValueError:
            expiry = 0
        if expiry <= self.emu.clock.time():
            now = email.utils.formatdate(self.emu.clock.time(), usegmt=True)
            return azure_error(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure "
                               "the value of Authorization header is formed correctly including the signature.",
                               f"Signed expiry time [{email.utils.formatdate(expiry, usegmt=True)}] "
                               f"must be after signed start time [{now}]")
        hdrs = [("Content-Type", export.ctype), ("ETag", export.etag),
                ("Content-Disposition", f'attachment; filename="{name}"'),
                ("Last-Modified", email.utils.formatdate(export.created, usegmt=True)),
                ("x-ms-blob-type", "BlockBlob")]
        return ranged(export.body, hdrs, headers)

    # ---- items ---------------------------------------------------------------
    def add_item(self, item_id, body, name="data.csv", ctype="text/csv", title=None):
        with self.lock:
            self.items[item_id] = Item(item_id, name, body, ctype, title or name, self.emu.clock.time())
        return self.items[item_id]

    def replace_item(self, item_id, body):
        """A re-upload: same URL, new bytes."""
        with self.lock:
            it = self.items[item_id]
            it.body, it.modified = body, self.emu.clock.time()

    def item_data(self, item_id, base):
        it = self.items.get(item_id)
        if it is None:
            return 400, [("Content-Type", JSON_TYPE)], json.dumps(
                {"error": {"code": 400, "messageCode": "CONT_0001", "message": "Item does not exist or is "
                           "inaccessible.", "details": []}}).encode()
        return 302, [("Location", f"{base}/itemfiles/{item_id}/{urllib.parse.quote(it.name)}")], b""

    def item_file(self, item_id, name, headers):
        it = self.items.get(item_id)
        if it is None or urllib.parse.unquote(name) != it.name:
            return 404, [("Content-Type", "text/plain")], b"Not Found\n"
        etag = '"%s"' % hashlib.md5(it.body).hexdigest()
        return ranged(it.body, [("Content-Type", it.ctype), ("ETag", etag),
                                ("Last-Modified", email.utils.formatdate(it.modified, usegmt=True))], headers)

    def item_info(self, item_id, base):
        it = self.items.get(item_id)
        if it is not None:
            doc = {"id": it.id, "title": it.title, "type": "CSV", "name": it.name, "size": len(it.body),
                   "modified": int(it.modified * 1000)}
        else:
            layers = self.emu.item_layers(item_id)
            if not layers:
                return self.item_data(item_id, base)
            svc = layers[0].service
            doc = {"id": item_id, "title": svc, "type": "Feature Service", "name": svc,
                   "url": f"{base}/{self.emu.org}/arcgis/rest/services/{svc}/FeatureServer",
                   "modified": max(ly.editing["lastEditDate"] for ly in layers)}
        return 200, [("Content-Type", JSON_TYPE)], json.dumps(doc).encode()


def step(n, polls):
    """The status of the Nth answer (0-based) of a job that completes after POLLS."""
    if n == 0:
        return "Pending"
    if n == polls - 1:
        return "ConvertingData"
    return "InProgress" if n == 1 else "PagingData"


def progress(n, polls):
    return 0 if n <= 0 else min(99, int(100 * n / (polls + 1)))


def msg(status, text):
    return status, [], json.dumps({"message": text}).encode()


def azure_error(status, code, message, detail=None):
    extra = f"<AuthenticationErrorDetail>{detail}</AuthenticationErrorDetail>" if detail else ""
    body = (f'\ufeff<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}\nRequestId:00000000-0000-0000-0000-000000000000\nTime:"
            f"{time.strftime('%Y-%m-%dT%H:%M:%S.0000000Z', time.gmtime())}</Message>{extra}</Error>")
    return status, [("Content-Type", "application/xml"), ("x-ms-error-code", code)], body.encode()


def ranged(body, hdrs, headers):
    """200 with BODY, or 206 for one simple `Range: bytes=a-b` (416 if unsatisfiable)."""
    hdrs = hdrs + [("Accept-Ranges", "bytes")]
    rng = parse_range(headers.get("Range"), len(body))
    if rng == "bad":
        return 416, hdrs + [("Content-Range", f"bytes */{len(body)}")], b""
    if rng:
        a, b = rng
        return 206, hdrs + [("Content-Range", f"bytes {a}-{b}/{len(body)}")], body[a:b + 1]
    return 200, hdrs, body
