"""The market-data contracts: the long bar format, tier-1 Pandera schemas on polars, and the drop reasons."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandera.polars as pa
import polars as pl

from schemas.settings import ContractSettings

#: contract names as they appear in DataContractChecked / RowsDropped / ContractBreachError
TIER1 = "market_bars"
TIER2 = "market_semantics"
POSTFLIGHT = "consumer"

PRICES = ("open", "high", "low", "close")
BAR_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "symbol": pl.String(),
    "sector": pl.String(),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
}
BAR_COLUMNS = tuple(BAR_SCHEMA)
#: columns an input file must carry (sector is optional and becomes null)
REQUIRED_COLUMNS = tuple(c for c in BAR_COLUMNS if c != "sector")

#: helper columns tier 1 adds before the row checks: input position, later copy of a key, daily return
ROW, FIRST, DUP, USABLE, RET = "_row", "_first", "_dup", "_usable", "_ret"

#: one drops row per dropped input row
DROPS_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.Int64(),
    "symbol": pl.String(),
    "date": pl.Date(),
    "reasons": pl.String(),
    "contract": pl.String(),
    "tier": pl.Int64(),
}
REASON_SEPARATOR = ";"

# tier-1 row checks: check name -> drop reason
TIER1_REASONS: dict[str, str] = {
    "key_not_null": "null_key",
    "finite_price": "nonfinite_price",
    "positive_price": "nonpositive_price",
    "finite_volume": "nonfinite_volume",
    "nonnegative_volume": "negative_volume",
    "high_ge_low": "high_below_low",
    "return_in_range": "extreme_return",
    "unique_key": "duplicate_key",
}

# tier-2 row checks: check name -> drop reason
TIER2_REASONS: dict[str, str] = {
    "leading_nulls": "before_genesis",
    "nulls_after_genesis": "null_after_genesis",
    "trading_session": "not_a_session",
    "stale_price": "stale_price",
    "unadjusted_split": "unadjusted_split",
    "stops_early": "stopped_early",
}


def _finite(column: str) -> pl.Expr:
    return pl.col(column).is_finite()


def _positive(column: str) -> pl.Expr:
    return pl.col(column) > 0


def _nonnegative(column: str) -> pl.Expr:
    return pl.col(column) >= 0


def _not_null(column: str) -> pl.Expr:
    return pl.col(column).is_not_null()


def _high_ge_low(column: str) -> pl.Expr:
    # only judged when both are finite: a NaN or inf is finite_price's failure, not this one
    both = pl.col("high").is_finite() & pl.col("low").is_finite()
    return ~both | (pl.col("high") >= pl.col("low"))


def _return_in_range(contracts: ContractSettings) -> Callable[[str], pl.Expr]:
    return lambda column: pl.col(column).is_between(-1.0, contracts.max_abs_return)


@dataclasses.dataclass(frozen=True)
class RowCheck:
    """A tier-1 row check: `passes(column)` is True for a good row; null results pass (nulls are a tier-2 matter)."""

    name: str
    columns: tuple[str, ...]
    passes: Callable[[str], pl.Expr]

    def failing(self, column: str) -> pl.Expr:
        """True where the row fails this check on this column."""
        return ~self.passes(column).fill_null(True)


def row_checks(contracts: ContractSettings) -> tuple[RowCheck, ...]:
    """The tier-1 row checks, one source of truth for the fast path (tests cross-check it against a Pandera twin).

    The duplicate-key check is not here: pandera on polars flags every copy, we keep the first
    and implement that in stages.validate.
    """
    return (
        RowCheck("key_not_null", ("symbol", "date"), _not_null),
        RowCheck("finite_price", PRICES, _finite),
        RowCheck("positive_price", PRICES, _positive),
        RowCheck("finite_volume", ("volume",), _finite),
        RowCheck("nonnegative_volume", ("volume",), _nonnegative),
        RowCheck("high_ge_low", ("high",), _high_ge_low),
        RowCheck("return_in_range", (RET,), _return_in_range(contracts)),
    )


def any_failure(contracts: ContractSettings) -> pl.Expr:
    """True where a row fails at least one row check: the row checks fused into one cheap predicate per column.

    Equivalent to OR-ing every RowCheck.failing (the property tests hold the two together); is_between
    with open bounds rejects NaN (polars orders NaN above +inf), inf, zero and negatives at once. Once
    every price is finite or null, high_ge_low reduces to a plain `high < low`: a row where either is
    NaN or inf already fails finite_price.
    """
    price_ok = [pl.col(p).is_between(0.0, float("inf"), closed="none").fill_null(True) for p in PRICES]
    volume_ok = pl.col("volume").is_between(0.0, float("inf"), closed="left").fill_null(True)
    ret_ok = _return_in_range(contracts)(RET).fill_null(True)
    keyed = pl.col("symbol").is_not_null() & pl.col("date").is_not_null()
    return ~pl.all_horizontal(*price_ok, volume_ok, ret_ok, keyed) | (pl.col("high") < pl.col("low")).fill_null(False)


def structure_schema() -> pa.DataFrameSchema:
    """Tier 1, schema level: the bar columns and their dtypes (never filtered: a failure stops the stage)."""
    columns = {name: pa.Column(dtype, nullable=True, required=name != "sector") for name, dtype in BAR_SCHEMA.items()}
    return pa.DataFrameSchema(columns, name=TIER1)
