"""Where compiled numba kernels are cached: one folder per user, shared by every home and checkout."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> str:
    """$XDG_CACHE_HOME/ledgerline/numba (~/.cache/ledgerline/numba), numba's cache folder unless NUMBA_CACHE_DIR is set.

    (NUMBA_CACHE_DIR needs no branch here: numba reads it into its config at import, and
    stages/kernels.py only asks for this folder when that config is empty.)

    Compiled kernels depend on the code and the CPU, not on any ledger, so they live in the user's
    cache rather than in a home folder (each new home would compile them again) or the current
    folder. When that folder cannot be created or written, a per-user folder under the system
    temp directory is used, so numba never fails to cache.
    """
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
