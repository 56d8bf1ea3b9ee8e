"""Benchmark: the Prefect orchestrator's overhead against the plain runner, on the canary profile, in the same run.

examples:
  .venv/bin/python bench/prefect_overhead.py              # canary and toy, plain and prefect, best of 2
  .venv/bin/python bench/prefect_overhead.py --repeats 1

Each run is `bin/run-pipeline --no-project --quiet` in a fresh child process into a fresh home, so both
runners pay the same interpreter, import and numba-cache start-up. The Prefect runs talk to one Prefect
server started here (`--prefect-api`), so the per-flow and per-task overheads are Prefect's own; the
ephemeral API a default `--orchestrator prefect` starts under the home is measured once, apart. The
per-flow and per-task overheads are solved from two pipelines of different lengths (the toy's 2 stages,
the canary's 8):
  prefect - plain = flow + tasks x per_task
Cold runs in child processes are what a user feels, but on a shared machine their noise (seconds) hides
a per-task cost of milliseconds. So the overheads are also solved from warm runs in this one process
(imports and numba kernels paid once), plain and prefect interleaved, median of --rounds, on two chains of
trivial stages (2 and 22 stages, each writing a one-row frame), whose difference is 20 tasks.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench/ledger.py would otherwise shadow the ledger package
TOY = str(ROOT / "examples" / "toy.py") + ":PIPELINE"


def wall(args: list[str], orchestrator: str, api: str | None = None, runs: int = 1) -> list[float]:
    """Seconds of `runs` consecutive `bin/run-pipeline`s into one fresh home (its ephemeral Prefect API too, unless api is given)."""
    extra = ["--prefect-api", api] if api and orchestrator == "prefect" else []
    with tempfile.TemporaryDirectory(prefix="ll-bench-prefect-") as home:
        return [_one(home, args, orchestrator, extra) for _ in range(runs)]


def _one(home: str, args: list[str], orchestrator: str, extra: list[str]) -> float:
    """Seconds of one `bin/run-pipeline` into home."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            str(ROOT / "bin" / "run-pipeline"),
            "--home",
            home,
            "--no-project",
            "--quiet",
            "--orchestrator",
            orchestrator,
            *extra,
            *args,
        ],
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"prefect_overhead: run-pipeline {orchestrator} {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return took


def best(args: list[str], orchestrator: str, repeats: int, api: str | None = None) -> float:
    return min(wall(args, orchestrator, api)[0] for _ in range(repeats))


def chain(n: int) -> Any:
    """A pipeline of n independent trivial stages, each writing a one-row frame: the orchestrator is all it costs."""
    import polars as pl

    from stages import Pipeline, StageResult, stage

    def make(name: str) -> Any:
        def body(*, settings: Any) -> StageResult:
            return StageResult(outputs={name: pl.DataFrame({"x": [1]})})

        return stage(writes=(name,), name=f"make_{name}")(body)

    return Pipeline(f"chain{n}", stages=[make(f"x{i}") for i in range(n)])


def steady(api: str, rounds: int, sizes: tuple[int, int]) -> dict[tuple[str, str], float]:
    """Median seconds of warm in-process runs per (chain, orchestrator), interleaved so both see the same load."""
    from stages.orchestrators import run_with

    pipelines = {name: chain(n) for name, n in zip(("long", "short"), sizes)}
    times: dict[tuple[str, str], list[float]] = {(n, o): [] for n in pipelines for o in ("plain", "prefect")}
    with tempfile.TemporaryDirectory(prefix="ll-bench-prefect-steady-") as home:
        for i in range(rounds + 1):  # round 0 warms imports and the flow definitions
            for name, pipeline in pipelines.items():
                settings = pipeline.resolve(None, {})
                for o in ("plain", "prefect"):
                    started = time.perf_counter()
                    run_with(o, pipeline, settings, Path(home), prefect_api=api)
                    if i:
                        times[name, o].append(time.perf_counter() - started)
    return {k: statistics.median(v) for k, v in times.items()}


def overheads(
    figures: dict[tuple[str, str], float], long: tuple[str, int], short: tuple[str, int]
) -> tuple[float, float]:
    """(per flow, per task) seconds solved from the two pipelines' prefect - plain differences."""
    (a, n_a), (b, n_b) = long, short
    extra_a = figures[a, "prefect"] - figures[a, "plain"]
    extra_b = figures[b, "prefect"] - figures[b, "plain"]
    per_task = (extra_a - extra_b) / (n_a - n_b)
    return extra_b - n_b * per_task, per_task


def table(title: str, figures: dict[tuple[str, str], float], long: tuple[str, int], short: tuple[str, int]) -> None:
    print(title)
    print("pipeline  stages   plain s  prefect s   ratio")
    for name, n in (long, short):
        plain, pref = figures[name, "plain"], figures[name, "prefect"]
        print(f"{name:<8}  {n:>6}  {plain:8.2f}  {pref:9.2f}  {pref / plain:5.2f}x")
    per_flow, per_task = overheads(figures, long, short)
    print(f"prefect overhead against a running server: {per_flow:.2f} s per flow + {per_task * 1000:.0f} ms per task")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=2, help="cold runs per configuration; the best is kept (default 2)")
    p.add_argument("--rounds", type=int, default=5, help="warm in-process rounds; the median is kept (default 5)")
    args = p.parse_args()
    from stages.registry import QUANT_REFERENCE
    from tests.support.prefect_api import prefect_server

    canary = ["--profile", "canary"]
    toy = ["--pipeline", TOY]
    with (
        tempfile.TemporaryDirectory(prefix="ll-bench-prefect-server-") as server_home,
        prefect_server(Path(server_home)) as api,
    ):
        figures = {
            (name, o): best(a, o, args.repeats, api)
            for name, a in (("canary", canary), ("toy", toy))
            for o in ("plain", "prefect")
        }
        # a new home migrates the ephemeral API's database; the next run in it does not
        cold, warm = wall(canary, "prefect", runs=2)
        sizes = (22, 2)
        warm_figures = steady(
            api, args.rounds, sizes
        )  # last: run_prefect points this process's environment at the server
    n_canary, n_toy = len(QUANT_REFERENCE.stages), 2
    table(
        "cold: one bin/run-pipeline per child process, best of --repeats", figures, ("canary", n_canary), ("toy", n_toy)
    )
    table(
        "warm: trivial stages in this process, median of --rounds",
        warm_figures,
        ("long", sizes[0]),
        ("short", sizes[1]),
    )
    plain = figures["canary", "plain"]
    for name, took in (("first run in a new home", cold), ("next run in the same home", warm)):
        print(
            f"canary with the default ephemeral API, {name}: {took:.2f} s, {took / plain:.2f}x plain; "
            f"the ephemeral API costs {took - figures['canary', 'prefect']:.2f} s of it"
        )


if __name__ == "__main__":
    main()
