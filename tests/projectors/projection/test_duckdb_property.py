"""Property: for any ledger and any cut points, successive catch-ups equal a rebuild, and as_of(k) equals a rebuild of k."""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import LEDGER_NAME
from ledger.codec import canonical
from projectors import projection as proj
from schemas import events as ev
from tests.support.ledger_factory import Clock, run_events, write

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)
#: text that looks like the ledger's own framing, to trip anything that slices lines instead of parsing them
_TRICKY = st.sampled_from([',"id":', '"}', "\\", '{"data":', ',"hash":"', "\n", "\u2028", "é", "\x00"])
_STR = st.one_of(_TEXT, _TRICKY)
_FLOAT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e20, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, 123456789012345680.0, 0.1]),
)
_INT = st.integers(-(2**63), 2**63 - 1)
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), _FLOAT, _STR)
_KEYS = st.one_of(_STR, st.sampled_from(["id", "data", "hash", "seq", "type"]))
_HEX = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_RUN_IDS = st.sampled_from(["20260105-090000-aaaa", "20260105-100000-bbbb", "20260105-110000-cccc"])
_TZ = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)), None])


def _ref() -> st.SearchStrategy[ev.ArtifactRef]:
    return st.builds(ev.ArtifactRef, name=_STR, hash=_HEX, rows=st.none() | _INT)


def _payloads() -> st.SearchStrategy[ev.Model]:
    """A payload of every event type, optional fields both set and absent."""
    opt_str, opt_int = st.none() | _STR, st.none() | _INT
    return st.one_of(
        st.builds(
            ev.RunStartedData,
            pipeline=_STR,
            profile=_STR,
            params=st.dictionaries(_KEYS, _SCALAR, max_size=4),
            config_hash=_HEX,
            code_version=st.builds(ev.CodeVersion, git_sha=opt_str, dirty=st.booleans()),
            packages=st.dictionaries(_KEYS, _STR, max_size=3),
            inputs=st.lists(st.builds(ev.DataInput, name=_STR, sha256=_HEX, rows=_INT, format=_STR), max_size=2),
            seed=opt_int,
        ),
        st.builds(ev.StageStartedData, inputs=st.lists(_ref(), max_size=2)),
        st.builds(
            ev.StageCompletedData,
            rows_in=_INT,
            rows_out=_INT,
            duration_s=_FLOAT,
            outputs=st.lists(_ref(), max_size=2),
            changed=st.lists(_STR, max_size=3),
        ),
        st.builds(ev.StageFailedData, error_type=_STR, message=_STR, traceback_tail=opt_str),
        st.builds(
            ev.DataContractCheckedData,
            contract=_STR,
            tier=_INT,
            check=_STR,
            column=opt_str,
            status=st.sampled_from(["passed", "failed", "warned"]),
            severity=st.sampled_from(["error", "warning"]),
            failed=_INT,
            total=_INT,
            sample=st.lists(st.dictionaries(_KEYS, _SCALAR, max_size=3), max_size=3),
            action=st.sampled_from(["none", "dropped", "stopped", "reported"]),
            observed=st.none() | _FLOAT,
        ),
        st.builds(
            ev.RowsDroppedData,
            contract=_STR,
            check=_STR,
            reason=_STR,
            count=_INT,
            keys=st.none() | st.lists(st.builds(ev.RowKey, symbol=opt_str, date=opt_str), max_size=3),
            artifact=st.none() | _ref(),
        ),
        st.builds(
            ev.MetricLoggedData, key=_STR, value=_FLOAT, step=st.none() | st.integers(0, 2**64 - 1), asset=opt_str
        ),
        st.builds(
            ev.ArtifactWrittenData,
            name=_STR,
            hash=_HEX,
            format=st.sampled_from(["parquet", "json"]),
            rows=opt_int,
            bytes=_INT,
            path=_STR,
        ),
        st.builds(ev.RunTaggedData, key=_STR, value=_STR, reason=_STR, by=_STR),
        st.builds(
            ev.RunCompletedData,
            status=st.sampled_from(["succeeded", "failed", "preflight_failed", "postflight_failed"]),
            duration_s=_FLOAT,
            error=opt_str,
        ),
        st.builds(ev.LedgerRecoveredData, offset=_INT, length=_INT, sha256=_HEX, quarantine_path=_STR),
    )


@st.composite
def _event(draw: st.DrawFn) -> ev.Envelope:
    ts = datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(microseconds=draw(st.integers(0, 10**12)))
    ts = ts.astimezone(tz) if (tz := draw(_TZ)) else ts  # any zone: the writer records the same instant in UTC
    return ev.envelope(draw(_payloads()), run_id=draw(st.none() | _RUN_IDS), stage=draw(st.none() | _STR), ts=ts)


@st.composite
def _chunk(draw: st.DrawFn) -> list[ev.Envelope]:
    """A whole plausible run, or a few events of any type (keys and fields appearing late, in any order)."""
    if draw(st.booleans()):
        params: dict[str, Any] = draw(st.dictionaries(st.text(min_size=1, max_size=8), _SCALAR, max_size=4))
        return run_events(
            draw(_RUN_IDS),
            params=params,
            toxic=draw(st.integers(0, 2)),
            fail_stage=draw(st.sampled_from([None, None, "select"])),
            clock=Clock(),
        )
    return draw(st.lists(_event(), min_size=1, max_size=4))


def _one_start_per_run(events: list[ev.Envelope]) -> list[ev.Envelope]:
    """The events without any RunStarted that repeats a run id (the ledger refuses those)."""
    started: set[str | None] = set()
    kept = []
    for e in events:
        if isinstance(e, ev.RunStarted):
            if e.run_id in started:
                continue
            started.add(e.run_id)
        kept.append(e)
    return kept


def _tables(con: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {t.table: con.execute(f'SELECT * FROM ledger."{t.table}" ORDER BY seq').fetchall() for t in proj.TABLES}


def _snapshot(home: Path) -> str:
    """Every table's rows; repr tells -0.0 from 0.0 and a map's key order, which == would not."""
    con = proj.connect(home)
    try:
        return repr(_tables(con))
    finally:
        con.close()


def _to_v1(ledger: Path) -> None:
    """Rewrite StageFailed events as v1 (no traceback_tail) and re-chain: old versions must upcast the same on both paths."""
    prev, out = "0" * 64, b""
    for line in ledger.read_bytes().splitlines():
        obj = orjson.loads(line)
        del obj["hash"]
        if obj["type"] == "StageFailed":
            obj["v"] = 1
            obj["data"].pop("traceback_tail")
        obj["prev"] = prev
        body = canonical(obj)
        prev = hashlib.sha256(body).hexdigest()
        out += body[:-1] + b',"hash":"' + prev.encode() + b'"}\n'
    ledger.write_bytes(out)


def _cut(data: bytes, k: int) -> int:
    return sum(len(line) + 1 for line in data.splitlines()[:k])


#: LEDGERLINE_PROPERTY_EXAMPLES raises it for a soak; 12 keeps make test within its budget
@settings(
    max_examples=int(os.environ.get("LEDGERLINE_PROPERTY_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    chunks=st.lists(_chunk(), min_size=1, max_size=4),
    splits=st.lists(st.floats(0, 1), min_size=1, max_size=3),
    old=st.booleans(),
)
def test_catch_ups_from_any_cuts_equal_rebuild_and_as_of(
    chunks: list[list[ev.Envelope]], splits: list[float], old: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp, "full")
        write(full, _one_start_per_run([e for chunk in chunks for e in chunk]))
        if old:
            _to_v1(full / LEDGER_NAME)
        data = (full / LEDGER_NAME).read_bytes()
        total = data.count(b"\n")
        cuts = sorted({round(s * total) for s in splits})
        assert proj.rebuild(full) == total
        expected = _snapshot(full)

        home = Path(tmp, "resumed")
        home.mkdir()
        (home / LEDGER_NAME).write_bytes(data[: _cut(data, cuts[0])])
        assert proj.rebuild(home) == cuts[0]
        first = _snapshot(home)
        for k, nxt in zip(cuts, [*cuts[1:], total]):
            (home / LEDGER_NAME).write_bytes(data[: _cut(data, nxt)])
            assert proj.catch_up(home) == nxt - k
        assert _snapshot(home) == expected

        con = proj.as_of(full, cuts[0])
        try:
            assert repr(_tables(con)) == first
        finally:
            con.close()
