"""Issue 13: your own pipeline through the public API (stage, Pipeline, load_pipeline), recorded like the quant one."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pandas as pd
import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import Ledger
from stages import Pipeline, StageResult, stage
from stages.datacontract import check_frame
from stages.pipeline import PipelineError, load_pipeline
from stages.registry import PIPELINE, QUANT_REFERENCE
from tests.support.inproc import command

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "examples" / "toy.py"


def bin_cmd(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "bin" / name), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """bin/<name> through its main(), in this process (the toy's own runs go through the real shim)."""
    return functools.partial(command, capsys)


def events(home: Path) -> list:
    with Ledger.open(home, readonly=True) as ledger:
        return list(ledger.read())


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """The toy copied outside the checkout, run twice with --set n=5."""
    folder = tmp_path_factory.mktemp("outside")
    shutil.copy(TOY, folder / "toy.py")
    home = folder / "home"
    ids = []
    for _ in range(2):
        done = bin_cmd(
            "run-pipeline",
            "--home",
            str(home),
            "--pipeline",
            f"{folder}/toy.py:PIPELINE",
            "--set",
            "n=5",
            "--json",
            "--quiet",
        )
        assert done.returncode == 0, done.stderr
        ids.append(json.loads(done.stdout)["run_id"])
    return folder, home, ids


def test_toy_outside_the_checkout_runs_and_is_queryable(toy_runs: tuple[Path, Path, list[str]], cli: Cli) -> None:
    folder, home, ids = toy_runs
    assert not str(folder).startswith(str(ROOT))
    done = cli(
        "query",
        "--home",
        str(home),
        "--json",
        "select run_id, pipeline, status, orchestrator from runs order by run_id",
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["pipeline"] for r in rows] == ["toy", "toy"] and {r["status"] for r in rows} == {"succeeded"}
    assert {r["orchestrator"] for r in rows} == {None}
    started = [e for e in events(home) if e.type == "RunStarted"]
    assert started[0].data.params == {"n": 5, "scale": 2.0} and started[0].data.orchestrator is None
    scaled = [e for e in events(home) if e.type == "StageCompleted" and e.stage == "scale"]
    assert scaled[0].data.rows_out == 5 and scaled[0].data.attempts == 1


def test_toy_two_runs_same_settings_same_hashes_and_diff_verify_tag(
    toy_runs: tuple[Path, Path, list[str]], cli: Cli
) -> None:
    _, home, (a, b) = toy_runs
    outs = [
        [o.hash for e in events(home) if e.type == "StageCompleted" and e.run_id == r for o in e.data.outputs]
        for r in (a, b)
    ]
    assert outs[0] == outs[1] and len(outs[0]) == 2
    hashes = {e.data.config_hash for e in events(home) if e.type == "RunStarted"}
    assert len(hashes) == 1
    assert cli("verify", "--home", str(home)).returncode == 0
    diff = cli("diff", "--home", str(home), a, b)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    tag = cli("tag", "--home", str(home), a, "--set", "owner=team-toy")
    assert tag.returncode == 0, tag.stderr
    promoted = cli("tag", "--home", str(home), b, "--promote", "champion")
    assert promoted.returncode == 0, promoted.stderr
    tags = [e for e in events(home) if e.type == "RunTagged"]
    assert [(t.data.key, t.data.value) for t in tags] == [
        ("owner", "team-toy"),
        ("alias", "champion"),
    ]  # no policy: no candidate tag


def test_toy_diff_names_first_divergent_stage(toy_runs: tuple[Path, Path, list[str]], cli: Cli) -> None:
    folder, home, (a, _) = toy_runs
    done = cli(
        "run-pipeline",
        "--home",
        str(home),
        "--pipeline",
        f"{folder}/toy.py:PIPELINE",
        "--set",
        "n=5",
        "--set",
        "scale=3.0",
        "--json",
        "--quiet",
    )
    c = json.loads(done.stdout)["run_id"]
    diff = cli("diff", "--home", str(home), "--json", a, c)
    assert diff.returncode == 1
    assert json.loads(diff.stdout)["first_divergent_stage"] == "scale"


def test_toy_replays_to_mlflow_with_an_experiment_per_pipeline(
    toy_runs: tuple[Path, Path, list[str]], tmp_path: Path, mlflow_template: Path, cli: Cli
) -> None:
    _, home, ids = toy_runs
    shutil.copyfile(mlflow_template, tmp_path / "mlflow.db")  # an empty store the user names
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = cli("replay", "--home", str(home), "--to", "mlflow", "--tracking-uri", uri)
    assert done.returncode == 0, done.stderr
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    names = [x.name for x in client.search_experiments()]
    assert any("toy" in n for n in names), names
    exp = next(x for x in client.search_experiments() if "toy" in x.name)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) >= 2


def test_stage_reads_and_pandas_annotation() -> None:
    @stage(writes=("out",), retries=3, retry_delay_s=1.5)
    def s(*, a: pl.DataFrame, b: pd.DataFrame, settings: object) -> StageResult:
        return StageResult(outputs={"out": b})

    assert s.reads == ("a", "b") and s.pandas == frozenset({"b"}) and s.retries == 3 and s.retry_delay_s == 1.5


def test_pandas_inputs_and_outputs_are_stored_as_parquet(tmp_path: Path) -> None:
    from pydantic import BaseModel

    from stages.runner import run

    class P(BaseModel):
        k: int = 3

    @stage(writes=("a",))
    def make(*, settings: P) -> StageResult:
        import pyarrow as pa_

        return StageResult(outputs={"a": pa_.table({"x": list(range(settings.k))})})

    @stage(writes=("b",))
    def double(*, a: pd.DataFrame, settings: P) -> StageResult:
        assert isinstance(a, pd.DataFrame)
        return StageResult(outputs={"b": a.assign(y=a["x"] * 2)})

    p = Pipeline("mixed", stages=[make, double], settings=P)
    out = run(p, p.resolve(None, {}), tmp_path)
    assert out.status == "succeeded"
    files = list((tmp_path / "artifacts").rglob("*.parquet"))
    assert len(files) == 2 and pl.read_parquet([f for f in files if pl.read_parquet(f).width == 2][0])[
        "y"
    ].to_list() == [0, 2, 4]


# ------------------------------------------------------------------ acceptance 3: the quant reference


def test_quant_reference_is_built_with_the_public_api() -> None:
    assert isinstance(QUANT_REFERENCE, Pipeline) and QUANT_REFERENCE.name == "quant-reference"
    assert load_pipeline("stages.registry:QUANT_REFERENCE") is QUANT_REFERENCE
    assert QUANT_REFERENCE.stages == PIPELINE
    assert [(s.name, s.reads) for s in PIPELINE] == [
        ("ingest", ()),
        ("validate", ("raw",)),
        ("audit", ("clean", "drops")),
        ("features", ("clean",)),
        ("select", ("features",)),
        ("allocate", ("selection", "features")),
        ("backtest", ("weights", "clean")),
        ("metrics", ("portfolio", "weights", "clean")),
    ]


# ------------------------------------------------------------------ acceptance 2: contracts

SCHEMA = pa.DataFrameSchema(
    {"x": pa.Column(pl.Int64, [pa.Check.ge(0), pa.Check.le(100)], nullable=True)}, name="numbers"
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), st.integers(-50, 150)), max_size=60))
def test_contract_accounting_kept_plus_dropped_is_input(values: list[int | None]) -> None:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.Int64})
    kept, evs = check_frame("numbers", SCHEMA, frame)
    dropped = sum(e.count for e in evs if type(e).__name__ == "RowsDroppedData")
    assert kept.height + dropped == frame.height
    assert kept.height == sum(1 for v in values if v is None or 0 <= v <= 100)
    checks = [e for e in evs if type(e).__name__ == "DataContractCheckedData"]
    assert {e.check for e in checks} >= {"greater_than_or_equal_to(0)", "less_than_or_equal_to(100)"}
    assert all(e.total == frame.height for e in checks)


BREACH = """
import polars as pl
import pandera.polars as pa
from stages import Pipeline, StageResult, stage

SCHEMA = pa.DataFrameSchema({"x": pa.Column(pl.Int64, pa.Check.ge(0))}, name="numbers-contract")

@stage(writes=("numbers",))
def make(*, settings) -> StageResult:
    return StageResult(outputs={"numbers": pl.DataFrame({"y": [1, 2]})})

@stage(writes=("out",), contracts={"numbers": SCHEMA})
def use(*, numbers: pl.DataFrame, settings) -> StageResult:
    return StageResult(outputs={"out": numbers})

PIPELINE = Pipeline("breach", stages=[make, use])
"""


def test_contract_breach_fails_the_run_naming_it(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "breach.py").write_text(BREACH)
    done = cli("run-pipeline", "--home", str(tmp_path / "h"), "--pipeline", f"{tmp_path}/breach.py:PIPELINE")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert "contract numbers-contract breached" in done.stdout
    evs = events(tmp_path / "h")
    assert evs[-1].type == "RunCompleted" and evs[-1].data.status == "failed"
    assert any(e.type == "DataContractChecked" and e.data.action == "stopped" for e in evs)


def test_orders_example_end_to_end(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "h"
    done = cli(
        "run-pipeline",
        "--home",
        str(home),
        "--pipeline",
        "examples/orders/pipeline.py:PIPELINE",
        "--profile",
        "sample",
        "--json",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "succeeded" and sum(summary["rows_dropped"].values()) == 3
    assert summary["metrics"]["orders"] == 7.0
    evs = events(home)
    agg = next(e for e in evs if e.type == "StageCompleted" and e.stage == "aggregate")
    assert agg.data.rows_in == 7  # 10 orders, 3 dropped by the contract
    q = cli("query", "--home", str(home), "--json", "select pipeline, profile from runs")
    assert json.loads(q.stdout) == [{"pipeline": "orders", "profile": "sample"}]
    assert any(e.type == "RunTagged" and e.data.key == "candidate" for e in evs)  # the pipeline's own policy
    big = cli(
        "run-pipeline",
        "--home",
        str(home),
        "--pipeline",
        "examples/orders/pipeline.py:PIPELINE",
        "--profile",
        "big",
        "--json",
        "--quiet",
    )
    assert json.loads(big.stdout)["metrics"]["orders"] < 7


# ------------------------------------------------------------------ acceptance 5: bad input


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("{d}/nope.py:PIPELINE", "no such file"),
        ("{d}/toy.py:MISSING", "has no attribute MISSING"),
        ("{d}/toy.py:Params", "not a Pipeline"),
        ("no_such_pkg.mod:X", "no module"),
    ],
)
def test_bad_pipeline_is_one_line_exit_2_nothing_written(tmp_path: Path, target: str, expected: str, cli: Cli) -> None:
    shutil.copy(TOY, tmp_path / "toy.py")
    home = tmp_path / "h"
    done = cli("run-pipeline", "--home", str(home), "--pipeline", target.format(d=tmp_path))
    assert done.returncode == 2
    assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not home.exists()


def test_unknown_set_key_is_refused(tmp_path: Path, cli: Cli) -> None:
    shutil.copy(TOY, tmp_path / "toy.py")
    done = cli(
        "run-pipeline", "--home", str(tmp_path / "h"), "--pipeline", f"{tmp_path}/toy.py:PIPELINE", "--set", "m=5"
    )
    assert done.returncode == 2 and "no setting 'm'" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "h").exists()


def test_stage_reading_what_nothing_produces_is_refused(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "bad.py").write_text(
        "import polars as pl\nfrom stages import Pipeline, StageResult, stage\n"
        "@stage(writes=('b',))\ndef s(*, a: pl.DataFrame, settings) -> StageResult:\n    return StageResult()\n"
        "PIPELINE = Pipeline('bad', stages=[s])\n"
    )
    done = cli("run-pipeline", "--home", str(tmp_path / "h"), "--pipeline", f"{tmp_path}/bad.py:PIPELINE")
    assert done.returncode == 2 and "reads a, which no earlier stage" in done.stderr
    assert not (tmp_path / "h").exists()
    with pytest.raises(PipelineError):
        load_pipeline(f"{tmp_path}/bad.py:PIPELINE").check_reads()


def test_profile_from_the_pipeline_folder(tmp_path: Path) -> None:
    shutil.copy(TOY, tmp_path / "toy.py")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "tiny.toml").write_text("n = 2\nscale = 0.5\n")
    p = load_pipeline(f"{tmp_path}/toy.py:PIPELINE")
    s = p.resolve("tiny", {"n": "3"})
    assert s.values.n == 3 and s.values.scale == 0.5 and s.profile == "tiny"
    assert p.resolve(None, {}).values.n == 10
    assert p.resolve("tiny", {}).config_hash() != p.resolve(None, {}).config_hash()
    assert orjson.dumps(s.flat())
    _ = sys
