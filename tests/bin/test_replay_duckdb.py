"""bin/replay --to duckdb: catch-up, --rebuild, a rewritten ledger refused (exit 1), --follow projecting new events."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from bin.replay import main
from ledger import LEDGER_NAME
from ledger.codec import canonical
from projectors import projection as proj
from tests.support.ledger_factory import RUN_A, RUN_B, Clock, run_events, write

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write(tmp_path, run_events(RUN_A, clock=Clock()))
    return tmp_path


def replay(home: Path, *args: str) -> int:
    return main(["--to", "duckdb", "--home", str(home), *args])


def test_catch_up_then_rebuild(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay(home) == 0
    assert "29 events applied, checkpoint seq 29" in capsys.readouterr().out
    write(home, run_events(RUN_B, clock=Clock()))
    assert replay(home) == 0
    assert "29 events applied, checkpoint seq 58" in capsys.readouterr().out
    assert replay(home, "--rebuild") == 0
    assert "58 events applied, checkpoint seq 58" in capsys.readouterr().out


def test_rewritten_ledger_exits_1_suggesting_rebuild(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay(home) == 0
    capsys.readouterr()
    ledger = home / LEDGER_NAME
    lines = ledger.read_bytes().splitlines(keepends=True)
    last = orjson.loads(lines[-1])
    del last["hash"]
    last["data"]["duration_s"] = 99.0  # edited and re-hashed: the chain itself still verifies
    body = canonical(last)
    forged = body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'
    ledger.write_bytes(b"".join(lines[:-1]) + forged)
    before = proj.projection_path(home).read_bytes()
    assert replay(home) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bin/replay --to duckdb --rebuild" in err
    assert proj.projection_path(home).read_bytes() == before
    assert replay(home, "--rebuild") == 0


def test_rebuild_with_follow_is_a_usage_error(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay(home, "--rebuild", "--follow") == 2
    assert "cannot be combined" in capsys.readouterr().err


def test_no_ledger_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay(tmp_path) == 2
    assert "no ledger" in capsys.readouterr().err


def test_follow_projects_new_events_until_interrupted(home: Path) -> None:
    proc = subprocess.Popen(
        [str(ROOT / "bin" / "replay"), "--to", "duckdb", "--follow", "--home", str(home)],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        while "following" not in proc.stderr.readline():
            assert proc.poll() is None, "follow exited early"
        write(home, run_events(RUN_B, clock=Clock()))
        deadline = time.monotonic() + 30  # generous: only a hang fails this, never slowness
        while (cp := proj.checkpoint(home)) is None or cp.seq < 58:
            assert time.monotonic() < deadline, "follow never projected the new run"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in err
    con = proj.connect(home)
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
    con.close()


def test_json_reports_events_applied_and_the_position(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert replay(home, "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "duckdb" and doc["applied"] == 29 and doc["position"]["seq"] == 29
    assert doc["where"] == str(proj.projection_path(home)) and len(doc["position"]["hash"]) == 64


def test_the_models_offered_are_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    from projectors import registry

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in registry.names())
    with pytest.raises(SystemExit) as err:
        main(["--to", "nosuch"])
    assert err.value.code == 2
