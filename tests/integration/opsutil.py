"""Helpers shared by the operations tests: the build directory, a
`meson install` into a temporary DESTDIR, and the build's install paths.

Imported by the test modules (not a conftest.py, which belongs to the
lifecycle tests); fixtures defined here are used by importing them.
"""
import json
import os
import pathlib
import shutil
import subprocess

import pytest

TOP = pathlib.Path(__file__).resolve().parents[2]


def build_dir():
    """The build the test suite runs against ($DENVERD_BUILD, as scripts/test
    sets it, or build/ in the source tree)."""
    return pathlib.Path(os.environ.get("DENVERD_BUILD", TOP / "build")).resolve()


def build_options():
    """{option name: value} of the configured build (meson introspect)."""
    out = subprocess.run(["meson", "introspect", "--buildoptions", str(build_dir())],
                         check=True, capture_output=True, text=True).stdout
    return {o["name"]: o["value"] for o in json.loads(out)}


def install_paths():
    """Absolute install paths of the configured build, keyed like meson's
    directory options (prefix, bindir, sbindir, sysconfdir, datadir, mandir)
    plus the systemd directories this project adds."""
    opts = build_options()
    prefix = opts["prefix"]
    paths = {"prefix": prefix}
    for name in ("bindir", "sbindir", "sysconfdir", "datadir", "mandir"):
        paths[name] = os.path.join(prefix, opts[name])
    out = subprocess.run(["meson", "introspect", "--installed", str(build_dir())],
                         check=True, capture_output=True, text=True).stdout
    paths["installed"] = sorted(json.loads(out).values())
    return paths


def meson_install(destdir):
    """Install the build into DESTDIR (no rebuild: scripts/test just built it)."""
    r = subprocess.run(["meson", "install", "-C", str(build_dir()), "--destdir",
                        str(destdir), "--no-rebuild", "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"meson install failed:\n{r.stdout}\n{r.stderr}"


def under(destdir, path):
    """PATH (absolute) as it lies inside DESTDIR."""
    return pathlib.Path(str(destdir) + str(path))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh `meson install` into a temporary DESTDIR: (destdir, paths)."""
    destdir = tmp_path_factory.mktemp("destdir")
    meson_install(destdir)
    return destdir, install_paths()


def complete(script, line, path=None):
    """What bash-completion offers for LINE (cursor at its end), with the
    completion SCRIPT loaded; PATH (a directory) is put first in $PATH so
    the script's calls of denverctl reach a built one."""
    words = line.split(" ")
    prog = f"""
source /usr/share/bash-completion/bash_completion
source {script}
COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}
_denverctl; printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    env = dict(os.environ)
    if path:
        env["PATH"] = f"{path}:{env['PATH']}"
    r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return sorted(w for w in r.stdout.split("\n") if w)


def add_host_os(root):
    """Give an installed tree what systemd-analyze --root= needs from the
    operating system around the service: /bin/kill (ExecReload=) and the
    targets the units are ordered against.  They are copied from the host,
    the same files a real system would have."""
    (root / "bin").mkdir(exist_ok=True)
    shutil.copy2(shutil.which("kill", path="/bin:/usr/bin"), root / "bin" / "kill")
    host = pathlib.Path("/lib/systemd/system")
    dest = root / "usr/lib/systemd/system"
    dest.mkdir(parents=True, exist_ok=True)
    for unit in ("sysinit.target", "basic.target", "shutdown.target",
                 "network-online.target", "multi-user.target", "sockets.target",
                 "timers.target"):
        shutil.copy2(host / unit, dest / unit)


class Webhook:
    """A real HTTP server on loopback that records alert POSTs: start(),
    .url, .posts (parsed JSON bodies, in order), wait_posts(n), stop().
    STATUSES answers the POSTs in turn (the last one repeats).  It also
    serves GETs from .files ({path: (status, bytes)}), for a dataset."""

    def __init__(self, statuses=(200,)):
        import http.server
        import threading
        outer = self
        self.statuses = list(statuses)
        self.posts, self.paths = [], []
        self.files = {}
        self.cond = threading.Condition()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.cond:
                    n = len(outer.posts)
                    outer.posts.append(json.loads(body))
                    outer.paths.append(self.path)
                    outer.cond.notify_all()
                code = outer.statuses[min(n, len(outer.statuses) - 1)]
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                code, body = outer.files.get(self.path, (404, b""))
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def wait_posts(self, n, timeout=15.0):
        import time
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.posts) < n:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.posts)} POSTs, wanted {n}: {self.posts}"
                self.cond.wait(left)
            return list(self.posts)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
