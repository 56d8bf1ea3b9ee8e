"""Every event type survives the ledger and plain JSON unchanged (and every type has a sample here)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import Ledger
from ledger.codec import encode
from schemas.events import (
    EVENT_TYPES,
    ArtifactRef,
    ArtifactWrittenData,
    CodeVersion,
    DataContractCheckedData,
    DataInput,
    Envelope,
    LedgerRecoveredData,
    MetricLoggedData,
    Model,
    RowKey,
    RowsDroppedData,
    RunCompletedData,
    RunStartedData,
    RunTaggedData,
    StageCompletedData,
    StageFailedData,
    StageStartedData,
    envelope,
    parse_event,
)

H = "ab" * 32
REF = ArtifactRef(name="prices", hash=H, rows=10)
PAYLOADS: list[Model] = [
    RunStartedData(
        pipeline="momentum",
        profile="canary",
        params={"top_k": 10, "cost": 5.5, "name": "ünï", "flag": True, "none": None},
        config_hash=H,
        code_version=CodeVersion(git_sha="abc1234", dirty=True),
        packages={"polars": "1.0"},
        inputs=[DataInput(name="prices", sha256=H, rows=5, format="parquet")],
        seed=7,
    ),
    StageStartedData(inputs=[REF]),
    StageCompletedData(rows_in=10, rows_out=9, duration_s=0.25, outputs=[REF], changed=["features"]),
    StageFailedData(error_type="ValueError", message='bad "quote"\n', traceback_tail="Traceback…\nValueError"),
    DataContractCheckedData(
        contract="prices",
        tier=1,
        check="positive",
        column="close",
        status="failed",
        failed=1,
        total=10,
        sample=[{"symbol": "AAA", "close": -1.5}],
        action="dropped",
        observed=-1.5,
    ),
    RowsDroppedData(
        contract="prices",
        check="positive",
        reason="close <= 0",
        count=1,
        keys=[RowKey(symbol="AAA", date="2026-01-02")],
    ),
    MetricLoggedData(key="sharpe", value=1.25e-7, step=3, asset="AAA"),
    ArtifactWrittenData(name="weights", hash=H, format="parquet", rows=3, bytes=1024, path="artifacts/x.parquet"),
    RunTaggedData(key="candidate", value="champion", reason="best sharpe", by="tagger"),
    RunCompletedData(status="postflight_failed", duration_s=3.0, error="drift"),
    LedgerRecoveredData(offset=10, length=5, sha256=H, quarantine_path="quarantine/torn-10-x.bin"),
]
TS = datetime(2026, 11, 22, 1, 2, 3, 456789, tzinfo=UTC)
EVENTS: list[Envelope] = [envelope(p, run_id="20261122-010203-abcd", stage="s", ts=TS) for p in PAYLOADS]


def test_every_event_type_has_a_sample() -> None:
    assert sorted(type(e).__name__ for e in EVENTS) == sorted(cls.__name__ for cls in EVENT_TYPES)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
def test_json_round_trip(event: Envelope) -> None:
    assert parse_event(event.model_dump_json()) == event
    assert parse_event(event.model_dump(mode="json")) == event


def test_ledger_round_trip_of_every_type(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        recorded = ledger.append(EVENTS)
        back = list(ledger.read())
        assert ledger.verify(deep=True).ok
    assert len(back) == len(EVENTS)
    for original, rec, read in zip(EVENTS, recorded, back):
        assert type(read) is type(original)
        assert read.model_copy(update={"seq": None, "prev": None, "hash": None}) == original
        assert (read.seq, read.hash) == (rec.seq, rec.hash)


def _reference_line(event: Envelope, seq: int, prev: str) -> bytes:
    """The line as DESIGN.md defines it, built through pydantic's own JSON dump instead of the writer's dict walk."""
    body = {**event.model_dump(mode="json", exclude={"hash"}), "seq": seq, "prev": prev}
    raw = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return raw[:-1] + b',"hash":"' + hashlib.sha256(raw).hexdigest().encode() + b'"}\n'


edge_floats = st.sampled_from([0.0, -0.0, 1e16, 1e-7, 1.25e-7, 2.0**53 + 2, 1e308, 5e-324, 0.1]) | st.floats(
    allow_nan=False, allow_infinity=False
)
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | edge_floats | st.text(max_size=8)
stamps = st.datetimes(timezones=st.just(UTC)) | st.just(datetime(2026, 1, 1, tzinfo=UTC))


@settings(max_examples=150, deadline=None)
@given(
    params=st.dictionaries(st.text(max_size=6), scalars, max_size=5),
    sample=st.lists(st.dictionaries(st.text(max_size=4), scalars, max_size=3), max_size=3),
    value=edge_floats,
    text=st.text(max_size=12),
    ts=stamps,
    which=st.integers(0, len(PAYLOADS) - 1),
)
def test_writer_bytes_equal_pydantic_dump(
    params: dict[str, Any], sample: list[dict[str, Any]], value: float, text: str, ts: datetime, which: int
) -> None:
    """Byte for byte: every type, empty and non-ASCII strings, -0.0, 1e16, ints past 2**53, whole-second stamps."""
    payloads: list[Model] = [
        PAYLOADS[which],
        PAYLOADS[0].model_copy(update={"params": params, "pipeline": text}),
        DataContractCheckedData(
            contract=text,
            tier=1,
            check="c",
            status="warned",
            failed=0,
            total=0,
            sample=sample,
            action="none",
            observed=value,
        ),
        MetricLoggedData(key=text, value=value, step=None),
    ]
    prev = "cd" * 32
    for seq, payload in enumerate(payloads, start=1):
        event = envelope(payload, run_id=None, stage=text or None, ts=ts)
        line, digest = encode(event, seq, prev)
        assert line == _reference_line(event, seq, prev)
        prev = digest
