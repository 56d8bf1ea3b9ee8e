"""Benchmark what progress costs on a large ledger: each long loop without progress, with plain lines, with the bar.

The loops measured are the ones that tick per event or per chunk: the MLflow mirror's fold of the ledger
(the per-event half of `bin/replay --to mlflow`; sending ticks once per run), `bin/verify`'s chain hash
and its `--deep` decode, the artifact check's ledger read, and a DuckDB `--rebuild`. The baseline is the
same call with the no-op callback, in the same run; goal: under 1% overhead.

    .venv/bin/python bench/progress.py                 # 200,000 events
    .venv/bin/python bench/progress.py --events 1000000
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.projections import Chain, write_ledger  # noqa: E402
from bin._progress import Reporter  # noqa: E402
from ledger import LEDGER_NAME, verify_file  # noqa: E402
from projectors import projection  # noqa: E402
from projectors.mirror.plan import read_ledger  # noqa: E402
from projectors.readmodel import Progress, quiet  # noqa: E402
from projectors.runs.artifacts import artifact_problems  # noqa: E402

GOAL = 0.01


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, so the Reporter draws its rich bar (into memory)."""

    def isatty(self) -> bool:
        return True


def _displays() -> dict[str, Callable[[], Reporter | None]]:
    return {
        "none": lambda: None,
        "lines": lambda: Reporter("bench", stream=io.StringIO()),
        "bar": lambda: Reporter("bench", stream=_Terminal()),
    }


def _operations(home: Path) -> dict[str, Callable[[Progress], object]]:
    ledger = home / LEDGER_NAME
    return {
        "mirror fold": lambda p: read_ledger(ledger, 0, p),
        "verify hash": lambda p: _verify(ledger, False, p),
        "verify --deep": lambda p: _verify(ledger, True, p),
        "artifact check": lambda p: artifact_problems(home, p),
        "duckdb rebuild": lambda p: projection.rebuild(home, progress=p),
    }


def _verify(ledger: Path, deep: bool, progress: Progress) -> object:
    """verify_file as bin/verify calls it with a Reporter; the baseline passes no callback at all."""
    if not isinstance(progress, Reporter):
        return verify_file(ledger, deep=deep, parallel=False)
    reporter = progress
    return verify_file(
        ledger,
        deep=deep,
        parallel=False,
        progress=lambda n, of, what: reporter.update(f"verify: {what}", n, of, "bytes"),
    )


def measure(op: Callable[[Progress], object], display: Callable[[], Reporter | None], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        reporter = display()
        started = time.perf_counter()
        op(reporter if reporter is not None else quiet)
        best = min(best, time.perf_counter() - started)
        if reporter is not None:
            reporter.close()
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-progress-") as tmp:
        home = Path(tmp)
        write_ledger(home / LEDGER_NAME, args.events, Chain())
        size = (home / LEDGER_NAME).stat().st_size
        print(f"ledger: {args.events:,}+ events, {size / 1e6:.0f} MB; best of {args.repeats}")
        print(f"{'operation':<16} {'none s':>8} {'lines s':>8} {'bar s':>8} {'lines/none':>11} {'bar/none':>9}")
        worst = 0.0
        for name, op in _operations(home).items():
            times = {label: measure(op, display, args.repeats) for label, display in _displays().items()}
            lines, bar = times["lines"] / times["none"], times["bar"] / times["none"]
            worst = max(worst, lines, bar)
            print(f"{name:<16} {times['none']:8.3f} {times['lines']:8.3f} {times['bar']:8.3f} {lines:11.4f} {bar:9.4f}")
    verdict = "meets" if worst - 1 < GOAL else "misses"
    print(f"worst overhead {100 * (worst - 1):+.2f}% ({verdict} the goal of <{100 * GOAL:.0f}%; noise is ~1-2% here)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
