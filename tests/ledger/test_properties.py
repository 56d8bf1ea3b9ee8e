"""Guarantee 8: any sequence of appends, reopenings and torn tails verifies; read(after=k) is exactly the suffix."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import Ledger
from schemas.events import Envelope, LedgerRecovered, MetricLogged, MetricLoggedData, RunTagged, RunTaggedData

RUN_ID = "20261122-000000-prop"

texts = st.text(max_size=40)
metric = st.builds(
    lambda key, value, step: MetricLogged(run_id=RUN_ID, data=MetricLoggedData(key=key, value=value, step=step)),
    texts,
    st.floats(allow_nan=False, allow_infinity=False),
    st.none() | st.integers(-(2**63), 2**63 - 1),
)
tagged = st.builds(
    lambda key, reason, stage: RunTagged(
        run_id=None, stage=stage, data=RunTaggedData(key=key, value="v", reason=reason, by="h")
    ),
    texts,
    texts,
    st.none() | texts,
)
op = st.one_of(
    st.tuples(st.just("append"), st.lists(metric | tagged, max_size=6)),
    st.tuples(st.just("reopen"), st.just([])),
    st.tuples(st.just("tear"), st.binary(min_size=1, max_size=30).filter(lambda b: b"\n" not in b)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, max_size=12), cut=st.integers(min_value=0))
def test_any_history_verifies_and_reads_suffixes(ops: list[tuple[str, object]], cut: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        expected: list[str] = []  # event ids in ledger order; "recovered" for LedgerRecovered
        ledger = Ledger.open(home)
        try:
            for kind, arg in ops:
                if kind == "append":
                    batch: list[Envelope] = arg  # type: ignore[assignment]
                    ledger.append(batch)
                    expected += [e.id for e in batch]
                elif kind == "reopen":
                    ledger.close()
                    ledger = Ledger.open(home)
                else:
                    with open(home / "audit.jsonl", "ab") as f:
                        f.write(arg)  # type: ignore[arg-type]
                    ledger.close()
                    ledger = Ledger.open(home)
                    expected.append("recovered")
                assert ledger.head()[0] == len(expected)
            assert ledger.verify(deep=True).ok
            events = list(ledger.read())
            got = ["recovered" if isinstance(e, LedgerRecovered) else e.id for e in events]
            assert got == expected
            after = cut % (len(expected) + 1)
            assert [e.hash for e in ledger.read(after=after)] == [e.hash for e in events[after:]]
        finally:
            ledger.close()


anything = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=5)
    | st.binary(max_size=3)
    | st.lists(st.integers(), max_size=2)
)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), kind=st.sampled_from([MetricLogged, RunTagged]))
def test_plain_fast_path_never_accepts_what_pydantic_refuses(data: st.DataObject, kind: type) -> None:
    from ledger.checks import SPECS

    spec = SPECS[kind]
    assert spec.plain_fields is not None
    values = data.draw(st.fixed_dictionaries({name: anything for name in spec.plain_fields}))
    if spec.plainly_valid(values):
        spec.data_validator.validate_python(values, strict=True)  # must not raise
    else:  # and it only falls back when there is something to look at
        assert any(
            type(v) not in spec.plain_fields[k] or v != v or v in (float("inf"), float("-inf"))
            for k, v in values.items()
        )
