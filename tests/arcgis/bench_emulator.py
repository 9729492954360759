#!/usr/bin/env python3
"""bench_emulator.py - how fast the emulator alone answers a whole page
sequence, in pre-rendered mode, so that a benchmark of denverd's fetcher
measures the client and not the Python server.

It starts the emulator CLI as a separate process (its own interpreter, so
the client below does not share its GIL) with Denver's traffic layer 325
(47 fields, --rows generated rows, maxRecordCount 2000), asks it over
POST /__prerender for the page sequences (offset paging with orderByFields,
and object-id ranges; prerender.py), then replays each sequence with a plain
Python client over one keep-alive http.client connection and prints
requests/s and MB/s.  --live N also times N pages answered live, for
comparison; --gzip sends Accept-Encoding: gzip (pages pre-compressed);
--verify parses every page afterwards and checks the rows (not timed).

  .venv/bin/python tests/arcgis/bench_emulator.py              # 300,000 rows
  .venv/bin/python tests/arcgis/bench_emulator.py --rows 20000 --verify
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def replay(port, paths, gz):
    """GET every path over one connection; (seconds, bytes, statuses)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Accept-Encoding": "gzip"} if gz else {}
    total, statuses = 0, set()
    t = time.perf_counter()
    for p in paths:
        conn.request("GET", p, headers=headers)
        r = conn.getresponse()
        body = r.read()
        statuses.add(r.status)
        total += len(body)
    dt = time.perf_counter() - t
    conn.close()
    return dt, total, statuses


def admin(port, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST" if body is not None else "GET", path, body=json.dumps(body) if body is not None else None)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    if r.status != 200:
        raise SystemExit(f"{path}: {r.status} {data[:200]!r}")
    return json.loads(data) if r.getheader("Content-Type", "").startswith("application/json") else data


def verify(port, paths, rows, oid="object_id"):
    """Parse every page of a sequence: every row once, in object-id order."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    ids = []
    for p in paths:
        conn.request("GET", p)
        d = json.loads(conn.getresponse().read())
        ids += [f["attributes"][oid] for f in d["features"]]
    conn.close()
    ok = len(ids) == rows == len(set(ids)) and ids == sorted(ids)
    print(f"  verify: {len(ids)} rows, {len(set(ids))} distinct, ordered: {ids == sorted(ids)} -> "
          f"{'OK' if ok else 'FAILED'}")
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=300000)
    ap.add_argument("--page", type=int, default=2000, help="page size (= maxRecordCount)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gzip", action="store_true", help="ask for gzip (pages pre-compressed too)")
    ap.add_argument("--live", type=int, default=5, metavar="N", help="also time N live pages (0: skip)")
    ap.add_argument("--verify", action="store_true", help="parse every page afterwards and check the rows")
    args = ap.parse_args(argv)

    spec = json.dumps({"layout": "traffic", "rows": args.rows, "seed": args.seed, "maxRecordCount": args.page})
    t0 = time.perf_counter()
    srv = subprocess.Popen([sys.executable, os.path.join(HERE, "emulator.py"), "--port", "0",
                            "--layer", f"ODC_CRIME_TRAFFICACCIDENTS5YR_P={spec}"], stdout=subprocess.PIPE)
    try:
        port = int(srv.stdout.readline())
        t1 = time.perf_counter()
        print(f"layer 325: {args.rows} rows x 47 fields generated in {t1 - t0:.1f} s (server process)")
        info = admin(port, "/__prerender", {"layer": 325, "page_size": args.page, "gzip": args.gzip})
        t2 = time.perf_counter()
        paths = info["paths"]
        offset = [p for p in paths if "resultOffset=" in p]
        oid = [p for p in paths if "resultOffset=" not in p and "returnCountOnly" not in p and "returnIdsOnly" not in p]
        print(f"pre-rendered {info['pages']} bodies, {info['bytes'] / 1e6:.1f} MB, in {t2 - t1:.1f} s")
        ok = True
        for name, seq in (("offset + orderByFields", offset), ("object-id ranges", oid),
                          ("count + ids + offset pages", paths[:2] + offset)):
            dt, total, statuses = replay(port, seq, args.gzip)
            print(f"  {name:28s} {len(seq):4d} requests {total / 1e6:8.1f} MB sent in {dt:6.2f} s: "
                  f"{len(seq) / dt:7.1f} req/s {total / 1e6 / dt:8.1f} MB/s  status {sorted(statuses)}")
            ok &= statuses == {200}
        if args.live:
            admin(port, "/__reset?data=1")        # drops the pre-rendered pages: answered live
            dt, total, _ = replay(port, offset[:args.live], args.gzip)
            print(f"  live (for comparison)        {args.live:4d} requests {total / 1e6:8.1f} MB sent in {dt:6.2f} s: "
                  f"{args.live / dt:7.1f} req/s {total / 1e6 / dt:8.1f} MB/s")
        if args.verify:
            ok &= verify(port, offset, args.rows) and verify(port, oid, args.rows)
        return 0 if ok else 1
    finally:
        srv.terminate()
        srv.wait(30)


if __name__ == "__main__":
    sys.exit(main())
