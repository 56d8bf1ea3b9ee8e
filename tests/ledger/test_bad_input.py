"""Guarantee 6: bad events are rejected before anything is written, with a message naming the field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ledger import MAX_LINE_BYTES, EventRejectedError, Ledger
from schemas.events import (
    DataContractChecked,
    DataContractCheckedData,
    MetricLogged,
    MetricLoggedData,
    RunTagged,
    RunTaggedData,
    StageStarted,
)
from tests.support.ledgerkit import RUN_ID, metric


def _tagged(**data: object) -> RunTagged:
    fields: dict[str, object] = {"key": "k", "value": "v", "reason": "r", "by": "me", **data}
    return RunTagged.model_construct(run_id=RUN_ID, data=RunTaggedData.model_construct(**fields))


BAD = {
    "wrong type": (
        MetricLogged.model_construct(run_id=RUN_ID, data=MetricLoggedData.model_construct(key="k", value="high")),
        "data.value",
    ),
    "missing field": (MetricLogged.model_construct(run_id=RUN_ID, data={"key": "k"}), "data.value"),
    "extra field": (
        MetricLogged.model_construct(run_id=RUN_ID, data={"key": "k", "value": 1.0, "units": "bp"}),
        "data.units",
    ),
    "nan": (
        MetricLogged.model_construct(run_id=RUN_ID, data=MetricLoggedData.model_construct(key="k", value=float("nan"))),
        "data.value",
    ),
    "inf beside None": (
        DataContractChecked.model_construct(
            run_id=RUN_ID,
            data=DataContractCheckedData.model_construct(
                contract="c",
                tier=1,
                check="x",
                status="passed",
                failed=0,
                total=1,
                action="none",
                observed=float("inf"),
                sample=[],
            ),
        ),
        "data.observed",
    ),
    "nan in a free-form dict": (
        DataContractChecked.model_construct(
            run_id=RUN_ID,
            data=DataContractCheckedData.model_construct(
                contract="c",
                tier=1,
                check="x",
                status="failed",
                failed=1,
                total=1,
                action="none",
                sample=[{"x": float("-inf")}],
            ),
        ),
        "data.sample.0.x",
    ),
    "not utf-8": (_tagged(reason="bad \udcff byte"), "data.reason"),
    "bytes value": (_tagged(value=b"raw"), "data.value"),
    "too large": (_tagged(reason="x" * MAX_LINE_BYTES), "data.reason"),
    "bad run id": (
        MetricLogged.model_construct(run_id="yesterday", data=MetricLoggedData(key="k", value=1.0)),
        "run_id",
    ),
    "ts without a zone": (
        MetricLogged(run_id=RUN_ID, ts=datetime(2026, 1, 1, 12), data=MetricLoggedData(key="k", value=1.0)),
        "ts",
    ),
    "ts not a datetime": (
        MetricLogged.model_construct(run_id=RUN_ID, ts="2026-01-01", data=MetricLoggedData(key="k", value=1.0)),
        "ts",
    ),
    "seq preassigned": (metric(1).model_copy(update={"seq": 7}), "seq"),
    "hash preassigned": (metric(1).model_copy(update={"hash": "0" * 64}), "hash"),
    "wrong payload class": (
        StageStarted.model_construct(run_id=RUN_ID, data=MetricLoggedData(key="k", value=1.0)),
        "data.asset",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_rejected_before_writing_naming_the_field(case: str, tmp_path: Path) -> None:
    event, field = BAD[case]
    with Ledger.open(tmp_path) as ledger:
        ledger.append([metric(1)])
        size = ledger.path.stat().st_size
        with pytest.raises(EventRejectedError) as err:
            ledger.append([metric(2), event, metric(3)])  # the good ones around it are not written either
        assert err.value.field == field, str(err.value)
        assert field in str(err.value) and "nothing was written" in str(err.value)
        assert ledger.path.stat().st_size == size and ledger.head()[0] == 1


def test_not_an_event_is_rejected(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger, pytest.raises(EventRejectedError, match="not an event: dict"):
        ledger.append([{"type": "MetricLogged"}])  # type: ignore[list-item]


def test_line_just_under_the_limit_is_accepted(tmp_path: Path) -> None:
    event = RunTagged(
        run_id=RUN_ID, data=RunTaggedData(key="k", value="v", reason="x" * (MAX_LINE_BYTES - 600), by="me")
    )
    with Ledger.open(tmp_path) as ledger:
        ledger.append([event])
        (back,) = ledger.read()
    assert back.data == event.data


def test_ts_in_another_zone_is_written_as_the_same_instant_in_utc(tmp_path: Path) -> None:
    """DESIGN: ts is UTC with Z. An aware ts in +02:00 names an instant; the line carries that instant with Z."""
    local = datetime(2026, 1, 1, 12, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2)))
    with Ledger.open(tmp_path) as ledger:
        ledger.append([MetricLogged(run_id=RUN_ID, ts=local, data=MetricLoggedData(key="k", value=1.0))])
        (back,) = ledger.read()
        assert ledger.verify().ok
    assert b'"ts":"2026-01-01T10:00:00.250000Z"' in ledger.path.read_bytes()
    assert back.ts == local and back.ts.utcoffset() == timedelta(0)
