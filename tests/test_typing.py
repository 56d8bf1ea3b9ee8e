"""Every package type-checks under mypy --strict (STYLE.md asks it of ledger/ and schemas/ at least)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict_passes_on_every_package() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "schemas", "ledger", "stages", "projectors", "bin"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
