"""Fixtures shared by every test folder; helper code that is not a fixture lives in tests/support/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ledger_factory import RUN_A, RUN_B, Clock, run_events, write

ROOT = Path(__file__).resolve().parents[1]
# before anything imports ray: Ray otherwise binds every interface and advertises the machine's address
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialized, empty SQLite tracking store, copied wherever a fresh store is needed (creating one costs seconds).

    Under pytest-xdist the workers of one session share it: the first to need it creates it under a lock in the
    session's temporary folder (each worker's own is a subfolder of it), the others wait and copy.
    """
    from tests.support.mlflow_fixtures import empty_store
    from tests.support.shared import build_once, session_folder

    return build_once(session_folder(tmp_path_factory, "mlflow-template"), "empty.db", empty_store)


@pytest.fixture
def two_runs(tmp_path: Path) -> Path:
    """A home whose ledger holds two plausible runs (RUN_A clean, RUN_B with a toxic row and another top_k)."""
    clock = Clock()
    write(tmp_path, run_events(RUN_A, clock=clock))
    write(tmp_path, run_events(RUN_B, toxic=1, params={"selection.top_k": 12}, clock=clock))
    return tmp_path


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One Prefect API server (127.0.0.1, free port) shared by every prefect test: (API URL, its PREFECT_HOME)."""
    from tests.support.prefect_api import prefect_server

    home = tmp_path_factory.mktemp("prefect-home")
    with prefect_server(home) as url:
        yield url, home


@pytest.fixture(scope="session")
def canary_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """Acceptance 1's sweep, run once with bin/sweep --executor local: (its home, the --json summary)."""
    from tests.support.sweeps import CANARY_GRID, sweep_json

    home = tmp_path_factory.mktemp("sweep") / "h"
    done, summary = sweep_json(home, *CANARY_GRID, "--executor", "local")
    assert done.returncode == 0, done.stderr[-3000:]
    return home, summary


@pytest.fixture(scope="session")
def canary_plain(canary_sweep: tuple[Path, dict[str, object]]) -> str:
    """bin/run-pipeline with the --sets of acceptance 1's point top_k=5, hurst_window=64, in its home: the run id."""
    import json

    from tests.support.sweeps import cmd

    home, _ = canary_sweep
    done = cmd(
        "run-pipeline", "--home", str(home), "--profile", "canary",
        "--set", "selection.top_k=5", "--set", "features.hurst_window=64", "--json", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return str(json.loads(done.stdout)["run_id"])


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """One local Ray instance for the test session (num_cpus=2, loopback only, no dashboard): its GCS address.

    Started in this process, so ray.shutdown() at the end stops every process it started.
    """
    import shutil
    import tempfile

    import ray

    from stages.executors.ray_exec import _runtime_env

    temp = tempfile.mkdtemp(prefix="llray-t-", dir="/tmp")
    context = ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp,
        runtime_env=_runtime_env(),
        log_to_driver=False,
        logging_level="ERROR",
    )
    try:
        yield str(context.address_info["gcs_address"])
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
