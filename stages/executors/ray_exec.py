"""The Ray executor: each sweep point a Ray task; the market data in the object store once, as Arrow.

The only module that imports ray. A local cluster binds the loopback interface only, has no dashboard, keeps its
temp folder under the system temp (Ray's socket paths have a length limit) and is shut down at the end;
--ray-address joins an existing cluster instead (which must see the home's artifact store).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from schemas.errors import LedgerlineError
from schemas.events import Executor
from stages.executors.point import PointResult, PointSpec, run_point
from stages.numba_cache import cache_dir

#: how often Ray re-runs a point whose worker process died before it gives up (the point is then a failed run)
MAX_RETRIES = 2


class RayMissingError(LedgerlineError):
    """Raised when --executor ray is asked for but ray is not installed."""


def _ray() -> Any:
    # Ray binds every interface and advertises the machine's address unless this is off (services.py)
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError as exc:
        raise RayMissingError("--executor ray needs Ray: pip install '.[ray]'") from exc
    return ray


def _runtime_env() -> dict[str, Any]:
    """What every worker needs: this checkout importable, the per-user numba cache (kernels compile once), and
    the caller's priority.

    Ray lowers its workers to niceness 15 so that its own services stay responsive; a sweep's points are the whole
    of the work, and at 15 they starve behind any other busy process (a canary sweep ran 9x slower on a machine
    with two other busy processes). They run at the niceness of the process that started the sweep instead, as
    the local executor's do, unless RAY_worker_niceness is set.
    """
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {
        "env_vars": {
            "PYTHONPATH": path,
            "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR") or cache_dir(),
            # Ray reads its config variables by their exact, lower-case name
            "RAY_worker_niceness": os.environ.get("RAY_worker_niceness") or str(os.nice(0)),  # noqa: SIM112
        }
    }


def _task(spec_json: str, key: str | None, market: list[tuple[str, Any]] | None) -> str:
    """One point in a Ray worker: the market arrives as Arrow tables from the object store (zero-copy)."""
    import polars as pl

    markets = {key: [(name, pl.from_arrow(table)) for name, table in market]} if key and market else None
    return run_point(PointSpec.model_validate_json(spec_json), markets).model_dump_json()


class RayExecutor:
    """Points as Ray tasks on a local cluster (num_cpus=workers) or the cluster at address."""

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self.ray = ray = _ray()
        self.info = Executor(name="ray", workers=workers)
        self._owned, self._temp = False, None
        if ray.is_initialized():  # a caller (a test session) already holds a cluster
            return
        quiet = {"log_to_driver": False, "logging_level": "ERROR", "configure_logging": True}
        if address is not None:
            ray.init(address=address, runtime_env=_runtime_env(), **quiet)
        else:
            self._temp = tempfile.mkdtemp(prefix="llray-", dir="/tmp" if os.path.isdir("/tmp") else None)
            ray.init(
                num_cpus=workers or os.cpu_count() or 1,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                _temp_dir=self._temp,
                runtime_env=_runtime_env(),
                **quiet,
            )
        self._owned = True

    def run(self, specs: Sequence[PointSpec]) -> Iterator[PointResult]:
        ray = self.ray
        task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(_task)
        markets: dict[str, Any] = {}
        pending: dict[Any, PointSpec] = {}
        for spec in specs:
            key, ref = self._market(spec, markets)
            pending[task.remote(spec.model_dump_json(), key, ref)] = spec
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                spec = pending.pop(ref)
                yield self._result(ref, spec)

    def _market(self, spec: PointSpec, markets: dict[str, Any]) -> tuple[str | None, Any]:
        """The object-store reference of the point's market data (loaded and put once per distinct input)."""
        from schemas.settings import Settings
        from stages.executors.point import _pipeline
        from stages.sources import inputs_key, load

        try:
            settings = _pipeline(spec.target).resolve(spec.profile, spec.overrides)
        except LedgerlineError:
            return None, None  # the task reports it as the point's failure
        if not isinstance(settings, Settings):
            return None, None
        key = inputs_key(settings)
        if key not in markets:
            markets[key] = self.ray.put([(name, frame.to_arrow()) for name, frame in load(settings)])
        return key, markets[key]

    def _result(self, ref: Any, spec: PointSpec) -> PointResult:
        try:
            return PointResult.model_validate_json(self.ray.get(ref))
        except self.ray.exceptions.RayError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return PointResult(
                run_id=spec.run_id,
                status="failed",
                error=f"ray task failed after {MAX_RETRIES} retries: {type(exc).__name__}: {reason[:300]}",
            )

    def close(self) -> None:
        if self._owned:
            self.ray.shutdown()
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
