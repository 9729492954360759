"""Entry point of the report job: ``spark-submit [...] jobs/report.py --exec-date D --out DIR``.

The job is the package jobs/report/ (its docstring describes the report).
Python puts this script's directory on sys.path, and there a package takes
precedence over a module of the same name, so ``report`` is the package.
"""

import sys

from report import main

if __name__ == "__main__":
    sys.exit(main())
