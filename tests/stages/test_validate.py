"""Tier-1 contracts: each row check drops exactly the bad rows with its reason; schema-level failures stop the stage."""

from __future__ import annotations

import math

import polars as pl
import pytest

from schemas.contracts import DROPS_SCHEMA, TIER1, TIER1_REASONS
from schemas.events import DataContractCheckedData, RowsDroppedData, envelope
from schemas.frames import frame_hash
from stages.errors import ContractBreachError
from stages.validate import validate
from tests.support.contracts_kit import block, market, patch, settings


def run(df: pl.DataFrame, **contracts: object) -> tuple[pl.DataFrame, pl.DataFrame, list[object]]:
    result = validate(raw=df, settings=settings(contracts=contracts))
    return result.outputs["clean"], result.outputs["drops"], result.events


def reasons_of(drops: pl.DataFrame) -> dict[tuple[str, int], str]:
    return {(s, r): why for s, r, why in drops.select("symbol", "row", "reasons").iter_rows()}


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"close": -5.0}, "nonpositive_price"),
        ({"open": 0.0}, "nonpositive_price"),
        ({"low": float("nan")}, "nonfinite_price"),
        ({"high": float("inf")}, "nonfinite_price"),
        ({"volume": -1.0}, "negative_volume"),
        ({"volume": float("nan")}, "nonfinite_volume"),
        ({"high": 50.0, "low": 60.0}, "high_below_low"),
    ],
)
def test_each_row_check_drops_only_the_bad_row_with_its_reason(values: dict[str, float], reason: str) -> None:
    df = patch(market("AAA"), "AAA", 10, **values)
    clean, drops, _ = run(df)
    assert drops.height == 1
    assert drops.row(0, named=True)["symbol"] == "AAA"
    assert drops.row(0, named=True)["reasons"] == reason
    assert drops.row(0, named=True)["row"] == 30 + 10  # input position: SPY's 30 rows come first
    assert clean.height == df.height - 1


def test_extreme_return_drops_the_spike_not_its_neighbours() -> None:
    df = market("AAA")
    spiked = df.with_columns(
        pl.when((pl.col("symbol") == "AAA") & (pl.int_range(pl.len()).over("symbol") == 12))
        .then(pl.col(c) * 8.0).otherwise(pl.col(c)).alias(c) for c in ("open", "high", "low", "close")
    )  # fmt: skip
    clean, drops, events = run(spiked)
    assert drops.get_column("reasons").to_list() == ["extreme_return"]
    assert clean.height == df.height - 1
    check = next(e for e in events if isinstance(e, DataContractCheckedData) and e.check == "return_in_range")
    assert check.status == "failed" and check.failed == 1 and float(check.sample[0]["value"]) > 5  # type: ignore[arg-type]


def test_return_is_measured_against_the_previous_usable_close() -> None:
    """A zero close is dropped for its price only; the next row's return skips it instead of being infinite."""
    df = patch(market("AAA"), "AAA", 5, close=0.0)
    _, drops, _ = run(df)
    assert drops.get_column("reasons").to_list() == ["nonpositive_price"]


def test_first_row_of_a_symbol_has_no_return_and_passes() -> None:
    df = pl.concat([block("SPY", 3), block("NEW", 1, price=1e6)])
    clean, drops, _ = run(df)
    assert drops.height == 0 and clean.height == 4


def test_duplicate_keeps_the_first_copy_and_drops_later_ones() -> None:
    df = market("AAA")
    copy = df.filter(pl.col("symbol") == "AAA").slice(7, 1)
    raw = pl.concat([df, copy.with_columns(pl.col("volume") * 2), copy.with_columns(pl.col("volume") * 3)])
    clean, drops, _ = run(raw)
    assert drops.get_column("reasons").to_list() == ["duplicate_key", "duplicate_key"]
    assert drops.get_column("row").to_list() == [df.height, df.height + 1]  # the appended copies, not the original
    kept = clean.filter((pl.col("symbol") == "AAA") & (pl.col("date") == copy.item(0, "date")))
    assert kept.get_column("volume").to_list() == copy.get_column("volume").to_list()


def test_a_row_failing_several_checks_is_dropped_once_with_all_reasons() -> None:
    df = patch(market("AAA"), "AAA", 4, close=-1.0, volume=-3.0, open=float("nan"))
    clean, drops, events = run(df)
    assert drops.height == 1
    assert drops.item(0, "reasons") == "negative_volume;nonfinite_price;nonpositive_price"
    assert clean.height + drops.height == df.height
    dropped = [e for e in events if isinstance(e, RowsDroppedData)]
    assert sorted(e.reason for e in dropped) == ["negative_volume", "nonfinite_price", "nonpositive_price"]


def test_null_keys_are_dropped_and_null_prices_pass_tier1() -> None:
    df = patch(market("AAA"), "AAA", 3, close=None, open=None)
    df = pl.concat([df, block("BBB", 2).with_columns(pl.lit(None, dtype=pl.String).alias("symbol"))])
    clean, drops, _ = run(df)
    assert drops.get_column("reasons").to_list() == ["null_key", "null_key"]
    assert clean.filter(pl.col("close").is_null()).height == 1  # leading/mid nulls are tier 2's business


def test_clean_is_sorted_by_symbol_and_date_with_the_bar_columns() -> None:
    df = market("BBB", "AAA").sample(fraction=1.0, shuffle=True, seed=3)
    clean, _, _ = run(df)
    assert clean.columns == ["date", "symbol", "sector", "open", "high", "low", "close", "volume"]
    assert clean.equals(clean.sort("symbol", "date"))


def test_one_event_per_check_and_per_reason() -> None:
    df = patch(patch(market("AAA"), "AAA", 3, close=-1.0), "SPY", 9, volume=-1.0)
    _, drops, events = run(df)
    checks = [e for e in events if isinstance(e, DataContractCheckedData)]
    assert [e.check for e in checks] == ["columns_present", "dtypes", "not_empty", *TIER1_REASONS]
    assert {e.check: e.status for e in checks if e.status == "failed"} == {
        "positive_price": "failed",
        "nonnegative_volume": "failed",
    }
    assert all(e.contract == TIER1 and e.tier == 1 and e.total == df.height for e in checks)
    dropped = [e for e in events if isinstance(e, RowsDroppedData)]
    assert {(e.reason, e.count) for e in dropped} == {("nonpositive_price", 1), ("negative_volume", 1)}
    assert {(k.symbol, k.date) for e in dropped for k in e.keys or []} == {
        (s, d.isoformat()) for s, d in drops.select("symbol", "date").iter_rows()
    }


def test_many_drops_reference_the_drops_artifact_instead_of_inline_keys() -> None:
    df = market("AAA").with_columns(
        pl.when(pl.col("symbol") == "AAA").then(-1.0).otherwise(pl.col("volume")).alias("volume")
    )
    _, drops, events = run(df, inline_keys_max=5)
    (dropped,) = [e for e in events if isinstance(e, RowsDroppedData)]
    assert dropped.keys is None and dropped.count == 30
    assert dropped.artifact is not None
    assert dropped.artifact.hash == frame_hash(drops) and dropped.artifact.rows == drops.height


def test_samples_are_bounded_and_json_safe() -> None:
    df = market("AAA").with_columns(
        pl.when(pl.col("symbol") == "AAA").then(float("inf")).otherwise(pl.col("high")).alias("high")
    )
    _, _, events = run(df, sample_size=3)
    check = next(e for e in events if isinstance(e, DataContractCheckedData) and e.check == "finite_price")
    assert len(check.sample) == 3 and check.sample[0]["value"] == "inf"
    for e in events:
        envelope(e, run_id="20260101-000000-abcd").model_dump_json()  # non-finite floats would raise


def test_drops_frame_has_the_documented_schema() -> None:
    _, drops, _ = run(patch(market("AAA"), "AAA", 1, close=-1.0))
    assert drops.schema == pl.Schema(DROPS_SCHEMA)
    assert drops.row(0, named=True)["contract"] == TIER1 and drops.row(0, named=True)["tier"] == 1


@pytest.mark.parametrize(
    ("mutate", "check", "fragment"),
    [
        (lambda df: df.drop("close"), "columns_present", "close"),
        (lambda df: df.with_columns(pl.col("close").cast(pl.String)), "dtypes", "close"),
        (lambda df: df.with_columns(pl.col("date").cast(pl.String)), "dtypes", "date"),
        (lambda df: df.head(0), "not_empty", "no rows"),
    ],
)
def test_schema_level_failures_are_never_filtered(mutate, check: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ContractBreachError) as info:
        run(mutate(market("AAA")))
    assert info.value.contract == TIER1 and fragment in str(info.value)
    failed = [e for e in info.value.events if isinstance(e, DataContractCheckedData) and e.status == "failed"]
    assert [e.check for e in failed] == [check] and failed[0].action == "stopped"


def test_missing_column_and_wrong_dtype_are_reported_together() -> None:
    df = market("AAA").drop("volume").with_columns(pl.col("open").cast(pl.String))
    with pytest.raises(ContractBreachError) as info:
        run(df)
    failed = {e.check for e in info.value.events if e.status == "failed"}  # type: ignore[attr-defined]
    assert failed == {"columns_present", "dtypes"}
    assert "volume" in str(info.value) and "open" in str(info.value)


def test_sector_is_optional() -> None:
    clean, drops, _ = run(market("AAA").drop("sector"))
    assert drops.height == 0
    assert clean.schema["sector"] == pl.String and clean.get_column("sector").is_null().all()


def test_rows_dropped_value_counts_every_dropped_row() -> None:
    df = patch(patch(market("AAA"), "AAA", 3, close=-1.0), "AAA", 4, volume=math.nan)
    result = validate(raw=df, settings=settings())
    assert result.values == {"rows_dropped": 2}
