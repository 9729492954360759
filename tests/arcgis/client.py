"""client.py - a plain HTTP client of the emulator for its tests and benchmark
(standard library; nothing of the emulator is imported, so what the tests
see is what went over the socket).

  Conn(port)             one keep-alive http.client connection: .get(path,
                         **params) / .post(path, **params) -> Reply
  get(url, **params)     a one-shot GET with urllib (follows no redirects)
  post(url, **params)    a one-shot form POST
  Reply                  .status .headers (lower-case names) .body .json()
"""
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.body = status, body
        self.headers = {k.lower(): v for k, v in headers}

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Reply({self.status}, {self.body[:200]!r})"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kw):
        return None


_opener = urllib.request.build_opener(NoRedirect)


def _open(req, timeout):
    try:
        with _opener.open(req, timeout=timeout) as r:
            return Reply(r.status, r.headers.items(), r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers.items(), e.read())


def with_params(url, params):
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)


def get(url, headers=None, timeout=10, **params):
    return _open(urllib.request.Request(with_params(url, params), headers=headers or {}), timeout)


def post(url, headers=None, timeout=10, **params):
    data = urllib.parse.urlencode(params).encode()
    h = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    return _open(urllib.request.Request(url, data=data, headers=h, method="POST"), timeout)


class Conn:
    """One persistent connection (HTTP/1.1 keep-alive)."""

    def __init__(self, port, timeout=30):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        self.c.request(method, path, body=body, headers=headers or {})
        r = self.c.getresponse()
        return Reply(r.status, r.getheaders(), r.read())

    def get(self, path, headers=None, **params):
        return self.request("GET", with_params(path, params), headers=headers)

    def post(self, path, headers=None, **params):
        h = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, urllib.parse.urlencode(params), h)

    def close(self):
        self.c.close()


def offset_pages(layer_url, page=None, order=None, use_post=False, max_pages=500, **extra):
    """Offset paging as mature clients do it: the offset advances by the rows
    received; stops when exceededTransferLimit is false or absent.  Returns
    the parsed pages."""
    offset, pages = 0, []
    send = post if use_post else get
    while len(pages) < max_pages:
        params = dict({"where": "1=1", "outFields": "*", "f": "json", "returnGeometry": "false",
                       "resultOffset": offset}, **extra)
        if page:
            params["resultRecordCount"] = page
        if order:
            params["orderByFields"] = order
        d = send(layer_url + "/query", **params).json()
        pages.append(d)
        offset += len(d["features"])
        if not d.get("exceededTransferLimit"):
            break
    return pages


def oid_range_pages(layer_url, oid, chunk, inclusive=True, use_post=False, **extra):
    """OID chunks: returnIdsOnly, sort, then one range predicate per chunk of
    at most CHUNK ids (`oid >= a AND oid <= b`, or `oid > a-1 AND oid <= b`)."""
    send = post if use_post else get
    ids = sorted(send(layer_url + "/query", where="1=1", returnIdsOnly="true", f="json").json()["objectIds"])
    pages = []
    for k in range(0, len(ids), chunk):
        a, b = ids[k], ids[min(k + chunk, len(ids)) - 1]
        where = f"{oid} >= {a} AND {oid} <= {b}" if inclusive else f"{oid} > {a - 1} AND {oid} <= {b}"
        pages.append(send(layer_url + "/query", where=where, outFields="*", f="json",
                          returnGeometry="false", **extra).json())
    return pages


def rows_of(pages):
    return [f["attributes"] for p in pages for f in p["features"]]
