"""The runner: preflight, then each stage in turn (appending its events), postflight, RunCompleted."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from ledger import ARTIFACTS_DIR, Ledger
from schemas.context import RunContext, check_run_id, new_run_id
from schemas.events import (
    ArtifactRef,
    ArtifactWritten,
    DataInput,
    Envelope,
    Model,
    RunCompletedData,
    RunStartedData,
    RunStatus,
    StageCompletedData,
    StageFailedData,
    StageStartedData,
    envelope,
)
from schemas.settings import Settings, using
from stages.artifacts import ArtifactStore
from stages.errors import ArtifactCorruptError, ContractBreachError, PostflightError, PreflightError, StageError
from stages.postflight import postflight
from stages.preflight import preflight
from stages.provenance import code_version, package_versions
from stages.registry import PIPELINE
from stages.sources import describe_inputs
from stages.spec import StageSpec

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What a finished run reports back to its caller."""

    run_id: str
    status: RunStatus
    context: RunContext
    error: str | None
    first_seq: int
    last_seq: int


class _Recorder:
    """Envelopes payloads for one run and appends them, one fsync per batch."""

    def __init__(self, ledger: Ledger, run_id: str) -> None:
        self.ledger, self.run_id = ledger, run_id
        self.first_seq = self.last_seq = 0

    def record(self, payloads: Sequence[Model], stage: str | None = None) -> None:
        events: list[Envelope] = [envelope(p, run_id=self.run_id, stage=stage) for p in payloads]
        recorded = self.ledger.append(events)
        if recorded:
            self.first_seq = self.first_seq or recorded[0].seq
            self.last_seq = recorded[-1].seq


def run_pipeline(
    settings: Settings,
    home: Path,
    *,
    run_id: str | None = None,
    stages: Sequence[StageSpec] = PIPELINE,
    progress: Progress = lambda line: None,
    rerun_of: str | None = None,
) -> RunOutcome:
    """Run every stage of the pipeline into the ledger under home and return how it ended (rerun_of: the run it re-executes)."""
    run_id = check_run_id(new_run_id() if run_id is None else run_id)
    started = time.perf_counter()
    with Ledger.open(home) as ledger, using(settings):
        rec = _Recorder(ledger, run_id)
        problems = preflight(settings, home)
        inputs = [] if problems else describe_inputs(settings)
        rec.record([_run_started(settings, inputs, rerun_of)])
        progress(f"run {run_id} started (profile {settings.profile})")
        ctx = RunContext(run_id=run_id)
        ctx, (status, error) = _drive(rec, ctx, settings, home, stages, problems, progress)
        rec.record([RunCompletedData(status=status, duration_s=time.perf_counter() - started, error=error)])
        progress(f"run {run_id} {status}" + (f": {error}" if error else ""))
        return RunOutcome(run_id, status, ctx, error, rec.first_seq, rec.last_seq)


def _drive(
    rec: _Recorder,
    ctx: RunContext,
    settings: Settings,
    home: Path,
    stages: Sequence[StageSpec],
    problems: list[str],
    progress: Progress,
) -> tuple[RunContext, tuple[RunStatus, str | None]]:
    if problems:
        return ctx, ("preflight_failed", str(PreflightError(problems)))
    store = ArtifactStore(home / ARTIFACTS_DIR)
    cache: dict[str, pl.DataFrame] = {}
    for spec in stages:
        try:
            ctx = _run_stage(rec, spec, ctx, settings, store, cache, progress)
        except Exception as exc:  # a failing stage ends the run; the error is recorded, not raised
            if isinstance(exc, ArtifactCorruptError) and exc.run_id is None:
                exc = exc.written_by(*_writer_of(rec.ledger, exc.digest))
            payloads = list(getattr(exc, "events", []))
            payloads.append(StageFailedData(error_type=type(exc).__name__, message=str(exc)))
            rec.record(payloads, stage=spec.name)
            progress(f"  {spec.name:<10} FAILED {type(exc).__name__}: {exc}")
            return ctx, ("failed", f"{spec.name}: {exc}" if not isinstance(exc, ContractBreachError) else str(exc))
    try:
        rec.record(postflight(ctx, store, settings, home), stage="postflight")
    except PostflightError as exc:
        rec.record(exc.events, stage="postflight")
        return ctx, ("postflight_failed", str(exc))
    return ctx, ("succeeded", None)


def _run_stage(
    rec: _Recorder,
    spec: StageSpec,
    ctx: RunContext,
    settings: Settings,
    store: ArtifactStore,
    cache: dict[str, pl.DataFrame],
    progress: Progress,
) -> RunContext:
    missing = [f for f in spec.reads if getattr(ctx, f) is None]
    if missing:
        raise StageError(f"reads {', '.join(missing)}, which no earlier stage produced")
    refs: list[ArtifactRef] = [getattr(ctx, f) for f in spec.reads]
    rec.record([StageStartedData(inputs=refs)], stage=spec.name)
    started = time.perf_counter()
    frames = {f: _load(store, cache, ref) for f, ref in zip(spec.reads, refs)}
    result = spec.fn(**frames, settings=settings)
    updates: dict[str, object] = dict(result.values)
    written: list[Model] = []
    outputs: list[ArtifactRef] = []
    for field in spec.writes:
        if field not in result.outputs:
            continue
        ref, artifact = store.put_frame(field, result.outputs[field])
        cache[ref.hash] = result.outputs[field]
        updates[field] = ref
        outputs.append(ref)
        written.append(artifact)
    new_ctx = ctx.model_copy(update=updates)
    completed = StageCompletedData(
        rows_in=_primary_rows(spec.reads, frames),
        rows_out=_primary_rows(spec.writes, result.outputs),
        duration_s=time.perf_counter() - started,
        outputs=outputs,
        changed=sorted(ctx.diff(new_ctx)),
    )
    rec.record([*result.events, *written, completed], stage=spec.name)
    progress(f"  {spec.name:<10} {completed.rows_in:>9,} rows in  {completed.rows_out:>9,} out  {completed.duration_s:6.2f}s")
    return new_ctx


def _writer_of(ledger: Ledger, digest: str) -> tuple[str | None, str | None]:
    """The run and stage of the first ArtifactWritten for this content hash (read only when one is corrupt)."""
    for event in ledger.read():
        if isinstance(event, ArtifactWritten) and event.data.hash == digest:
            return event.run_id, event.stage
    return None, None


def _primary_rows(fields: tuple[str, ...], frames: dict[str, pl.DataFrame]) -> int:
    """Rows of a stage's primary (first-named) frame: kept rows, not kept plus dropped."""
    return frames[fields[0]].height if fields and fields[0] in frames else 0


def _load(store: ArtifactStore, cache: dict[str, pl.DataFrame], ref: ArtifactRef) -> pl.DataFrame:
    if ref.hash not in cache:
        cache[ref.hash] = store.get_frame(ref)
    return cache[ref.hash]


def _run_started(settings: Settings, inputs: list[DataInput], rerun_of: str | None = None) -> RunStartedData:
    return RunStartedData(
        pipeline=settings.pipeline,
        profile=settings.profile,
        params=settings.flat(),
        config_hash=settings.config_hash(),
        code_version=code_version(),
        packages=package_versions(),
        inputs=inputs,
        seed=settings.seed,
        rerun_of=rerun_of,
    )
