"""Guarantee 7: a frozen v1 ledger still reads after StageFailed moved to v2; unknown types and versions are clear errors."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import orjson
import pytest

from ledger import Ledger, UnknownEventError, verify_file
from ledger.upcasters import UPCASTERS, upcast, upcast_StageFailed_v1_v2, upcast_StageFailed_v2_v3
from schemas.events import CURRENT_VERSIONS, StageFailed, StageFailedData

FIXTURE = Path(__file__).parent / "fixtures" / "v1_stage_failed.jsonl"


def test_fixture_is_frozen_v1() -> None:
    lines = FIXTURE.read_bytes().splitlines()
    assert all(orjson.loads(line)["v"] == 1 for line in lines)
    assert (
        hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
        == "a081a8f16ec2d86f5a13c2184d5e523d50bcd4ce927985af9c3807d4179fab58"
    )  # never regenerate it
    assert verify_file(FIXTURE).ok


def test_v1_stage_failed_reads_as_v3(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    shutil.copy(FIXTURE, path)
    assert CURRENT_VERSIONS["StageFailed"] == 3
    events = list(Ledger.open(path, readonly=True).read())
    failed = events[2]
    assert isinstance(failed, StageFailed) and failed.v == 3
    assert failed.data == StageFailedData(
        error_type="ValueError", message="window larger than history", traceback_tail=None
    )
    assert failed.data.attempt == 1 and failed.data.will_retry is False
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert path.read_bytes() == FIXTURE.read_bytes()  # upgraded on read, never rewritten


def test_new_v3_events_append_after_v1_ones(tmp_path: Path) -> None:
    shutil.copy(FIXTURE, tmp_path / "audit.jsonl")
    tail = 'Traceback (most recent call last):\n  File "stages/features.py", line 9\nValueError: boom'
    with Ledger.open(tmp_path) as ledger:
        ledger.append(
            [
                StageFailed(
                    run_id=None, data=StageFailedData(error_type="ValueError", message="boom", traceback_tail=tail)
                )
            ]
        )
        last = list(ledger.read(after=5))
        assert ledger.verify(deep=True).ok
    assert last[0].v == 3 and last[0].data.traceback_tail == tail
    assert b'"type":"StageFailed","v":3' in (tmp_path / "audit.jsonl").read_bytes().splitlines()[-1]


def test_upcaster_is_registered_and_pure() -> None:
    data = {"error_type": "E", "message": "m"}
    assert UPCASTERS[("StageFailed", 1)] is upcast_StageFailed_v1_v2
    assert upcast_StageFailed_v1_v2(data) == {**data, "traceback_tail": None}
    assert data == {"error_type": "E", "message": "m"}
    obj = {"type": "StageFailed", "v": 1, "seq": 3, "data": data}
    assert upcast(obj)["v"] == 3 and obj["v"] == 1
    assert UPCASTERS[("StageFailed", 2)] is upcast_StageFailed_v2_v3
    v2 = {"error_type": "E", "message": "m", "traceback_tail": "t"}
    assert upcast_StageFailed_v2_v3(v2) == {**v2, "attempt": 1, "will_retry": False}
    assert upcast({"type": "StageFailed", "v": 2, "seq": 4, "data": v2})["data"]["will_retry"] is False


def _rewrite_last(path: Path, **changes: object) -> None:
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    obj = orjson.loads(lines[-1])
    obj.pop("hash")
    obj.update(changes)
    body = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    path.write_bytes(
        b"".join(lines[:-1]) + body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "RunExploded"}, "unknown event type 'RunExploded'"),
        ({"v": 7}, "RunCompleted has unknown version 7"),
        ({"v": 0}, "RunCompleted has unknown version 0"),
    ],
)
def test_unknown_type_or_version_is_a_clear_error(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    path = tmp_path / "audit.jsonl"
    _rewrite_last(path, **changes)
    assert verify_file(path).ok  # the chain is fine; the reader does not know the event
    with pytest.raises(UnknownEventError, match=message) as err:
        list(Ledger.open(path, readonly=True).read())
    assert "seq 5" in str(err.value)
    assert not verify_file(path, deep=True).ok
