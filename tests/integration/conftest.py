"""Fixtures for integration tests: the built denverd and denverctl, for real.

Each test gets a temporary state dir, control socket and NOTIFY_SOCKET (a
datagram socket this process reads, as systemd would), and a Daemon object
to start, query and stop the daemon.  Nothing is mocked: the daemon runs as
a child process, talks SQLite, binds a real Unix socket, spawns real jobs.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("DENVERD_BUILD", ROOT / "build"))
DENVERD = BUILD / "daemon" / "denverd"
DENVERCTL = BUILD / "ctl" / "denverctl"
sys.path.insert(0, str(Path(__file__).resolve().parent))

# opsutil's fixtures, for the test modules (pytest looks for fixtures here)
from opsutil import installed  # noqa: E402, F401
from s3server import s3  # noqa: E402, F401  (the SeaweedFS session fixture)


def base_config(tmp: Path, datasets: str = "", extra: str = "") -> str:
    """A small valid configuration rooted in TMP.  DATASETS is the body of
    the `datasets:` map (YAML, indented by 2), EXTRA more top-level YAML."""
    ds = datasets or textwrap.dedent("""\
      demo:
        url: http://127.0.0.1:9/demo.csv
        schedule: "15 6 * * *"
    """)
    return (
        f"timezone: America/Denver\n"
        f"state_dir: {tmp}/state\n"
        f"socket: {tmp}/denverd.sock\n"
        f"datasets:\n{textwrap.indent(ds, '  ')}"
        f"{extra}"
    )


def wait_for(what, pred, timeout=15.0, daemon=None):
    """PRED's first true value, polled every 50 ms; an AssertionError that
    names WHAT (with the end of DAEMON's log) after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s%s" % (
        what, "\ndaemon log:\n" + daemon.log()[-4000:] if daemon else ""))


class Notify:
    """The sd_notify receiving end: collects datagrams in a thread."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.cond = threading.Condition()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self.cond:
                for line in data.decode().splitlines():
                    self.messages.append((time.monotonic(), line))
                self.cond.notify_all()

    def wait_for(self, prefix: str, timeout: float = 10.0, after: int = 0):
        """Wait for a message starting with PREFIX among messages[after:]."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (t, m) in enumerate(self.messages[after:], after):
                    if m.startswith(prefix):
                        return i, t, m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no {prefix!r} from denverd within {timeout}s; got {self.messages}")
                self.cond.wait(left)

    def close(self):
        self.stopped = True
        self.thread.join()
        self.sock.close()


class Daemon:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.config = tmp / "denverd.yaml"
        self.socket = tmp / "denverd.sock"
        self.state = tmp / "state"
        self.stderr_path = tmp / "denverd.stderr"
        self.notify = Notify(tmp / "notify.sock")
        self.proc = None
        self.started_at = None

    def write_config(self, text: str):
        self.config.write_text(text)
        os.chmod(self.config, 0o644)

    def start(self, config: str = None, env: dict = None, wait_ready: bool = True,
              args=()):
        if config is not None:
            self.write_config(config)
        e = dict(os.environ)
        e.update({"NOTIFY_SOCKET": self.notify.path, "DENVERD_LOG": "stderr",
                  "TZ": "America/Denver"})
        e.pop("JOURNAL_STREAM", None)
        e.update(env or {})
        self._mark = len(self.notify.messages)
        self.stderr = open(self.stderr_path, "ab")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen([str(DENVERD), "-c", str(self.config), *args],
                                     stdout=self.stderr, stderr=self.stderr, env=e)
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 10.0):
        try:
            return self.notify.wait_for("READY=1", timeout, after=self._mark)
        except AssertionError as e:
            raise AssertionError(f"denverd not ready; exit={self.proc.poll()} "
                                 f"stderr:\n{self.log()}") from e

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def ctl(self, *args, json_out=False, check=True, timeout=30, env=None, user=None):
        cmd = [str(DENVERCTL), "-s", str(self.socket)]
        if json_out:
            cmd.append("--json")
        cmd += [str(a) for a in args]
        if user is not None:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **(env or {})})
        if check and r.returncode != 0:
            raise AssertionError(f"denverctl {' '.join(map(str, args))} -> {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}\n"
                                 f"daemon log:\n{self.log()}")
        return r

    def call(self, cmd: str, **args):
        """One request over the socket from Python; returns the reply dict."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(self.socket))
            s.sendall((json.dumps({"v": 1, "id": 1, "cmd": cmd, "args": args}) + "\n").encode())
            return json.loads(recv_line(s))

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired as e:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"denverd did not stop on {sig}:\n{self.log()}") from e
        if self.proc:
            self.stderr.close()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.stderr.close()


def recv_line(s: socket.socket, limit: int = 64 << 20) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        assert len(buf) < limit
    return buf


@pytest.fixture
def tmp(tmp_path_factory):
    # Short paths: a Unix socket path is limited to 107 bytes.
    d = Path(tempfile.mkdtemp(prefix="dvd-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    subprocess.run(["rm", "-rf", str(d)])


@pytest.fixture
def daemon(tmp):
    d = Daemon(tmp)
    yield d
    d.stop(signal.SIGKILL) if d.proc and d.proc.poll() is None else None
    d.notify.close()


@pytest.fixture
def www(tmp):
    """The project's HTTP test server (httpd.py), in-process on loopback,
    serving tmp/www (as .root)."""
    import httpd
    root = tmp / "www"
    root.mkdir()
    srv = httpd.Server(str(root)).start()
    srv.root = root
    yield srv
    srv.stop()
