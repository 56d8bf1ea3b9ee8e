"""Benchmark `bin/replay --to openlineage` to a file: events/s on the canary ledger and on a 1M-event ledger,
beside the MLflow mirror's rate on the same ledgers in the same run (and the bare ledger read as the floor).

The mirror is measured on the canary ledger and on a slice of the synthetic ledger (--mirror-events, default
20,000 events: MLflow over SQLite is too slow for 1M); the OpenLineage rate on that same slice is printed
beside it so the ratio compares like with like.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.projections import Chain, write_ledger  # noqa: E402
from ledger import LEDGER_NAME, read_events  # noqa: E402
from projectors.registry import open_model  # noqa: E402


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def timed(fn) -> tuple[float, int]:  # noqa: ANN001
    t = time.perf_counter()
    n = fn()
    return time.perf_counter() - t, n


def read_floor(home: Path) -> tuple[float, int]:
    return timed(lambda: sum(1 for _ in read_events(home / LEDGER_NAME)))


def lineage(home: Path) -> tuple[float, int, int]:
    model = open_model("openlineage", home)
    s, n = timed(model.catch_up)
    lines = count_lines(home / "openlineage.jsonl")
    return s, n, lines


def mirror(home: Path) -> tuple[float, int]:
    return timed(open_model("mlflow", home).catch_up)


def row(
    label: str, events: int, ol: tuple[float, int, int], ml: tuple[float, int] | None, floor: tuple[float, int]
) -> None:
    ol_rate = events / ol[0]
    text = (
        f"{label:<34} {events:>9,} ledger events  openlineage {ol_rate:>9,.0f} ev/s ({ol[2]:,} OL events, {ol[0]:.2f}s)"
        f"  read floor {floor[1] / floor[0]:>9,.0f} ev/s"
    )
    if ml is not None:
        ml_rate = events / ml[0]
        text += f"  mlflow mirror {ml_rate:>8,.0f} ev/s ({ml[0]:.2f}s)  openlineage/mlflow x{ol_rate / ml_rate:.1f}"
    print(text, flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="size of the synthetic ledger (default 1,000,000)")
    p.add_argument("--mirror-events", type=int, default=20_000, help="synthetic slice the MLflow mirror replays")
    p.add_argument("--no-canary", action="store_true", help="skip the canary pipeline run")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_canary:
            from schemas.settings import load_settings
            from stages.runner import run_pipeline

            home = Path(tmp) / "canary"
            home.mkdir()
            run_pipeline(load_settings("canary", {}), home)
            n = count_lines(home / LEDGER_NAME)
            row("canary ledger (1 run)", n, lineage(home), mirror(home), read_floor(home))
        small = Path(tmp) / "small"
        small.mkdir()
        write_ledger(small / LEDGER_NAME, args.mirror_events, Chain())
        n = count_lines(small / LEDGER_NAME)
        row("synthetic slice", n, lineage(small), mirror(small), read_floor(small))
        big = Path(tmp) / "big"
        big.mkdir()
        runs = write_ledger(big / LEDGER_NAME, args.events, Chain())
        n = count_lines(big / LEDGER_NAME)
        row(f"synthetic ledger ({runs:,} runs)", n, lineage(big), None, read_floor(big))
    return 0


if __name__ == "__main__":
    sys.exit(main())
