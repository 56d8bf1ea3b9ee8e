"""Another DuckDB client holding projections.duckdb open: runs still complete, lock-needing commands exit 1 naming it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from bin.diff import main as diff_main
from bin.replay import main as replay_main
from bin.run_pipeline import main as run_main
from bin.tag import main as tag_main
from tests.support.ledger_factory import RUN_A, RUN_B, Clock, run_events, write

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SELECT count(*) FROM runs").fetchall()
print("holding", flush=True)
time.sleep(600)
"""


def _hold(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


@pytest.fixture
def held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    from projectors.projection import catch_up

    monkeypatch.setenv("LEDGERLINE_LOCK_WAIT_S", "0.3")
    clock = Clock()
    write(tmp_path, run_events(RUN_A, clock=clock))
    write(tmp_path, run_events(RUN_B, clock=clock))
    catch_up(tmp_path)
    proc = _hold(tmp_path / "projections.duckdb")
    try:
        yield tmp_path, proc
    finally:
        proc.kill()
        proc.wait()


def _candidates(home: Path) -> dict[str, str]:
    with duckdb.connect(str(home / "projections.duckdb"), read_only=True) as con:
        return dict(con.execute("SELECT run_id, value FROM tags_current WHERE key = 'candidate'").fetchall())


@pytest.mark.parametrize(
    "command, argv",
    [
        (diff_main, [RUN_A, RUN_B]),
        (tag_main, [RUN_A, "--set", "note=x"]),
        (replay_main, ["--to", "duckdb"]),
    ],
)
def test_commands_needing_the_lock_wait_then_exit_1_naming_the_cause(
    held: tuple[Path, subprocess.Popen[str]], capsys: pytest.CaptureFixture[str], command, argv: list[str]
) -> None:
    home, _ = held
    started = time.monotonic()
    assert command([*argv, "--home", str(home)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "locked by another process" in err[0] and "Traceback" not in err[0], err
    assert time.monotonic() - started < 60


def test_a_run_completes_while_the_projection_is_locked_and_the_next_command_decides(
    held: tuple[Path, subprocess.Popen[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    home, proc = held
    assert run_main(["--profile", "canary", "--home", str(home), "--quiet", "--json"]) == 0
    out = capsys.readouterr()
    assert "projection locked" in out.out and "Traceback" not in out.err
    proc.kill()
    proc.wait()
    assert run_main(["--profile", "canary", "--home", str(home), "--quiet", "--seed", "11"]) == 0  # the next command
    with duckdb.connect(str(home / "projections.duckdb"), read_only=True) as con:
        succeeded = {r[0] for r in con.execute("SELECT run_id FROM runs WHERE status = 'succeeded'").fetchall()}
    assert len(succeeded) >= 1 and succeeded <= set(_candidates(home)), "every succeeded run got a policy verdict"


def test_a_client_holding_the_snapshot_never_blocks_the_product(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Point 7: other tools keep <home>/projections.snapshot.duckdb open; runs still project and refresh it."""
    clock = Clock()
    write(tmp_path, run_events(RUN_A, clock=clock))
    assert replay_main(["--to", "duckdb", "--snapshot", "--home", str(tmp_path), "--quiet"]) == 0
    snapshot = tmp_path / "projections.snapshot.duckdb"
    proc = _hold(snapshot)  # a read-only client on the snapshot, kept open
    try:
        assert run_main(["--profile", "canary", "--home", str(tmp_path), "--quiet", "--json"]) == 0
        out = capsys.readouterr().out
        assert "projection locked" not in out
        with duckdb.connect(str(tmp_path / "projections.duckdb"), read_only=True) as con:
            projected = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
        assert len(projected) == 2, "the run was projected with the snapshot held open"
        with duckdb.connect(str(snapshot), read_only=True) as con:  # refreshed after that catch-up
            assert {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()} == projected
        assert proc.poll() is None, "the holder still holds its (old) snapshot"
    finally:
        proc.kill()
        proc.wait()
    assert not list(tmp_path.glob(".projections.snapshot.duckdb.*.tmp"))
