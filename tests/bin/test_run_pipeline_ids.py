"""bin/run-pipeline refuses a run id the ledger already holds: one line, exit 2, nothing written."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ledger import ledger_path
from tests.support.ledger_factory import RUN_A, Clock, run_events, write

ROOT = Path(__file__).resolve().parents[2]


def test_reusing_a_run_id_is_refused_with_one_line(tmp_path: Path) -> None:
    write(tmp_path, run_events(RUN_A, clock=Clock()))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    ledger = ledger_path(tmp_path).read_bytes()
    out = subprocess.run(
        [
            str(ROOT / "bin" / "run-pipeline"),
            "--profile",
            "canary",
            "--home",
            str(tmp_path),
            "--run-id",
            RUN_A,
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert f"run id {RUN_A} is already taken" in out.stderr
    assert ledger_path(tmp_path).read_bytes() == ledger
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
