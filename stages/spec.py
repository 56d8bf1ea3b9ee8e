"""What a stage is: a plain function from named input frames (and settings) to outputs and event payloads."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import polars as pl

from schemas.events import Model


@dataclasses.dataclass(frozen=True)
class StageResult:
    """A stage's outputs: frames for context fields, small context values, and event payloads to record."""

    outputs: dict[str, pl.DataFrame] = dataclasses.field(default_factory=dict)
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    events: list[Model] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class StageSpec:
    """A registered stage: fn(**{field: frame for field in reads}, settings=settings) -> StageResult."""

    name: str
    fn: Callable[..., StageResult]
    reads: tuple[str, ...]
    writes: tuple[str, ...]
