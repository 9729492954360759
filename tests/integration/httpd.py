#!/usr/bin/env python3
"""httpd.py - denverd's HTTP test server: loopback, standard library only.

Serves files under --root with ETag / Last-Modified, conditional GET (304),
Range and If-Range, and misbehaves on request.  Behaviours are chosen by
query parameters of the URL, so one server serves every test:

  fail=N&status=S[&retry_after=V]  the first N requests of this URL answer
                                   S (default 503), then the file
  status=S[&retry_after=V]         always answer S (404, 429, ...)
  reset_at=B[&times=N]             send B body bytes, then reset the
                                   connection (TCP RST), the first N times
  short=B[&times=N]                full Content-Length, B body bytes, close
  stall_at=B&stall=SEC[&times=N]   send B bytes, then nothing for SEC seconds
  rate=BYTES_PER_SEC               throttle every response body
  slow=BYTES_PER_SEC[&times=N]     throttle the first N responses only
  redirect=N                       302 chain of N hops to the same URL
  loop=1                           302 to itself, forever
  no_range=1                       ignore Range (always 200 with everything)
  empty_on_range=1                 answer a Range request with an empty 200
  no_etag=1, no_lm=1               omit ETag / Last-Modified
  weak_etag=1                      W/"..." ETag (not usable for If-Range)

"The first N requests" count per URL (path and query) since start or the
last /__reset?counts=1.  ETag is derived from mtime (ns) and size, like nginx, so
rewriting a file under --root is "a file that changes".

Introspection: GET /__log returns every request as JSON
[{"method", "path", "headers": {lower-case name: value}, "status",
  "start", "end" (monotonic seconds; end once a file body is sent)}];
GET /__reset clears the log (?counts=1: the counters too).  When imported, Server(root)
runs in-process and .log / .reset() give the same.

CLI: python3 httpd.py --root DIR [--port 0] [--cert PEM --key PEM]  prints
the port on its first line, then serves (https with --cert) until
SIGTERM/SIGINT.
"""
import argparse
import email.utils
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 64 * 1024


class State:
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.lock = threading.Lock()
        self.log = []
        self.counts = {}

    def count(self, key):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]

    def record(self, entry):
        with self.lock:
            self.log.append(entry)

    def reset(self, counts=False):
        with self.lock:
            self.log.clear()
            if counts:
                self.counts.clear()


def etag_of(st, weak=False):
    tag = '"%x-%x"' % (st.st_mtime_ns, st.st_size)
    return "W/" + tag if weak else tag


def parse_range(value, size):
    """(start, end) inclusive for 'bytes=A-' or 'bytes=A-B'; None if not
    one simple range; 'bad' when unsatisfiable."""
    if not value or not value.startswith("bytes=") or "," in value:
        return None
    a, _, b = value[6:].strip().partition("-")
    try:
        start = int(a)
        end = int(b) if b else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return "bad"
    return start, min(end, size - 1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without this, Nagle holds each small response until the client's
    # delayed ACK: ~40 ms a request on a keep-alive connection.
    disable_nagle_algorithm = True
    server_version = "denverd-test-httpd"

    def log_message(self, fmt, *args):  # quiet: tests read /__log instead
        pass

    @property
    def state(self):
        return self.server.state

    def do_HEAD(self):
        self.handle_get(head=True)

    def do_GET(self):
        self.handle_get(head=False)

    def reply(self, status, headers=(), body=b""):
        self.entry["status"] = status
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def handle_get(self, head):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        self.entry = {"method": self.command, "path": self.path,
                      "headers": {k.lower(): v for k, v in self.headers.items()},
                      "status": None, "start": time.monotonic(), "end": None}
        if url.path == "/__log":
            with self.state.lock:
                body = json.dumps(self.state.log).encode()
            return self.reply(200, [("Content-Type", "application/json")], body)
        if url.path == "/__reset":
            self.state.reset(counts=q.get("counts") == "1")
            return self.reply(200, body=b"ok\n")
        self.state.record(self.entry)
        n = self.state.count(self.path)
        times = int(q.get("times", "1"))

        if "fail" in q and n <= int(q["fail"]) or "status" in q and "fail" not in q:
            status = int(q.get("status", "503"))
            hdrs = [("Retry-After", q["retry_after"])] if "retry_after" in q else []
            return self.reply(status, hdrs, b"test error %d\n" % status)
        if q.get("loop") == "1":
            return self.reply(302, [("Location", self.path)])
        if int(q.get("redirect", "0")) > 0:
            q2 = dict(q, redirect=str(int(q["redirect"]) - 1))
            loc = url.path + "?" + urllib.parse.urlencode(q2)
            return self.reply(302, [("Location", loc)])

        path = os.path.normpath(os.path.join(self.state.root, url.path.lstrip("/")))
        if not path.startswith(self.state.root + os.sep) or not os.path.isfile(path):
            return self.reply(404, body=b"not found\n")
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                self.serve_file(f, st, q, n <= times, head)
        finally:
            self.entry["end"] = time.monotonic()

    def serve_file(self, f, st, q, misbehave, head):
        size = st.st_size
        etag = etag_of(st, q.get("weak_etag") == "1")
        lm = email.utils.formatdate(st.st_mtime, usegmt=True)
        hdrs = [("Accept-Ranges", "bytes")]
        if q.get("no_etag") != "1":
            hdrs.append(("ETag", etag))
        if q.get("no_lm") != "1":
            hdrs.append(("Last-Modified", lm))
        h = self.headers

        # Conditional GET (RFC 9110 13.2.2: If-None-Match wins over IMS).
        inm = h.get("If-None-Match")
        ims = h.get("If-Modified-Since")
        if q.get("no_etag") != "1" and inm is not None:
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            if "*" in tags or etag.removeprefix("W/") in tags:
                return self.reply(304, hdrs)
        elif inm is None and ims and q.get("no_lm") != "1":
            try:
                if int(st.st_mtime) <= email.utils.parsedate_to_datetime(ims).timestamp():
                    return self.reply(304, hdrs)
            except (TypeError, ValueError):
                pass

        if q.get("empty_on_range") == "1" and h.get("Range"):
            return self.reply(200, hdrs)
        start, end, status = 0, size - 1, 200
        rng = parse_range(h.get("Range"), size) if q.get("no_range") != "1" else None
        if_range = h.get("If-Range")
        if rng is not None and if_range is not None:
            # A strong ETag or the exact Last-Modified date must match.
            if not ((if_range == etag and not etag.startswith("W/")) or if_range == lm):
                rng = None
        if rng == "bad":
            return self.reply(416, [("Content-Range", "bytes */%d" % size)])
        if rng:
            start, end = rng
            status = 206
            hdrs.append(("Content-Range", "bytes %d-%d/%d" % (start, end, size)))

        self.entry["status"] = status
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if head:
            return
        self.send_body(f, start, end + 1, q, misbehave)

    def send_body(self, f, pos, stop, q, misbehave):
        rate = int(q.get("rate", "0"))
        if misbehave and "slow" in q:
            rate = int(q["slow"])
        cut = None
        for key in ("reset_at", "short", "stall_at"):
            if key in q and misbehave:
                cut = (key, int(q[key]))
        if cut is None and rate == 0:
            self.wfile.flush()
            self.connection.sendfile(f, offset=pos, count=stop - pos)
            return
        f.seek(pos)
        sent, t0 = 0, time.monotonic()
        limit = stop - pos if cut is None else min(stop - pos, cut[1])
        while sent < limit:
            data = f.read(min(CHUNK, limit - sent))
            if not data:
                break
            self.wfile.write(data)
            sent += len(data)
            if rate:
                ahead = sent / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        if cut is None:
            return
        self.wfile.flush()
        if cut[0] == "reset_at":
            # SO_LINGER 0 makes close() send RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        elif cut[0] == "stall_at":
            time.sleep(float(q.get("stall", "10")))
        self.close_connection = True


class Server(ThreadingHTTPServer):
    """In-process use: s = Server(root); s.start(); ... s.stop()."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root, port=0, tls=None):
        super().__init__(("127.0.0.1", port), Handler)
        self.state = State(root)
        self.thread = None
        if tls:  # (certfile, keyfile): serve https
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.socket = ctx.wrap_socket(self.socket, server_side=True)

    @property
    def port(self):
        return self.server_address[1]

    @property
    def log(self):
        with self.state.lock:
            return list(self.state.log)

    def reset(self, counts=False):
        self.state.reset(counts)

    def start(self):
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert", help="PEM certificate: serve https")
    ap.add_argument("--key", help="PEM private key of --cert")
    args = ap.parse_args()
    srv = Server(args.root, args.port, (args.cert, args.key) if args.cert else None)
    print(srv.port, flush=True)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
