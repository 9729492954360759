"""split.py, the cut of a CSV file at record boundaries (no Spark), and
convert.py reading a big file in parts: the same rows, counts and
rejects as reading it whole, the scratch copy gone afterwards, and the
file read whole again when the parts give another row count than the
check."""

import csv
import io
import os

import pyarrow.fs as pafs
import pytest

import convert
import specs
import split
from conftest import gen_file, read_store, run_convert

FS = pafs.LocalFileSystem()


def records(data):
    return list(csv.reader(io.StringIO(data.decode("cp1252"), newline="")))


def tricky_csv(path, rows=3000):
    """A 2024-style file: all fields quoted, CRLF, LF and CRLF inside
    quoted fields, quotes doubled inside them."""
    out = ['"Name","Note","N"']
    for i in range(rows):
        note = ("two\nlines" if i % 5 == 0 else "cr\r\nlf" if i % 11 == 0
                else 'say ""hi""' if i % 3 == 0 else "plain")
        out.append(f'"r{i}","{note}","{i}"')
    with open(path, "wb") as f:
        f.write(("\r\n".join(out) + "\r\n").encode())
    return path


@pytest.mark.parametrize("parts", [2, 3, 7])
def test_parts_hold_the_same_records(tmp_path, monkeypatch, parts):
    monkeypatch.setattr(split, "CHUNK", 1000)       # cuts and quotes across chunk ends
    src = tricky_csv(tmp_path / "in.csv")
    data = open(src, "rb").read()
    n = split.split_csv(FS, str(src), len(data), parts, str(tmp_path / "parts"))
    assert n == parts
    whole = records(data)
    got, sizes = [], []
    for i in range(n):
        part = open(tmp_path / "parts" / f"part-{i:05d}.csv", "rb").read()
        assert part.startswith(b'"Name","Note","N"\r\n') and part.endswith(b"\r\n")
        sizes.append(len(part))
        got += records(part)[1:]
    assert got == whole[1:]
    assert max(sizes) - min(sizes) < len(data) / parts / 4 + 100


def test_odd_quote_count_or_one_record_is_not_split(tmp_path):
    src = tricky_csv(tmp_path / "in.csv")
    with open(src, "ab") as f:
        f.write(b'"r9999","no end\r\n')
    assert split.split_csv(FS, str(src), os.path.getsize(src), 2, str(tmp_path / "p1")) == 0
    one = tmp_path / "one.csv"
    one.write_bytes(b'"a","b"\r\n"x","y\nz"\r\n')
    assert split.split_csv(FS, str(one), os.path.getsize(one), 2, str(tmp_path / "p2")) == 0


@pytest.fixture
def split_calls(monkeypatch):
    """Every file convert.py reads is big enough to split; returns the
    list of split_csv results."""
    calls = []
    real = split.split_csv

    def spy(*a):
        calls.append(real(*a))
        return calls[-1]
    monkeypatch.setattr(convert, "REPARTITION_BYTES", 0)
    monkeypatch.setattr(split, "CHUNK", 4096)
    monkeypatch.setattr(split, "split_csv", spy)
    return calls


def bad_311(gen_dir, tmp_path):
    """A generated 311 file (LF inside quotes) with one malformed row."""
    path = gen_file(gen_dir, "service_requests_311", 3000, start="2026-08-01", end="2026-11-20", seed=9)
    data = open(path, "rb").read().split(b"\r\n")
    data[1500] = b'"Pothole","Closed"'
    out = tmp_path / "bad311.generated.csv"
    out.write_bytes(b"\r\n".join(data))
    return str(out)


def summary(m):
    return {k: m[k] for k in ("rows_read", "rows_written", "rows_rejected", "partitions",
                              "datastore_rows", "values_unparsed")}


def test_convert_in_parts_equals_whole(spark, tmp_path, gen_dir, monkeypatch, split_calls):
    path = bad_311(gen_dir, tmp_path)
    spec_s, m_s = run_convert(spark, tmp_path / "split", "service_requests_311", path, "windows-1252",
                              "2026-11-21")
    assert split_calls == [2]           # local[2]: two parts
    monkeypatch.setattr(convert, "REPARTITION_BYTES", 1 << 40)
    spec_w, m_w = run_convert(spark, tmp_path / "whole", "service_requests_311", path, "windows-1252",
                              "2026-11-21")
    assert split_calls == [2]
    assert m_s["rows_rejected"]["malformed"] == 1 and m_s["rows_read"] == 3000
    assert summary(m_s) == summary(m_w)
    assert read_store(spec_s["datastore"]) == read_store(spec_w["datastore"])
    staging = tmp_path / "split" / "datastore" / ".txn" / "service_requests_311" / "staging"
    assert not staging.exists() or not os.listdir(staging)


def test_other_row_count_than_the_check_reads_whole(spark, tmp_path, gen_dir, split_calls, capsys):
    path = bad_311(gen_dir, tmp_path)
    spec = specs.make_spec("service_requests_311", str(tmp_path), "2026-11-21", path, "windows-1252",
                           rows_checked=2999)
    assert convert.main(["--spec", specs.write_spec(spec)], spark=spark) == 0
    assert split_calls == [2]
    assert "but the check counted 2999: reading the file whole" in capsys.readouterr().err
    staging = tmp_path / "datastore" / ".txn" / "service_requests_311" / "staging"
    assert not staging.exists() or not os.listdir(staging)
