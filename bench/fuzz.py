"""Fuzz every parser for longer than the test run does (the same properties: tests/test_fuzz.py).

    python bench/fuzz.py [--examples 20000]

Any exception other than the project's PayloadError, or an exposition prometheus-client cannot parse back, is
a bug: hypothesis prints the smallest input that shows it. Exits non-zero on a failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", type=int, default=20_000, help="examples per property (the tests use 150)")
    a = p.parse_args()
    started = time.monotonic()
    rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "0",
                          "tests/test_fuzz.py"], cwd=ROOT, env={**os.environ, "FUZZ_EXAMPLES": str(a.examples)})
    print(f"{a.examples} examples per property, {time.monotonic() - started:.0f} s: "
          f"{'no failure' if rc == 0 else 'FAILURES (see above)'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
