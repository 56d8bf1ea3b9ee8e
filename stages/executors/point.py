"""One sweep point, run where a worker is: stage outputs into the artifact store, events returned, never appended.

run_point is what every executor calls (in the driver's process, in a worker process, in a Ray task): it takes a
JSON-able PointSpec and returns a JSON-able PointResult; no ledger is opened here, so the driver stays the one
writer.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from schemas.events import Executor, Model, RunStatus, Sweep
from stages.pipeline import Pipeline, load_pipeline


class PointSpec(Model):
    """What a worker needs to run one point: pipeline target, profile, every override, run id, home, sweep, executor."""

    target: str
    profile: str | None
    overrides: dict[str, str]
    run_id: str
    home: str
    sweep: Sweep
    executor: Executor


class PointResult(Model):
    """A point's outcome: its events in order (JSON, unrecorded envelopes), or none and the reason it never ran."""

    run_id: str
    status: RunStatus
    error: str | None = None
    events: list[dict[str, Any]] = []


@functools.cache
def _pipeline(target: str) -> Pipeline:
    """Each worker loads a pipeline once (imports, and with them compiled kernels, are paid once per process)."""
    pipeline = load_pipeline(target)
    pipeline.check_reads()
    return pipeline


def run_point(
    spec: PointSpec, markets: Mapping[str, Any] | None = None, progress: Callable[[str], None] = lambda line: None
) -> PointResult:
    """Run one point into a buffer: artifacts are written under spec.home, the events come back in the result.

    markets: market data already in memory, by stages.sources.inputs_key (the Ray executor's object-store data).
    A failure outside the run itself (the pipeline does not load) is a result without events and with the reason.
    """
    from stages.runner import RunSession, drive
    from stages.sources import preloaded

    try:
        pipeline = _pipeline(spec.target)
        settings = pipeline.resolve(spec.profile, spec.overrides)
        with (
            preloaded(markets or {}),
            RunSession(
                pipeline,
                settings,
                Path(spec.home),
                run_id=spec.run_id,
                progress=progress,
                sweep=spec.sweep,
                executor=spec.executor,
                buffered=True,
            ) as session,
        ):
            outcome = drive(session)
            events = [e.model_dump(mode="json") for e in session.rec.events]  # type: ignore[union-attr]
    except Exception as exc:
        tail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return PointResult(run_id=spec.run_id, status="failed", error=f"the point did not run: {tail}")
    return PointResult(run_id=spec.run_id, status=outcome.status, error=outcome.error, events=events)


def run_point_json(spec_json: str) -> str:
    """run_point over JSON text, for worker processes: nothing but text crosses the process boundary."""
    return run_point(PointSpec.model_validate_json(spec_json)).model_dump_json()
