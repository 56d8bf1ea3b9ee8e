"""A fresh virtual environment with a few packages, for tests that check what runs outside the product's venv.

uv (installed with the test extra by `make install`) makes one in seconds; without it, venv + pip.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import venv
from pathlib import Path


def fresh_venv(root: Path, *packages: str, timeout: float = 600) -> subprocess.CompletedProcess[str] | None:
    """Create a venv at root and install packages into it; the failed install's process, or None when it worked."""
    python = root / "bin" / "python"
    if importlib.util.find_spec("uv") is not None:
        steps = [
            [sys.executable, "-m", "uv", "venv", "--quiet", "--python", sys.executable, str(root)],
            [sys.executable, "-m", "uv", "pip", "install", "--quiet", "--python", str(python), *packages],
        ]
    else:
        venv.create(root, with_pip=True)
        steps = [[str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            return done
    return None
