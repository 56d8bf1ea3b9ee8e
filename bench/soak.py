"""Soaks: the crash, concurrency and property tests at the sizes `make test` trims for its time budget.

examples:
  .venv/bin/python bench/soak.py            # 100 mirror kills, 16 writers x 2000 appends, 100 property examples
  .venv/bin/python bench/soak.py --quick    # 20 kills, 1000 appends, 25 examples

`make test` runs the same tests smaller (4 kills, 500 appends, 12 examples); the environment variables
below raise them, and a failure prints the seed to replay it (LEDGERLINE_CRASH_SEED).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/projectors/mirror/test_mlflow_crash.py",
    "tests/ledger/test_concurrency.py",
    "tests/projectors/projection/test_duckdb_property.py",
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller soaks")
    args = p.parse_args()
    sizes = {"LEDGERLINE_CRASH_KILLS": 20, "LEDGERLINE_SOAK_APPENDS": 1000, "LEDGERLINE_PROPERTY_EXAMPLES": 25}
    if not args.quick:
        sizes = {"LEDGERLINE_CRASH_KILLS": 100, "LEDGERLINE_SOAK_APPENDS": 2000, "LEDGERLINE_PROPERTY_EXAMPLES": 100}
    env = {**os.environ, **{k: str(v) for k, v in sizes.items()}}
    print(" ".join(f"{k}={v}" for k, v in sizes.items()), flush=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=5", *TESTS], cwd=ROOT, env=env
    )
    print(f"soak: exit {done.returncode} in {time.perf_counter() - started:.0f} s")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
