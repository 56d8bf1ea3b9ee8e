"""bin/query: formats, catch-up before querying, and bad SQL refused with one line, exit 2, nothing written."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

from bin.query import main
from ledger import LEDGER_NAME
from projectors import projection as proj
from tests.support.ledger_factory import RUN_A, RUN_B, Clock, run_events, write

SQL = "SELECT run_id, status, sharpe FROM runs ORDER BY run_id"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    clock = Clock()
    write(tmp_path, run_events(RUN_A, clock=clock))
    write(tmp_path, run_events(RUN_B, toxic=1, clock=clock))
    return tmp_path


def query(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def test_builds_missing_projection_and_prints_a_table(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert query(home, SQL) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["run_id", "status", "sharpe"]
    assert out[2].split() == [RUN_A, "succeeded", "1.05"]
    assert out[-1] == "(2 rows)"
    assert proj.projection_path(home).exists()


def test_csv_and_json_formats(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert query(home, SQL, "--format", "csv") == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["run_id", "status", "sharpe"], [RUN_A, "succeeded", "1.05"], [RUN_B, "succeeded", "0.95"]]
    assert (
        query(
            home,
            "SELECT key, value FROM params WHERE run_id = ? ORDER BY key LIMIT 1".replace("?", f"'{RUN_A}'"),
            "--json",
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == [{"key": "backtest.cost_bps", "value": 5.0}]


def test_stale_projection_is_caught_up_first(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj.rebuild(home)
    write(home, run_events("20260105-120000-dddd", clock=Clock()))
    assert query(home, "SELECT count(*) AS n FROM runs", "--json") == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 3}]


@pytest.mark.parametrize(
    "sql, message",
    [
        ("SELEC run_id FROM runs", "Parser Error"),
        ("SELECT nope FROM runs", "Binder Error"),
        ("SELECT * FROM no_such_view", "Catalog Error"),
        ("SELECT 1; SELECT 2", "one SQL statement"),
        ("CREATE TABLE x AS SELECT 1", "the projection is derived and read-only"),
        ("UPDATE ledger.metric_logged SET value = 0", "the projection is derived and read-only"),
        ("DROP VIEW runs", "the projection is derived and read-only"),
    ],
)
def test_bad_sql_is_one_line_exit_2_and_writes_nothing(
    home: Path, capsys: pytest.CaptureFixture[str], sql: str, message: str
) -> None:
    proj.rebuild(home)
    write(home, run_events("20260105-120000-dddd", clock=Clock()))  # stale: a good query would catch up
    ledger, projection = (home / LEDGER_NAME).read_bytes(), proj.projection_path(home).read_bytes()
    assert query(home, sql) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("query: ") and message in err
    assert (home / LEDGER_NAME).read_bytes() == ledger
    assert proj.projection_path(home).read_bytes() == projection


def test_malformed_sql_without_projection_builds_nothing(home: Path) -> None:
    assert query(home, "SELEC 1") == 2
    assert not proj.projection_path(home).exists()


def test_no_ledger_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert query(tmp_path, "SELECT 1") == 2
    assert "no ledger" in capsys.readouterr().err


def test_shim_runs_from_anywhere(home: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [str(root / "bin" / "query"), "--home", str(home), SQL, "--format", "csv"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == f"{RUN_A},succeeded,1.05"


def test_rewritten_ledger_is_refused_exit_1(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj.rebuild(home)
    ledger = home / LEDGER_NAME
    data = ledger.read_bytes()
    ledger.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 1])  # the checkpoint's line is gone
    assert query(home, SQL) == 1
    assert "bin/replay --to duckdb --rebuild" in capsys.readouterr().err
