"""Benchmark every command's start-up: `--help`, and `bin/verify` vs `bin/query "select 1"` on a canary home.

The same-run baseline is `bin/query "select 1"` (an interpreter, DuckDB and the projection opened): the goal is
`bin/verify` within 2x of it on a canary home with a SQLite MLflow mirror (verify reads the mirror's witness with
sqlite3, never importing mlflow). Also prints which heavy modules each command's import loads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("verify", "query", "diff", "tag", "replay", "run-pipeline")
HEAVY = ("mlflow", "numba", "polars", "sqlalchemy", "duckdb")
GOAL_VERIFY_VS_QUERY = 2.0


def timed(argv: list[str], repeat: int) -> float:
    """Median wall time of running argv (each run a fresh interpreter)."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return statistics.median(times)


def loaded(module: str) -> list[str]:
    """The heavy modules importing bin.<module> loads."""
    code = f"import sys, bin.{module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    return out.stdout.split()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=5, help="runs per figure (median); default 5")
    args = p.parse_args()
    load = os.getloadavg()[0]
    print(f"start-up of every command, median of {args.repeat} (load {load:.1f})")
    for name in COMMANDS:
        secs = timed([str(ROOT / "bin" / name), "--help"], args.repeat)
        print(
            f"  bin/{name:<13} --help {secs * 1000:7.0f} ms   imports: {' '.join(loaded(name.replace('-', '_'))) or '-'}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        done = subprocess.run(
            [str(ROOT / "bin" / "run-pipeline"), "--profile", "canary", "--home", str(home), "--mirror", "--quiet"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"canary run failed: {done.stderr.strip()[-500:]}")
        events = sum(1 for _ in (home / "audit.jsonl").open("rb"))
        query = timed([str(ROOT / "bin" / "query"), "--home", str(home), "select 1"], args.repeat)
        verify = timed([str(ROOT / "bin" / "verify"), "--home", str(home)], args.repeat)
        ratio = verify / query
        verdict = "OK" if ratio <= GOAL_VERIFY_VS_QUERY else "MISSED"
        print(
            f'canary home ({events:,} events, SQLite mirror): bin/query "select 1" {query * 1000:.0f} ms (baseline), '
            f"bin/verify {verify * 1000:.0f} ms   ratio {ratio:.2f}x   goal <= {GOAL_VERIFY_VS_QUERY:.0f}x  {verdict}  "
            f"[load {os.getloadavg()[0]:.1f}]"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
