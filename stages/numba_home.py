"""Where compiled numba kernels are cached: the run's home folder, unless NUMBA_CACHE_DIR says otherwise."""

from __future__ import annotations

import os
import sys
from pathlib import Path

CACHE_FOLDER = "numba-cache"


def default_cache_dir() -> str:
    """NUMBA_CACHE_DIR when set, else numba-cache under LEDGERLINE_HOME (or ./runs)."""
    explicit = os.environ.get("NUMBA_CACHE_DIR")
    if explicit:
        return explicit
    return str(Path(os.environ.get("LEDGERLINE_HOME", "runs")).resolve() / CACHE_FOLDER)


def point_at(home: Path) -> bool:
    """Cache kernels under home/numba-cache, if the kernels are not compiled-in yet and NUMBA_CACHE_DIR is unset.

    numba fixes a kernel's cache folder when the kernel is decorated, that is when stages.kernels is
    first imported; stages.features imports it only when features are computed, so a pipeline run
    (which calls this with its --home first) caches beside its own ledger. Returns True when it did.
    """
    if "stages.kernels" in sys.modules or os.environ.get("NUMBA_CACHE_DIR"):
        return False
    import numba

    numba.config.CACHE_DIR = str(Path(home).resolve() / CACHE_FOLDER)  # type: ignore[attr-defined]
    return True
