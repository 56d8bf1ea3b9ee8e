"""bin/replay --to mlflow: mirrors a home into its default store, and reports an unreachable server in one line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.mlflow_fixtures import append, free_port, standard_history

ROOT = Path(__file__).resolve().parents[2]


def replay(*args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "bin" / "replay"), "--to", "mlflow", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    for batch in standard_history(home, metrics=6):
        append(home, batch)
    return home


def test_replay_to_mlflow_mirrors_the_home_and_says_so(home: Path) -> None:
    done = replay("--home", home)
    assert done.returncode == 0, done.stderr
    assert "mirrored 3 runs" in done.stdout and "witness seq 0 ->" in done.stdout
    assert (home / "mlflow.db").is_file() and (home / "mlartifacts").is_dir()


def test_replay_to_a_dead_server_is_one_line_and_exit_2(home: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    done = replay(
        "--home",
        home,
        "--tracking-uri",
        uri,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="0",
    )
    assert done.returncode == 2
    assert uri in done.stderr and "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("replay:")] != []


def test_a_corrupt_ledger_is_one_line_and_creates_no_store(home: Path) -> None:
    data = bytearray((home / "audit.jsonl").read_bytes())
    data[10:20] = b"##########"
    (home / "audit.jsonl").write_bytes(bytes(data))
    done = replay("--home", home)
    assert done.returncode in (1, 2) and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("replay: ")
    assert not (home / "mlflow.db").exists() and not list(home.glob(".mlflow.db.*")), "read before anything is created"
