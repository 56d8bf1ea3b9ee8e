"""Snapshot of the SQL surface: every view's column names and types (a change here is a change users see)."""

from __future__ import annotations

from pathlib import Path

import pytest

from projectors import projection as proj
from tests.support.ledger_factory import RUN_A, Clock, run_events, write

EXPECTED: dict[str, list[tuple[str, str]]] = {
    "artifacts": [
        ("run_id", "VARCHAR"),
        ("stage", "VARCHAR"),
        ("name", "VARCHAR"),
        ("hash", "VARCHAR"),
        ("format", "VARCHAR"),
        ("rows", "BIGINT"),
        ("bytes", "BIGINT"),
        ("path", "VARCHAR"),
        ("sha256", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("seq", "BIGINT"),
    ],
    "candidates": [
        ("run_id", "VARCHAR"),
        ("profile", "VARCHAR"),
        ("status", "VARCHAR"),
        ("started_at", "TIMESTAMP"),
        ("sharpe", "DOUBLE"),
        ("max_drawdown", "DOUBLE"),
        ("cagr", "DOUBLE"),
        ("rows_dropped", "BIGINT"),
        ("reason", "VARCHAR"),
        ("tagged_at", "TIMESTAMP"),
        ("aliases", "VARCHAR"),
    ],
    "contract_checks": [
        ("run_id", "VARCHAR"),
        ("stage", "VARCHAR"),
        ("contract", "VARCHAR"),
        ("tier", "BIGINT"),
        ("check", "VARCHAR"),
        ("column", "VARCHAR"),
        ("status", "VARCHAR"),
        ("severity", "VARCHAR"),
        ("failed", "BIGINT"),
        ("total", "BIGINT"),
        ("failed_rate", "DOUBLE"),
        ("action", "VARCHAR"),
        ("observed", "DOUBLE"),
        ("sample", "MAP(VARCHAR, JSON)[]"),
        ("ts", "TIMESTAMP"),
        ("seq", "BIGINT"),
    ],
    "metrics": [
        ("run_id", "VARCHAR"),
        ("stage", "VARCHAR"),
        ("key", "VARCHAR"),
        ("value", "DOUBLE"),
        ("step", "BIGINT"),
        ("asset", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("seq", "BIGINT"),
    ],
    "params": [
        ("run_id", "VARCHAR"),
        ("key", "VARCHAR"),
        ("value", "JSON"),
        ("value_text", "VARCHAR"),
        ("seq", "BIGINT"),
    ],
    "rows_dropped": [
        ("run_id", "VARCHAR"),
        ("stage", "VARCHAR"),
        ("contract", "VARCHAR"),
        ("check", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("count", "BIGINT"),
        ("keys", "STRUCT(symbol VARCHAR, date VARCHAR)[]"),
        ("artifact_name", "VARCHAR"),
        ("artifact_hash", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("seq", "BIGINT"),
    ],
    "runs": [
        ("run_id", "VARCHAR"),
        ("status", "VARCHAR"),
        ("pipeline", "VARCHAR"),
        ("profile", "VARCHAR"),
        ("started_at", "TIMESTAMP"),
        ("completed_at", "TIMESTAMP"),
        ("duration_s", "DOUBLE"),
        ("git_sha", "VARCHAR"),
        ("git_dirty", "BOOLEAN"),
        ("config_hash", "VARCHAR"),
        ("seed", "BIGINT"),
        ("orchestrator", "VARCHAR"),
        ("flow_run_id", "VARCHAR"),
        ("sharpe", "DOUBLE"),
        ("max_drawdown", "DOUBLE"),
        ("cagr", "DOUBLE"),
        ("rows_dropped", "BIGINT"),
        ("error", "VARCHAR"),
        ("started_seq", "BIGINT"),
        ("completed_seq", "BIGINT"),
    ],
    "stages": [
        ("run_id", "VARCHAR"),
        ("stage", "VARCHAR"),
        ("position", "BIGINT"),
        ("status", "VARCHAR"),
        ("attempts", "BIGINT"),
        ("started_at", "TIMESTAMP"),
        ("ended_at", "TIMESTAMP"),
        ("rows_in", "BIGINT"),
        ("rows_out", "BIGINT"),
        ("duration_s", "DOUBLE"),
        ("outputs", 'STRUCT("name" VARCHAR, hash VARCHAR, "rows" BIGINT, sha256 VARCHAR, bytes BIGINT)[]'),
        ("changed", "VARCHAR[]"),
        ("error_type", "VARCHAR"),
        ("message", "VARCHAR"),
        ("traceback_tail", "VARCHAR"),
        ("first_seq", "BIGINT"),
    ],
    "sweep_runs": [
        ("run_id", "VARCHAR"),
        ("sweep_id", "VARCHAR"),
        ("point", "JSON"),
        ("point_text", "VARCHAR"),
        ("status", "VARCHAR"),
        ("sharpe", "DOUBLE"),
        ("max_drawdown", "DOUBLE"),
        ("cagr", "DOUBLE"),
        ("rank_metric", "VARCHAR"),
        ("rank_value", "DOUBLE"),
        ("rank", "BIGINT"),
        ("started_at", "TIMESTAMP"),
        ("started_seq", "BIGINT"),
    ],
    "sweeps": [
        ("sweep_id", "VARCHAR"),
        ("pipeline", "VARCHAR"),
        ("points", "BIGINT"),
        ("succeeded", "BIGINT"),
        ("failed", "BIGINT"),
        ("started_at", "TIMESTAMP"),
        ("completed_at", "TIMESTAMP"),
        ("best_run_id", "VARCHAR"),
        ("rank_metric", "VARCHAR"),
        ("best_value", "DOUBLE"),
    ],
    "tag_history": [
        ("run_id", "VARCHAR"),
        ("key", "VARCHAR"),
        ("value", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("tagged_by", "VARCHAR"),
        ("valid_from", "TIMESTAMP"),
        ("valid_to", "TIMESTAMP"),
        ("valid_from_seq", "BIGINT"),
        ("valid_to_seq", "BIGINT"),
        ("is_current", "BOOLEAN"),
        ("seq", "BIGINT"),
    ],
    "tags_current": [
        ("run_id", "VARCHAR"),
        ("key", "VARCHAR"),
        ("value", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("tagged_by", "VARCHAR"),
        ("since", "TIMESTAMP"),
        ("seq", "BIGINT"),
    ],
}


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("views")
    write(home, run_events(RUN_A, clock=Clock()))
    proj.rebuild(home)
    con = proj.connect(home)
    yield con
    con.close()


def test_every_view_file_is_snapshotted() -> None:
    assert proj.view_names() == sorted(EXPECTED)


@pytest.mark.parametrize("view", sorted(EXPECTED))
def test_view_columns_and_types(con, view: str) -> None:  # type: ignore[no-untyped-def]
    assert [(r[0], r[1]) for r in con.execute(f"DESCRIBE {view}").fetchall()] == EXPECTED[view]


def test_views_bind_on_an_empty_projection(tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").write_bytes(b"")
    proj.rebuild(tmp_path)
    con = proj.connect(tmp_path)
    try:
        for view in EXPECTED:
            assert con.execute(f"SELECT count(*) FROM {view}").fetchone() == (0,)
    finally:
        con.close()
