"""Benchmark `bin/replay --to openlineage` to a file: events/s on the canary ledger and on a 1M-event ledger,
beside the MLflow mirror's rate on the same ledgers in the same run (and the bare ledger read as the floor).

The synthetic ledger (--events, default 1,000,000, bench/projections.py's generator) is generated once, into
--dir when given (kept and reused by the next run when it holds at least that many events), else into a
temporary folder. The mirror replays the canary ledger and a prefix of the synthetic ledger (the whole runs of
its first --mirror-events events, default 20,000: MLflow over SQLite would take hours on 1M); the OpenLineage
rate on that same prefix is printed beside it so the ratio compares like with like, and the 1M row shows the
OpenLineage rate against the mirror's rate on that prefix of the same ledger.
"""

from __future__ import annotations

import argparse
import shutil
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


def prefix(source: Path, target: Path, events: int) -> int:
    """Copy the whole runs of the first `events` lines of a ledger (a hash chain's prefix is a valid ledger)."""
    n = 0
    with open(source, "rb") as src, open(target, "wb") as out:
        for line in src:
            if n >= events and b'"type":"RunStarted"' in line:
                break
            out.write(line)
            n += 1
    return n


def synthetic(folder: Path, events: int) -> Path:
    """A home whose ledger holds at least `events` synthetic events, generated unless already there."""
    home = folder / "big"
    ledger = home / LEDGER_NAME
    if ledger.is_file() and count_lines(ledger) >= events:
        print(f"reusing {ledger}", flush=True)
        return home
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    t = time.perf_counter()
    runs = write_ledger(ledger, events, Chain())
    print(f"generated {ledger}: {runs:,} runs in {time.perf_counter() - t:.1f}s", flush=True)
    return home


def fresh(home: Path) -> None:
    """Drop the outputs of an earlier bench run from a kept home (the ledger stays)."""
    for path in home.iterdir():
        if path.name != LEDGER_NAME:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


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
    label: str,
    events: int,
    ol: tuple[float, int, int],
    ml: tuple[float, int] | None,
    floor: tuple[float, int],
    ml_note: str = "",
) -> None:
    ol_rate = events / ol[0]
    text = (
        f"{label:<34} {events:>9,} ledger events  openlineage {ol_rate:>9,.0f} ev/s ({ol[2]:,} OL events, {ol[0]:.2f}s)"
        f"  read floor {floor[1] / floor[0]:>9,.0f} ev/s"
    )
    if ml is not None:
        ml_rate = ml[1] / ml[0]
        text += (
            f"  mlflow mirror {ml_rate:>8,.0f} ev/s ({ml[1]:,} events, {ml[0]:.2f}s{ml_note})"
            f"  openlineage/mlflow x{ol_rate / ml_rate:.1f}"
        )
    print(text, flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="size of the synthetic ledger (default 1,000,000)")
    p.add_argument("--mirror-events", type=int, default=20_000, help="prefix of it the MLflow mirror replays")
    p.add_argument(
        "--dir", type=Path, help="generate the synthetic ledger here once and reuse it (default: a temp dir)"
    )
    p.add_argument("--no-canary", action="store_true", help="skip the canary pipeline run")
    p.add_argument("--quick", action="store_true", help="100,000 events and a 5,000-event mirror prefix")
    args = p.parse_args()
    if args.quick:
        args.events, args.mirror_events = min(args.events, 100_000), min(args.mirror_events, 5_000)
    import mlflow  # noqa: F401  (both engines' imports are paid before any timing: the replays are measured)
    import openlineage.client  # noqa: F401

    import projectors.lineage.mapping  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_canary:
            from schemas.settings import load_settings
            from stages.runner import run_pipeline

            home = Path(tmp) / "canary"
            home.mkdir()
            run_pipeline(load_settings("canary", {}), home)
            n = count_lines(home / LEDGER_NAME)
            row("canary ledger (1 run)", n, lineage(home), (mirror(home)[0], n), read_floor(home))
        big = synthetic(args.dir or Path(tmp), args.events)
        fresh(big)
        small = Path(tmp) / "prefix"
        small.mkdir()
        n = prefix(big / LEDGER_NAME, small / LEDGER_NAME, args.mirror_events)
        ml = (mirror(small)[0], n)
        row("synthetic ledger, prefix", n, lineage(small), ml, read_floor(small))
        n = count_lines(big / LEDGER_NAME)
        label = f"synthetic ledger ({n:,} events)"
        row(label, n, lineage(big), ml, read_floor(big), ml_note=" on the prefix above")
        fresh(big)
    return 0


if __name__ == "__main__":
    sys.exit(main())
