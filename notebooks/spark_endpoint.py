"""Which Spark the analysts' notebook talks to, and its session.

The first that applies (`choose`):

 1. ``SPARK_REMOTE`` is set (the standard PySpark variable, ``sc://host:port``
    with optional ``/;name=value`` parameters): Spark Connect there.  It is
    the analyst's explicit choice, so a failure to connect is an error.
 2. A running denverd reports a ready Spark Connect endpoint:
    ``denverctl --json [-s $DENVERD_SOCKET] status`` answers with a
    ``spark`` object in its result whose ``state`` is ``ready`` and whose
    ``url`` is an ``sc://`` URL (the daemon's managed server, or the
    external one it health-checks).  When the session cannot reach it (the
    notebook runs elsewhere, the server just died: no TCP connection to its
    port) the notebook falls back to 3 and says why.
 3. Otherwise local Spark: a classic session on ``local[*]`` inside the
    kernel, driver and block manager on loopback, no web UI.

No daemon, an older daemon without a ``spark`` object, a daemon in
``submit`` mode, one whose server is not ready, no denverctl: all give 3,
with the reason in ``Choice.why``.

Secrets: a Connect URL may carry a token (``;token=...``).  Nothing here
prints, logs or keeps one in a message: `Choice.shown` and every reason use
`redact`.  denverd's status never holds the token; for a server that needs
one the analyst sets ``SPARK_CONNECT_AUTHENTICATE_TOKEN`` (PySpark reads it),
or puts it in ``SPARK_REMOTE``.

Everything here may block: `ask_daemon` runs denverctl (up to `timeout`
seconds), `session` starts a JVM or opens a gRPC channel.
"""

import json
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

TOP = Path(__file__).resolve().parent.parent
LOCAL_MASTER = "local[*]"
# settings of the local session (a Connect server has its own); the notebook
# adds the session time zone
LOCAL_CONF = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.log.level": "WARN",
}
SECRET_PARAMS = ("token",)
DEFAULT_CONNECT_PORT = 15002   # Spark Connect's


@dataclass(frozen=True)
class Choice:
    """Where the session goes: `mode` "connect" (to `url`) or "local" (`url`
    is the master), and `why`, one sentence for the analyst.  `url` may
    hold a token: show `shown`, never `url`."""

    mode: str
    url: str
    why: str

    @property
    def shown(self):
        return redact(self.url)

    def __str__(self):
        return f"{self.mode} Spark at {self.shown}: {self.why}"

    __repr__ = __str__


def redact(url):
    """`url` with the value of every secret parameter (``;token=...``)
    replaced by ``***``; other text unchanged."""
    head, sep, params = url.partition(";")
    if not sep:
        return url
    out = []
    for p in params.split(";"):
        name, eq, _ = p.partition("=")
        out.append(f"{name}=***" if eq and name.strip().lower() in SECRET_PARAMS else p)
    return head + ";" + ";".join(out)


def status_endpoint(reply):
    """A parsed ``denverctl --json status`` reply -> (url, why): the Connect
    URL to use, or None and why not."""
    if not isinstance(reply, dict) or reply.get("ok") is not True:
        err = reply.get("error") if isinstance(reply, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        return None, f"denverd answered status with an error ({code or 'unreadable reply'})"
    result = reply.get("result")
    spark = result.get("spark") if isinstance(result, dict) else None
    if not isinstance(spark, dict):
        return None, "denverd reports no Spark endpoint (a daemon from before Spark Connect)"
    mode, url, state = spark.get("mode"), spark.get("url"), spark.get("state")
    if not isinstance(url, str) or not url:
        return None, f"denverd runs Spark in {mode or 'submit'} mode, without a Connect endpoint"
    if not url.startswith("sc://"):
        return None, f"denverd's Spark endpoint {redact(url)} is not an sc:// URL"
    if state != "ready":
        return None, f"denverd's Connect endpoint {redact(url)} is {state or 'in no state'}, not ready"
    return url, f"denverd reports its {mode or 'Spark'} Connect endpoint as ready"


def find_denverctl(env):
    """The denverctl to ask: ``$DENVERCTL``, else the one on PATH, else this
    checkout's build/ctl/denverctl; None when there is none."""
    if env.get("DENVERCTL"):
        return env["DENVERCTL"]
    found = shutil.which("denverctl", path=env.get("PATH"))
    if found:
        return found
    built = TOP / "build" / "ctl" / "denverctl"
    return str(built) if os.access(built, os.X_OK) else None


def ask_daemon(env, timeout=10):
    """Ask a running denverd for its Spark endpoint (``denverctl --json
    status``, socket from ``$DENVERD_SOCKET`` or denverctl's default) ->
    (url, why) as `status_endpoint`."""
    ctl = find_denverctl(env)
    if ctl is None:
        return None, "no denverctl found (PATH, $DENVERCTL, build/ctl)"
    cmd = [ctl, "--json"]
    if env.get("DENVERD_SOCKET"):
        cmd += ["-s", env["DENVERD_SOCKET"]]
    where = env.get("DENVERD_SOCKET") or "denverctl's default socket"
    try:
        r = subprocess.run([*cmd, "status"], capture_output=True, text=True, timeout=timeout,
                           env=dict(env), stdin=subprocess.DEVNULL)
    except OSError as e:
        return None, f"cannot run {ctl}: {e.strerror}"
    except subprocess.TimeoutExpired:
        return None, f"denverd at {where} did not answer status within {timeout} s"
    line = r.stdout.strip().splitlines()[-1:] if r.stdout.strip() else []
    if not line:
        said = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"no denverd answers at {where} ({said})"
    try:
        reply = json.loads(line[0])
    except ValueError:
        return None, f"denverctl status printed no JSON reply (exit {r.returncode})"
    return status_endpoint(reply)


def reachable(url, timeout=3):
    """None when a TCP connection to the host and port of the Connect URL
    `url` (port 15002 when it names none) opens within `timeout` seconds,
    else why not.  A dead endpoint fails here at once, where PySpark's
    client would retry for minutes."""
    try:
        u = urlsplit(url)
        host, port = u.hostname, u.port or DEFAULT_CONNECT_PORT
    except ValueError:
        return "is not a host:port"
    if not host:
        return "names no host"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as e:
        return f"does not accept connections ({e.strerror or type(e).__name__})"


def choose(env=None):
    """The `Choice` for the environment `env` (default ``os.environ``).
    A daemon's endpoint is used only when it accepts a TCP connection."""
    env = os.environ if env is None else env
    if env.get("SPARK_REMOTE"):
        return Choice("connect", env["SPARK_REMOTE"], "SPARK_REMOTE is set")
    url, why = ask_daemon(env)
    if url:
        down = reachable(url)
        if down is None:
            return Choice("connect", url, why)
        why = f"{why}, but {redact(url)} {down}"
    return Choice("local", LOCAL_MASTER, why)


def session(choice, conf):
    """A SparkSession for `choice`, with the session settings `conf` (a
    dict; for local Spark also LOCAL_CONF).  Connect sessions get `conf` as
    runtime settings (a client cannot change the server's static ones).
    An unreachable SPARK_REMOTE fails in PySpark, after its retries."""
    from pyspark.sql import SparkSession
    if choice.mode == "connect":
        spark = SparkSession.builder.remote(choice.url).appName("denverd-notebook").getOrCreate()
        for k, v in conf.items():
            spark.conf.set(k, v)
        return spark
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")   # the JVM's own choice of address, too
    b = SparkSession.builder.master(choice.url).appName("denverd-notebook")
    for k, v in {**LOCAL_CONF, **conf}.items():
        b = b.config(k, v)
    return b.getOrCreate()
