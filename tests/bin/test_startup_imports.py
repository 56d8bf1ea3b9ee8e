"""Start-up audit: no command imports mlflow, numba or polars unless it needs them (issue 12, point 9)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ledger_factory import RUN_A, Clock, run_events, write

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("mlflow", "numba", "polars", "sqlalchemy")

PROBE = """
import json, sys
module, argv = sys.argv[1], sys.argv[2:]
mod = __import__(f"bin.{module}", fromlist=["main"])
rc = None
if argv:
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = mod.main(argv)
print(json.dumps({"rc": rc, "loaded": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))


def _probe(module: str, *argv: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["verify", "query", "diff", "tag", "replay", "run_pipeline"])
def test_importing_a_command_loads_no_heavy_dependency(module: str) -> None:
    assert _probe(module)["loaded"] == []


def test_verify_and_query_main_paths_load_no_mlflow_numba_or_polars(tmp_path: Path) -> None:
    write(tmp_path, run_events(RUN_A, clock=Clock()))
    assert _probe("query", "--home", str(tmp_path), "select 1") == {"rc": 0, "loaded": []}
    (tmp_path / "mlflow.db").write_bytes(b"")  # a store is there: verify must still not import mlflow for it
    assert _probe("verify", "--home", str(tmp_path)) == {"rc": 0, "loaded": []}
