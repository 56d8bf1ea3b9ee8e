"""How `make test` keeps to its time budget (issue 12 point 14): two workers, the slowest 15 printed, shared stores."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from tests.support.shared import build_once, session_folder

ROOT = Path(__file__).resolve().parents[1]


def _recipe(target: str) -> str:
    """The command lines of one Makefile target."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert found, f"the Makefile has no target {target}"
    return found.group(1)


def test_make_test_runs_two_workers_and_prints_the_slowest_15() -> None:
    pytest_line = next(line for line in _recipe("test").splitlines() if "-m pytest" in line)
    assert re.search(r"\s-n 2\b", pytest_line), pytest_line
    assert "--durations=15" in pytest_line, pytest_line


def test_the_install_compiles_bytecode() -> None:
    # PYTHONDONTWRITEBYTECODE=1 on many CI images: without .pyc files every subprocess compiles mlflow again
    install = next(line for line in _recipe(r"\$\(STAMP\)").splitlines() if "pip install" in line and "-e" in line)
    assert "--compile-bytecode" in install, install


def test_a_shared_file_is_built_once_however_many_workers_ask(tmp_path: Path) -> None:
    built: list[Path] = []

    def build(path: Path) -> Path:
        built.append(path)
        time.sleep(0.2)  # long enough for every other caller to arrive while the first builds
        path.write_text("store")
        return path

    got: list[Path] = []
    callers = [threading.Thread(target=lambda: got.append(build_once(tmp_path, "empty.db", build))) for _ in range(4)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(built) == 1
    assert got == [tmp_path / "empty.db"] * 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "lock"]


def test_the_workers_of_one_session_share_one_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert session_folder(tmp_path_factory, "probe-shared") == base.parent / "probe-shared"
    (base.parent / "probe-shared").rmdir()
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert session_folder(tmp_path_factory, "probe-own") == base / "probe-own"
