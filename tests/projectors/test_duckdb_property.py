"""Property: for any ledger and split k, catch-up from k equals a full rebuild, and as_of(k) equals a rebuild of k events."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import LEDGER_NAME
from projectors import duckdb as proj
from schemas.events import Envelope, MetricLoggedData, RunTaggedData, envelope
from ledger_factory import Clock, run_events, write

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False), _TEXT)
_RUN_IDS = st.sampled_from(["20260105-090000-aaaa", "20260105-100000-bbbb", "20260105-110000-cccc"])


@st.composite
def _chunk(draw: st.DrawFn) -> list[Envelope]:
    run_id = draw(_RUN_IDS)
    kind = draw(st.sampled_from(["run", "metric", "tag"]))
    clock = Clock()
    if kind == "run":
        params: dict[str, Any] = draw(st.dictionaries(st.text(min_size=1, max_size=8), _SCALAR, max_size=4))
        return run_events(
            run_id,
            params=params,
            toxic=draw(st.integers(0, 2)),
            fail_stage=draw(st.sampled_from([None, None, "select"])),
            clock=clock,
        )
    if kind == "metric":
        data = MetricLoggedData(
            key=draw(_TEXT),
            value=draw(st.floats(allow_nan=False, allow_infinity=False)),
            step=draw(st.none() | st.integers(0, 10**12)),
            asset=draw(st.none() | _TEXT),
        )
        return [envelope(data, run_id=run_id, ts=clock.tick())]
    tag = RunTaggedData(key=draw(st.sampled_from(["candidate", "alias", "note"])), value=draw(_TEXT), reason=draw(_TEXT), by="user:x")
    return [envelope(tag, run_id=run_id, ts=clock.tick())]


def _tables(con: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {t.table: con.execute(f'SELECT * FROM ledger."{t.table}" ORDER BY seq').fetchall() for t in proj.TABLES}


def _snapshot(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = proj.connect(home)
    try:
        return _tables(con)
    finally:
        con.close()


def _first_lines(src: Path, dst: Path, k: int) -> bytes:
    """Copy the first k lines of src's ledger into dst; return the remaining bytes."""
    data = (src / LEDGER_NAME).read_bytes()
    cut = sum(len(line) + 1 for line in data.splitlines()[:k])
    dst.mkdir()
    (dst / LEDGER_NAME).write_bytes(data[:cut])
    return data[cut:]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(_chunk(), min_size=1, max_size=4), split=st.floats(0, 1))
def test_catch_up_from_any_split_equals_rebuild_and_as_of(chunks: list[list[Envelope]], split: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        full, prefix, resumed = Path(tmp, "full"), Path(tmp, "prefix"), Path(tmp, "resumed")
        write(full, [e for chunk in chunks for e in chunk])
        total = sum(len(c) for c in chunks)
        k = round(split * total)
        proj.rebuild(full)
        expected = _snapshot(full)

        rest = _first_lines(full, prefix, k)
        assert proj.rebuild(prefix) == k
        first_k = _snapshot(prefix)

        shutil.copytree(prefix, resumed)
        with open(resumed / LEDGER_NAME, "ab") as f:
            f.write(rest)
        assert proj.catch_up(resumed) == total - k
        assert _snapshot(resumed) == expected

        con = proj.as_of(full, k)
        try:
            assert _tables(con) == first_k
        finally:
            con.close()
