"""s3proxy.py - a fault-injecting HTTP proxy in front of a real S3 server
(SeaweedFS cannot be told to throttle).  Loopback, standard library only,
in the style of httpd.py: the requests pass through unchanged (Host
included, so SigV4 signatures stay valid: the client signed for the
proxy's address and the server checks against the Host it receives), but
the first N that match a rule get the rule's answer instead.

    px = S3Proxy(upstream="http://127.0.0.1:8333").start()
    px.fail(method="PUT", query="partNumber", times=2, status=503, code="SlowDown")
    ... point the client at px.endpoint ...
    px.delay(method="PUT", query="partNumber=2", seconds=10)   # passed on late
    px.log  -> [{"method", "path", "query", "status", "injected"}]
"""
import http.client
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate"}


class Rule:
    def __init__(self, method, query, times, status, code, retry_after, delay=None):
        self.method, self.query, self.left = method, query, times
        self.status, self.code, self.retry_after = status, code, retry_after
        self.delay = delay          # seconds: passed on this late, not answered

    def matches(self, method, query):
        return self.left > 0 and (self.method is None or self.method == method) and \
            (self.query is None or self.query in query)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _any(self):
        px = self.server.px
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with px.lock:
            rule = next((r for r in px.rules if r.matches(self.command, u.query)), None)
            if rule:
                rule.left -= 1
        if rule and rule.delay is not None:
            time.sleep(rule.delay)
            rule = None
        if rule:
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                   "<Message>injected by s3proxy</Message><Resource>%s</Resource>"
                   "</Error>" % (rule.code, u.path)).encode()
            self.send_response(rule.status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(xml)))
            if rule.retry_after is not None:
                self.send_header("Retry-After", str(rule.retry_after))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(xml)
            px.record(self.command, u, rule.status, True)
            return
        conn = http.client.HTTPConnection(px.host, px.port, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        px.record(self.command, u, r.status, False)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any


class S3Proxy:
    def __init__(self, upstream):
        u = urllib.parse.urlsplit(upstream)
        self.host, self.port = u.hostname, u.port
        self.rules = []
        self.log = []
        self.lock = threading.Lock()
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.srv.px = self
        self.endpoint = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.thread = None

    def fail(self, method=None, query=None, times=1, status=503, code="SlowDown",
             retry_after=None):
        """The next TIMES requests with METHOD whose query holds QUERY get
        STATUS with the S3 error CODE (and a Retry-After of seconds)."""
        with self.lock:
            self.rules.append(Rule(method, query, times, status, code, retry_after))

    def delay(self, method=None, query=None, times=1, seconds=1.0):
        """The next TIMES requests with METHOD whose query holds QUERY are
        passed on SECONDS late (a slow server, for a kill mid-upload)."""
        with self.lock:
            self.rules.append(Rule(method, query, times, None, None, None, delay=seconds))

    def record(self, method, u, status, injected):
        with self.lock:
            self.log.append({"method": method, "path": u.path, "query": u.query,
                             "status": status, "injected": injected})

    def start(self):
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
