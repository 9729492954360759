"""``python -m report`` with jobs/ on sys.path: the same as jobs/report.py."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
