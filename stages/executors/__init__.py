"""Where a sweep's points run: in the driver's process, in N worker processes, or as Ray tasks.

An executor takes JSON-able PointSpecs and yields PointResults as they finish; it never appends to the ledger
(the driver, stages.sweep.run_sweep, does). Only stages/executors/ray_exec.py imports ray.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from schemas.events import Executor
from stages.executors.point import PointResult, PointSpec

EXECUTORS = ("local", "ray")


class PointExecutor(Protocol):
    """Runs points; results come back in completion order, each exactly once."""

    info: Executor

    def run(self, specs: Sequence[PointSpec]) -> Iterator[PointResult]: ...

    def close(self) -> None: ...


def open_executor(name: str, workers: int | None = None, address: str | None = None) -> PointExecutor:
    """The executor by name: local (workers > 1: that many processes) or ray (a local cluster, or join address)."""
    if name == "local":
        from stages.executors.local import InProcess, Processes

        return Processes(workers) if workers and workers > 1 else InProcess()
    if name == "ray":
        from stages.executors.ray_exec import RayExecutor

        return RayExecutor(workers, address)
    raise ValueError(f"unknown executor {name!r}")


__all__ = ["EXECUTORS", "PointExecutor", "PointResult", "PointSpec", "open_executor"]
