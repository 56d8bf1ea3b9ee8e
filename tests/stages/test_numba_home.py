"""Compiled kernels are cached in the run's home (--home), not in ./runs of whatever folder the command ran from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
from pathlib import Path
import bin.run_pipeline  # the command's module: importing it must not fix numba's cache folder yet
assert "stages.kernels" not in sys.modules, "stages.kernels imported before --home is known"
from stages import numba_home
home = Path(sys.argv[1])
pointed = numba_home.point_at(home)
from stages import kernels
print(pointed, kernels.log_returns._cache._cache_path)
"""


def _probe(tmp_path: Path, **env: str) -> tuple[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "LEDGERLINE_HOME")}
    cwd = tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "home")], capture_output=True, text=True,
                          cwd=cwd, env={**clean, "PYTHONPATH": str(ROOT), **env}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    pointed, path = done.stdout.split()
    assert not (cwd / "runs").exists()
    return pointed, path


def test_kernels_cache_under_the_run_home(tmp_path: Path) -> None:
    pointed, path = _probe(tmp_path)
    assert pointed == "True" and Path(path).is_relative_to((tmp_path / "home" / "numba-cache").resolve())


def test_numba_cache_dir_still_wins(tmp_path: Path) -> None:
    pointed, path = _probe(tmp_path, NUMBA_CACHE_DIR=str(tmp_path / "explicit"))
    assert pointed == "False" and Path(path).is_relative_to(tmp_path / "explicit")
