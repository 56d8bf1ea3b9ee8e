"""bin/tag: promote, rollback, set and evaluate append RunTagged; bad input is one line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bin.query import main as query
from bin.tag import main
from ledger import LEDGER_NAME
from tests.support.ledger_factory import RUN_A, RUN_B, Clock, run_events, write


@pytest.fixture
def home(tmp_path: Path) -> Path:
    clock = Clock()
    write(tmp_path, run_events(RUN_A, clock=clock))
    write(tmp_path, run_events(RUN_B, clock=clock))
    return tmp_path


def tag(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def champion(home: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    query(["--home", str(home), "SELECT run_id FROM tags_current WHERE key = 'alias' AND value = 'champion'", "--json"])
    return str(json.loads(capsys.readouterr().out)[0]["run_id"])


def test_promote_promote_rollback(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tag(home, RUN_A, "--promote", "champion", "--by", "user:ann") == 0
    assert f"{RUN_A} alias=champion by user:ann (first champion)" in capsys.readouterr().out
    assert champion(home, capsys) == RUN_A
    assert tag(home, RUN_B, "--promote", "champion", "--reason", "higher sharpe") == 0
    assert champion(home, capsys) == RUN_B
    assert tag(home, "--rollback", "--json") == 0
    (event,) = json.loads(capsys.readouterr().out)
    assert (
        event["run_id"] == RUN_A
        and event["data"]["reason"] == f"rollback from {RUN_B}"
        and event["type"] == "RunTagged"
    )
    assert champion(home, capsys) == RUN_A


def test_set_and_evaluate(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tag(home, RUN_A, "--set", "note=baseline") == 0
    assert tag(home, RUN_A, "--evaluate") == 0
    assert "candidate=true by policy" in capsys.readouterr().out
    assert tag(home, RUN_A, "--evaluate") == 0
    assert "nothing to do" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["20990101-000000-zzzz", "--promote", "champion"], "unknown run id"),
        (["--rollback"], "nothing to roll back"),
        ([RUN_A, "--rollback"], "takes no run id"),
        (["--promote", "champion"], "give a run id"),
        ([RUN_A, "--set", "novalue"], "KEY=VALUE"),
        (["bad id", "--promote", "champion"], "invalid run id"),
    ],
)
def test_bad_input_exit_2_nothing_written(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    before = (home / LEDGER_NAME).read_bytes()
    assert tag(home, *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert (home / LEDGER_NAME).read_bytes() == before
