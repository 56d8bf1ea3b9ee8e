"""Where a run came from: the code version (git sha + dirty flag) and installed package versions."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from schemas.events import CodeVersion

_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ledgerline", "pydantic", "polars", "pandas", "numpy", "numba", "pandera", "duckdb", "pyarrow", "orjson")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(_ROOT), *args], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def code_version() -> CodeVersion:
    """git sha of the checkout and whether it has uncommitted changes (None outside a checkout)."""
    sha = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no")) if sha else False
    return CodeVersion(git_sha=sha, dirty=dirty)


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a run's numbers."""
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
