"""Issue 12.5: a decision rests on the run's ledger events, not on a projection someone edited with DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from bin.tag import main as tag
from ledger import LEDGER_NAME
from projectors import projection
from projectors.errors import ProjectionDisagreesError
from projectors.projection.store import projection_path
from projectors.runs import tagging
from projectors.runs.facts import checked_facts
from tests.support.ledger_factory import RUN_A, RUN_B, Clock, run_events, write


@pytest.fixture
def home(tmp_path: Path) -> Path:
    clock = Clock()
    write(tmp_path, run_events(RUN_A, clock=clock))
    write(tmp_path, run_events(RUN_B, status="postflight_failed", clock=clock))
    projection.catch_up(tmp_path)
    return tmp_path


def forge(home: Path, sql: str, *params: object) -> None:
    """Edit the projection as a careful forger would: the rows and the table digests of the checkpoint row.

    A forger who leaves the digests alone is caught earlier (catch-up rebuilds a damaged projection); one
    who rewrites them too gets past the digests, and the facts check against the ledger is what stops them.
    """
    from projectors.projection import digest

    con = duckdb.connect(str(projection_path(home)))
    try:
        con.execute(sql, list(params))
        con.execute("UPDATE checkpoint SET digests = ?", [digest.encode(digest.all_digests(con))])
    finally:
        con.close()


def test_the_facts_agree_on_an_honest_projection(home: Path) -> None:
    con = projection.connect(home)
    try:
        facts = checked_facts(home, con, RUN_B)
    finally:
        con.close()
    assert facts is not None and facts.status == "postflight_failed" and facts.metrics["sharpe"] is not None


@pytest.mark.parametrize(
    "sql, message",
    [
        ("UPDATE ledger.run_completed SET status = 'succeeded' WHERE run_id = ?",
         f"projection says run {RUN_B} succeeded but its ledger events say postflight_failed; rebuild the projection"),
        ("UPDATE ledger.metric_logged SET value = value + 5 WHERE run_id = ? AND key = 'sharpe'",
         f"projection says run {RUN_B} has sharpe "),
        ("UPDATE ledger.rows_dropped SET count = 0 WHERE run_id = ?", f"projection says run {RUN_B} has rows_dropped 0"),
        ("UPDATE ledger.data_contract_checked SET action = 'reported' WHERE run_id = ? AND status = 'failed'",
         f"projection says run {RUN_B} has unremedied contract failures 1 but its ledger events say 0"),
    ],
)  # fmt: skip
def test_each_forged_fact_is_named(home: Path, sql: str, message: str) -> None:
    write(home, run_events("20260105-120000-dddd", toxic=1, clock=Clock()))  # a run with drops and a failed check
    projection.catch_up(home)
    target = "20260105-120000-dddd" if "contract" in sql or "rows_dropped" in sql else RUN_B
    forge(home, sql, target)
    con = projection.connect(home)
    try:
        with pytest.raises(ProjectionDisagreesError, match=message.replace(RUN_B, target).replace("(", r"\(")):
            checked_facts(home, con, target)
    finally:
        con.close()


def test_bin_tag_refuses_to_promote_a_forged_run_and_appends_nothing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forge(home, "UPDATE ledger.run_completed SET status = 'succeeded' WHERE run_id = ?", RUN_B)
    forge(home, "UPDATE ledger.metric_logged SET value = 9.0 WHERE run_id = ? AND key = 'sharpe'", RUN_B)
    before = (home / LEDGER_NAME).read_bytes()
    capsys.readouterr()
    assert tag(["--home", str(home), RUN_B, "--promote", "champion"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rebuild" in err[0] and RUN_B in err[0]
    assert tag(["--home", str(home), RUN_B, "--evaluate"]) == 1
    assert (home / LEDGER_NAME).read_bytes() == before


def test_the_candidate_policy_refuses_a_forged_run(home: Path) -> None:
    forge(home, "UPDATE ledger.run_completed SET status = 'succeeded' WHERE run_id = ?", RUN_B)
    before = (home / LEDGER_NAME).read_bytes()
    with pytest.raises(ProjectionDisagreesError, match="ledger events say postflight_failed"):
        tagging.tag_run(home, RUN_B)
    assert (home / LEDGER_NAME).read_bytes() == before


def test_a_forged_seq_range_is_refused(home: Path) -> None:
    forge(home, "UPDATE ledger.run_started SET seq = seq + 1 WHERE run_id = ?", RUN_B)
    con = projection.connect(home)
    try:
        with pytest.raises(ProjectionDisagreesError, match="is not its RunStarted"):
            checked_facts(home, con, RUN_B)
    finally:
        con.close()
