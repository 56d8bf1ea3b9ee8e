"""What a stage is: a plain function from named input frames (and settings) to outputs and event payloads."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from schemas.events import Model


@dataclasses.dataclass(frozen=True)
class StageResult:
    """A stage's outputs: frames (polars, pandas or Arrow) for context fields, small values, event payloads to record."""

    outputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    events: list[Model] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class StageSpec:
    """A registered stage: fn(**{field: frame for field in reads}, settings=settings) -> StageResult.

    retries/retry_delay_s are what an orchestrator may retry; contracts maps a read to a pandera schema
    validated (filter and log) before the stage runs; pandas names the reads given as pandas frames.
    """

    name: str
    fn: Callable[..., StageResult]
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    retries: int = 0
    retry_delay_s: float = 0.0
    contracts: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    pandas: frozenset[str] = frozenset()
    doc: str = ""

    def __call__(self, **kwargs: Any) -> StageResult:
        """Call the bare function (a stage stays a plain function)."""
        return self.fn(**kwargs)


def frame_rows(frame: Any) -> int:
    """Rows of a polars/pandas frame or Arrow table."""
    if isinstance(frame, pl.DataFrame):
        return frame.height
    rows = frame.num_rows if hasattr(frame, "num_rows") else len(frame)
    return int(rows)
