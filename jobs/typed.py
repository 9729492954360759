"""typed.py - a snapshot's CSV read and typed as its spec says, for
convert.py ("Reading" in its docstring gives the rules): every value
trimmed of its padding, blanks and the column's null tokens NULL, each
column typed by a ``try_`` conversion (NULL when a value does not type,
whatever spark.sql.ansi.enabled says), and each row's reject reason.
Column expressions only: nothing here runs a Spark job."""

import patterns
from jobspec import ENCODINGS, spark_pattern

TRUE_WORDS = ("y", "yes", "true", "t", "1")
FALSE_WORDS = ("n", "no", "false", "f", "0")


def sql_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


PADDING = "\t\u00a0\ufeff"      # trimmed too, beyond ' '


def trim_padding(F, name):
    """Column `name` without the padding at its ends: ' ', and PADDING.
    Spark's trim of a character set scans (and copies) the whole value,
    its trim of spaces only the ends, so the set is trimmed only from
    values that, trimmed of spaces, still begin or end with one of
    PADDING (rare): the same result for every value."""
    spaced = F.trim(F.col(name))
    odd = F.lit(False)
    for ch in PADDING:
        odd = odd | spaced.startswith(ch) | spaced.endswith(ch)
    pad = sql_str(" " + PADDING)
    return F.when(odd, F.expr(f"trim(BOTH {pad} FROM `{name}`)")).otherwise(spaced)


def typed_expr(F, c, name, ts_formats):
    """Column expression typing the trimmed text column `name` as column
    spec `c`."""
    raw = F.col(name)
    t = c["type"]
    if t == "string":
        return raw
    if t == "int":
        return (F.when(raw.rlike(r"^[+-]?[0-9]+$"), raw)
                .when(raw.rlike(r"^[+-]?[0-9]+\.0*$"), F.regexp_extract(raw, r"^([+-]?[0-9]+)", 1))
                .try_cast("long"))
    if t == "float":
        return F.when(raw.rlike(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"), raw.try_cast("double"))
    if t == "bool":
        low = F.lower(raw)
        return F.when(low.isin(*TRUE_WORDS), F.lit(True)).when(low.isin(*FALSE_WORDS), F.lit(False))
    # a timestamp: its formats in order; a date: its own formats, then the
    # timestamp formats (a date column sometimes holds a whole timestamp,
    # FORMATS.md).  With several, each parse is guarded by the format's
    # shape (patterns.py: fewer failed parses, the same values).
    fmts = (c["formats"] or ts_formats) if t == "timestamp" else (
        c["formats"] + [f for f in ts_formats if f not in c["formats"]])
    if not fmts:
        return raw.try_cast(t)
    cands = [F.expr(f"try_to_timestamp(`{name}`, {sql_str(spark_pattern(f))})") for f in fmts]
    if len(cands) > 1:
        cands = [F.when(raw.rlike(patterns.guard(f)), e) for f, e in zip(fmts, cands)]
    ts = F.coalesce(*cands)
    return ts if t == "timestamp" else F.to_date(ts)


def null_tokens(F, c, raw):
    """Condition: trimmed `raw` is one of the column's `nulls`."""
    toks = [str(x).strip() for x in c["nulls"]]
    if not toks:
        return F.lit(False)
    cond = raw.isin(*toks)
    if c["type"] in ("int", "float"):
        nums = []
        for x in toks:
            try:
                nums.append(float(x))
            except ValueError:
                pass
        if nums:
            cond = cond | F.when(raw.rlike(r"^[+-]?[0-9.eE+-]+$"), raw.try_cast("double").isin(*nums)).otherwise(False)
    return cond


def flagged(spec, mapping):
    """The columns whose values can fail to type: those in the header whose
    type is not string (a string value is NULL or kept, never bad).  Only
    these get a `_bad_<col>` flag and a manifest count."""
    return [c["name"] for c in spec["columns"]
            if mapping[c["name"]] is not None and c["type"] != "string"]


def build_typed(spark, spec, header, mapping, source, spread):
    """The snapshot read from `source` (the input file, or the directory of
    its parts: split.py) as a DataFrame of canonical typed columns plus
    `_reason` (NULL for a good row), a `_bad_<col>` flag per column of
    `flagged` and `_raw`; `spread`: repartition the parsed rows over
    `spread` tasks first."""
    from pyspark.sql import functions as F, types as T
    width = len(header)
    schema = T.StructType([T.StructField(f"_c{i}", T.StringType()) for i in range(width)]
                          + [T.StructField("_corrupt", T.StringType())])
    raw_df = (spark.read.schema(schema)
              .option("header", True).option("multiLine", True)
              .option("encoding", ENCODINGS[spec["encoding"]]).option("escape", '"')
              .option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", "_corrupt")
              .csv(source))
    if spread > 1:
        raw_df = raw_df.repartition(spread)
    # Each step below is its own projection, and each value an expression
    # computes is used twice by the next one: Spark does not collapse such
    # projections (it would duplicate the expression), so every trim, regex
    # and parse runs once per value (folded into one projection, the
    # `_bad_` flags and CASE branches re-ran the typing: jobs/README.md
    # "Round 4").
    # trimmed, blank -> NULL (the city pads with spaces; BOMs and NBSPs at
    # the edges are padding too)
    trimmed = raw_df.select(*[trim_padding(F, f"_c{i}").alias(f"_s{i}") for i in range(width)], "_corrupt")
    fields = [f"_t{i}" for i in range(width)]
    stage1 = trimmed.select(*[F.when(F.col(f"_s{i}") != "", F.col(f"_s{i}")).alias(f"_t{i}")
                              for i in range(width)], "_corrupt")
    # per column: the value typed (`_v`) and whether it is a null token (`_n`)
    ts_formats = spec["timestamp_formats"]
    bad_cols = flagged(spec, mapping)
    parts = []
    for c in spec["columns"]:
        idx = mapping[c["name"]]
        if idx is not None:
            parts += [typed_expr(F, c, f"_t{idx}", ts_formats).alias(f"_v_{c['name']}"),
                      null_tokens(F, c, F.col(f"_t{idx}")).alias(f"_n_{c['name']}")]
    stage2 = stage1.select(*parts, "_corrupt", *fields)
    cols = []
    for c in spec["columns"]:
        n, t = c["name"], spark_type(T, c["type"])
        cols.append(F.lit(None).cast(t).alias(n) if mapping[n] is None
                    else F.when(~F.col(f"_n_{n}"), F.col(f"_v_{n}")).cast(t).alias(n))
    bad = [(F.col(f"_t{mapping[n]}").isNotNull() & ~F.col(f"_n_{n}") & F.col(f"_v_{n}").isNull())
           .alias(f"_bad_{n}") for n in bad_cols]
    stage3 = stage2.select(*cols, *bad, "_corrupt", *fields)

    def is_bad(name):
        return F.col(f"_bad_{name}") if name in bad_cols else F.lit(False)
    key, ev = spec["key"], spec["event_time"]
    all_key_null = F.lit(True)
    for k in key:
        all_key_null = all_key_null & F.col(k).isNull() & ~is_bad(k)
    any_bad_key = F.lit(False)
    for k in key:
        any_bad_key = any_bad_key | is_bad(k)
    reason = (F.when(F.col("_corrupt").isNotNull(), "malformed")
              .when(all_key_null, "no_key")
              .when(any_bad_key, "bad_key")
              .when(is_bad(ev), "bad_event_time")
              .when(F.col(ev).isNull(), "no_event_time"))
    # the raw fields are kept for rejected rows only (rejected.jsonl), and
    # only those pay for the JSON (the projects holding `_reason` are not
    # collapsed: a JSON column computed beside it ran for every row)
    return (stage3.withColumn("_reason", reason)
            .withColumn("_raw", F.when(F.col("_reason").isNotNull(), F.to_json(F.array(*fields))))
            .drop(*fields))


def spark_type(T, name):
    return {"string": T.StringType(), "int": T.LongType(), "float": T.DoubleType(),
            "timestamp": T.TimestampType(), "date": T.DateType(), "bool": T.BooleanType()}[name]
