"""The DuckDB projection: rebuild, catch-up, checkpoint witness, blue/green swap, as_of, torn tails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ledger import LEDGER_NAME
from ledger.codec import canonical
from projectors import projection as proj
from projectors.errors import CheckpointMismatchError, ProjectionMissingError
from tests.support.ledger_factory import RUN_A, RUN_B, RUN_C, Clock, run_events, tag_event, write


def table_rows(con: object, table: str) -> list[tuple[object, ...]]:
    return con.execute(f'SELECT * FROM ledger."{table}" ORDER BY seq').fetchall()  # type: ignore[attr-defined]


def snapshot(home: Path) -> dict[str, list[tuple[object, ...]]]:
    con = proj.connect(home)
    try:
        return {t.table: table_rows(con, t.table) for t in proj.TABLES}
    finally:
        con.close()


@pytest.fixture
def home(two_runs: Path) -> Path:
    return two_runs


def test_rebuild_projects_every_event_into_typed_tables(home: Path) -> None:
    applied = proj.rebuild(home)
    con = proj.connect(home)
    counts = {t.table: con.execute(f'SELECT count(*) FROM ledger."{t.table}"').fetchone()[0] for t in proj.TABLES}
    assert applied == sum(counts.values()) == 59
    assert counts["metric_logged"] == 14 and counts["rows_dropped"] == 1 and counts["run_started"] == 2
    keys = con.execute("SELECT keys FROM ledger.rows_dropped").fetchone()[0]
    assert keys == [{"symbol": "S000", "date": "2021-03-01"}]
    con.close()


def test_checkpoint_is_the_ledger_head(home: Path) -> None:
    proj.rebuild(home)
    lines = (home / LEDGER_NAME).read_bytes().splitlines()
    last = orjson.loads(lines[-1])
    cp = proj.checkpoint(home)
    assert cp is not None
    assert (cp.seq, cp.hash, cp.offset) == (59, last["hash"], (home / LEDGER_NAME).stat().st_size)
    con = proj.connect(home)
    assert con.execute("SELECT seq, hash FROM checkpoint").fetchall() == [(59, last["hash"])]
    con.close()


def test_catch_up_applies_only_new_events_and_equals_rebuild(
    home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert proj.catch_up(home) == 59  # no projection yet: built
    assert proj.catch_up(home) == 0
    write(home, run_events(RUN_C, clock=Clock()) + [tag_event(RUN_C, "candidate", "true")])
    assert proj.catch_up(home) == 30
    incremental = snapshot(home)
    proj.rebuild(home)
    assert snapshot(home) == incremental


def test_rewritten_ledger_under_checkpoint_is_refused_and_nothing_written(home: Path) -> None:
    proj.rebuild(home)
    before = proj.projection_path(home).read_bytes()
    ledger = home / LEDGER_NAME
    lines = ledger.read_bytes().splitlines()
    forged = _rehash(
        [orjson.loads(line) for line in lines], lambda obj: obj["seq"] == 20 and obj["data"].update(value=9.0)
    )
    ledger.write_bytes(forged)
    with pytest.raises(CheckpointMismatchError, match="--rebuild"):
        proj.catch_up(home)
    assert proj.projection_path(home).read_bytes() == before


def _rehash(objs: list[dict], edit: object) -> bytes:
    import hashlib

    prev, out = "0" * 64, b""
    for obj in objs:
        obj.pop("hash")
        edit(obj)  # type: ignore[operator]
        obj["prev"] = prev
        body = canonical(obj)
        prev = hashlib.sha256(body).hexdigest()
        out += body[:-1] + b',"hash":"' + prev.encode() + b'"}\n'
    return out


def test_truncated_ledger_is_refused(home: Path) -> None:
    proj.rebuild(home)
    ledger = home / LEDGER_NAME
    data = ledger.read_bytes()
    ledger.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 1])
    with pytest.raises(CheckpointMismatchError):
        proj.catch_up(home)


def test_torn_tail_is_not_projected(home: Path) -> None:
    with open(home / LEDGER_NAME, "ab") as f:
        f.write(b'{"data":{"key":"sharpe"')
    assert proj.rebuild(home) == 59
    assert proj.catch_up(home) == 0


def test_rebuild_is_blue_green_old_reader_keeps_working(home: Path) -> None:
    proj.rebuild(home)
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(proj.projection_path(home))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert reader.stdout is not None and reader.stdin is not None
    assert reader.stdout.readline().strip() == "2"
    write(home, run_events(RUN_C, clock=Clock()))
    proj.rebuild(home)
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "2"  # the old file, still readable through the open handle
    reader.wait(timeout=30)
    con = proj.connect(home)
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 3
    con.close()
    assert not list(home.glob("projections.duckdb.new-*"))


_READER = """
import sys, duckdb
con = duckdb.connect(":memory:")
con.execute(f"ATTACH '{sys.argv[1]}' AS p (READ_ONLY)")
con.execute("USE p")
print(con.execute("SELECT count(*) FROM runs").fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute("SELECT count(*) FROM runs").fetchone()[0], flush=True)
"""


def test_as_of_shows_run_state_after_a_seq(home: Path) -> None:
    proj.rebuild(home)
    con = proj.as_of(home, 30)
    assert con.execute("SELECT run_id, status FROM runs ORDER BY run_id").fetchall() == [
        (RUN_A, "succeeded"),
        (RUN_B, "running"),
    ]
    assert con.execute("SELECT max(seq) FROM ledger.run_started").fetchone()[0] == 30
    assert proj.read_checkpoint(con).seq == 30
    con.close()


def test_missing_ledger_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectionMissingError, match="no ledger"):
        proj.catch_up(tmp_path)
    assert not proj.projection_path(tmp_path).exists()


def test_old_event_versions_are_upcast_never_rewritten(tmp_path: Path) -> None:
    """A StageFailed v1 line (before traceback_tail existed) projects through the ledger's upcaster."""
    write(tmp_path, run_events(RUN_A, clock=Clock()))
    write(tmp_path, run_events(RUN_C, fail_stage="select", clock=Clock()))
    ledger = tmp_path / LEDGER_NAME
    objs = [orjson.loads(line) for line in ledger.read_bytes().splitlines()]
    ledger.write_bytes(_rehash(objs, _to_v1))
    before = ledger.read_bytes()
    assert b'"type":"StageFailed","v":1' in before
    proj.rebuild(tmp_path)
    rebuilt = snapshot(tmp_path)
    # v1 upcast through v2 (traceback_tail None) and v3 (attempt 1, will_retry false)
    assert [r[5:] for r in rebuilt["stage_failed"]] == [("ValueError", "select exploded", None, 1, False)]
    proj.projection_path(tmp_path).unlink()
    _catch_up_in_two_steps(tmp_path, split=31)
    assert snapshot(tmp_path) == rebuilt
    assert ledger.read_bytes() == before


def _to_v1(obj: dict) -> None:
    if obj["type"] == "StageFailed":
        obj["v"] = 1
        obj["data"].pop("traceback_tail", None)


def _catch_up_in_two_steps(home: Path, split: int) -> None:
    """Project the first split lines, then the rest by catch-up."""
    ledger = home / LEDGER_NAME
    full = ledger.read_bytes()
    cut = sum(len(line) + 1 for line in full.splitlines()[:split])
    ledger.write_bytes(full[:cut])
    proj.rebuild(home)
    ledger.write_bytes(full)
    proj.catch_up(home)


def test_unknown_event_type_is_a_clear_error(home: Path) -> None:
    from schemas.errors import LedgerlineError

    ledger = home / LEDGER_NAME
    objs = [orjson.loads(line) for line in ledger.read_bytes().splitlines()]
    ledger.write_bytes(_rehash(objs, lambda o: o["seq"] == 3 and o.update(type="RunTeleported")))
    with pytest.raises(LedgerlineError, match="RunTeleported"):
        proj.rebuild(home)
    assert not proj.projection_path(home).exists()


def test_changed_event_catalog_triggers_a_rebuild_and_changed_views_are_recreated(home: Path) -> None:
    proj.rebuild(home)
    con = proj.connect(home, read_only=False)
    con.execute("UPDATE meta SET value = 'older catalog' WHERE key = 'schema_digest'")
    con.close()
    assert proj.catch_up(home) == 59  # rebuilt from scratch
    con = proj.connect(home, read_only=False)
    con.execute("DROP VIEW candidates")
    con.execute("UPDATE meta SET value = 'older views' WHERE key = 'views_digest'")
    con.close()
    assert proj.catch_up(home) == 0
    con = proj.connect(home)
    assert con.execute("SELECT count(*) FROM candidates").fetchone() == (0,)
    con.close()


def test_catch_up_while_a_reader_is_open_in_this_process(home: Path) -> None:
    proj.rebuild(home)
    reader = proj.connect(home)
    try:
        write(home, run_events(RUN_C, clock=Clock()))
        with pytest.raises(Exception, match="attached|lock"):
            proj.catch_up(home)  # DuckDB allows one writer xor readers per file; said clearly, nothing half-written
    finally:
        reader.close()
    assert proj.catch_up(home) == 29


def test_lines_in_another_json_layout_project_the_same(home: Path) -> None:
    """Projection reads JSON, not the canonical bytes: spaces, other key order, escaped unicode give the same rows."""
    ledger = home / LEDGER_NAME
    lines = ledger.read_bytes().splitlines()
    ledger.write_bytes(b"".join(line + b"\n" for line in lines[:40]))
    proj.rebuild(home)
    ledger.write_bytes(b"".join(line + b"\n" for line in lines[:40] + [_loose(line) for line in lines[40:]]))
    assert proj.catch_up(home) == 19
    incremental = snapshot(home)
    proj.rebuild(home)
    assert snapshot(home) == incremental


def test_a_ts_with_an_offset_is_projected_as_its_utc_instant(tmp_path: Path) -> None:
    """Our writer always writes Z, but a line stating +02:00 (another writer, an older file) must not land as wall time."""
    line = proj_line('"ts":"2026-01-01T12:00:00+02:00"')
    (tmp_path / LEDGER_NAME).write_bytes(line)
    proj.rebuild(tmp_path)
    con = proj.connect(tmp_path)
    try:
        assert con.execute("SELECT CAST(ts AS VARCHAR) FROM ledger.run_tagged").fetchall() == [("2026-01-01 10:00:00",)]
    finally:
        con.close()


def proj_line(ts_field: str) -> bytes:
    """One chained RunTagged line whose ts field is ts_field verbatim."""
    import hashlib

    body = (
        '{"data":{"by":"me","key":"k","reason":"r","value":"v"},"id":"x","prev":"'
        + "0" * 64
        + f'","run_id":"{RUN_A}","seq":1,"stage":null,{ts_field},"type":"RunTagged","v":1}}'
    ).encode()
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


def _loose(line: bytes) -> bytes:
    """The same event, keys reordered and spaced, its stated hash still last (as split_hash expects)."""
    obj = orjson.loads(line)
    digest = obj.pop("hash")
    body = json.dumps(dict(reversed(list(obj.items()))), separators=(", ", ": "), ensure_ascii=True)
    return body[:-1].encode() + b',"hash":"' + digest.encode() + b'"}'


def test_an_unknown_event_type_is_refused_by_catch_up_too(home: Path) -> None:
    from schemas.errors import LedgerlineError

    proj.rebuild(home)
    write(home, [tag_event(RUN_C, "candidate", "true")])
    ledger = home / LEDGER_NAME
    objs = [orjson.loads(line) for line in ledger.read_bytes().splitlines()]
    ledger.write_bytes(_rehash(objs, lambda o: o["seq"] == 60 and o.update(type="RunTeleported")))
    before = snapshot(home)
    with pytest.raises(LedgerlineError, match="RunTeleported"):
        proj.catch_up(home)
    assert snapshot(home) == before


def test_rebuild_leaves_everything_in_the_file_and_no_wal(home: Path) -> None:
    proj.rebuild(home)
    assert not list(home.glob("projections.duckdb*.wal"))
