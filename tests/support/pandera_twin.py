"""The tier-1 row checks as a Pandera polars schema: a test-only twin of the fast path in schemas.contracts.

The package validates with the fused polars predicates (`row_checks`, `any_failure`); the property
tests cross-check them against Pandera running the same expressions, through this schema.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.contracts import BAR_SCHEMA, PRICES, RET, TIER1, RowCheck, row_checks
from schemas.settings import ContractSettings


def _pandera_check(check: RowCheck) -> pa.Check:
    return pa.Check(lambda data: data.lazyframe.select(~check.failing(data.key)), name=check.name)


def row_schema(contracts: ContractSettings) -> pa.DataFrameSchema:
    """The tier-1 row checks as a Pandera polars schema (same expressions as the fast path; used to cross-check).

    key_not_null becomes Pandera's own `nullable=False` on symbol and date.
    """
    checks: dict[str, list[pa.Check]] = {}
    for check in row_checks(contracts):
        if check.name == "key_not_null":
            continue
        for column in check.columns:
            checks.setdefault(column, []).append(_pandera_check(check))
    keys = {name: pa.Column(BAR_SCHEMA[name], nullable=False) for name in ("date", "symbol")}
    values = {name: pa.Column(pl.Float64, nullable=True, checks=checks[name]) for name in (*PRICES, "volume", RET)}
    return pa.DataFrameSchema({**keys, **values}, name=TIER1)


def check_name(column: str | None, pandera_check: str) -> str:
    """Our check name for one pandera failure-case row (its column and check)."""
    if pandera_check == "not_nullable" and column in ("date", "symbol"):
        return "key_not_null"
    return pandera_check
