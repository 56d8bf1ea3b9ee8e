"""Shared helpers for the ledger tests: small valid events and ledgers written through the real writer."""

from __future__ import annotations

from pathlib import Path

from ledger import Ledger
from schemas.events import Envelope, MetricLogged, MetricLoggedData, RunTagged, RunTaggedData

RUN_ID = "20261122-000000-test"


def metric(i: int, run_id: str = RUN_ID) -> MetricLogged:
    """A small MetricLogged event numbered i."""
    return MetricLogged(run_id=run_id, stage="bench", data=MetricLoggedData(key=f"m{i % 7}", value=i * 0.5, step=i))


def tag(i: int) -> RunTagged:
    """A RunTagged event with a non-ASCII, quote-laden reason (escaping must not confuse the slicer)."""
    return RunTagged(
        run_id=RUN_ID, data=RunTaggedData(key="k", value=f"v{i}", reason='é "prev":"x","seq":9, \\', by="test")
    )


def events(n: int, start: int = 1) -> list[Envelope]:
    """n mixed events."""
    return [tag(i) if i % 5 == 0 else metric(i) for i in range(start, start + n)]


def write_ledger(path: Path, n: int) -> list[bytes]:
    """A ledger of n events at path (a home folder); returns its lines with newlines."""
    with Ledger.open(path) as ledger:
        ledger.append(events(n))
    return (path / "audit.jsonl").read_bytes().splitlines(keepends=True)
