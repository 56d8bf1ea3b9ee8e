"""Local executors: every point in the driver's process one after another, or in N worker processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from schemas.events import Executor
from stages.executors.point import PointResult, PointSpec, run_point, run_point_json


class InProcess:
    """Points run here, in order: imports and compiled kernels are paid once for the whole sweep."""

    def __init__(self) -> None:
        self.info = Executor(name="local", workers=1)

    def run(self, specs: Sequence[PointSpec]) -> Iterator[PointResult]:
        for spec in specs:
            yield run_point(spec)

    def close(self) -> None:
        pass


class Processes:
    """Points run in N worker processes (forkserver: no state forked from the driver); only JSON text crosses."""

    def __init__(self, workers: int) -> None:
        self.info = Executor(name="processes", workers=workers)
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_warm)

    def run(self, specs: Sequence[PointSpec]) -> Iterator[PointResult]:
        pending: dict[Future[str], PointSpec] = {self.pool.submit(run_point_json, s.model_dump_json()): s for s in specs}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                spec = pending.pop(future)
                yield _result(future, spec)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _result(future: Future[str], spec: PointSpec) -> PointResult:
    try:
        return PointResult.model_validate_json(future.result())
    except BrokenProcessPool as exc:
        return PointResult(run_id=spec.run_id, status="failed", error=f"a worker process died: {exc}")
    except Exception as exc:  # the worker raised outside run_point's own handling
        return PointResult(run_id=spec.run_id, status="failed", error=f"worker error: {type(exc).__name__}: {exc}")


def _warm() -> None:
    """Each worker imports the stages once, before its first point (the numba cache is the per-user one)."""
    import stages.registry  # noqa: F401
