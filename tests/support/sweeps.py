"""Helpers for sweep tests: run bin/sweep and friends, read a sweep's rows, a small flaky pipeline."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.inproc import command

ROOT = Path(__file__).resolve().parents[2]
#: acceptance 1's grid, word for word
CANARY_GRID = ["--profile", "canary", "--grid", "selection.top_k=5,10", "--grid", "features.hurst_window=64,128"]

#: a fast pipeline: n numbers, "sharpe" = n; n == 3 fails until the marker exists; die=1 SIGKILLs its own worker
#: process once (the retry succeeds), die=2 every time until the marker exists
FLAKY = '''
import os
import signal
from pathlib import Path
import polars as pl
from pydantic import BaseModel
from schemas.events import MetricLoggedData
from stages import Pipeline, StageResult, stage

class P(BaseModel):
    n: int = 2
    marker: str = ""
    die: int = 0
    seed: int = 0

@stage(writes=("numbers",))
def make(*, settings: P) -> StageResult:
    """n numbers; fails for n == 3 until the marker exists; die kills the process unless the marker exists."""
    blocked = not (settings.marker and Path(settings.marker).exists())
    once = Path(f"{settings.marker}.died-n{settings.n}")
    if (settings.die == 1 and not once.exists()) or (settings.die == 2 and blocked):
        once.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    if settings.n == 3 and blocked:
        raise RuntimeError("n=3 fails until the marker exists")
    frame = pl.DataFrame({"x": list(range(settings.n))})
    return StageResult(outputs={"numbers": frame}, events=[MetricLoggedData(key="sharpe", value=float(settings.n))])

@stage(writes=("doubled",))
def double(*, numbers: pl.DataFrame, settings: P) -> StageResult:
    """x times two."""
    return StageResult(outputs={"doubled": numbers.with_columns(pl.col("x") * 2)})

PIPELINE = Pipeline("flaky-sweep", stages=[make, double], settings=P)
'''


def cmd(name: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """bin/<name> args, captured."""
    env = {k: v for k, v in os.environ.items() if k != "LEDGERLINE_HOME"}
    return subprocess.run([str(ROOT / "bin" / name), *args], capture_output=True, text=True, timeout=timeout, env=env)


def sweep_json(
    home: Path, *args: str, timeout: float = 600, capsys: pytest.CaptureFixture[str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """bin/sweep --json in home (through its main() in this process when given capsys); (the process, its parsed
    summary or {})."""
    if capsys is not None:
        done = command(capsys, "sweep", "--home", str(home), *args, "--json")
    else:
        done = cmd("sweep", "--home", str(home), *args, "--json", timeout=timeout)
    try:
        return done, json.loads(done.stdout)
    except json.JSONDecodeError:
        return done, {}


def rows(home: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of a query on the home's projection (read-only)."""
    con = duckdb.connect(str(home / "projections.duckdb"), read_only=True)
    try:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
