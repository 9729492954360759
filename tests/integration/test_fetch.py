"""Integration tests of daemon/fetch.c through tests/tools/fetch_one, against
the project's HTTP test server (httpd.py) on loopback.  Real sockets, real
files; the tool is the one meson built (env DENVERD_BUILD, default build/)."""
import ctypes
import email.utils
import json
import os
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import httpd  # noqa: E402

BUILD = os.environ.get("DENVERD_BUILD", os.path.join(TOP, "build"))
FETCH_ONE = os.path.join(BUILD, "tests", "tools", "fetch_one")
DATE = "2026-11-24"
MiB = 1024 * 1024


class XXH128(ctypes.Structure):
    _fields_ = [("low64", ctypes.c_uint64), ("high64", ctypes.c_uint64)]


_xxh = ctypes.CDLL("libxxhash.so.0")
_xxh.XXH3_128bits.restype = XXH128
_xxh.XXH3_128bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def xxh128(data):
    """The hash fetch.c records, computed independently through libxxhash."""
    h = _xxh.XXH3_128bits(data, len(data))
    return "%016x%016x" % (h.high64, h.low64)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not os.access(FETCH_ONE, os.X_OK):
        pytest.fail("%s not built (set DENVERD_BUILD)" % FETCH_ONE)
    root = tmp_path_factory.mktemp("www")
    srv = httpd.Server(str(root)).start()
    srv.root = root
    yield srv
    srv.stop()


@pytest.fixture
def srv(server):
    server.reset()
    return server


def put(srv, name, data):
    path = srv.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def url(srv, name, **q):
    u = "http://127.0.0.1:%d/%s" % (srv.port, name)
    if q:
        u += "?" + "&".join("%s=%s" % kv for kv in q.items())
    return u


def fetch(u, state, *args, date=DATE, dataset="ds", check=True, **kw):
    cmd = [FETCH_ONE, "--url", u, "--state-dir", str(state), "--dataset", dataset,
           "--exec-date", date, "--file-name", "data.csv", *args]
    p = subprocess.run(cmd, capture_output=True, timeout=60, **kw)
    if check:
        assert p.returncode == 0, p.stderr.decode()
        return json.loads(p.stdout)
    return p


def partial(state, dataset="ds", date=DATE):
    d = state / "staging" / ".partial"
    return d / ("%s.%s.part" % (dataset, date)), d / ("%s.%s.part.meta" % (dataset, date))


def published(state, dataset="ds", date=DATE):
    return state / "staging" / dataset / ("exec_date=" + date) / "data.csv"


def requests_to(srv, name):
    return [e for e in srv.log if e["path"].lstrip("/").startswith(name)]


def assert_published(r, state, data):
    assert r["outcome"] == "published", r
    assert r["path"] == str(published(state))
    assert published(state).read_bytes() == data
    # Space the write jobs reserved ahead (fallocate) is not left past the end.
    assert published(state).stat().st_blocks * 512 <= len(data) + 4096 + 64 * 1024
    assert r["bytes"] == len(data)
    assert r["hash"] == xxh128(data)
    part, meta = partial(state)
    assert not part.exists() and not meta.exists()


def test_download_publishes_byte_identical(srv, tmp_path):
    data = put(srv, "a.csv", os.urandom(3 * MiB + 123))
    r = fetch(url(srv, "a.csv"), tmp_path)
    assert_published(r, tmp_path, data)
    assert r["http_status"] == 200 and r["resumed_from"] == 0
    assert r["etag"] and r["last_modified"]
    (req,) = requests_to(srv, "a.csv")
    assert req["headers"]["user-agent"].startswith("denverd/")
    assert "if-none-match" not in req["headers"] and "range" not in req["headers"]


def test_url_template_expanded(srv, tmp_path):
    data = put(srv, "y2026/11/24/2026-11-24.csv", b"a,b\n1,2\n")
    r = fetch("http://127.0.0.1:%d/y{year}/{month}/{day}/{exec_date}.csv" % srv.port,
              tmp_path)
    assert_published(r, tmp_path, data)


def test_503_then_ok(srv, tmp_path):
    data = put(srv, "b.csv", os.urandom(100000))
    u = url(srv, "b.csv", fail=1, status=503)
    r = fetch(u, tmp_path)
    assert r["outcome"] == "failed" and r["retryable"] and r["http_status"] == 503
    assert "503" in r["error"] and u in r["error"]
    assert r["retry_after_ms"] == -1
    assert_published(fetch(u, tmp_path), tmp_path, data)


def test_429_retry_after_seconds(srv, tmp_path):
    put(srv, "c.csv", b"x")
    u = url(srv, "c.csv", status=429, retry_after=7)
    r = fetch(u, tmp_path)
    assert r["outcome"] == "failed" and r["retryable"] and r["http_status"] == 429
    assert r["retry_after_ms"] == 7000
    assert "429" in r["error"] and u in r["error"]


def test_503_retry_after_http_date(srv, tmp_path):
    put(srv, "c2.csv", b"x")
    when = email.utils.formatdate(time.time() + 120, usegmt=True).replace(" ", "%20")
    r = fetch(url(srv, "c2.csv", status=503, retry_after=when), tmp_path)
    assert r["outcome"] == "failed" and r["retryable"]
    assert 118000 <= r["retry_after_ms"] <= 121000, r


def test_404_fails_at_once(srv, tmp_path):
    u = url(srv, "missing.csv")
    r = fetch(u, tmp_path)
    assert r["outcome"] == "failed" and not r["retryable"] and r["http_status"] == 404
    assert "404" in r["error"] and u in r["error"]
    part, meta = partial(tmp_path)
    assert not part.exists() and not meta.exists()


def test_reset_mid_body_resumes_with_range(srv, tmp_path):
    data = put(srv, "d.csv", os.urandom(4 * MiB))
    u = url(srv, "d.csv", reset_at=1500000)
    r = fetch(u, tmp_path)
    assert r["outcome"] == "failed" and r["retryable"], r
    part, meta = partial(tmp_path)
    have = part.stat().st_size
    assert 0 < have <= 1500000
    assert part.read_bytes() == data[:have]
    sidecar = json.loads(meta.read_text())
    assert sidecar["url"] == u and sidecar["total"] == len(data)

    srv.reset()
    r = fetch(u, tmp_path)
    assert_published(r, tmp_path, data)
    assert r["resumed_from"] == have and r["http_status"] == 206
    (req,) = requests_to(srv, "d.csv")
    assert req["headers"]["range"] == "bytes=%d-" % have
    assert req["headers"]["if-range"] == sidecar["etag"]
    assert req["status"] == 206


def test_short_body_then_resume(srv, tmp_path):
    data = put(srv, "e.csv", os.urandom(2 * MiB))
    u = url(srv, "e.csv", short=700000)
    r = fetch(u, tmp_path)
    assert r["outcome"] == "failed" and r["retryable"]
    assert partial(tmp_path)[0].stat().st_size == 700000
    r = fetch(u, tmp_path)
    assert_published(r, tmp_path, data)
    assert r["resumed_from"] == 700000


def test_416_on_resume_restarts_from_zero(srv, tmp_path):
    """A download whose length was not announced, killed after its last
    byte reached the .part but before it was published: the resume asks for
    bytes past the end, the server says 416, and the fetch starts once more
    from zero rather than failing."""
    data = put(srv, "e1.csv", os.urandom(MiB))
    u = url(srv, "e1.csv", short=400000)
    assert fetch(u, tmp_path)["outcome"] == "failed"
    part, meta = partial(tmp_path)
    with open(part, "ab") as f:             # the rest, as if written just before the crash
        f.write(data[400000:])
    sidecar = json.loads(meta.read_text())
    sidecar["total"] = -1                   # as a chunked response leaves it
    meta.write_text(json.dumps(sidecar))
    r = fetch(u, tmp_path)                  # the server misbehaves once only
    assert_published(r, tmp_path, data)
    reqs = requests_to(srv, "e1.csv")[1:]
    assert [q["status"] for q in reqs] == [416, 200], reqs
    assert reqs[0]["headers"]["range"] == "bytes=%d-" % len(data)
    assert "range" not in reqs[1]["headers"]
    assert not r.get("resumed_from")


def test_weak_etag_resumes_with_last_modified(srv, tmp_path):
    data = put(srv, "e2.csv", os.urandom(2 * MiB))
    u = url(srv, "e2.csv", short=300000, weak_etag=1)
    assert fetch(u, tmp_path)["outcome"] == "failed"
    srv.reset()
    r = fetch(u, tmp_path)
    assert_published(r, tmp_path, data)
    (req,) = requests_to(srv, "e2.csv")
    assert req["headers"]["if-range"] == r["last_modified"]


def test_stall_hits_low_speed_limit(srv, tmp_path):
    put(srv, "f.csv", os.urandom(MiB))
    # curl averages the speed over its last ~5 s, so a short burst before
    # the stall is enough to be "slow" within the window plus a little.
    t0 = time.monotonic()
    r = fetch(url(srv, "f.csv", stall_at=1000, stall=10), tmp_path,
              "--low-speed-limit", "1000", "--low-speed-time", "1000")
    assert time.monotonic() - t0 < 6
    assert r["outcome"] == "failed" and r["retryable"], r
    assert "too slow" in r["error"].lower() or "timeout" in r["error"].lower()


def test_total_timeout(srv, tmp_path):
    put(srv, "f2.csv", os.urandom(MiB))
    r = fetch(url(srv, "f2.csv", slow=100000), tmp_path, "--timeout", "1000")
    assert r["outcome"] == "failed" and r["retryable"]
    assert "timeout" in r["error"].lower() or "timed out" in r["error"].lower()


def test_redirects_followed(srv, tmp_path):
    data = put(srv, "g.csv", os.urandom(5000))
    r = fetch(url(srv, "g.csv", redirect=3), tmp_path)
    assert_published(r, tmp_path, data)
    assert len(requests_to(srv, "g.csv")) == 4


def test_redirect_loop_fails_without_retry(srv, tmp_path):
    put(srv, "h.csv", b"x")
    r = fetch(url(srv, "h.csv", loop=1), tmp_path, "--max-redirects", "4")
    assert r["outcome"] == "failed" and not r["retryable"]
    assert "redirect" in r["error"]
    assert len(requests_to(srv, "h.csv")) == 5


def test_server_ignoring_range_restarts_from_zero(srv, tmp_path):
    data = put(srv, "i.csv", os.urandom(2 * MiB))
    u = url(srv, "i.csv", reset_at=600000, no_range=1)
    assert fetch(u, tmp_path)["outcome"] == "failed"
    assert partial(tmp_path)[0].stat().st_size > 0
    srv.reset()
    r = fetch(u, tmp_path)
    assert_published(r, tmp_path, data)
    assert r["resumed_from"] == 0 and r["http_status"] == 200
    (req,) = requests_to(srv, "i.csv")
    assert "range" in req["headers"] and req["status"] == 200


def test_empty_200_to_a_range_request_publishes_empty(srv, tmp_path):
    put(srv, "i2.csv", os.urandom(MiB))
    u = url(srv, "i2.csv", reset_at=300000, empty_on_range=1)
    assert fetch(u, tmp_path)["outcome"] == "failed"
    assert partial(tmp_path)[0].stat().st_size > 0
    r = fetch(u, tmp_path)
    assert_published(r, tmp_path, b"")
    assert r["resumed_from"] == 0


def test_changed_validator_restarts_from_zero(srv, tmp_path):
    put(srv, "j.csv", os.urandom(2 * MiB))
    u = url(srv, "j.csv", reset_at=600000, times=1)
    assert fetch(u, tmp_path)["outcome"] == "failed"
    new = put(srv, "j.csv", os.urandom(2 * MiB + 77))   # the city republished
    srv.reset()
    r = fetch(u, tmp_path)
    assert_published(r, tmp_path, new)
    assert r["resumed_from"] == 0
    (req,) = requests_to(srv, "j.csv")
    assert "if-range" in req["headers"] and req["status"] == 200


def test_304_is_unchanged(srv, tmp_path):
    data = put(srv, "k.csv", os.urandom(300000))
    first = fetch(url(srv, "k.csv"), tmp_path)
    assert_published(first, tmp_path, data)
    srv.reset()
    r = fetch(url(srv, "k.csv"), tmp_path, "--etag", first["etag"],
              "--last-modified", first["last_modified"], "--last-hash", first["hash"],
              date="2026-11-25")
    assert r["outcome"] == "unchanged" and r["http_status"] == 304, r
    (req,) = requests_to(srv, "k.csv")
    assert req["headers"]["if-none-match"] == first["etag"]
    assert req["headers"]["if-modified-since"] == first["last_modified"]
    assert not published(tmp_path, date="2026-11-25").parent.exists()
    assert not partial(tmp_path, date="2026-11-25")[0].exists()


def test_304_by_last_modified(srv, tmp_path):
    put(srv, "k2.csv", b"a,b\n")
    first = fetch(url(srv, "k2.csv", no_etag=1), tmp_path)
    assert first["etag"] is None
    r = fetch(url(srv, "k2.csv", no_etag=1), tmp_path,
              "--last-modified", first["last_modified"], date="2026-11-25")
    assert r["outcome"] == "unchanged" and r["http_status"] == 304


def test_same_hash_200_is_unchanged(srv, tmp_path):
    data = put(srv, "l.csv", os.urandom(MiB))
    u = url(srv, "l.csv", no_etag=1, no_lm=1)
    first = fetch(u, tmp_path)
    assert_published(first, tmp_path, data)
    r = fetch(u, tmp_path, "--last-hash", first["hash"], date="2026-11-25")
    assert r["outcome"] == "unchanged" and r["http_status"] == 200
    assert r["hash"] == first["hash"] and r["path"] is None
    assert not published(tmp_path, date="2026-11-25").exists()
    assert not partial(tmp_path, date="2026-11-25")[0].exists()


def test_force_downloads_anyway(srv, tmp_path):
    data = put(srv, "m.csv", os.urandom(200000))
    first = fetch(url(srv, "m.csv"), tmp_path)
    srv.reset()
    r = fetch(url(srv, "m.csv"), tmp_path, "--etag", first["etag"], "--last-modified",
              first["last_modified"], "--last-hash", first["hash"], "--force",
              date="2026-11-25")
    assert r["outcome"] == "published"
    assert published(tmp_path, date="2026-11-25").read_bytes() == data
    (req,) = requests_to(srv, "m.csv")
    assert "if-none-match" not in req["headers"]
    assert "if-modified-since" not in req["headers"]


def wait_for(pred, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def part_size(state):
    try:
        return partial(state)[0].stat().st_size
    except FileNotFoundError:
        return 0


def test_kill9_mid_download_then_resume(srv, tmp_path):
    data = put(srv, "n.csv", os.urandom(8 * MiB))
    u = url(srv, "n.csv", slow=2 * MiB)
    p = subprocess.Popen([FETCH_ONE, "--url", u, "--state-dir", str(tmp_path),
                          "--dataset", "ds", "--exec-date", DATE,
                          "--file-name", "data.csv"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: part_size(tmp_path) >= 2 * MiB)
    finally:
        p.kill()
        p.communicate()
    assert p.returncode == -signal.SIGKILL
    have = part_size(tmp_path)
    assert 0 < have < len(data)
    srv.reset()
    r = fetch(u, tmp_path)
    assert_published(r, tmp_path, data)
    assert r["resumed_from"] == have
    (req,) = requests_to(srv, "n.csv")
    assert req["headers"]["range"] == "bytes=%d-" % have


def test_cancel_keeps_part_for_resume(srv, tmp_path):
    data = put(srv, "o.csv", os.urandom(6 * MiB))
    u = url(srv, "o.csv", slow=2 * MiB)
    p = subprocess.Popen([FETCH_ONE, "--url", u, "--state-dir", str(tmp_path),
                          "--dataset", "ds", "--exec-date", DATE,
                          "--file-name", "data.csv", "--progress-ms", "50"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: part_size(tmp_path) >= MiB)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=20)
    r = json.loads(out)
    assert r["outcome"] == "cancelled", r
    part, meta = partial(tmp_path)
    assert part.exists() and meta.exists()
    assert part.read_bytes() == data[:part.stat().st_size]
    prog = [json.loads(line)["progress"] for line in err.decode().splitlines()
            if line.startswith("{")]
    assert prog and prog[-1]["total"] == len(data)
    assert prog[-1]["rate"] > 0 and prog[-1]["bytes"] > 0
    assert all(a["bytes"] <= b["bytes"] for a, b in zip(prog, prog[1:]))
    r = fetch(u, tmp_path)
    assert_published(r, tmp_path, data)
    assert r["resumed_from"] > 0


def test_parallel_fetches_share_one_loop(srv, tmp_path):
    """Three datasets download at once through one struct http: every
    request starts before any has finished."""
    data = put(srv, "par.csv", os.urandom(MiB))
    p = fetch(url(srv, "par.csv", slow=2 * MiB, times=3), tmp_path, "--parallel", "3",
              dataset="par", check=False)
    assert p.returncode == 0, p.stderr.decode()
    results = [json.loads(line) for line in p.stdout.decode().splitlines()]
    assert len(results) == 3
    for i, r in enumerate(results, 1):
        assert r["outcome"] == "published", r
        assert (tmp_path / "staging" / ("par%d" % i) / ("exec_date=" + DATE) /
                "data.csv").read_bytes() == data
    reqs = requests_to(srv, "par.csv")
    assert len(reqs) == 3
    wait_for(lambda: all(e["end"] for e in requests_to(srv, "par.csv")), 5)
    reqs = requests_to(srv, "par.csv")
    assert max(e["start"] for e in reqs) < min(e["end"] for e in reqs)


def disk_full_checks(r, state):
    assert r["outcome"] == "failed" and r["retryable"], r
    part, meta = partial(state)
    assert not part.exists() and not meta.exists()
    assert not published(state).exists()


def test_file_size_limit_fails_cleanly(srv, tmp_path):
    import resource
    put(srv, "p.csv", os.urandom(3 * MiB))

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (MiB, MiB))

    r = fetch(url(srv, "p.csv"), tmp_path, preexec_fn=limit)
    disk_full_checks(r, tmp_path)
    assert "File too large" in r["error"]


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       capture_output=True)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % p.stderr.decode().strip())
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_disk_full_fails_cleanly(srv, small_tmpfs):
    put(srv, "q.csv", os.urandom(3 * MiB))
    r = fetch(url(srv, "q.csv"), small_tmpfs)
    disk_full_checks(r, small_tmpfs)
    assert "No space left on device" in r["error"]


def test_file_urls_need_permission(srv, tmp_path):
    src = tmp_path / "src.csv"
    src.write_bytes(b"a,b\n1,2\n")
    u = "file://" + str(src)
    p = fetch(u, tmp_path / "state", check=False)
    assert p.returncode == 2 and b"allow_file_urls" in p.stderr
    r = fetch(u, tmp_path / "state", "--allow-file-urls")
    assert_published(r, tmp_path / "state", src.read_bytes())


def test_a_large_file_url_streams_through_the_buffers(tmp_path):
    """A file:// source far larger than the two buffers (curl's file
    protocol could not pause: fetch_local.c reads it on the threadpool),
    its name percent-encoded, and the loop never blocked for the file."""
    src = tmp_path / "big file.csv"
    data = os.urandom(24 * MiB + 5)
    src.write_bytes(data)
    u = "file://" + str(src).replace(" ", "%20")
    r = fetch(u, tmp_path / "state", "--allow-file-urls", "--lag")
    assert_published(r, tmp_path / "state", data)
    assert r["resumed_from"] == 0
    assert r["max_loop_lag_ms"] < 500, r


def test_a_file_url_resumes_where_the_part_ends_when_the_file_is_the_same(tmp_path):
    """The resume of a file:// source: its mtime (as Last-Modified) and
    size as stored in the sidecar continue the .part; another mtime
    starts again from byte 0.  Either way the bytes are the file's."""
    src = tmp_path / "src.csv"
    data = os.urandom(5 * MiB + 77)
    src.write_bytes(data)
    lm = email.utils.formatdate(int(src.stat().st_mtime), usegmt=True)
    u = "file://" + str(src)
    state = tmp_path / "state"
    for mtime_moved, want_resumed in ((False, 3 * MiB), (True, 0)):
        part, meta = partial(state)
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(data[:3 * MiB])
        meta.write_text(json.dumps({"url": u, "last_modified": lm, "total": len(data)}))
        if mtime_moved:
            os.utime(src, (src.stat().st_atime, src.stat().st_mtime + 5))
        r = fetch(u, state, "--allow-file-urls", "--force")
        assert_published(r, state, data)
        assert r["resumed_from"] == want_resumed, r
        published(state).unlink()


def test_a_file_url_onto_a_full_disk_fails_cleanly(small_tmpfs, tmp_path):
    """A write fails while the file is being read: the read in flight ends
    the transfer, nothing is kept."""
    src = tmp_path / "src.csv"
    src.write_bytes(os.urandom(6 * MiB))
    r = fetch("file://" + str(src), small_tmpfs, "--allow-file-urls")
    disk_full_checks(r, small_tmpfs)
    assert "No space left on device" in r["error"]


def test_a_missing_file_url_fails_naming_it(tmp_path):
    u = "file://" + str(tmp_path / "nowhere.csv")
    r = fetch(u, tmp_path / "state", "--allow-file-urls")
    assert r["outcome"] == "failed" and not r["retryable"], r
    assert str(tmp_path / "nowhere.csv") in r["error"] and "No such file" in r["error"]


def test_other_schemes_refused(tmp_path):
    p = fetch("ftp://127.0.0.1/x.csv", tmp_path, check=False)
    assert p.returncode == 2 and b"only http and https" in p.stderr


def test_connection_refused_is_retryable(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = fetch("http://127.0.0.1:%d/x.csv" % port, tmp_path)
    assert r["outcome"] == "failed" and r["retryable"]
    assert "127.0.0.1:%d" % port in r["error"]


def test_tls_certificate_is_verified(server, tmp_path):
    """A self-signed certificate is refused: verification is on, and a
    later attempt would see the same certificate (not retryable)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    put(server, "tls.csv", b"a\n")
    tls = httpd.Server(str(server.root), tls=(str(cert), str(key))).start()
    try:
        r = fetch("https://127.0.0.1:%d/tls.csv" % tls.port, tmp_path)
    finally:
        tls.stop()
    assert r["outcome"] == "failed" and not r["retryable"], r
    assert "certificate" in r["error"].lower()
