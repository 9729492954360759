"""handler.py - the emulator's request handler (emulator.py has the server,
the routes and the CLI): it reads GET/POST/HEAD requests, logs them, counts
them against the quirk rules, answers injected failures (quirks.py), the
ArcGIS and Hub routes (fslayer.py, fsquery.py, hub.py) and the /__ admin
paths, and writes the answer with gzip, validators, CDN headers, cuts and
resets as the rules say."""
import gzip
import json
import socket
import struct
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler

import fslayer
import fsquery
import quirks

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
SHAPING = {"short_page", "empty_page", "ignore_count", "ignore_offset", "empty_after_first", "legacy_flag",
           "unstable_order", "unsorted_ids", "stat_case", "no_pagination", "no_oid", "result_type"}
REPLACING = ("maintenance", "long_get", "rate_limit", "html", "error")


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
    # TCP_NODELAY: the headers and the body go out in two writes, and Nagle would hold the
    # second until the client's delayed ACK (40 ms a response on a keep-alive connection)
    disable_nagle_algorithm = True

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
        rule = fired.get("corrupt_gzip")
        if rule and gz_ok:
            p = rule.params
            at = min(int(p.get("at_byte", len(body) // 2)), len(body) - 1)
            n = min(int(p.get("n", 16)), len(body) - at)
            body = body[:at] + bytes(b ^ 0xA5 for b in body[at:at + n]) + body[at + n:]
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
