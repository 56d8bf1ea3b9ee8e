"""Where a run's events go: appended to the ledger as each batch is ready (the runner is then the writer), or kept
in order for the one writer to append (a sweep worker); and the RunStarted payload every run begins with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger import Ledger
from schemas.events import DataInput, Envelope, Executor, Model, RunStartedData, Sweep, envelope
from stages.provenance import code_version, package_versions


class Recorder:
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


class Buffer:
    """Envelopes payloads for one run and keeps them, in order, for the one writer to append (a sweep worker's recorder)."""

    ledger: Ledger | None = None

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.first_seq = self.last_seq = 0
        self.events: list[Envelope] = []

    def record(self, payloads: Sequence[Model], stage: str | None = None) -> None:
        self.events += [envelope(p, run_id=self.run_id, stage=stage) for p in payloads]


def run_started(
    settings: Any,
    inputs: list[DataInput],
    orchestrator: dict[str, Any] | None,
    rerun_of: str | None = None,
    sweep: Sweep | None = None,
    executor: Executor | None = None,
) -> RunStartedData:
    """The RunStarted payload of a run with these settings and inputs (execution detail kept out of config_hash)."""
    return RunStartedData(
        pipeline=settings.pipeline,
        profile=settings.profile,
        params=settings.flat(),
        config_hash=settings.config_hash(),
        code_version=code_version(),
        packages=package_versions(),
        inputs=inputs,
        seed=settings.seed,
        orchestrator=orchestrator,
        rerun_of=rerun_of,
        sweep=sweep,
        executor=executor,
    )
