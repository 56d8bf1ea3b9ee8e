"""Candidate policy and aliases: decisions from the projections, recorded in the ledger as RunTagged."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ledger import LEDGER_NAME, Ledger
from projectors import projection as proj
from projectors.errors import TaggingError, UnknownRunError
from projectors.runs import tagging
from schemas.events import RunTaggedData, envelope
from schemas.settings import TaggingPolicy
from tests.support.ledger_factory import RUN_A, RUN_B, RUN_C, Clock, run_events, write

FAILED = "20260105-120000-ffff"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    clock = Clock()
    write(tmp_path, run_events(RUN_A, clock=clock))
    write(tmp_path, run_events(RUN_B, toxic=2, clock=clock))
    write(tmp_path, run_events(RUN_C, toxic=1, clock=clock))
    write(tmp_path, run_events(FAILED, fail_stage="backtest", clock=clock))
    proj.catch_up(tmp_path)
    return tmp_path


def q(home: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    proj.catch_up(home)
    con = proj.connect(home)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def ledger_tags(home: Path) -> list[tuple[str, str, str]]:
    lines = [orjson.loads(line) for line in (home / LEDGER_NAME).read_bytes().splitlines()]
    return [(o["run_id"], o["data"]["key"], o["data"]["value"]) for o in lines if o["type"] == "RunTagged"]


def test_policy_tags_candidates_with_a_reason(home: Path) -> None:
    policy = TaggingPolicy(max_drop_rate=0.0015, min_sharpe=0.8)  # inputs: 1000 + toxic rows
    for run in (RUN_A, RUN_B, RUN_C, FAILED):
        tagging.tag_run(home, run, policy)
    rows = dict(
        (r, (v, why)) for r, v, why in q(home, "SELECT run_id, value, reason FROM tags_current WHERE key = 'candidate'")
    )
    assert (
        rows[RUN_A][0] == "true"
        and "drop rate 0.00% <= 0.15%" in rows[RUN_A][1]
        and "sharpe 1.050 >= 0.800" in rows[RUN_A][1]
    )
    assert rows[RUN_B] == ("false", "not a candidate: drop rate 0.20% > 0.15%")
    assert rows[RUN_C][0] == "true"
    assert rows[FAILED][0] == "false" and "status failed" in rows[FAILED][1]
    assert [r[0] for r in q(home, "SELECT run_id FROM candidates ORDER BY run_id")] == [RUN_A, RUN_C]


def test_min_sharpe_and_idempotence(home: Path) -> None:
    strict = TaggingPolicy(min_sharpe=2.0)
    (rec,) = tagging.tag_run(home, RUN_A, strict)
    assert rec.event.data.value == "false" and "sharpe 1.050 < 2.000" in rec.event.data.reason  # type: ignore[attr-defined]
    assert tagging.tag_run(home, RUN_A, strict) == []  # unchanged verdict: nothing appended
    assert len(tagging.tag_run(home, RUN_A, TaggingPolicy())) == 1  # verdict flips: appended


def test_unremedied_error_contract_blocks_candidacy(tmp_path: Path) -> None:
    events = run_events(RUN_A, clock=Clock())
    from schemas.events import DataContractCheckedData

    bad = DataContractCheckedData(
        contract="prices", tier=2, check="split", status="failed", failed=3, total=10, action="reported"
    )
    write(tmp_path, [*events[:5], envelope(bad, run_id=RUN_A, stage="validate"), *events[5:]])
    (rec,) = tagging.tag_run(tmp_path, RUN_A, TaggingPolicy())
    assert rec.event.data.value == "false" and "1 unremedied error-level contract failures" in rec.event.data.reason  # type: ignore[attr-defined]


def test_champion_history_promote_promote_rollback(home: Path) -> None:
    holder = lambda: q(home, "SELECT run_id FROM tags_current WHERE key = 'alias' AND value = 'champion'")  # noqa: E731
    tagging.promote(home, RUN_A, "champion", by="user:ann")
    assert holder() == [(RUN_A,)]
    tagging.promote(home, RUN_B, "champion", by="user:bob", reason="better")
    assert holder() == [(RUN_B,)]
    (rec,) = tagging.rollback(home, by="user:ann")
    assert rec.event.run_id == RUN_A and rec.event.data.reason == f"rollback from {RUN_B}"  # type: ignore[attr-defined]
    assert holder() == [(RUN_A,)]
    history = q(
        home,
        "SELECT run_id, tagged_by, valid_from, valid_to, is_current FROM tag_history WHERE key = 'alias' AND value = 'champion' ORDER BY seq",
    )
    assert [(r[0], r[1], r[4]) for r in history] == [
        (RUN_A, "user:ann", False),
        (RUN_B, "user:bob", False),
        (RUN_A, "user:ann", True),
    ]
    assert history[0][3] == history[1][2] and history[1][3] == history[2][2]
    at = "SELECT run_id FROM tag_history WHERE key = 'alias' AND value = 'champion' AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
    for run, _, start, _, _ in history:
        assert q(home, at, start, start) == [(run,)]  # who was champion at time T
    assert ledger_tags(home) == [
        (RUN_A, "alias", "champion"),
        (RUN_B, "alias", "champion"),
        (RUN_A, "alias", "champion"),
    ]


def test_challenger_is_independent_of_champion(home: Path) -> None:
    tagging.promote(home, RUN_A, "champion", by="policy")
    tagging.promote(home, RUN_C, "challenger", by="policy")
    assert q(home, "SELECT value, run_id FROM tags_current WHERE key = 'alias' ORDER BY value") == [
        ("challenger", RUN_C),
        ("champion", RUN_A),
    ]
    assert q(home, "SELECT aliases FROM candidates") == []  # no candidate tags yet
    assert tagging.promote(home, RUN_A, "champion", by="policy") == []  # already holds it


def test_refusals(home: Path) -> None:
    before = (home / LEDGER_NAME).read_bytes()
    with pytest.raises(TaggingError, match="only a succeeded run"):
        tagging.promote(home, FAILED, "champion", by="user:x")
    with pytest.raises(UnknownRunError):
        tagging.promote(home, "20990101-000000-zzzz", "champion", by="user:x")
    with pytest.raises(TaggingError, match="nothing to roll back"):
        tagging.rollback(home, by="user:x")
    with pytest.raises(TaggingError, match="unknown alias"):
        tagging.promote(home, RUN_A, "latest", by="user:x")
    with pytest.raises(TaggingError, match="--promote"):
        tagging.set_tag(home, RUN_A, "alias", "champion", by="user:x")
    tagging.promote(home, RUN_A, "champion", by="user:x")
    with pytest.raises(TaggingError, match="only run that was ever champion"):
        tagging.rollback(home, by="user:x")
    assert (home / LEDGER_NAME).read_bytes().startswith(before)
    assert len(ledger_tags(home)) == 1


def test_a_concurrent_append_makes_the_tagger_decide_again(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between deciding and appending, someone else promotes B: the rollback target must reflect that."""
    tagging.promote(home, RUN_A, "champion", by="user:x")
    tagging.promote(home, RUN_C, "champion", by="user:x")
    opened = {"n": 0}

    class RacingLedger:
        @staticmethod
        def open(path: Path, **kw: object) -> Ledger:
            opened["n"] += 1
            if opened["n"] == 1:  # another writer gets in first
                with Ledger.open(path) as other:
                    other.append(
                        [
                            envelope(
                                RunTaggedData(key="alias", value="champion", reason="race", by="user:y"), run_id=RUN_B
                            )
                        ]
                    )
            return Ledger.open(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(tagging, "Ledger", RacingLedger)
    (rec,) = tagging.rollback(home, by="user:x")
    assert opened["n"] == 2  # the first append was refused (expected_seq), the second decision saw B
    assert rec.event.run_id == RUN_C and rec.event.data.reason == f"rollback from {RUN_B}"  # type: ignore[attr-defined]


def test_policy_of_run_reads_its_tagging_params(tmp_path: Path) -> None:
    write(tmp_path, run_events(RUN_A, params={"tagging.max_drop_rate": 0.2, "tagging.min_sharpe": 1.5}, clock=Clock()))
    proj.catch_up(tmp_path)
    con = proj.connect(tmp_path)
    try:
        assert tagging.policy_of_run(con, RUN_A) == TaggingPolicy(max_drop_rate=0.2, min_sharpe=1.5)
    finally:
        con.close()
