"""Where compiled numba kernels are cached: one folder per user, shared by every home and checkout."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> str:
    """NUMBA_CACHE_DIR when set, else $XDG_CACHE_HOME/ledgerline/numba (~/.cache/ledgerline/numba).

    Compiled kernels depend on the code and the CPU, not on any ledger, so they live in the user's
    cache rather than in a home folder (each new home would compile them again) or the current
    folder. When that folder cannot be created or written, a per-user folder under the system
    temp directory is used, so numba never fails to cache.
    """
    explicit = os.environ.get("NUMBA_CACHE_DIR")
    if explicit:
        return explicit
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ledgerline" / "numba"
    fallback = Path(tempfile.gettempdir()) / f"ledgerline-numba-{os.getuid()}"
    for candidate in (base, fallback):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(candidate, os.W_OK):
            return str(candidate)
    return str(base)
