"""A cheap shape check before each datetime parse a value may fail.

convert.py types a timestamp or date column by trying each of its formats
in turn (``coalesce`` of ``try_to_timestamp``).  A value that does not
match a format costs Spark a Java exception inside the parser, several
times the price of a successful parse; with two or more formats most
values fail at least one (the 311 date columns: every value fails the
ArcGIS form first).  ``guard`` gives a regular expression that every value
the format can parse matches (a superset: digits where the format has a
number, anything where it has text or an offset, its literal text as is,
letters case-insensitively as Spark's parser compares them, the whole
value); a value that does not match is not given to the parser, whose
answer would have been NULL.  So the typed values are the same, with fewer
exceptions.  Nothing here needs Spark.
"""

_NUMERIC = {"Y": "[+-]?[0-9]+", "y": "[0-9]+", "m": "[0-9]+", "d": "[0-9]+", "H": "[0-9]+",
            "I": "[0-9]+", "M": "[0-9]+", "S": "[0-9]+", "f": "[0-9]+", "j": "[0-9]+"}


def guard(fmt):
    """The Java regular expression (for ``rlike``) every value matches
    that strptime-style `fmt` (convert.spark_pattern's input, already
    checked by it) can parse."""
    out, i = ["(?i)^"], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            d = fmt[i + 1]
            out.append("%" if d == "%" else _NUMERIC.get(d, ".*"))
            i += 2
            continue
        # ASCII punctuation escaped (Java allows a backslash before any
        # non-letter), letters, digits and non-ASCII text as they are
        out.append("\\" + ch if ch.isascii() and not ch.isalnum() else ch)
        i += 1
    out.append("$")
    return "".join(out)
