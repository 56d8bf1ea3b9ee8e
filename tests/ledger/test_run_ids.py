"""One run id, one run: a second RunStarted for a run id is refused under the lock, and verify reports one found."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledger import Ledger, RunIdTakenError, ledger_path, verify_file
from ledger.codec import check_batch, encode_batch
from schemas.events import GENESIS_HASH
from tests.support.ledger_factory import RUN_A, RUN_B, Clock, run_events, write

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_run_started_for_a_run_id_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    write(tmp_path, run_events(RUN_A, clock=Clock()))
    before = ledger_path(tmp_path).read_bytes()
    with pytest.raises(RunIdTakenError, match=f"run id {RUN_A} is already taken .RunStarted at seq 1."):
        write(tmp_path, run_events(RUN_A, clock=Clock()))
    assert ledger_path(tmp_path).read_bytes() == before
    write(tmp_path, run_events(RUN_B, clock=Clock()))  # another id is fine


def test_a_batch_starting_one_run_id_twice_is_refused(tmp_path: Path) -> None:
    events = run_events(RUN_A, clock=Clock())
    with pytest.raises(RunIdTakenError, match="twice in one batch"):
        write(tmp_path, [events[0], events[0].model_copy()])


def test_a_long_lived_writer_sees_runs_other_processes_started(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as mine:
        mine.append(run_events(RUN_B, clock=Clock())[:1])
        write(tmp_path, run_events(RUN_A, clock=Clock())[:1])  # another writer
        with pytest.raises(RunIdTakenError):
            mine.append(run_events(RUN_A, clock=Clock())[:1])


_RACE = """
import sys
from pathlib import Path
from ledger import Ledger, RunIdTakenError
from tests.support.ledger_factory import Clock, run_events
home, run_id = Path(sys.argv[1]), sys.argv[2]
with Ledger.open(home) as ledger:
    try:
        ledger.append(run_events(run_id, clock=Clock())[:1])
    except RunIdTakenError:
        sys.exit(3)
"""


def test_two_processes_cannot_both_take_one_run_id(tmp_path: Path) -> None:
    tmp_path.joinpath("audit.jsonl").touch()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(tmp_path), RUN_A], env=env, cwd=ROOT) for _ in range(4)]
    codes = sorted(p.wait(timeout=120) for p in procs)
    assert codes == [0, 3, 3, 3]
    assert verify_file(ledger_path(tmp_path)).ok


def test_verify_reports_a_run_id_with_two_run_started(tmp_path: Path) -> None:
    first = run_events(RUN_A, clock=Clock())[:2]
    again = run_events(RUN_A, clock=Clock())[:1]
    batch = first + again
    payload, _ = encode_batch(batch, check_batch(batch), 0, GENESIS_HASH)  # a writer that did not check
    ledger_path(tmp_path).write_bytes(bytes(payload))
    report = verify_file(ledger_path(tmp_path))
    assert not report.ok and report.first_bad_seq == 3
    assert f"run {RUN_A} has a second RunStarted (the first is at seq 1)" in (report.problem or "")
