"""typed.spark_pattern (jobspec.py) without Spark: strptime-style formats as the
configuration writes them, to the Spark datetime patterns convert.py
parses with (the canonical ArcGIS form included); and, with Spark, the
shape check (patterns.guard) convert.py puts before each parse."""

import pytest

import jobspec
import typed


@pytest.mark.parametrize("fmt, want", [
    ("%Y-%m-%d %H:%M:%S", "yyyy-M-d H:mm:ss"),
    ("%m/%d/%Y %I:%M:%S %p", "M/d/yyyy h:mm:ss a"),
    ("%Y-%m-%d %H:%M:%S.%f", "yyyy-M-d H:mm:ss.SSSSSSSSS"),
    ("%Y-%m-%dT%H:%M:%S%z", "yyyy-M-d'T'H:mm:ssXXX"),
])
def test_spark_pattern(fmt, want):
    assert typed.spark_pattern(fmt) == want


def test_unsupported_directive():
    with pytest.raises(jobspec.InputError):
        typed.spark_pattern("%Y-%m-%d %Q")


# formats of etc/denverd.yaml and the defaults, and values in and out of
# their shapes (one-digit fields, lower case, fractions, offsets, Z)
GUARD_FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d",
                 "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y"]
GUARD_VALUES = ["2026-03-04T09:15:00-07:00", "2026-03-04t09:15:00Z", "2026-3-4T9:15:00+00:00",
                "2026-03-04 09:15:00", "2026-3-4 9:15:00", "2026-03-04 09:15:00.5",
                "2026-03-04 09:15:00.123456789", "2026-03-04", "2026-3-4", "12/31/2015 06:51:06 PM",
                "1/1/2019 9:51:11 am", "02/19/2026", "2/9/2026", "2026/03/04", "04.03.2026",
                "13/45/2026 99:99:99 XM", "2026-03-04 09:15", "x2026-03-04", "2026-03-04 "]


def test_guard_admits_every_value_spark_parses(spark):
    """patterns.guard is a superset of what try_to_timestamp accepts: a
    value the guard turns away would not have parsed (and some are turned
    away, or the guard would save nothing)."""
    from pyspark.sql import functions as F

    import patterns
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    df = spark.createDataFrame([(v,) for v in GUARD_VALUES], "v string")
    cols = []
    for i, fmt in enumerate(GUARD_FORMATS):
        cols.append(F.expr(f"try_to_timestamp(v, {typed.sql_str(typed.spark_pattern(fmt))})")
                    .isNotNull().alias(f"p{i}"))
        cols.append(F.col("v").rlike(patterns.guard(fmt)).alias(f"g{i}"))
    parsed = turned_away = 0
    for r in df.select("v", *cols).collect():
        for i, fmt in enumerate(GUARD_FORMATS):
            assert r[f"g{i}"] or not r[f"p{i}"], f"guard of {fmt!r} rejects {r.v!r}, which parses"
            parsed += r[f"p{i}"]
            turned_away += not r[f"g{i}"]
    assert parsed >= len(GUARD_FORMATS) and turned_away > len(GUARD_VALUES)
