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
import email.utils
import gzip
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fslayer
import fsquery
import hub
import prerender
import quirks

DEFAULT_ORG = "zdB7qR0BtYrg0Xpl"
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
SHAPING = {"short_page", "empty_page", "ignore_count", "ignore_offset", "empty_after_first", "legacy_flag",
           "unstable_order", "unsorted_ids", "stat_case", "no_pagination", "no_oid", "result_type"}
REPLACING = ("maintenance", "long_get", "rate_limit", "html", "error")


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


class Req:
    """What quirk rules match on."""

    def __init__(self, route, layer, method, path, params, prefixes):
        self.route, self.layer, self.method, self.path = route, layer, method, path
        self.params, self.prefixes, self.page_size = params, prefixes, None


class Resp:
    def __init__(self, status, headers=(), body=b"", ctype=None, cacheable=False, gz=None):
        self.status, self.headers, self.body = status, list(headers), body
        if ctype:
            self.headers.insert(0, ("Content-Type", ctype))
        self.cacheable, self.gz = cacheable, gz


def json_resp(obj_or_bytes, f="json", **kw):
    body = obj_or_bytes if isinstance(obj_or_bytes, bytes) else fsquery.encode(obj_or_bytes, f)
    return Resp(200, (), body, JSON_TYPE, **kw)


def invalid_url():
    return json_resp(quirks.error_body(400, "Invalid URL", ["Invalid URL"]))


def directory_page(title):
    return Resp(200, (), (f"<!DOCTYPE html>\n<html><head><title>{title} (ArcGIS REST Services Directory)"
                          f"</title></head>\n<body><h2>{title}</h2><p>Emulator: add f=json.</p></body></html>\n"
                          ).encode(), HTML_TYPE)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "denverd-arcgis-emulator"

    def log_message(self, fmt, *args):  # quiet: tests read /__log instead
        pass

    def do_GET(self):
        self.handle_request()

    def do_POST(self):
        self.handle_request()

    def do_HEAD(self):
        self.handle_request()

    def do_DELETE(self):
        self.handle_request()

    def handle_request(self):
        emu = self.server
        self.entry, self.prefix = None, ""
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        raw = b""
        if self.command in ("POST", "PUT"):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
        if url.path.startswith("/__") and not url.path.startswith("/__quirk/"):
            return self.send(self.admin(url.path, dict(query), raw), {})
        ctype = self.headers.get("Content-Type", "")
        form = []
        if raw and "multipart" not in ctype:
            form = urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        params = {}
        for k, v in query + form:
            params[k.lower()] = v
        prefixes, path = [], url.path
        while path.startswith("/__quirk/"):
            seg, _, rest = path[len("/__quirk/"):].partition("/")
            prefixes.append(seg)
            path = "/" + rest
        self.prefix = "".join(f"/__quirk/{p}" for p in prefixes)
        route, info = emu.resolve(path)
        layer = info.get("layer")
        self.entry = {"method": self.command, "path": self.path, "route": route,
                      "layer": layer.key if layer else None, "query": dict(query), "form": dict(form),
                      "headers": {k.lower(): v for k, v in self.headers.items()}, "status": None, "bytes": 0,
                      "quirks": [], "prerendered": False, "start": time.monotonic(), "end": None}
        emu.record(self.entry)
        emu.count(route)
        for p in prefixes:
            try:
                emu.quirks.prefix_rule(p)
            except (ValueError, TypeError) as e:
                return self.send(Resp(400, (), f"bad quirk prefix {p!r}: {e}\n".encode(), "text/plain"), {})
        req = Req(route, layer.key if layer else None, self.command, path, params, set(prefixes))
        q = qerr = None
        if route == "query" and (params.get("f") or "html").lower() != "html":
            try:
                q = fsquery.Query(layer, params)
                req.page_size = q.page_size
            except fsquery.QueryError as e:
                qerr = e
        fired = emu.quirks.evaluate(req, emu.clock.mono())
        self.entry["quirks"] = sorted(fired)
        if "delay" in fired:
            time.sleep(float(fired["delay"].params.get("seconds", 1)))
        resp = emu.cdn_lookup(self.path, route, fired) if self.command == "GET" else None
        if resp is None:
            resp = self.injected(fired, route)
        if resp is None:
            try:
                resp = self.dispatch(route, info, params, q, qerr, fired)
            except fsquery.QueryError as e:
                self.entry["reason"] = e.reason or e.message
                resp = json_resp(e.body())
            except Exception as e:  # an emulator bug: say so loudly, never hang
                self.entry["reason"] = traceback.format_exc()
                resp = Resp(500, (), f"emulator error: {e!r}\n".encode(), "text/plain")
            if resp.cacheable and self.command == "GET" and "cdn" in fired:
                emu.cdn_store(self.path, resp)
        self.send(resp, fired, layer)
        rule = fired.get("mutate")
        if rule:
            kw = {k: v for k, v in rule.params.items() if k not in ("op", "layer")}
            emu.mutate(rule.params.get("layer", layer and layer.key), rule.params.get("op", "reload"), **kw)

    def base(self):
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.port
        return f"http://{host}"

    # ---- quirks that replace the answer ------------------------------------
    def injected(self, fired, route):
        for kind in REPLACING:
            rule = fired.get(kind)
            if rule is None:
                continue
            p = rule.params
            if kind == "maintenance":
                return Resp(int(p.get("status", 200)), (), quirks.html_page(200), HTML_TYPE)
            if kind == "long_get":
                if self.command == "GET" and len(self.base() + self.path) > int(p.get("max_url", 2048)):
                    return Resp(404, (), quirks.html_page(404), HTML_TYPE)
                continue
            hdrs = [("Retry-After", str(p["retry_after"]))] if p.get("retry_after") is not None else []
            if kind == "rate_limit":
                body = fsquery.encode(quirks.error_body(429, p.get("message")))
                return Resp(int(p.get("http", 429)), hdrs, body, JSON_TYPE)
            if kind == "html":
                status = int(p.get("status", 503))
                return Resp(status, hdrs, quirks.html_page(status), HTML_TYPE)
            body = fsquery.encode(quirks.error_body(p.get("code", 500), p.get("message"), p.get("details")))
            return Resp(int(p.get("http", 200)), hdrs, body, JSON_TYPE)
        return None

    # ---- normal answers ------------------------------------------------------
    def dispatch(self, route, info, params, q, qerr, fired):
        emu = self.server
        base = self.base() + self.prefix
        if route == "hub":
            return hub_resp(emu.hub.download(info["item"], info["fmt"], params, fired, base))
        if route == "replica":
            return Resp(*emu.hub.replica(info["name"], base))
        if route == "blob":
            return Resp(*emu.hub.blob(info["name"], params, self.headers))
        if route == "item":
            if info.get("data"):
                return Resp(*emu.hub.item_data(info["item"], base))
            return Resp(*emu.hub.item_info(info["item"], base))
        if route == "itemfile":
            return Resp(*emu.hub.item_file(info["item"], info["name"], self.headers))
        if route == "other":
            return Resp(404, (), b"not found\n", "text/plain")
        if route == "invalid":
            return invalid_url()
        f = (params.get("f") or "html").lower()
        if f == "html":
            return directory_page(info.get("title", "Home"))
        if route == "query":
            if qerr:
                raise qerr
            return emu.answer(q, fired, self.entry)
        if f not in ("json", "pjson", "geojson"):
            raise fsquery.QueryError(400, "Invalid format", [f"'f' parameter value '{f}' is not supported"])
        f = "pjson" if f == "pjson" else "json"
        layer = info.get("layer")
        doc_args = {"no_pagination": "no_pagination" in fired, "no_oid": "no_oid" in fired}
        if route == "services":
            return json_resp({"currentVersion": fslayer.CURRENT_VERSION, "folders": [],
                              "services": [{"name": s, "type": "FeatureServer",
                                            "url": f"{base}/{emu.org}/arcgis/rest/services/{s}/FeatureServer"}
                                           for s in sorted(emu.services)]}, f, cacheable=True)
        if route == "service":
            return json_resp(fslayer.service_document(info["service"], emu.services[info["service"]]), f,
                             cacheable=True)
        if route == "layers":
            layers = emu.services[info["service"]]
            return json_resp({"layers": [ly.document(**doc_args) for ly in layers if ly.geometry],
                              "tables": [ly.document(**doc_args) for ly in layers if not ly.geometry]}, f,
                             cacheable=True)
        if route == "layer":
            return json_resp(layer.document(**doc_args), f, cacheable=True)
        if route == "feature":
            return json_resp(fsquery.feature_body(layer, info["oid"], params), cacheable=True)
        raise AssertionError(route)

    def admin(self, path, q, raw):
        emu = self.server
        try:
            arg = json.loads(raw) if raw.strip() and path != "/__item" else None
        except ValueError as e:
            return Resp(400, (), f"bad JSON: {e}\n".encode(), "text/plain")
        try:
            if path == "/__log":
                return json_resp(emu.log)
            if path == "/__reset":
                emu.reset(counts=q.get("counts") == "1", quirks=q.get("quirks") == "1", data=q.get("data") == "1")
                return Resp(200, (), b"ok\n", "text/plain")
            if path == "/__quirks":
                if self.command == "DELETE" or (isinstance(arg, dict) and arg.get("clear")):
                    emu.quirks.clear()
                elif arg is not None:
                    if q.get("replace") == "1":
                        emu.quirks.clear()
                    for spec in arg if isinstance(arg, list) else [arg]:
                        emu.quirks.add(**spec)
                return json_resp(emu.quirks.state())
            if path == "/__mutate":
                arg = dict(arg or {})
                ly = emu.layer(arg.pop("layer", None))
                emu.mutate(ly.key, arg.pop("op", "reload"), **arg)
                return json_resp({"layer": ly.key, "editingInfo": ly.editing, "count": len(ly.snapshot().rows)})
            if path == "/__clock":
                emu.clock.advance(float(q.get("advance", 0)))
                return json_resp({"time": emu.clock.time(), "offset": emu.clock.offset})
            if path == "/__prerender":
                arg = dict(arg or {})
                return json_resp(emu.prerender(arg.pop("layer", None), **arg))
            if path == "/__item":
                it = q["id"]
                if it in emu.hub.items and "name" not in q:
                    emu.hub.replace_item(it, raw)
                else:
                    emu.hub.add_item(it, raw, q.get("name", "data.csv"), q.get("type", "text/csv"))
                return json_resp({"id": it, "size": len(raw)})
        except (KeyError, ValueError, TypeError) as e:
            return Resp(400, (), f"{type(e).__name__}: {e}\n".encode(), "text/plain")
        return Resp(404, (), b"unknown admin path\n", "text/plain")

    # ---- the wire ---------------------------------------------------------------
    def send(self, resp, fired, layer=None):
        emu = self.server
        body, hdrs, status = resp.body, list(resp.headers), resp.status
        entry = self.entry
        if "validators" in fired and status == 200 and resp.cacheable:
            etag, lm = emu.validators(body, layer, fired["validators"])
            hdrs += [("ETag", etag), ("Last-Modified", lm)]
            if fired["validators"].params.get("conditional") and self.headers.get("If-None-Match") == etag:
                status, body = 304, b""
        if "cdn" in fired and resp.cacheable:
            age = int(fired["cdn"].params.get("max_age", 30))
            hdrs += [("Cache-Control", f"public, max-age={age}, s-maxage={age}")]
        gz_ok = (body and "no_gzip" not in fired and accepts_gzip(self.headers.get("Accept-Encoding", ""))
                 and any(k == "Content-Type" and ("json" in v or "html" in v) for k, v in hdrs))
        if gz_ok:
            body = resp.gz or gzip.compress(body, 6, mtime=0)
            hdrs += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        length, cut, reset = len(body), None, False
        rule = fired.get("truncate")
        if rule and body:
            p = rule.params
            cut = int(p["bytes"]) if "bytes" in p else int(len(body) * float(p.get("fraction", 0.5)))
            cut = max(0, min(cut, len(body) - 1))
            if p.get("mode", "json") == "json":
                body, length, cut = body[:cut], cut, None
        rule = fired.get("reset")
        if rule and body:
            cut, reset = min(int(rule.params.get("at_byte", len(body) // 2)), len(body) - 1), True
        if entry is not None:
            entry["status"] = status
        self.send_response(status)
        for k, v in hdrs + [("Access-Control-Allow-Origin", "*")]:
            self.send_header(k, v)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            body = b""
        out = body if cut is None else body[:cut]
        try:
            if out:
                self.wfile.write(out)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        if entry is not None:
            entry["bytes"], entry["end"] = len(out), time.monotonic()
        if cut is not None:
            if reset:   # SO_LINGER 0: close() sends RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            self.close_connection = True


def hub_resp(t):
    status, hdrs, body = t
    return Resp(status, hdrs, body, JSON_TYPE if body and status != 302 else None)


def accepts_gzip(value):
    for part in value.split(","):
        name, _, q = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return q.replace(" ", "") not in ("q=0", "q=0.0")
    return False


class Emulator(ThreadingHTTPServer):
    """The in-process emulator: emu = Emulator(); emu.add(...); emu.start()."""
    daemon_threads = True
    allow_reuse_address = True

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
        self.requests = 0
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
    def port(self):
        return self.server_address[1]

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

    def start(self):
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()


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
    ap.add_argument("--prerender", action="append", default=[], metavar="LAYER:PAGE[:gzip]",
                    help="pre-render the page sequences of LAYER (key or id) with PAGE rows a page")
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
        size, _, gz = rest.partition(":")
        emu.prerender(which, int(size) if size else None, gzip=gz == "gzip")
    print(emu.port, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        emu.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        emu.server_close()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
