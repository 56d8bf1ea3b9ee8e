"""A file built once per test session and shared by every pytest-xdist worker of it."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest


def session_folder(factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder every worker of this session sees: the session's temp root under xdist, else this run's own."""
    base = factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    folder.mkdir(exist_ok=True)
    return folder


def build_once(folder: Path, name: str, build: Callable[[Path], Path]) -> Path:
    """folder/name, built by the first caller under a lock (into a scratch name, then renamed); the others wait."""
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / name).exists():
            build(folder / f"building-{name}").rename(folder / name)
    return folder / name
