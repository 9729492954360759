"""Figures, not a test (not collected: no test_ prefix): the check's
read-back of a 182 MB snapshot from SeaweedFS (streaming GET into the
spool file) against boto3's get_object of the same object, and the check's
scan time on S3 against the same snapshot checked locally.  Run it alone:

  DENVERD_BUILD=$PWD/build .venv/bin/python -m pytest -q -s \
      tests/integration/bench_s3_readback.py
"""
import re
import time

from conftest import base_config
from s3server import s3  # noqa: F401
from test_dq_ctl import DATASET
from test_s3_check import config, run


def test_bench(daemon, tmp, www, s3):  # noqa: F811
    rows = 4_000_000
    with open(www.root / "demo.csv", "w") as f:
        f.write("id,name,score\n")
        for i in range(rows):
            f.write(f"{i},name-{i:08d}-xxxxxxxxxxxxxxxxxxxx,{i % 100}\n")
    size = (www.root / "demo.csv").stat().st_size
    b = s3.bucket()
    daemon.start(config(tmp, www, s3, b), env=s3.env())
    t = time.monotonic()
    run(daemon, "2025-03-01")
    print("S3 run total %.2fs size %d" % (time.monotonic() - t, size))
    for line in daemon.log().splitlines():
        if re.search(r"read back|checked|published", line):
            print(line)
    k = "dd/staging/demo/exec_date=2025-03-01/demo.csv"
    t = time.monotonic()
    n = len(s3.client.get_object(Bucket=b, Key=k)["Body"].read())
    print("boto3 get_object %d bytes %.2fs" % (n, time.monotonic() - t))
    daemon.stop()


def test_bench_local(daemon, tmp, www):
    rows = 4_000_000
    with open(www.root / "demo.csv", "w") as f:
        f.write("id,name,score\n")
        for i in range(rows):
            f.write(f"{i},name-{i:08d}-xxxxxxxxxxxxxxxxxxxx,{i % 100}\n")
    daemon.start(base_config(tmp, DATASET.format(port=www.port)))
    t = time.monotonic()
    run(daemon, "2025-03-01")
    print("local run total %.2fs" % (time.monotonic() - t))
    for line in daemon.log().splitlines():
        if re.search(r"read back|checked|published", line):
            print(line)
    daemon.stop()
