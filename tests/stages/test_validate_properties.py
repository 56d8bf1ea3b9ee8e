"""Property tests of tier 1: the accounting invariant, and agreement between the fast path and the Pandera schema."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import pandera.polars as pa
import polars as pl
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from schemas.contracts import BAR_SCHEMA, REASON_SEPARATOR, TIER1_REASONS, any_failure, row_checks
from schemas.events import RowsDroppedData
from stages.validate import prepare, row_failures, validate
from tests.support.contracts_kit import settings
from tests.support.pandera_twin import check_name, row_schema

SYMBOLS = st.sampled_from(["SPY", "AAA", "BBB", None])
DATES = st.sampled_from([date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5), None])
NASTY = st.one_of(
    st.none(),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 0.0, -1.0, 1e300, 5e-324]),
    st.floats(min_value=0.01, max_value=1000.0),
)
ROWS = st.lists(st.tuples(DATES, SYMBOLS, NASTY, NASTY, NASTY, NASTY, NASTY), min_size=1, max_size=40)
QUICK = hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def frame(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    columns = ["date", "symbol", "open", "high", "low", "close", "volume"]
    df = pl.DataFrame([dict(zip(columns, r)) for r in rows], schema={c: BAR_SCHEMA[c] for c in columns})
    return df.with_columns(pl.lit("tech").alias("sector"))


def keys(df: pl.DataFrame) -> Counter[tuple[object, object]]:
    return Counter(df.select("symbol", "date").iter_rows())


@QUICK
@given(ROWS)
def test_every_input_row_is_kept_or_dropped_once_with_its_reasons(rows: list[tuple[object, ...]]) -> None:
    raw = frame(rows)
    result = validate(raw=raw, settings=settings())
    clean, drops = result.outputs["clean"], result.outputs["drops"]
    assert clean.height + drops.height == raw.height
    assert drops.get_column("row").is_unique().all()
    assert keys(clean) + keys(drops) == keys(raw)
    reasons = [r for joined in drops.get_column("reasons") for r in joined.split(REASON_SEPARATOR)]
    assert all(r in TIER1_REASONS.values() for r in reasons) and all(drops.get_column("reasons").str.len_chars() > 0)
    logged = Counter({e.reason: e.count for e in result.events if isinstance(e, RowsDroppedData)})
    assert logged == Counter(reasons)
    assert clean.select("symbol", "date").is_unique().all()


@QUICK
@given(ROWS)
def test_clean_output_passes_tier1_again(rows: list[tuple[object, ...]]) -> None:
    """Idempotence (with the return check out of play: dropping a row changes its neighbour's return)."""
    loose = settings(contracts={"max_abs_return": 1e308})
    clean = validate(raw=frame(rows), settings=loose).outputs["clean"]
    if clean.height == 0:
        return
    assert validate(raw=clean, settings=loose).outputs["drops"].height == 0


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS)
def test_fast_path_finds_what_the_pandera_schema_finds(rows: list[tuple[object, ...]]) -> None:
    contracts = settings().contracts
    prepared = prepare(frame(rows))
    ours = row_failures(prepared, contracts).filter(pl.col("check") != "unique_key")
    try:
        row_schema(contracts).validate(prepared, lazy=True)
        theirs: set[tuple[int, str]] = set()
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        theirs = {(int(i), check_name(c, k)) for i, c, k in cases.select("index", "column", "check").iter_rows()}
    assert set(ours.select("index", "check").iter_rows()) == theirs


def reference_returns(prepared: pl.DataFrame) -> list[float | None]:
    """The return by definition, row by row: close over the last usable close of the same symbol."""
    out: list[float | None] = []
    last: dict[object, float] = {}
    for symbol, close, dup in prepared.select("symbol", "close", "_dup").iter_rows():
        usable = not dup and close is not None and math.isfinite(close) and close > 0
        out.append(close / last[symbol] - 1.0 if usable and symbol in last else None)
        if usable:
            last[symbol] = close
    return out


@QUICK
@given(ROWS)
def test_returns_match_the_definition(rows: list[tuple[object, ...]]) -> None:
    prepared = prepare(frame(rows))
    got = prepared.get_column("_ret").to_list()
    want = reference_returns(prepared)
    assert [g is None for g in got] == [w is None for w in want]
    assert all(
        g == w or math.isclose(g, w, rel_tol=1e-12) for g, w in zip(got, want) if g is not None and w is not None
    )


@QUICK
@given(ROWS)
def test_the_fused_detection_predicate_equals_the_checks_it_fuses(rows: list[tuple[object, ...]]) -> None:
    contracts = settings().contracts
    prepared = prepare(frame(rows))
    each = [c.failing(col) for c in row_checks(contracts) for col in c.columns]
    got = prepared.select(fused=any_failure(contracts), each=pl.any_horizontal(each))
    assert got.get_column("fused").to_list() == got.get_column("each").to_list()
