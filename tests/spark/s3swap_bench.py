"""How long one month's swap takes on an object store (jobs/README.md, "The
datastore on S3"): the window in which a concurrent reader may see the
month partly there.  Starts its own SeaweedFS (tests/integration/s3server.py)
on loopback, writes a live month and a staged replacement of FILES objects
of MB megabytes in total, and times Store.commit_months (and, inside it, the
stretch from the first delete of a live object to the last copy into the
live prefix: what a reader may see incomplete).  Not a test; by hand:

    .venv/bin/python tests/spark/s3swap_bench.py [MB FILES] ...   # default: 64 1  64 16  256 4
"""

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(TOP, "jobs"), os.path.join(TOP, "tests", "integration"), HERE]

import datastore  # noqa: E402
import s3a  # noqa: E402
import s3server  # noqa: E402
import storage  # noqa: E402


def put(fs, path, size):
    block = os.urandom(1 << 20)
    with fs.open_output_stream(datastore.fs_path(path)) as out:
        left = size
        while left > 0:
            out.write(block[:min(left, len(block))])
            left -= len(block)


def one(srv, fs, mb, files):
    bucket = srv.bucket("swap")
    store = datastore.Store(f"s3a://{bucket}/datastore/ds", fs)
    month, size = "year=2026/month=1", (mb << 20) // files
    for i in range(files):
        put(fs, f"{store.month_path(month)}/old-{i}.parquet", size)
        put(fs, f"{store.staging('T')}/{month}/new-{i}.parquet", size)
    marks = []
    real_remove, real_copy = datastore.Store._remove, datastore.Store._copy

    def remove(self, p):
        marks.append(("rm", p, time.monotonic()))
        real_remove(self, p)

    def copy(self, src, dst):
        real_copy(self, src, dst)
        marks.append(("cp", dst, time.monotonic()))
    datastore.Store._remove, datastore.Store._copy = remove, copy
    try:
        t0 = time.monotonic()
        store.commit_months("T", [month], {month}, None)
        total = time.monotonic() - t0
    finally:
        datastore.Store._remove, datastore.Store._copy = real_remove, real_copy
    first_rm = min(t for k, p, t in marks if k == "rm" and "/.txn/" not in p)
    last_cp = max(t for k, p, t in marks if k == "cp" and "/.txn/" not in p)
    print(f"{mb} MB in {files} objects: swap {total:.2f} s, month incomplete for {last_cp - first_rm:.2f} s",
          flush=True)


def main(argv):
    pairs = [int(x) for x in argv] or [64, 1, 64, 16, 256, 4]
    srv = s3server.S3Server(tempfile.mkdtemp(prefix="s3swap")).start()
    try:
        spec = s3a.storage(srv.endpoint)
        fs = storage.filesystem(spec, srv.env())
        for mb, files in zip(pairs[::2], pairs[1::2]):
            one(srv, fs, mb, files)
    finally:
        srv.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
