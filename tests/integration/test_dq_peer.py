"""The shipped checks of both Denver datasets, computed by the built
denverd and by DuckDB (the venv's) on the same generated files:
tests/bench/dq_bench on small files, once per thread count.  Every check's
observed value must agree (dq_bench exits 1 on a MISMATCH): an independent
engine catches a check that counts wrong in the serial and the parallel
path alike, which the serial/parallel equivalence tests cannot.  12 MB, so
that two threads do split the file (limits.check_threads applies from
8 MiB); the 311 file is Windows-1252 with quoted newlines."""
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return tmp_path_factory.mktemp("dq-peer")


@pytest.mark.parametrize("dataset", ["traffic_accidents", "service_requests_311"])
@pytest.mark.parametrize("threads", [1, 2])
def test_checks_agree_with_duckdb(files, dataset, threads):
    p = subprocess.run([sys.executable, str(ROOT / "tests" / "bench" / "dq_bench"),
                        "--build", str(BUILD), "--dataset", dataset, "--size", "12MB",
                        "--runs", "1", "--threads", str(threads), "--duckdb", "venv",
                        "--dir", str(files)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    table = p.stdout.split("observed (duckdb)", 1)[1].splitlines()[1:]
    names = {ln.split()[0] for ln in table if ln.strip()}
    # every kind of check the dataset ships was compared
    want = {"traffic_accidents": {"rows", "key_unique", "location", "dates", "fresh",
                                  "road_conditions"},
            "service_requests_311": {"rows", "key_unique", "created", "location", "dates",
                                     "fresh", "status"}}[dataset]
    assert want <= names, p.stdout
    assert "MISMATCH" not in p.stdout
    assert f"check_threads={threads}" in p.stdout
