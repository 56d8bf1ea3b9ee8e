"""The runner: preflight, then each stage in turn (appending its events), postflight, RunCompleted.

RunSession holds one run's state (ledger recorder, context of artifact refs, artifact store) so that the plain
loop here and an orchestrator (stages/orchestrators/prefect_flow.py) drive the very same stage code.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ConfigDict

from ledger import ARTIFACTS_DIR, Ledger
from schemas.context import RunContext, check_run_id, new_run_id
from schemas.events import (
    ArtifactRef,
    ArtifactWritten,
    DataInput,
    Executor,
    Model,
    RunCompletedData,
    RunStatus,
    StageCompletedData,
    StageFailedData,
    StageStartedData,
    Sweep,
)
from schemas.settings import Settings
from stages.artifacts import ArtifactStore
from stages.errors import ArtifactCorruptError, ContractBreachError, PostflightError, PreflightError, StageError
from stages.pipeline import Pipeline, PipelineError
from stages.recording import Buffer, Recorder, run_started
from stages.registry import PIPELINE, QUANT_REFERENCE
from stages.spec import StageSpec, frame_rows

Progress = Callable[[str], None]


class StageTick(str):
    """A progress report "stage `done` of `total` starts": a count for a progress display, not a line to print.

    bin/_progress.Reporter draws it as a bar of stages and, while one stage runs long, a periodic line naming it;
    a plain line callback that prints everything prints its text.
    """

    tick, unit, phase = True, "stages", ""
    model: str
    stage: str
    done: int
    total: int

    def __new__(cls, run_id: str, stage: str, done: int, total: int) -> StageTick:
        self = super().__new__(cls, f"  {stage:<10} running ({done + 1} of {total})")
        self.model, self.stage, self.done, self.total = f"run {run_id}", stage, done, total
        return self


class FreeContext(Model):
    """The context of a pipeline other than the quant reference: any field name -> ArtifactRef or small value."""

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)
    run_id: str

    def diff(self, other: FreeContext) -> dict[str, tuple[Any, Any]]:
        mine, theirs = self.model_dump(mode="json"), other.model_dump(mode="json")
        return {k: (mine.get(k), theirs.get(k)) for k in {*mine, *theirs} if mine.get(k) != theirs.get(k)}


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What a finished run reports back to its caller."""

    run_id: str
    status: RunStatus
    context: Any
    error: str | None
    first_seq: int
    last_seq: int
    orchestrator: dict[str, Any] | None = None


class StageAttemptError(StageError):
    """A stage attempt failed (already recorded as StageFailed); carries the original exception."""

    def __init__(self, stage: str, exc: BaseException) -> None:
        super().__init__(f"{stage}: {exc}")
        self.stage, self.original = stage, exc


class RunSession:
    """One run of one pipeline into the ledger under home. Use as a context manager (holds the ledger open)."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Any,
        home: Path,
        *,
        run_id: str | None = None,
        progress: Progress = lambda line: None,
        rerun_of: str | None = None,
        sweep: Sweep | None = None,
        executor: Executor | None = None,
        buffered: bool = False,
    ) -> None:
        self.pipeline, self.settings, self.home, self.progress = pipeline, settings, Path(home), progress
        self.rerun_of = rerun_of  # the run this one re-executes (bin/rerun), recorded in RunStarted
        self.sweep, self.executor = sweep, executor  # recorded in RunStarted, never in the config hash
        #: buffered: keep the events (self.rec.events) instead of appending them; the caller is the writer
        self.buffered = buffered
        self.run_id = check_run_id(new_run_id() if run_id is None else run_id)
        self.quant = isinstance(settings, Settings)
        self.stage_settings = settings if self.quant else settings.values
        self.ctx: Any = RunContext(run_id=self.run_id) if self.quant else FreeContext(run_id=self.run_id)
        self.cache: dict[str, Any] = {}
        self.status: RunStatus = "succeeded"
        self.error: str | None = None
        self.problems: list[str] = []
        self.orchestrator: dict[str, Any] | None = None
        self._started = time.perf_counter()

    def __enter__(self) -> RunSession:
        self.store = ArtifactStore(self.home / ARTIFACTS_DIR)
        if self.buffered:
            self.rec: Recorder | Buffer = Buffer(self.run_id)
            return self
        self._ledger_cm = Ledger.open(self.home)
        ledger = self._ledger_cm.__enter__()
        self.rec = Recorder(ledger, self.run_id)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.buffered:
            self._ledger_cm.__exit__(*exc)

    # ------------------------------------------------------------ the run's life

    def start(self, orchestrator: dict[str, Any] | None = None) -> bool:
        """Preflight and RunStarted; False when preflight failed (the run is then over)."""
        self.orchestrator = orchestrator
        pre, inputs_of = self.pipeline.preflight, self.pipeline.inputs
        self.problems = list(pre(self.settings, self.home)) if pre is not None else []
        inputs: list[DataInput] = [] if self.problems or inputs_of is None else self._inputs(inputs_of)
        self.rec.record([run_started(self.settings, inputs, orchestrator, self.rerun_of, self.sweep, self.executor)])
        listings = [i.arctic.symbols_ref for i in inputs if i.arctic is not None and i.arctic.symbols_ref is not None]
        if listings:  # the symbol-version lists RunStarted names by hash: recorded so bin/verify checks their files
            self.rec.record([self.store.written(ref, "json") for ref in listings])
        self.progress(f"run {self.run_id} started (pipeline {self.settings.pipeline}, profile {self.settings.profile})")
        if self.problems:
            self.status, self.error = "preflight_failed", str(PreflightError(self.problems))
            return False
        return True

    def _inputs(self, inputs_of: Callable[..., list[Any]]) -> list[DataInput]:
        """The pipeline's inputs hook; one that takes a store may write a long listing as an artifact."""
        if "store" in inspect.signature(inputs_of).parameters:
            return list(inputs_of(self.settings, store=self.store))
        return list(inputs_of(self.settings))

    def run_stage(self, spec: StageSpec, *, attempt: int = 1, retries: int = 0) -> list[ArtifactRef]:
        """One attempt of one stage; a failure is recorded (will_retry when attempt <= retries) and raised."""
        names = [s.name for s in self.pipeline.stages]
        if spec.name in names and getattr(self.progress, "ticks", False):
            self.progress(StageTick(self.run_id, spec.name, names.index(spec.name), len(names)))
        try:
            return self._run_stage(spec, attempt)
        except Exception as exc:
            if isinstance(exc, ArtifactCorruptError) and exc.run_id is None and self.rec.ledger is not None:
                exc = exc.written_by(*_writer_of(self.rec.ledger, exc.digest))
            will_retry = attempt <= retries
            payloads = [] if will_retry else list(getattr(exc, "events", []))
            payloads.append(
                StageFailedData(
                    error_type=type(exc).__name__,
                    message=str(exc),
                    traceback_tail=_tail(exc),
                    attempt=attempt,
                    will_retry=will_retry,
                )
            )
            self.rec.record(payloads, stage=spec.name)
            self.progress(
                f"  {spec.name:<10} FAILED {type(exc).__name__}: {exc}" + (" (will retry)" if will_retry else "")
            )
            if not will_retry:
                self.status = "failed"
                self.error = str(exc) if isinstance(exc, ContractBreachError) else f"{spec.name}: {exc}"
            raise StageAttemptError(spec.name, exc) from exc

    def finish(self) -> RunOutcome:
        """Postflight (after a succeeded run) and RunCompleted."""
        if self.status == "succeeded" and self.pipeline.postflight is not None:
            try:
                self.rec.record(
                    self.pipeline.postflight(self.ctx, self.store, self.settings, self.home), stage="postflight"
                )
            except PostflightError as exc:
                self.rec.record(exc.events, stage="postflight")
                self.status, self.error = "postflight_failed", str(exc)
        self.rec.record(
            [RunCompletedData(status=self.status, duration_s=time.perf_counter() - self._started, error=self.error)]
        )
        self.progress(f"run {self.run_id} {self.status}" + (f": {self.error}" if self.error else ""))
        return RunOutcome(
            self.run_id, self.status, self.ctx, self.error, self.rec.first_seq, self.rec.last_seq, self.orchestrator
        )

    # ------------------------------------------------------------ one stage

    def refs(self, spec: StageSpec) -> list[ArtifactRef | None]:
        """The refs of the stage's reads in the run so far (None for one not produced yet)."""
        return [getattr(self.ctx, f, None) for f in spec.reads]

    def _run_stage(self, spec: StageSpec, attempt: int) -> list[ArtifactRef]:
        missing = [f for f in spec.reads if getattr(self.ctx, f, None) is None]
        if missing:
            raise StageError(f"reads {', '.join(missing)}, which no earlier stage produced")
        refs = [ref for ref in self.refs(spec) if ref is not None]
        self.rec.record([StageStartedData(inputs=refs)], stage=spec.name)
        started = time.perf_counter()
        frames: dict[str, Any] = {f: self._load(ref) for f, ref in zip(spec.reads, refs)}
        contract_events: list[Model] = []
        if spec.contracts:
            from stages.datacontract import apply_contracts

            frames, contract_events = apply_contracts(spec, frames)
        rows_in = _primary_rows(spec.reads, frames)
        frames = {f: (frame.to_pandas() if f in spec.pandas else frame) for f, frame in frames.items()}
        result = spec.fn(**frames, settings=self.stage_settings)
        updates: dict[str, object] = dict(result.values)
        written: list[Model] = []
        outputs: list[ArtifactRef] = []
        for field in spec.writes:
            if field not in result.outputs:
                continue
            frame = _polars(field, result.outputs[field])
            ref, artifact = self.store.put_frame(field, frame)
            self.cache[ref.hash] = frame
            updates[field] = ref
            outputs.append(ref)
            written.append(artifact)
        new_ctx = self.ctx.model_copy(update=updates)
        completed = StageCompletedData(
            rows_in=rows_in,
            rows_out=_primary_rows(
                spec.writes, {f: _polars(f, o) for f, o in result.outputs.items() if f in spec.writes}
            ),
            duration_s=time.perf_counter() - started,
            outputs=outputs,
            changed=sorted(self.ctx.diff(new_ctx)),
            attempts=attempt,
        )
        self.rec.record([*contract_events, *result.events, *written, completed], stage=spec.name)
        self.ctx = new_ctx
        self.progress(
            f"  {spec.name:<10} {completed.rows_in:>9,} rows in  {completed.rows_out:>9,} out  {completed.duration_s:6.2f}s"
        )
        return outputs

    def _load(self, ref: ArtifactRef) -> pl.DataFrame:
        if ref.hash not in self.cache:
            self.cache[ref.hash] = self.store.get_frame(ref)
        frame: pl.DataFrame = self.cache[ref.hash]
        return frame


def run(
    pipeline: Pipeline, settings: Any, home: Path, *, run_id: str | None = None, progress: Progress = lambda line: None
) -> RunOutcome:
    """Run every stage of pipeline with the plain runner (no orchestrator, no retries)."""
    pipeline.check_reads()
    with RunSession(pipeline, settings, home, run_id=run_id, progress=progress) as session:
        return drive(session)


def drive(session: RunSession) -> RunOutcome:
    """The plain loop over an entered session: start, each stage until one fails, finish."""
    if session.start(None):
        for spec in session.pipeline.stages:
            try:
                session.run_stage(spec)
            except StageAttemptError:
                break
    return session.finish()


def run_pipeline(
    settings: Settings,
    home: Path,
    *,
    run_id: str | None = None,
    stages: Sequence[StageSpec] = PIPELINE,
    progress: Progress = lambda line: None,
    rerun_of: str | None = None,
) -> RunOutcome:
    """Run the quant reference pipeline (or the given stages of it) into the ledger under home (rerun_of: the run it re-executes)."""
    pipeline = (
        QUANT_REFERENCE
        if tuple(stages) == PIPELINE
        else Pipeline(
            QUANT_REFERENCE.name,
            stages,
            Settings,
            preflight=QUANT_REFERENCE.preflight,
            postflight=QUANT_REFERENCE.postflight,
            inputs=QUANT_REFERENCE.inputs,
        )
    )
    with RunSession(pipeline, settings, home, run_id=run_id, progress=progress, rerun_of=rerun_of) as session:
        return drive(session)


def _polars(field: str, frame: Any) -> pl.DataFrame:
    """A stage output as polars: polars as is, pandas and Arrow converted (stored as Parquet alike)."""
    if isinstance(frame, pl.DataFrame):
        return frame
    try:
        out = pl.from_pandas(frame) if type(frame).__module__.startswith("pandas") else pl.from_arrow(frame)
    except Exception as exc:
        raise StageError(
            f"output {field} is a {type(frame).__name__}, not a polars/pandas frame or Arrow table"
        ) from exc
    if not isinstance(out, pl.DataFrame):
        raise StageError(f"output {field} is a {type(frame).__name__}, not a frame")
    return out


def _primary_rows(fields: tuple[str, ...], frames: dict[str, Any]) -> int:
    """Rows of a stage's primary (first-named) frame: kept rows, not kept plus dropped."""
    return frame_rows(frames[fields[0]]) if fields and fields[0] in frames else 0


def _tail(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]


def _writer_of(ledger: Ledger, digest: str) -> tuple[str | None, str | None]:
    """The run and stage of the first ArtifactWritten for this content hash (read only when one is corrupt)."""
    for event in ledger.read():
        if isinstance(event, ArtifactWritten) and event.data.hash == digest:
            return event.run_id, event.stage
    return None, None


__all__ = [
    "PipelineError",
    "RunOutcome",
    "RunSession",
    "StageAttemptError",
    "drive",
    "run",
    "run_pipeline",
    "run_started",
]
