"""convert.spark_pattern without Spark: strptime-style formats as the
configuration writes them, to the Spark datetime patterns convert.py
parses with (the canonical ArcGIS form included)."""

import pytest

import convert


@pytest.mark.parametrize("fmt, want", [
    ("%Y-%m-%d %H:%M:%S", "yyyy-M-d H:mm:ss"),
    ("%m/%d/%Y %I:%M:%S %p", "M/d/yyyy h:mm:ss a"),
    ("%Y-%m-%d %H:%M:%S.%f", "yyyy-M-d H:mm:ss.SSSSSSSSS"),
    ("%Y-%m-%dT%H:%M:%S%z", "yyyy-M-d'T'H:mm:ssXXX"),
])
def test_spark_pattern(fmt, want):
    assert convert.spark_pattern(fmt) == want


def test_unsupported_directive():
    with pytest.raises(convert.InputError):
        convert.spark_pattern("%Y-%m-%d %Q")
