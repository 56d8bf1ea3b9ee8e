"""RunState from the projections and the forensic diff: exact differences, first divergent stage, as-of states."""

from __future__ import annotations

from pathlib import Path

import pytest

from projectors.errors import UnknownRunError
from projectors.runs.diff import diff_runs, verdict
from projectors.runs.state import run_state
from schemas.context import InvalidRunIdError
from tests.support.ledger_factory import RUN_A, RUN_B, RUN_C, Clock, run_events, write


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline, a run with one param changed and one toxic row, a param-only change, a failed run."""
    home = tmp_path_factory.mktemp("state")
    clock = Clock()
    write(home, run_events(RUN_A, clock=clock))
    write(home, run_events(RUN_B, params={"selection.top_k": 12}, toxic=1, clock=clock))
    write(home, run_events(RUN_C, params={"selection.top_k": 12}, clock=clock))
    write(home, run_events("20260105-120000-ffff", fail_stage="select", clock=clock))
    return home


def test_run_state_reads_every_section(home: Path) -> None:
    s = run_state(home, RUN_B)
    assert (s.status, s.profile, s.git_sha, s.git_dirty) == ("succeeded", "canary", "abc123", False)
    assert s.params["selection.top_k"] == 12 and s.params["profile"] == "canary"
    assert [st.name for st in s.stages] == ["ingest", "validate", "features", "select", "backtest", "metrics"]
    assert s.contracts["validate: prices.max_abs_return[ret]"].failed == 1
    assert s.drops["prices.max_abs_return: extreme return"].keys == ["S000@2021-03-01"]
    assert s.metrics["sharpe"] == pytest.approx(0.97) and s.metrics["sharpe@S001"] == pytest.approx(0.485)
    assert sorted(s.series["equity"]) == [0, 1, 2]


def test_self_diff_is_empty(home: Path) -> None:
    d = diff_runs(home, RUN_B, RUN_B)
    assert not d.differs and d.changes == [] and d.first_divergent_stage is None


def test_param_and_toxic_row_diff_lists_exactly_those_and_their_consequences(home: Path) -> None:
    d = diff_runs(home, RUN_A, RUN_B)
    keys = {
        section: [c.key for c in d.section(section)]
        for section in ("status", "code_version", "config", "params", "inputs", "contracts", "drops", "tags")
    }
    assert keys == {
        "status": [],
        "code_version": [],
        "config": ["config_hash"],
        "params": ["selection.top_k"],
        "inputs": ["prices"],
        "contracts": ["validate: prices.max_abs_return[ret]"],
        "drops": ["prices.max_abs_return: extreme return"],
        "tags": [],
    }
    assert d.first_divergent_stage == "ingest"  # the toxic row is in the raw data
    (drop,) = d.section("drops")
    assert (drop.a, drop.b, drop.added, drop.removed) == (None, 1, ["S000@2021-03-01"], [])
    (param,) = d.section("params")
    assert (param.a, param.b) == (10, 12)
    sharpe = next(c for c in d.section("metrics") if c.key == "sharpe")
    assert (
        sharpe.delta == pytest.approx(-0.08)
        and sharpe.rel_delta == pytest.approx(-0.08 / 1.05)
        and sharpe.verdict == "worse"
    )
    cagr = next(c for c in d.section("metrics") if c.key == "cagr")
    assert cagr.verdict == "better"


def test_param_only_change_first_diverges_where_the_param_is_used(home: Path) -> None:
    d = diff_runs(home, RUN_A, RUN_C)
    assert d.first_divergent_stage == "select"
    changed = [c.key for c in d.section("stages")]
    assert changed == ["select -> select", "backtest -> backtest", "metrics -> metrics"]
    assert d.section("drops") == [] and d.section("contracts") == [] and d.section("inputs") == []


def test_failed_run_diverges_at_its_failed_stage(home: Path) -> None:
    d = diff_runs(home, RUN_A, "20260105-120000-ffff")
    assert d.first_divergent_stage == "select"
    assert [(c.a, c.b) for c in d.section("status")] == [("succeeded", "failed")]


def test_all_includes_what_is_the_same(home: Path) -> None:
    d = diff_runs(home, RUN_A, RUN_C, include_same=True)
    same = {c.key for c in d.changes if c.same}
    assert {"ingest -> ingest", "git_sha", "backtest.cost_bps", "status"} <= same


def test_state_as_of_a_seq(home: Path) -> None:
    assert run_state(home, RUN_B, seq=40).status == "running"
    assert run_state(home, RUN_B).status == "succeeded"
    with pytest.raises(UnknownRunError):
        run_state(home, RUN_C, seq=40)


def test_bad_run_ids(home: Path) -> None:
    with pytest.raises(UnknownRunError, match="unknown run id"):
        diff_runs(home, RUN_A, "20990101-000000-zzzz")
    with pytest.raises(InvalidRunIdError):
        diff_runs(home, RUN_A, "../etc")


@pytest.mark.parametrize(
    "key, a, b, expected",
    [
        ("sharpe", 1.0, 1.2, "better"),
        ("sharpe@SPY", 1.0, 0.8, "worse"),
        ("volatility", 0.2, 0.1, "better"),
        ("max_drawdown", 0.3, 0.2, "better"),
        ("max_drawdown", -0.3, -0.2, "better"),
        ("max_drawdown", 0.2, 0.3, "worse"),
        ("sessions", 100, 120, "changed"),
    ],
)
def test_metric_verdicts(key: str, a: float, b: float, expected: str) -> None:
    assert verdict(key, a, b) == expected
