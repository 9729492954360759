"""Names, constants and small formatters shared by every stage of the report.

Nothing here touches Spark, matplotlib or the file system (``log`` writes to
stderr).  The formatters are used both in the answer sentences and in the
page's tables, so the two always agree.
"""

import sys

REPORT_VERSION = 1
TRAFFIC, SR311 = "traffic_accidents", "service_requests_311"
# Denver's bounding box and the ~1 km grid both datasets are counted on
LAT_MIN, LAT_MAX, LON_MIN, LON_MAX = 39.61, 39.92, -105.11, -104.60
CELL_LAT, CELL_LON = 0.01, 0.013  # about 1.1 km each way at 39.75 N
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
SEASONS = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
           6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}
CONDITIONS = ["dry", "wet", "snowy", "icy", "slushy", "other"]
TOP_N = 15  # rows of the "top" tables (case types, neighborhoods)


def log(msg):
    """One ``report: <msg>`` line on stderr (spark-submit shows it on stdout)."""
    print(f"report: {msg}", file=sys.stderr, flush=True)


def rnd(v, nd=3):
    """`v` rounded to `nd` decimals; None stays None."""
    return None if v is None else round(v, nd)


def human_hours(h):
    """A duration in hours as people read it: minutes below 1 h, hours below
    48 h, days above; "n/a" for None."""
    if h is None:
        return "n/a"
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:.1f} h"
    return f"{h / 24:.1f} days"


def fmt_r(v):
    """A correlation coefficient with two decimals; "n/a" for None."""
    return "n/a" if v is None else f"{v:.2f}"
