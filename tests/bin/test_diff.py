"""bin/diff: only differences by default, exit 1 when any, 0 for a self-diff, 2 on bad input with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bin.diff import main
from ledger import LEDGER_NAME
from projectors import projection as proj
from tests.support.ledger_factory import RUN_A, RUN_B, Clock, run_events, write


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("diff")
    clock = Clock()
    write(home, run_events(RUN_A, clock=clock))
    write(home, run_events(RUN_B, params={"selection.top_k": 12}, toxic=1, clock=clock))
    proj.catch_up(home)
    return home


def diff(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def test_differences_exit_1_and_name_the_first_divergent_stage(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff(home, RUN_A, RUN_B) == 1
    out = capsys.readouterr().out
    assert "stages (first divergence: ingest)" in out
    assert "~ selection.top_k: 10 -> 12" in out
    assert "+1 rows: S000@2021-03-01" in out
    assert "~ sharpe: 1.05 -> 0.97" in out and "worse" in out
    assert "= " not in out  # only differences by default


def test_self_diff_exits_0(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff(home, RUN_A, RUN_A) == 0
    assert "no differences" in capsys.readouterr().out


def test_all_shows_equal_items_too(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff(home, RUN_A, RUN_A, "--all") == 0
    out = capsys.readouterr().out
    assert "= backtest.cost_bps: 5.0" in out and "~" not in out


def test_json_is_the_structured_diff(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff(home, RUN_A, RUN_B, "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["first_divergent_stage"] == "ingest"
    params = [c for c in doc["changes"] if c["section"] == "params"]
    assert params == [
        {
            "section": "params",
            "key": "selection.top_k",
            "a": 10,
            "b": 12,
            "same": False,
            "delta": None,
            "rel_delta": None,
            "verdict": None,
            "added": [],
            "removed": [],
            "note": None,
        }
    ]


def test_as_of_compares_past_states(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff(home, RUN_A, RUN_B, "--as-of", "35", "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    status = [c for c in doc["changes"] if c["section"] == "status"]
    assert [(c["a"], c["b"]) for c in status] == [("succeeded", "running")]


@pytest.mark.parametrize(
    "run_b, message", [("20990101-000000-zzzz", "unknown run id"), ("not-a-run", "invalid run id")]
)
def test_bad_input_is_one_line_exit_2_nothing_written(
    home: Path, capsys: pytest.CaptureFixture[str], run_b: str, message: str
) -> None:
    ledger, projection = (home / LEDGER_NAME).read_bytes(), proj.projection_path(home).read_bytes()
    assert diff(home, RUN_A, run_b) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert (home / LEDGER_NAME).read_bytes() == ledger and proj.projection_path(home).read_bytes() == projection
