"""Benchmark what progress costs on a large ledger: each long loop without progress, with plain lines, with the bar.

The loops measured are the ones that tick per event or per chunk: the MLflow mirror's fold of the ledger
(the per-event half of `bin/replay --to mlflow`; sending ticks once per run), `bin/verify`'s chain hash
and its `--deep` decode, the artifact check's ledger read, and a DuckDB `--rebuild`. The baseline is the
same call with the no-op callback, in the same run, interleaved; goal: under 1% overhead. On a busy machine
the measured ratios are noisier than the overhead itself, so the bench also prints a noise-free bound:
the ticks each operation made times the cost of one tick measured in a tight loop, over the baseline.

    .venv/bin/python bench/progress.py                 # 200,000 events
    .venv/bin/python bench/progress.py --events 1000000
    .venv/bin/python bench/progress.py --quick          # 50,000 events
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


class Counting(Reporter):
    """A Reporter that counts the reports it gets (the ticks a display pays for)."""

    calls = 0

    def __call__(self, step: str) -> None:
        self.calls += 1
        super().__call__(step)

    def update(self, label: str, done: int, total: int | None, unit: str = "events") -> None:
        self.calls += 1
        super().update(label, done, total, unit)


def _displays() -> dict[str, Callable[[], Reporter | None]]:
    return {
        "none": lambda: None,
        "lines": lambda: Counting("bench", stream=io.StringIO()),
        "bar": lambda: Counting("bench", stream=_Terminal()),
    }


def tick_cost(display: Callable[[], Reporter | None], n: int = 200_000) -> float:
    """Seconds one throttled tick costs a display (the call, the clock read, the comparison), in a tight loop."""
    from projectors.readmodel import tick

    reporter = display()
    assert reporter is not None
    steps = [tick("bench", "phase", i, n) for i in range(64)]
    started = time.perf_counter()
    for i in range(n):
        reporter(steps[i & 63])
    cost = (time.perf_counter() - started) / n
    reporter.close()
    return cost


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


def measure(
    op: Callable[[Progress], object], displays: dict[str, Callable[[], Reporter | None]], rounds: int
) -> tuple[dict[str, float], dict[str, int]]:
    """Best time per display over rounds, the displays interleaved (rotating order) so machine noise hits all alike;
    and the number of reports each display got."""
    best = dict.fromkeys(displays, float("inf"))
    calls: dict[str, int] = {}
    names = list(displays)
    for r in range(rounds):
        for label in names[r % len(names) :] + names[: r % len(names)]:
            reporter = displays[label]()
            started = time.perf_counter()
            op(reporter if reporter is not None else quiet)
            best[label] = min(best[label], time.perf_counter() - started)
            if reporter is not None:
                reporter.close()
                calls[label] = getattr(reporter, "calls", 0)
    return best, calls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="50,000 events, 2 rounds")
    args = ap.parse_args()
    if args.quick:
        args.events, args.repeats = 50_000, 2
    displays = _displays()
    costs = {label: tick_cost(displays[label]) for label in ("lines", "bar")}
    print(f"one throttled tick: lines {costs['lines'] * 1e6:.2f} us, bar {costs['bar'] * 1e6:.2f} us")
    with tempfile.TemporaryDirectory(prefix="bench-progress-") as tmp:
        home = Path(tmp)
        write_ledger(home / LEDGER_NAME, args.events, Chain())
        size = (home / LEDGER_NAME).stat().st_size
        print(f"ledger: {args.events:,}+ events, {size / 1e6:.0f} MB; best of {args.repeats} interleaved rounds")
        print(
            f"{'operation':<16} {'none s':>8} {'lines s':>8} {'bar s':>8} {'lines/none':>11} {'bar/none':>9} "
            f"{'ticks':>6} {'tick cost':>10}"
        )
        worst = 0.0
        for name, op in _operations(home).items():
            times, calls = measure(op, displays, args.repeats)
            lines, bar = times["lines"] / times["none"], times["bar"] / times["none"]
            paid = max(calls[k] * costs[k] for k in costs) / times["none"]  # what the ticks cost, noise-free
            worst = max(worst, paid)
            print(
                f"{name:<16} {times['none']:8.3f} {times['lines']:8.3f} {times['bar']:8.3f} {lines:11.4f} {bar:9.4f} "
                f"{max(calls.values()):6,} {100 * paid:9.4f}%"
            )
    verdict = "meets" if worst < GOAL else "misses"
    print(
        f"ticks cost at most {100 * worst:.4f}% of an operation ({verdict} the goal of <{100 * GOAL:.0f}%); "
        "the measured ratios also carry this machine's noise"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
