#!/usr/bin/env python3
"""emulator.py - a loopback emulator of ArcGIS Online FeatureServer layers
and of the Hub download flow, for denverd's tests and benchmarks (standard
library only; ARCGIS.md section 7 is the contract, README.md here the manual).

Routes (BASE = /<org>/arcgis/rest/services, org zdB7qR0BtYrg0Xpl by default):
  BASE?f=json                               the services list
  BASE/<svc>/FeatureServer?f=json|pjson     service document (layers, tables)
  BASE/<svc>/FeatureServer/layers?f=json    every layer document
  BASE/<svc>/FeatureServer/<id>?f=json      layer document (fslayer.py)
  BASE/<svc>/FeatureServer/<id>/query       GET or POST (form) query (fsquery.py)
  BASE/<svc>/FeatureServer/<id>/<oid>       one feature
  BASE/<svc>/FeatureServer/replicafilescache/<name>, /api/download/v1/items/...,
  /exportfiles-.../<name>, /sharing/rest/content/items/<id>[/data],
  /itemfiles/<id>/<name>                    Hub and item downloads (hub.py)
Without f (or f=html) the REST routes answer an HTML page, as ArcGIS does.
handler.py reads and answers the requests; this file has the server (the
layers, routes, log, counters, CDN cache, pre-rendered pages) and the CLI.
Misbehaviour comes from quirk rules (quirks.py): added in-process
(emu.quirks.add(...)), over HTTP (POST /__quirks) or riding on the URL
(/__quirk/KIND;k=v/...).

Introspection (not logged):
  GET /__log      every request: method, path, route, layer, query, form,
                  headers, status, bytes (body bytes sent), quirks, start, end
  GET /__reset    clear the log; ?counts=1 also the counters; ?quirks=1 the
                  rules; ?data=1 the layers' rows/dates, the Hub, CDN and clock
  GET|POST|DELETE /__quirks   list | add (JSON rule or list; ?replace=1) | clear
  POST /__mutate  {"layer": "svc/id", "op": "reload", ...} (Layer.mutate)
  GET  /__clock?advance=SECONDS   move the emulator's clock (expiries, windows)
  POST /__prerender {"layer": ..., "page_size": N, "gzip": false}
  POST /__item?id=ID&name=NAME    body = the item's bytes (add or replace)

In-process: emu = Emulator(); emu.add(...) or emu.add_layer(layer); emu.start()
... emu.stop().  CLI: python3 emulator.py --layer SERVICE=spec.json ... [--port 0]
prints the port on its first line, then serves until SIGTERM/SIGINT.
"""
import argparse
import contextlib
import email.utils
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import ThreadingHTTPServer

import fslayer
import hub
import prerender
import quirks
from handler import SHAPING, Handler, Resp, json_resp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
import httpd  # noqa: E402

DEFAULT_ORG = "zdB7qR0BtYrg0Xpl"


class Clock:
    """Wall and monotonic time that a test can move forward."""

    def __init__(self):
        self.offset = 0.0

    def time(self):
        return time.time() + self.offset

    def mono(self):
        return time.monotonic() + self.offset

    def advance(self, seconds):
        self.offset += float(seconds)



class Emulator(ThreadingHTTPServer):
    """The in-process emulator: emu = Emulator(); emu.add(...); emu.start()."""
    daemon_threads = True
    allow_reuse_address = True
    # the lifecycle of the project's test server: start() -> self, stop(), port
    start, stop, port = httpd.Server.start, httpd.Server.stop, httpd.Server.port

    def __init__(self, port=0, org=DEFAULT_ORG, hub_polls=3, blob_ttl=3600, seed=0):
        super().__init__(("127.0.0.1", port), Handler)
        self.org = org
        self.seed = seed
        self.clock = Clock()
        self.quirks = quirks.Quirks()
        self.hub = hub.Hub(self, hub_polls, blob_ttl, seed)
        self.services = {}          # service name -> [Layer]
        self.lock = threading.Lock()
        self._log, self.counts = [], {}
        self.cdn = {}               # path -> (mono time, Resp)
        self.prerendered = {}       # Query.key() -> (generation, body, gzip body)
        self.prerendered_enabled = True
        self.thread = None

    # ---- layers ---------------------------------------------------------------
    def add_layer(self, layer):
        layer.clock = self.clock.time
        with self.lock:
            lst = self.services.setdefault(layer.service, [])
            if any(ly.id == layer.id for ly in lst):
                raise ValueError(f"layer {layer.key} already exists")
            lst.append(layer)
            lst.sort(key=lambda ly: ly.id)
        return layer

    def add(self, service, id, name, fields, rows=(), **kw):
        """A new layer or table (fslayer.Layer's arguments)."""
        return self.add_layer(fslayer.Layer(service, id, name, fields, rows, clock=self.clock.time, **kw))

    @property
    def layers(self):
        return [ly for lst in self.services.values() for ly in lst]

    def layer(self, which=None):
        """A Layer by key 'svc/id', id (int or text), service name or layer name;
        None: the only layer."""
        if isinstance(which, fslayer.Layer):
            return which
        cands = self.layers if which is None else [
            ly for ly in self.layers if str(which) in (ly.key, str(ly.id), ly.name) or
            (ly.service == which and len(self.services[which]) == 1)]
        if len(cands) != 1:
            raise KeyError(f"no single layer {which!r} (have {[ly.key for ly in self.layers]})")
        return cands[0]

    def item_layers(self, item_id):
        return [ly for ly in self.layers if ly.item_id == item_id]

    def mutate(self, which, op, **kw):
        ly = self.layer(which)
        return ly.mutate(op, **kw)

    def resolve(self, path):
        """(route, info) of a request path without quirk prefixes."""
        seg = [urllib.parse.unquote(s) for s in path.split("/") if s]
        n = len(seg)
        if seg[:4] == ["api", "download", "v1", "items"] and n == 6:
            return "hub", {"item": seg[4], "fmt": seg[5].lower()}
        if seg[:4] == ["sharing", "rest", "content", "items"] and n in (5, 6):
            if n == 6 and seg[5] != "data":
                return "other", {}
            return "item", {"item": seg[4], "data": n == 6}
        if seg[:1] == ["itemfiles"] and n == 3:
            return "itemfile", {"item": seg[1], "name": seg[2]}
        if seg[:1] == [hub.BLOB_DIR] and n == 2:
            return "blob", {"name": seg[1]}
        if n < 4 or seg[1:4] != ["arcgis", "rest", "services"]:
            return "other", {}
        if seg[0] != self.org:
            return "invalid", {}
        if n == 4:
            return "services", {"title": "Home"}
        svc = seg[4]
        if n < 6 or seg[5] != "FeatureServer" or svc not in self.services:
            return "invalid", {}
        rest = seg[6:]
        info = {"service": svc, "title": svc}
        if not rest:
            return "service", info
        if rest == ["layers"]:
            return "layers", info
        if rest[0] == "replicafilescache" and len(rest) == 2:
            return "replica", dict(info, name=rest[1])
        layer = next((ly for ly in self.services[svc] if rest[0].isdigit() and ly.id == int(rest[0])), None)
        if layer is None or len(rest) > 2:
            return "invalid", {}
        info.update(layer=layer, title=f"{svc}/{layer.id}")
        if len(rest) == 1:
            return "layer", info
        if rest[1] == "query":
            return "query", info
        if rest[1].isdigit():
            return "feature", dict(info, oid=int(rest[1]))
        return "invalid", {}

    # ---- answers ---------------------------------------------------------------
    def answer(self, q, fired, entry):
        snap = q.layer.snapshot()
        use = self.prerendered_enabled and self.prerendered and not (SHAPING & fired.keys())
        hit = self.prerendered.get(q.key()) if use else None
        if hit and hit[0] == snap.generation:
            q.check(fired)
            entry["prerendered"] = True
            return json_resp(hit[1], cacheable=True, gz=hit[2])
        return json_resp(q.run(snap, fired), cacheable=True)

    def prerender(self, which, page_size=None, **kw):
        """Render the page sequences of a layer once (prerender.py)."""
        return prerender.render(self, self.layer(which), page_size, **kw)

    def cdn_lookup(self, path, route, fired):
        rule = fired.get("cdn")
        if rule is None or route not in quirks.REST:
            return None
        with self.lock:
            hit = self.cdn.get(path)
        age = self.clock.mono() - hit[0] if hit else None
        if hit is None or age >= float(rule.params.get("max_age", 30)):
            return None
        r = hit[1]
        return Resp(r.status, r.headers + [("Age", str(int(age))), ("X-Cache", "Hit from cloudfront")], r.body,
                    cacheable=True)

    def cdn_store(self, path, resp):
        with self.lock:
            self.cdn[path] = (self.clock.mono(), resp)
        resp.headers.append(("X-Cache", "Miss from cloudfront"))

    def validators(self, body, layer, rule):
        layers = [layer] if layer else self.layers
        svc = zlib.crc32((layers[0].service if layers else "").encode()) % 1000000
        salt = b"%d" % rule.fired if rule.params.get("random") else b""
        h = zlib.crc32(body + salt)
        h = h - (1 << 32) if h >= 1 << 31 else h
        last = max((ly.editing["lastEditDate"] for ly in layers), default=0) / 1000
        return f"sd{svc}_{h}", email.utils.formatdate(last, usegmt=True)

    # ---- log, counters, lifecycle ------------------------------------------------
    def record(self, entry):
        with self.lock:
            self._log.append(entry)

    def count(self, route):
        with self.lock:
            self.counts[route] = self.counts.get(route, 0) + 1

    @property
    def log(self):
        with self.lock:
            return list(self._log)

    def reset(self, counts=False, quirks=False, data=False):
        with self.lock:
            self._log.clear()
            self.cdn.clear()
            if data:
                self.prerendered.clear()
            if counts:
                self.counts.clear()
        if counts:
            self.quirks.reset_counts()
        if quirks:
            self.quirks.clear()
        if data:
            for ly in self.layers:
                ly.restore()
            self.hub.reset()
            self.clock.offset = 0.0

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, which=None):
        ly = self.layer(which)
        return f"{self.base}/{self.org}/arcgis/rest/services/{ly.service}/FeatureServer/{ly.id}"

    def service_url(self, service):
        return f"{self.base}/{self.org}/arcgis/rest/services/{service}/FeatureServer"

    def hub_url(self, which=None, fmt="csv", **params):
        ly = self.layer(which)
        q = urllib.parse.urlencode(dict({"layers": ly.id}, **params))
        return f"{self.base}/api/download/v1/items/{ly.item_id}/{fmt}?{q}"



def main(argv=None):
    import layers
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layer", action="append", default=[], metavar="SERVICE=SPEC",
                    help="serve a layer of SERVICE from SPEC: a JSON file or inline JSON (layers.py "
                         "layer_from_spec); repeatable")
    ap.add_argument("--denver", type=int, metavar="ROWS", help="add Denver's traffic layer 325 and 311 table 66 "
                    "with ROWS generated rows each")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--org", default=DEFAULT_ORG)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hub-polls", type=int, default=3, help="Hub answers before Completed (default 3)")
    ap.add_argument("--blob-ttl", type=float, default=3600, help="seconds a signed export URL lives")
    ap.add_argument("--max-record-count", type=int, help="maxRecordCount of the --denver layers (default 2000)")
    ap.add_argument("--quirks", help="a JSON file with a list of quirk rules")
    ap.add_argument("--prerender", action="append", default=[], metavar="LAYER:PAGE[:gzip][:denverd]",
                    help="pre-render the page sequences of LAYER (key or id) with PAGE rows a page; "
                         "denverd: only the pages denverd asks for (prerender.py)")
    args = ap.parse_args(argv)
    emu = Emulator(args.port, args.org, args.hub_polls, args.blob_ttl, args.seed)
    for item in args.layer:
        svc, _, spec = item.partition("=")
        if not spec:
            ap.error(f"--layer {item!r}: want SERVICE=SPEC")
        emu.add_layer(layers.layer_from_spec(svc, spec))
    if args.denver is not None:
        mrc = {"max_record_count": args.max_record_count} if args.max_record_count else {}
        emu.add_layer(layers.traffic_layer(args.denver, seed=args.seed, **mrc))
        emu.add_layer(layers.service_requests_layer(args.denver, seed=args.seed, **mrc))
    if args.quirks:
        with open(args.quirks) as f:
            for spec in json.load(f):
                emu.quirks.add(**spec)
    for p in args.prerender:
        which, _, rest = p.partition(":")
        size, *opts = rest.split(":")
        if set(opts) - {"gzip", "denverd"}:
            ap.error(f"--prerender {p!r}: options are gzip and denverd")
        kw = {"modes": ("denverd",)} if "denverd" in opts else {}
        emu.prerender(which, int(size) if size else None, gzip="gzip" in opts, **kw)
    # SIGTERM: stop serving from another thread (shutdown() waits for the loop)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=emu.shutdown).start())
    print(emu.port, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        emu.serve_forever()
    emu.server_close()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
