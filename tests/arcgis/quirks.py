"""quirks.py - the emulator's misbehaviours (ARCGIS.md 7.4-7.6), each a Rule:
a KIND, what requests it MATCHES, and a SCHEDULE saying on which of them it
fires, with counters a test can read.  All are off until a rule is added.

Matching (all given must hold):
  layer    "SERVICE/ID", the layer id (int) or the service name
  route    one name or a list: service layers layer query feature (group
           "rest"), hub, replica, blob, item, itemfile, or "any"; the
           default depends on the kind (DEFAULT_ROUTE)
  method   "GET" or "POST"
  path     a regular expression searched in the request path
  params   {parameter: regular expression} searched in its value ("" if absent)
  min_records   only pages asking for more than N rows ("pressure")

Schedule, counted over the matching requests (seen = 1, 2, ...), all given
must hold; none given means every matching request:
  at       N or [N, ...]: the Nth matching requests ("the 3rd query fails")
  after    seen > N          every    seen % N == 0
  prob     probability, from a random stream seeded by `seed` (default 0)
  times    at most N firings in all

Any other key is a parameter of the kind (KINDS below).  Rules can also ride
on the URL, like httpd.py's query parameters: a path that starts with
/__quirk/KIND;k=v;k=v/ (repeatable; list values joined by '+') applies the
rule to the requests that carry that prefix, with counters kept per prefix.
"""
import random
import re
import threading
import urllib.parse

REST = {"service", "layers", "layer", "query", "feature"}
ROUTES = REST | {"hub", "replica", "blob", "item", "itemfile"}

# kind -> (default route, what it does)
KINDS = {
    "error": ("query", "JSON error body {error: {code, message, details}}; params code (500), message, "
                       "details, http (200: the ArcGIS way)"),
    "html": ("query", "an HTML error page; params status (503; 502, 504...), retry_after"),
    "maintenance": ("any", "an HTML holding page with HTTP 200 on every path; params status (200)"),
    "rate_limit": ("rest", "HTTP 429 + JSON code 429; params limit (requests per window; absent: the "
                           "schedule decides), window (60 s), retry_after (seconds; absent: no header), "
                           "http (429, or 200 for the JSON-only variant)"),
    "long_get": ("rest", "a GET whose URL is longer than max_url (2048) answers 404 with an HTML body"),
    "delay": ("query", "sleep `seconds` before answering (past a client's timeout)"),
    "truncate": ("query", "cut the body: params bytes (or fraction, 0.5); mode json (the cut body with a "
                          "matching Content-Length: valid HTTP, broken JSON) or short (the full "
                          "Content-Length, fewer bytes, then close)"),
    "corrupt_gzip": ("query", "a gzip body with `n` (16) bytes flipped from byte `at_byte` (default: "
                              "the middle); the Content-Length matches (valid HTTP, a broken stream); "
                              "nothing when the answer is not gzip"),
    "reset": ("query", "send `at_byte` bytes of the body (default half), then a TCP RST"),
    "mutate": ("query", "after answering, change the layer: op reload | insert (n) | delete (n) | "
                        "update | add_field | touch; `layer` picks which (default: the request's)"),
    "short_page": ("query", "drop the last `drop` (3) rows of the page, flag stays honest (true)"),
    "empty_page": ("query", "answer zero rows with exceededTransferLimit true"),
    "ignore_count": ("query", "ignore resultRecordCount: serve `size` rows (default maxRecordCount)"),
    "ignore_offset": ("query", "lying pagination: resultOffset is ignored, every page is page 1"),
    "empty_after_first": ("query", "lying pagination: pages after the first are [] (flag false) unless "
                                   "returnGeometry=false"),
    "legacy_flag": ("query", "omit exceededTransferLimit on the last page"),
    "unstable_order": ("query", "offset > 0 without orderByFields: rows shuffled per request (seed); "
                                "ties: true also shuffles rows that tie on orderByFields"),
    "unsorted_ids": ("query", "returnIdsOnly ids in a shuffled order"),
    "stat_case": ("query", "outStatistics answer names with their case swapped"),
    "no_pagination": ("rest", "supportsPagination false; resultOffset -> 400 Pagination is not supported."),
    "no_oid": ("rest", "objectIdField null; resultOffset without orderByFields -> 400"),
    "result_type": ("query", "resultType=standard|tile pages up to standard/tileMaxRecordCount"),
    "cdn": ("rest", "CDN cache: identical GET URLs answer the same bytes for max_age (30) s, "
                    "Cache-Control: public, max-age=N, s-maxage=N, X-Cache, Age"),
    "validators": ("rest", "ETag (Denver's unquoted sd<n>_<hash> shape) and Last-Modified (the edit date); "
                           "random: true makes the ETag change on every request; conditional: true "
                           "answers 304 to a matching If-None-Match"),
    "no_gzip": ("any", "ignore Accept-Encoding: gzip"),
    "hub_failed": ("hub", "the download job ends {status: Failed} with HTTP 200"),
    "hub_error": ("hub", "a non-2xx answer with {message}; params status (500), message"),
    "hub_202": ("hub", "HTTP 202 instead of 200 while the job is not finished"),
    "hub_block": ("hub", "redirect mode blocks `seconds` (0.2) until the file is ready, then 302, "
                         "instead of answering 202 with the status"),
}
SCHEDULE = {"at", "after", "every", "prob", "seed", "times"}
MATCH = {"layer", "route", "method", "path", "params", "min_records"}

ERROR_TEXT = {
    400: ("Unable to complete operation.", ["Unable to perform query operation."]),
    403: ("You do not have permissions to access this resource or perform this operation.", []),
    404: ("Invalid URL", ["Invalid URL"]),
    429: ("Too many requests. Try again later.", []),
    498: ("Invalid token.", []),
    499: ("Token Required", []),
    500: ("Error performing query operation.", []),
    503: ("Service not started ", []),
    504: ("Your request has timed out.", []),
}
HTML_TEXT = {
    200: ("ArcGIS Online is undergoing maintenance",
          "ArcGIS Online is currently undergoing scheduled maintenance. Please try again later."),
    404: ("404 - File or directory not found.",
          "The resource you are looking for might have been removed, had its name changed, or is "
          "temporarily unavailable."),
    502: ("502 Bad Gateway", "The server returned an invalid or incomplete response."),
    503: ("503 Service Unavailable", "The service is unavailable."),
    504: ("504 Gateway Timeout", "The server didn't respond in time."),
}


def html_page(status):
    title, text = HTML_TEXT.get(status, (f"{status} Error", "Error"))
    return (f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
            f"<body><h1>{title}</h1><p>{text}</p></body></html>\n").encode()


def error_body(code, message=None, details=None):
    m, d = ERROR_TEXT.get(int(code), ("Error", []))
    return {"error": {"code": int(code), "message": m if message is None else message,
                      "details": d if details is None else list(details)}}


class Rule:
    def __init__(self, kind, prefix=None, **spec):
        if kind not in KINDS:
            raise ValueError(f"unknown quirk kind {kind!r} (one of {', '.join(KINDS)})")
        self.kind, self.prefix = kind, prefix
        self.spec = dict(spec, kind=kind)
        self.match = {k: spec[k] for k in MATCH if k in spec}
        self.sched = {k: spec[k] for k in SCHEDULE if k in spec}
        self.params = {k: v for k, v in spec.items() if k not in MATCH | SCHEDULE}
        route = self.match.get("route", KINDS[kind][0])
        self.routes = set(route) if isinstance(route, (list, tuple)) else {route}
        if "rest" in self.routes:
            self.routes |= REST
        bad = self.routes - ROUTES - {"any", "rest"}
        if bad:
            raise ValueError(f"unknown route {sorted(bad)}")
        at = self.sched.get("at")
        self.at = None if at is None else {int(x) for x in (at if isinstance(at, (list, tuple)) else [at])}
        self.rng = random.Random(self.sched.get("seed", 0))
        self.stamps = []          # rate_limit: times of the matching requests
        self.seen = self.fired = 0

    def matches(self, req):
        if self.prefix is not None and self.prefix not in req.prefixes:
            return False
        if "any" not in self.routes and req.route not in self.routes:
            return False
        m = self.match
        if "method" in m and req.method != m["method"].upper():
            return False
        if "layer" in m and not layer_matches(m["layer"], req.layer):
            return False
        if "path" in m and not re.search(m["path"], req.path):
            return False
        for name, rx in (m.get("params") or {}).items():
            if not re.search(str(rx), req.params.get(name.lower(), "")):
                return False
        if "min_records" in m and (req.page_size is None or req.page_size <= int(m["min_records"])):
            return False
        return True

    def due(self, now):
        s, n = self.sched, self.seen
        if self.kind == "rate_limit" and "limit" in self.params:
            window = float(self.params.get("window", 60))
            self.stamps = [t for t in self.stamps if t > now - window] + [now]
            if len(self.stamps) <= int(self.params["limit"]):
                return False
        if self.at is not None and n not in self.at:
            return False
        if "after" in s and n <= int(s["after"]):
            return False
        if "every" in s and n % int(s["every"]):
            return False
        if "times" in s and self.fired >= int(s["times"]):
            return False
        if "prob" in s and self.rng.random() >= float(s["prob"]):
            return False
        return True

    def state(self):
        return dict(self.spec, seen=self.seen, fired=self.fired, **({"prefix": self.prefix} if self.prefix else {}))


def layer_matches(want, key):
    if key is None:
        return False
    svc, _, lid = key.partition("/")
    return str(want) in (key, svc, lid)


def parse_prefix(segment):
    """'error;code=500;at=3' -> {"kind": "error", "code": 500, "at": 3};
    lists with '+': 'at=2+4'."""
    parts = urllib.parse.unquote(segment).split(";")
    spec = {"kind": parts[0]}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        spec[k] = [scalar(x) for x in v.split("+")] if "+" in v else scalar(v)
    return spec


def scalar(v):
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


class Quirks:
    """The rules of one emulator; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.by_prefix = {}

    def add(self, kind=None, **spec):
        """Add a rule (kind plus match/schedule/params keys); returns it."""
        if kind is None and "kind" in spec:
            kind = spec.pop("kind")
        rule = Rule(kind, **spec)
        with self.lock:
            self.rules.append(rule)
        return rule

    def prefix_rule(self, segment):
        with self.lock:
            rule = self.by_prefix.get(segment)
            if rule is None:
                spec = parse_prefix(segment)
                rule = self.by_prefix[segment] = Rule(spec.pop("kind"), prefix=segment, **spec)
            return rule

    def clear(self):
        with self.lock:
            self.rules.clear()
            self.by_prefix.clear()

    def reset_counts(self):
        with self.lock:
            for r in self.rules + list(self.by_prefix.values()):
                r.seen = r.fired = 0
                r.stamps = []
                r.rng = random.Random(r.sched.get("seed", 0))

    def state(self):
        with self.lock:
            return [r.state() for r in self.rules + list(self.by_prefix.values())]

    def evaluate(self, req, now):
        """Count REQ against every matching rule; {kind: first rule that fired}."""
        fired = {}
        with self.lock:
            rules = self.rules + [self.by_prefix[p] for p in req.prefixes if p in self.by_prefix]
            for r in rules:
                if r.matches(req):
                    r.seen += 1
                    if r.due(now):
                        r.fired += 1
                        fired.setdefault(r.kind, r)
        return fired
