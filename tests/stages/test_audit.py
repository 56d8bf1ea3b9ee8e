"""Tier-2 contracts: genesis nulls, sessions, stale prices, unadjusted splits, early stops, and aggregate checks."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from schemas.contracts import BAR_SCHEMA, DROPS_SCHEMA, TIER2
from schemas.events import DataContractCheckedData, RowsDroppedData
from schemas.frames import frame_hash
from stages.audit import audit
from stages.validate import validate
from tests.support.contracts_kit import block, market, patch, settings


def run(df: pl.DataFrame, **contracts: object) -> tuple[pl.DataFrame, pl.DataFrame, list[object]]:
    s = settings(contracts=contracts)
    tier1 = validate(raw=df, settings=s)
    result = audit(clean=tier1.outputs["clean"], drops=tier1.outputs["drops"], settings=s)
    assert result.values == {"rows_dropped": result.outputs["drops"].height}
    return result.outputs["clean"], result.outputs["drops"], result.events


def tier2(drops: pl.DataFrame) -> pl.DataFrame:
    return drops.filter(pl.col("tier") == 2)


def check(events: list[object], name: str) -> DataContractCheckedData:
    return next(e for e in events if isinstance(e, DataContractCheckedData) and e.check == name)


def nulls(df: pl.DataFrame, symbol: str, positions: range) -> pl.DataFrame:
    for p in positions:
        df = patch(df, symbol, p, open=None, high=None, low=None, close=None, volume=None)
    return df


def test_leading_nulls_are_dropped_as_before_genesis_and_mid_nulls_as_null_after_genesis() -> None:
    df = nulls(nulls(market("AAA"), "AAA", range(0, 4)), "AAA", range(10, 12))
    clean, drops, events = run(df)
    by_reason = tier2(drops).group_by("reasons").len().sort("reasons")
    assert by_reason.rows() == [("before_genesis", 4), ("null_after_genesis", 2)]
    assert clean.null_count().select(pl.sum_horizontal(pl.all())).item() == 0
    assert check(events, "leading_nulls").failed == 4 and check(events, "nulls_after_genesis").failed == 2
    assert (check(events, "leading_nulls").status, check(events, "leading_nulls").severity) == ("warned", "warning")
    assert (check(events, "nulls_after_genesis").status, check(events, "nulls_after_genesis").severity) == (
        "failed",
        "error",
    )


def test_a_partly_null_row_after_genesis_is_dropped() -> None:
    clean, drops, _ = run(patch(market("AAA"), "AAA", 5, volume=None))
    assert tier2(drops).get_column("reasons").to_list() == ["null_after_genesis"]


def test_rows_on_non_sessions_are_dropped() -> None:
    df = market("AAA")
    saturday = df.filter(pl.col("symbol") == "AAA").head(1).with_columns(pl.lit(date(2024, 1, 6)).alias("date"))
    holiday = saturday.with_columns(pl.lit(date(2024, 1, 15)).alias("date"))  # Martin Luther King Jr. Day
    _, drops, _ = run(pl.concat([df, saturday, holiday]))
    assert tier2(drops).select("date", "reasons").rows() == [
        (date(2024, 1, 6), "not_a_session"),
        (date(2024, 1, 15), "not_a_session"),
    ]


def test_a_date_beyond_any_calendar_is_dropped_not_fatal() -> None:
    df = market("AAA")
    typo = df.filter(pl.col("symbol") == "AAA").tail(1).with_columns(pl.lit(date(2320, 1, 2)).alias("date"))
    clean, drops, _ = run(pl.concat([df, typo]), max_lag_sessions=10_000)
    assert tier2(drops).select("date", "reasons").rows() == [(date(2320, 1, 2), "not_a_session")]
    assert clean.height == df.height


def stale(df: pl.DataFrame, symbol: str, start: int, length: int) -> pl.DataFrame:
    price = df.filter(pl.col("symbol") == symbol).item(start, "close")
    for p in range(start + 1, start + 1 + length):
        df = patch(df, symbol, p, open=price, high=price, low=price, close=price, volume=0.0)
    return df


def test_stale_runs_of_at_least_k_sessions_are_dropped_shorter_ones_kept() -> None:
    df = stale(stale(market("AAA", "BBB"), "AAA", 5, 6), "BBB", 5, 3)
    _, drops, events = run(df, stale_run_sessions=4)
    got = tier2(drops)
    assert got.get_column("symbol").to_list() == ["AAA"] * 6
    assert set(got.get_column("reasons")) == {"stale_price"}
    assert check(events, "stale_price").failed == 6


def test_unchanged_close_with_volume_is_not_stale() -> None:
    df = market("AAA")
    price = df.filter(pl.col("symbol") == "AAA").item(5, "close")
    for p in range(6, 14):
        df = patch(df, "AAA", p, close=price, high=price * 1.01, low=price * 0.99, open=price)
    _, drops, _ = run(df, stale_run_sessions=3)
    assert tier2(drops).height == 0


def split(df: pl.DataFrame, symbol: str, at: int, ratio: float = 2.0) -> pl.DataFrame:
    position = pl.int_range(pl.len()).over("symbol")
    before = (pl.col("symbol") == symbol) & (position < at)
    return df.with_columns(
        [
            pl.when(before).then(pl.col(c) * ratio).otherwise(pl.col(c)).alias(c)
            for c in ("open", "high", "low", "close")
        ]
    )


@pytest.mark.parametrize("ratio", [2.0, 3.0])
def test_unadjusted_split_drops_the_pre_split_history_named_as_a_split(ratio: float) -> None:
    clean, drops, events = run(split(market("AAA"), "AAA", 8, ratio))
    got = tier2(drops)
    assert got.height == 8 and set(got.get_column("reasons")) == {"unadjusted_split"}
    assert drops.filter(pl.col("tier") == 1).height == 0  # not a generic outlier
    sample = check(events, "unadjusted_split").sample[0]
    assert abs(float(sample["value"]) * ratio - 1.0) < 0.05  # type: ignore[arg-type]
    assert clean.filter(pl.col("symbol") == "AAA").height == 22


def test_a_halving_far_off_the_split_ratios_is_not_a_split() -> None:
    _, drops, _ = run(split(market("AAA"), "AAA", 8, 1.6))
    assert drops.height == 0


def test_a_symbol_that_stops_early_is_dropped_whole() -> None:
    df = pl.concat([market("AAA"), block("LATE", 30).head(25)])
    clean, drops, events = run(df, max_lag_sessions=2)
    assert tier2(drops).group_by("symbol", "reasons").len().rows() == [("LATE", "stopped_early", 25)]
    assert "LATE" not in clean.get_column("symbol")


def test_a_symbol_outliving_the_benchmark_is_not_stopped_early() -> None:
    df = pl.concat([block("SPY", 30).head(20), block("AAA", 30, seed=1)])
    _, drops, _ = run(df, max_lag_sessions=2)
    assert drops.height == 0


def test_a_symbol_within_the_allowed_lag_is_kept() -> None:
    df = pl.concat([market("AAA"), block("LAGS", 30).head(28)])
    _, drops, _ = run(df, max_lag_sessions=2)
    assert drops.height == 0


def test_aggregate_checks_report_an_observed_value_and_drop_nothing() -> None:
    df = market("AAA", "BBB")
    gap = df.filter(~((pl.col("symbol") == "AAA") & (pl.col("date") == df.item(10, "date"))))
    clean, drops, events = run(gap, min_symbols=5)
    assert drops.height == 0 and clean.height == gap.height
    symbols = check(events, "min_symbols")
    assert (symbols.status, symbols.observed, symbols.action) == ("failed", 3.0, "reported")
    assert check(events, "benchmark_present").observed == 1.0
    missing = check(events, "missing_sessions")
    assert (missing.status, missing.observed, missing.failed) == ("warned", 1.0, 1)
    assert missing.sample == [{"symbol": "AAA", "missing": 1}]


def test_missing_benchmark_is_reported() -> None:
    df = pl.concat([block("AAA"), block("BBB")])
    _, _, events = run(df)
    assert check(events, "benchmark_present").status == "failed"


def test_drops_accumulate_tier1_and_tier2_and_events_reference_the_combined_frame() -> None:
    df = nulls(patch(market("AAA"), "AAA", 27, close=-1.0), "AAA", range(0, 24))
    _, drops, events = run(df, inline_keys_max=3)
    assert drops.schema == pl.Schema(DROPS_SCHEMA)
    assert drops.group_by("tier").len().sort("tier").rows() == [(1, 1), (2, 24)]
    dropped = [e for e in events if isinstance(e, RowsDroppedData)]
    assert [(e.contract, e.reason, e.count) for e in dropped] == [(TIER2, "before_genesis", 24)]
    assert dropped[0].artifact is not None and dropped[0].artifact.hash == frame_hash(drops)


def test_every_row_is_accounted_for_across_both_tiers() -> None:
    df = stale(nulls(split(market("AAA", "BBB"), "BBB", 6), "AAA", range(0, 3)), "AAA", 12, 6)
    df = pl.concat([df, df.tail(2), block("CUT", 30).head(10)])
    clean, drops, _ = run(df)
    assert clean.height + drops.height == df.height
    assert clean.schema == pl.Schema(BAR_SCHEMA)


def test_empty_after_tier1_still_reports() -> None:
    df = market().with_columns(pl.lit(-1.0).alias("close"))
    clean, drops, events = run(df)
    assert clean.height == 0 and drops.height == df.height
    assert check(events, "min_symbols").observed == 0.0
