"""Issue 13: the same pipeline under Prefect 3 (a test-started API server, shared per session)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from ledger import Ledger
from tests.support.inproc import command

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "examples" / "toy.py"

FLAKY = '''
import os
from pathlib import Path
import polars as pl
from pydantic import BaseModel
from stages import Pipeline, StageResult, stage

class P(BaseModel):
    marker: str = ""
    n: int = 4

@stage(writes=("numbers",))
def make(*, settings: P) -> StageResult:
    return StageResult(outputs={"numbers": pl.DataFrame({"x": list(range(settings.n))})})

@stage(writes=("doubled",), retries=2, retry_delay_s=0)
def flaky(*, numbers: pl.DataFrame, settings: P) -> StageResult:
    """Fails on its first attempt (no marker file yet), succeeds on the next."""
    marker = Path(settings.marker)
    if not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError("transient failure")
    return StageResult(outputs={"doubled": numbers.with_columns(pl.col("x") * 2)})

@stage(writes=("never",), retries=1, retry_delay_s=0)
def broken(*, numbers: pl.DataFrame, settings: P) -> StageResult:
    raise RuntimeError("always fails")

PIPELINE = Pipeline("flaky", stages=[make, flaky], settings=P)
BROKEN = Pipeline("broken", stages=[make, broken], settings=P)
'''


def run_cmd(api: tuple[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    url, prefect_home = api
    env = {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [str(ROOT / "bin" / "run-pipeline"), *args, "--prefect-api", url],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


def events(home: Path) -> list:
    with Ledger.open(home, readonly=True) as ledger:
        return list(ledger.read())


def flow_run(url: str, flow_run_id: str) -> tuple[str, str]:
    """(flow run name, flow name) as the Prefect API reports them."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.client.orchestration import PrefectClient

    async def get() -> tuple[str, str]:
        async with PrefectClient(api=url) as client:
            fr = await client.read_flow_run(uuid.UUID(flow_run_id))
            fl = await client.read_flow(fr.flow_id)
            return fr.name, fl.name

    return asyncio.run(get())


@pytest.fixture(scope="module")
def flaky_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("flaky")
    (folder / "flaky.py").write_text(FLAKY)
    return folder / "flaky.py"


def test_retry_is_recorded_and_the_flow_run_id_is_prefects(
    prefect_api: tuple[str, Path], flaky_file: Path, tmp_path: Path
) -> None:
    home = tmp_path / "h"
    done = run_cmd(
        prefect_api,
        "--home",
        str(home),
        "--pipeline",
        f"{flaky_file}:PIPELINE",
        "--orchestrator",
        "prefect",
        "--set",
        f'marker="{tmp_path / "marker"}"',
        "--json",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = json.loads(done.stdout)["run_id"]
    evs = events(home)
    flaky = [(e.type, e.data) for e in evs if e.stage == "flaky" and e.type in ("StageFailed", "StageCompleted")]
    assert [t for t, _ in flaky] == ["StageFailed", "StageCompleted"]
    assert flaky[0][1].attempt == 1 and flaky[0][1].will_retry is True
    assert flaky[1][1].attempts == 2
    assert evs[-1].type == "RunCompleted" and evs[-1].data.status == "succeeded"
    started = evs[0].data
    assert started.orchestrator is not None and started.orchestrator.name == "prefect"
    name, flow_name = flow_run(prefect_api[0], started.orchestrator.flow_run_id)
    assert name == run_id and flow_name == "ledgerline-flaky"
    from projectors import projection

    projection.catch_up(home)
    con = projection.connect(home)
    try:
        assert con.execute(
            "SELECT status, attempts FROM stages WHERE run_id = ? AND stage = 'flaky'", [run_id]
        ).fetchone() == ("completed", 2)
        assert con.execute("SELECT orchestrator, flow_run_id FROM runs").fetchone() == (
            "prefect",
            started.orchestrator.flow_run_id,
        )
    finally:
        con.close()


def test_a_stage_that_keeps_failing_ends_the_run_failed(
    prefect_api: tuple[str, Path], flaky_file: Path, tmp_path: Path
) -> None:
    home = tmp_path / "h"
    done = run_cmd(
        prefect_api, "--home", str(home), "--pipeline", f"{flaky_file}:BROKEN", "--orchestrator", "prefect", "--quiet"
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    failed = [e.data for e in events(home) if e.type == "StageFailed"]
    assert [(f.attempt, f.will_retry) for f in failed] == [(1, True), (2, False)]
    assert events(home)[-1].data.status == "failed"


def test_prefect_and_plain_runs_diff_with_exit_0(
    prefect_api: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(TOY, tmp_path / "toy.py")
    home = tmp_path / "h"
    args = ("--home", str(home), "--pipeline", f"{tmp_path}/toy.py:PIPELINE", "--set", "n=5", "--json", "--quiet")
    plain = command(capsys, "run-pipeline", *args, "--orchestrator", "plain")  # in-process: no Prefect involved
    env = {**os.environ, "LEDGERLINE_ORCHESTRATOR": "prefect", "PREFECT_HOME": str(prefect_api[1])}
    under = subprocess.run(
        [str(ROOT / "bin" / "run-pipeline"), *args, "--prefect-api", prefect_api[0]],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert plain.returncode == 0 and under.returncode == 0, under.stderr[-3000:]
    a, b = json.loads(plain.stdout)["run_id"], json.loads(under.stdout)["run_id"]
    evs = events(home)
    started = {e.run_id: e.data for e in evs if e.type == "RunStarted"}
    assert started[a].config_hash == started[b].config_hash
    assert started[a].orchestrator is None and started[b].orchestrator.name == "prefect"
    hashes = {
        r: [o.hash for e in evs if e.type == "StageCompleted" and e.run_id == r for o in e.data.outputs] for r in (a, b)
    }
    assert hashes[a] == hashes[b]
    diff = command(capsys, "diff", "--home", str(home), a, b)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert "execution" in diff.stdout and "prefect" in diff.stdout
