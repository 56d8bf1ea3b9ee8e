"""Compiled kernels are cached per user (shared by every home), never in ./runs of whatever folder a command ran from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
import bin.run_pipeline  # the command's module loads the runner but not numba's kernels
assert "stages.kernels" not in sys.modules, "importing the pipeline command compiled-in the kernels"
from stages import kernels
print(kernels.log_returns._cache._cache_path)
"""


def _probe(tmp_path: Path, **env: str) -> Path:
    clean = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "LEDGERLINE_HOME", "XDG_CACHE_HOME")}
    cwd = tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (cwd / "runs").exists() and not list(cwd.iterdir())
    return Path(done.stdout.strip())


def test_kernels_cache_in_the_user_cache_folder(tmp_path: Path) -> None:
    path = _probe(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    assert path.is_relative_to(tmp_path / "xdg" / "ledgerline" / "numba")


def test_numba_cache_dir_still_wins(tmp_path: Path) -> None:
    assert _probe(
        tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"), NUMBA_CACHE_DIR=str(tmp_path / "explicit")
    ).is_relative_to(tmp_path / "explicit")


def test_an_unwritable_cache_folder_falls_back_to_the_temp_folder(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")  # XDG_CACHE_HOME pointing at a file: nothing can be created under it
    (tmp_path / "tmp").mkdir()
    path = _probe(tmp_path, XDG_CACHE_HOME=str(blocked), TMPDIR=str(tmp_path / "tmp"))
    assert path.is_relative_to(tmp_path / "tmp" / f"ledgerline-numba-{os.getuid()}")
