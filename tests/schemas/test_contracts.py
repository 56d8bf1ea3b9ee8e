"""The contract definitions: one source of truth for the fast path and the Pandera schemas, and the pitfalls they avoid."""

from __future__ import annotations

from datetime import date

import pandera.polars as pa
import polars as pl
import pytest

from schemas.contracts import (
    BAR_SCHEMA,
    RET,
    TIER1_REASONS,
    TIER2_REASONS,
    row_checks,
    structure_schema,
)
from schemas.settings import ContractSettings
from tests.support.pandera_twin import check_name, row_schema


def bars(**overrides: list[object]) -> pl.DataFrame:
    base: dict[str, list[object]] = {
        "date": [date(2024, 1, 2), date(2024, 1, 3)],
        "symbol": ["A", "B"],
        "sector": ["x", None],
        "open": [1.0, 2.0],
        "high": [1.5, 2.5],
        "low": [0.5, 1.5],
        "close": [1.0, 2.0],
        "volume": [10.0, 20.0],
        RET: [None, 0.1],
    }
    base.update(overrides)
    return pl.DataFrame(base, schema={**BAR_SCHEMA, RET: pl.Float64})


def test_every_check_has_exactly_one_reason_and_reasons_are_distinct() -> None:
    names = {c.name for c in row_checks(ContractSettings())} | {"unique_key"}
    assert names == set(TIER1_REASONS)
    reasons = [*TIER1_REASONS.values(), *TIER2_REASONS.values()]
    assert len(reasons) == len(set(reasons))


def test_structure_failures_have_no_row_index() -> None:
    with pytest.raises(pa.errors.SchemaErrors) as info:
        structure_schema().validate(bars().drop("close").with_columns(pl.col("open").cast(pl.String)), lazy=True)
    cases = info.value.failure_cases
    assert cases.get_column("index").is_null().all()
    assert set(cases.get_column("check")) == {"column_in_dataframe", "dtype('Float64')"}


def test_pandera_greater_than_lets_nan_through_which_is_why_finite_is_checked() -> None:
    nan = bars(close=[float("nan"), 2.0])
    assert pa.DataFrameSchema({"close": pa.Column(pl.Float64, pa.Check.gt(0), nullable=True)}).validate(nan).height == 2
    with pytest.raises(pa.errors.SchemaErrors) as info:
        row_schema(ContractSettings()).validate(nan, lazy=True)
    assert ("close", "finite_price") in set(info.value.failure_cases.select("column", "check").iter_rows())


def test_pandera_names_map_to_our_check_names() -> None:
    assert check_name("symbol", "not_nullable") == "key_not_null"
    assert check_name("close", "positive_price") == "positive_price"


def test_return_range_follows_the_setting() -> None:
    (check,) = [c for c in row_checks(ContractSettings(max_abs_return=2.0)) if c.name == "return_in_range"]
    df = pl.DataFrame({RET: [-1.0, 2.0, 2.5, -1.5, None]})
    assert df.select(check.failing(RET)).to_series().to_list() == [False, False, True, True, False]
