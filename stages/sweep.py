"""Sweeps: a grid of overrides (times seeds) planned, validated and run as ordinary ledger runs under one sweep id.

The driver here is the one writer: executors (stages/executors/) run points and return their events; only
run_sweep appends them, each run's events in order, one batch per run.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from ledger import Ledger
from schemas.context import new_run_id
from schemas.errors import LedgerlineError
from schemas.events import (
    DataInput,
    Executor,
    JsonScalar,
    RunCompleted,
    RunCompletedData,
    RunStarted,
    Sweep,
    SweepPlan,
    SweepRank,
    envelope,
    is_sweep_id,
    parse_event,
)
from schemas.settings import _parse_value
from stages.executors.point import PointResult, PointSpec
from stages.pipeline import Pipeline, load_pipeline

Progress = Callable[[str], None]

#: metrics where lower is better, and where a smaller magnitude is (everything else: higher is better)
LOWER_IS_BETTER = frozenset({"volatility", "turnover", "total_cost", "tracking_error"})
SMALLER_MAGNITUDE_IS_BETTER = frozenset({"max_drawdown"})
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$")


class SweepError(LedgerlineError, ValueError):
    """Raised when a sweep's input is bad (grid, seeds, rank, sweep id, a point's settings): a usage error."""


# ------------------------------------------------------------------ ids and flags


def new_sweep_id() -> str:
    """A fresh sweep id: sweep- plus a run-id-shaped UTC timestamp and four random base-36 characters."""
    return f"sweep-{new_run_id()}"


def check_sweep_id(value: str) -> str:
    """Return value if it is a valid sweep id, else raise SweepError (checked before any use)."""
    if not is_sweep_id(value):
        raise SweepError(f"invalid sweep id {value!r}: expected sweep-YYYYMMDD-HHMMSS-xxxx")
    return value


def parse_grid(pairs: Sequence[str]) -> dict[str, list[str]]:
    """--grid KEY=V1,V2,... flags as key -> raw values, in the order given; SweepError naming the bad flag."""
    grid: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SweepError(f"--grid expects KEY=V1,V2,..., got {pair!r}")
        if not _KEY.match(key):
            raise SweepError(f"--grid {key}: not a dotted setting name")
        if key in grid:
            raise SweepError(f"--grid {key} is given twice; list every value in one --grid {key}=V1,V2")
        items = [v.strip() for v in values.split(",")] if values.strip() else []
        if not items:
            raise SweepError(f"--grid {key}: empty value list; give at least one value ({key}=V1,V2)")
        if any(not v for v in items):
            raise SweepError(f"--grid {key}: an empty value in {values!r}")
        if len(set(items)) != len(items):
            raise SweepError(f"--grid {key}: a value is listed twice in {values!r}")
        grid[key] = items
    return grid


def parse_seeds(text: str | None) -> list[int]:
    """--seeds 1,2,3 as integers (distinct, in order); SweepError otherwise."""
    if text is None:
        return []
    try:
        seeds = [int(v) for v in text.split(",")]
    except ValueError:
        raise SweepError(f"--seeds expects integers separated by commas, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise SweepError(f"--seeds lists a seed twice: {text!r}")
    return seeds


def parse_sets(pairs: Sequence[str]) -> dict[str, str]:
    """--set KEY=VALUE flags (as bin/run-pipeline takes them)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SweepError(f"--set expects key=value, got {pair!r}")
        out[key] = value
    return out


def rank_of(metric: str) -> SweepRank:
    """The ranking for a metric name: which way is better (the same rule bin/diff's verdicts use)."""
    if not _METRIC.match(metric):
        raise SweepError(f"--rank {metric!r}: not a metric name")
    if metric in LOWER_IS_BETTER:
        return SweepRank(metric=metric, better="lower")
    if metric in SMALLER_MAGNITUDE_IS_BETTER:
        return SweepRank(metric=metric, better="smaller_magnitude")
    return SweepRank(metric=metric, better="higher")


def make_plan(
    target: str,
    profile: str | None,
    grid: dict[str, list[str]],
    seeds: list[int],
    sets: dict[str, str],
    rank: SweepRank,
) -> SweepPlan:
    """The plan; SweepError when a grid key is also a --set, or seed is both a grid key and --seeds."""
    if not grid and not seeds:
        raise SweepError("a sweep needs at least one --grid KEY=V1,V2 (or --seeds)")
    both = sorted(set(grid) & set(sets))
    if both:
        raise SweepError(f"--grid {both[0]} is also given with --set; a key is either swept or fixed")
    if seeds and ("seed" in grid or "seed" in sets):
        raise SweepError("--seeds and a seed in --grid/--set: give the seeds once")
    size = 1
    for values in grid.values():
        size *= len(values)
    return SweepPlan(
        target=target,
        profile=profile,
        grid=grid,
        seeds=seeds,
        sets=sets,
        rank=rank,
        points=size * max(1, len(seeds)),
    )


# ------------------------------------------------------------------ points


@dataclasses.dataclass(frozen=True)
class Point:
    """One point of a plan: its raw overrides (as --set takes them) and their parsed values."""

    overrides: dict[str, str]

    @property
    def values(self) -> dict[str, JsonScalar]:
        return {k: _parse_value(v) for k, v in self.overrides.items()}

    @property
    def key(self) -> str:
        """The point's identity: canonical JSON of its parsed values (what RunStarted.sweep.point records)."""
        return point_key(self.values)

    def text(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.overrides.items())


def point_key(values: dict[str, Any]) -> str:
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS).decode()


def points(plan: SweepPlan) -> list[Point]:
    """Every point of the plan: the grid's product (keys in order), times every seed."""
    keys = list(plan.grid)
    seeds: list[int | None] = list(plan.seeds) or [None]
    out = []
    for combo in itertools.product(*(plan.grid[k] for k in keys)):
        for seed in seeds:
            overrides = dict(zip(keys, combo, strict=True))
            if seed is not None:
                overrides["seed"] = str(seed)
            out.append(Point(overrides))
    return out


def resolve_points(pipeline: Pipeline, plan: SweepPlan, todo: Iterable[Point]) -> list[tuple[Point, Any]]:
    """Each point's resolved settings; SweepError naming the grid key (or point) whose settings are invalid.

    Every key is tried alone first, so an unknown key is named as the --grid flag that holds it.
    """
    for key, values in plan.grid.items():
        try:
            pipeline.resolve(plan.profile, {**plan.sets, key: values[0]})
        except LedgerlineError as exc:
            raise SweepError(f"--grid {key}: {exc}") from exc
    resolved = []
    for point in todo:
        try:
            resolved.append((point, pipeline.resolve(plan.profile, {**plan.sets, **point.overrides})))
        except LedgerlineError as exc:
            raise SweepError(f"point {point.text()}: {exc}") from exc
    return resolved


# ------------------------------------------------------------------ what the ledger says about a sweep


@dataclasses.dataclass
class SweepRecord:
    """A sweep as its runs recorded it: the plan, and per point key the runs and their statuses, in ledger order."""

    sweep_id: str
    plan: SweepPlan | None = None
    runs: dict[str, list[tuple[str, str | None]]] = dataclasses.field(default_factory=dict)

    def succeeded(self) -> set[str]:
        """Point keys with at least one succeeded run."""
        return {k for k, runs in self.runs.items() if any(status == "succeeded" for _, status in runs)}


def read_sweep(home: Path, sweep_id: str) -> SweepRecord:
    """The sweep's plan and runs, read from the ledger itself (not a read model): what --resume decides on."""
    record = SweepRecord(sweep_id)
    point_of: dict[str, str] = {}
    path = Path(home) / "audit.jsonl"
    if not path.exists():
        return record
    with Ledger.open(home, readonly=True) as ledger:
        for event in ledger.read():
            if isinstance(event, RunStarted) and event.data.sweep is not None and event.data.sweep.id == sweep_id:
                record.plan = record.plan or event.data.sweep.plan
                key = point_key(event.data.sweep.point)
                point_of[str(event.run_id)] = key
                record.runs.setdefault(key, []).append((str(event.run_id), None))
            elif isinstance(event, RunCompleted) and event.run_id in point_of:
                runs = record.runs[point_of[event.run_id]]
                runs[:] = [(r, event.data.status if r == event.run_id else s) for r, s in runs]
    return record


# ------------------------------------------------------------------ the driver


@dataclasses.dataclass(frozen=True)
class SweepOutcome:
    """What one invocation did: the runs it recorded (run id, point, status, error) and the sweep's totals."""

    sweep_id: str
    runs: list[tuple[str, Point, str, str | None]]
    points: int
    succeeded_points: int

    @property
    def complete(self) -> bool:
        return self.succeeded_points == self.points


def specs_for(
    plan: SweepPlan, sweep_id: str, home: Path, executor: Executor, resolved: list[tuple[Point, Any]]
) -> list[PointSpec]:
    """One JSON-able spec per point, each with a fresh run id (distinct within the sweep)."""
    taken: set[str] = set()
    out = []
    for point, _ in resolved:
        run_id = new_run_id()
        while run_id in taken:
            run_id = new_run_id()
        taken.add(run_id)
        sweep = Sweep(id=sweep_id, point=point.values, plan=plan)
        out.append(
            PointSpec(
                target=plan.target,
                profile=plan.profile,
                overrides={**plan.sets, **point.overrides},
                run_id=run_id,
                home=str(Path(home).resolve()),
                sweep=sweep,
                executor=executor,
            )
        )
    return out


def run_sweep(
    home: Path,
    specs: list[PointSpec],
    resolved: list[tuple[Point, Any]],
    results: Iterable[PointResult],
    *,
    pipeline: Pipeline,
    total_points: int,
    already: int = 0,
    progress: Progress = lambda line: None,
) -> SweepOutcome:
    """Append every result's events (one batch per run, in order) as the executor yields them.

    A point whose worker failed outright (died, or raised outside the run) is recorded here as a failed run
    with the reason: RunStarted as the worker would have written it, then RunCompleted(failed).
    """
    by_run = {spec.run_id: (spec, point, settings) for spec, (point, settings) in zip(specs, resolved, strict=True)}
    done: list[tuple[str, Point, str, str | None]] = []
    with Ledger.open(home) as ledger:
        for result in results:
            spec, point, settings = by_run[result.run_id]
            if result.events:
                ledger.append([parse_event(e) for e in result.events])
            else:
                ledger.append(_failed_run(pipeline, settings, spec, result.error or "the worker returned nothing"))
            done.append((result.run_id, point, result.status, result.error))
            progress(
                f"[{len(done)}/{len(specs)}] run {result.run_id} {result.status}  {point.text()}"
                + (f"  ({result.error})" if result.error else "")
            )
    succeeded = already + sum(1 for _, _, status, _ in done if status == "succeeded")
    return SweepOutcome(specs[0].sweep.id if specs else "", done, total_points, succeeded)


def _failed_run(pipeline: Pipeline, settings: Any, spec: PointSpec, reason: str) -> list[Any]:
    import inspect

    from stages.artifacts import ArtifactStore
    from stages.recording import run_started

    inputs: list[DataInput] = []
    if pipeline.inputs is not None:
        if "store" in inspect.signature(pipeline.inputs).parameters:
            inputs = list(pipeline.inputs(settings, store=ArtifactStore(Path(spec.home) / "artifacts")))
        else:
            inputs = list(pipeline.inputs(settings))
    started = run_started(settings, inputs, None, None, spec.sweep, spec.executor)
    return [
        envelope(started, run_id=spec.run_id),
        envelope(RunCompletedData(status="failed", duration_s=0.0, error=reason), run_id=spec.run_id),
    ]


def load_for(plan: SweepPlan) -> Pipeline:
    """The plan's pipeline, with its reads checked."""
    pipeline = load_pipeline(plan.target)
    pipeline.check_reads()
    return pipeline
