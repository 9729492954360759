"""Spark server processes for the tests, as child processes the tests own:
a Spark Connect server, a standalone master and its workers.  Each runs in
the foreground (spark-submit / spark-class, no spark-daemon.sh pid files) in
its own process group on 127.0.0.1 with a free port, logs to a file under the
test's directory, is ready when its log says so, and is stopped (SIGTERM to
the group, SIGKILL after a grace period) and reaped by `stop`."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pyspark

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = os.path.join(TOP, ".venv", "bin", "python")
SPARK_HOME = os.path.dirname(pyspark.__file__)
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_env(state_dir, **extra):
    """The environment of a Spark process or job run by the tests: the
    venv's python for drivers and executors, loopback only, Spark's own
    files under `state_dir`, classic (not Connect) for spark-submit
    itself.  SPARK_REMOTE is removed: a caller adds it where it wants a
    Connect client."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    env.update(PYSPARK_PYTHON=PY, PYSPARK_DRIVER_PYTHON=PY, SPARK_HOME=SPARK_HOME, SPARK_LOCAL_IP="127.0.0.1",
               SPARK_CONNECT_MODE="0", SPARK_LOG_DIR=os.path.join(state_dir, "logs"),
               SPARK_WORKER_DIR=os.path.join(state_dir, "work"), SPARK_LOCAL_DIRS=os.path.join(state_dir, "tmp"))
    if os.path.isdir(JAVA_HOME):
        env.setdefault("JAVA_HOME", JAVA_HOME)
    env.update(extra)
    return env


class Proc:
    """One server child process: `argv` started in its own process group,
    stdout and stderr into `log`."""

    def __init__(self, name, argv, log, env):
        self.name, self.log = name, log
        os.makedirs(os.path.dirname(log), exist_ok=True)
        with open(log, "ab") as out:
            self.p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=env, start_new_session=True)

    def text(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for(self, pattern, timeout=120):
        """Wait until the log matches `pattern` (a regex); returns the
        match.  Fails, with the log's tail, when the process exits first
        or the time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.p.returncode}) before ready:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout} s:\n{self.text()[-3000:]}")
            time.sleep(0.2)

    def wait_port(self, port, timeout=120):
        """Wait until 127.0.0.1:`port` accepts a connection (fails as
        wait_for does)."""
        deadline = time.monotonic() + timeout
        while True:
            with socket.socket() as s:
                s.settimeout(1)
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.p.returncode}) before ready:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not listening after {timeout} s:\n{self.text()[-3000:]}")
            time.sleep(0.2)

    def kill(self, sig=signal.SIGKILL):
        """Signal the whole process group (the JVM and anything it forked)."""
        try:
            os.killpg(self.p.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, grace=20):
        """SIGTERM to the group, SIGKILL after `grace` seconds; reaped on return."""
        if self.p.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        self.kill(signal.SIGKILL)      # stragglers of the group (python workers)
        self.p.wait()


# What denverd gives its managed server unless spark.conf overrides it
# (daemon/engine/spark.c server_defaults: the converts' reused sessions).
SERVER_DEFAULTS = {"spark.connect.session.manager.defaultSessionTimeout": "48h",
                   "spark.sql.codegen.cache.maxEntries": "1000",
                   "spark.driver.extraJavaOptions": "-XX:-DontCompileHugeMethods",
                   "spark.executor.extraJavaOptions": "-XX:-DontCompileHugeMethods",
                   "spark.serializer": "org.apache.spark.serializer.KryoSerializer"}


def connect_server(state_dir, master="local[2]", conf=None, memory="1g", env=None):
    """Start a Spark Connect server on `master`; returns (Proc, 'sc://127.0.0.1:PORT')
    once it listens (at log level WARN its "started at" line is not logged).  `memory`: the server's (driver's) heap;
    `env`: variables added to its environment (the S3 credentials of an s3a:// server)."""
    port = free_port()
    argv = [os.path.join(SPARK_HOME, "bin", "spark-submit"), "--class", CONNECT_CLASS,
            "--name", "Spark Connect server", "--master", master, "--driver-memory", memory,
            "--conf", "spark.ui.enabled=false", "--conf", "spark.ui.showConsoleProgress=false",
            "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf", f"spark.connect.grpc.binding.port={port}",
            "--conf", "spark.log.level=WARN",
            *[x for k, v in {**SERVER_DEFAULTS, **(conf or {})}.items() for x in ("--conf", f"{k}={v}")]]
    proc = Proc("connect server", argv, os.path.join(state_dir, "logs", f"connect-{port}.log"),
                spark_env(state_dir, **(env or {})))
    try:
        proc.wait_port(port)      # its gRPC port opens once the session is up
    except BaseException:
        proc.stop()
        raise
    return proc, f"sc://127.0.0.1:{port}"


def run_job(argv, remote, state_dir, timeout=600, cwd=None, env=None):
    """Run a job script as the daemon does in Connect mode: `python <argv>`
    with SPARK_REMOTE=`remote` (and `env` added: the S3 credentials).
    Returns the CompletedProcess."""
    env = spark_env(state_dir, SPARK_REMOTE=remote, **(env or {}))
    return subprocess.run([PY, *argv], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=cwd or state_dir)


if __name__ == "__main__":      # by hand: start a server, print its URL, stop on ^C
    d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/denverd-connect"
    proc, url = connect_server(d)
    print(url, flush=True)
    try:
        proc.p.wait()
    except KeyboardInterrupt:
        proc.stop()
