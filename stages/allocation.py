"""The allocation stage: target weights of the selected assets at each rebalance date (equal or inverse volatility)."""

from __future__ import annotations

import polars as pl

from schemas.settings import AllocationSettings, Settings
from stages.spec import StageResult

WEIGHTS_SCHEMA = pl.Schema({"date": pl.Date(), "symbol": pl.String(), "weight": pl.Float64()})


def allocate(*, selection: pl.DataFrame, features: pl.DataFrame, settings: Settings) -> StageResult:
    """Target weights per rebalance date: date, symbol, weight (each date's weights sum to allocation.gross)."""
    cfg = settings.allocation
    vols = features.filter(pl.col("date").is_in(selection.get_column("date").unique().implode()))
    picked = selection.join(
        vols.select("date", "symbol", "volatility"), on=["date", "symbol"], how="left", maintain_order="left"
    )
    weighted = picked.with_columns(raw=raw_weight(cfg)).filter(pl.col("raw").is_finite() & (pl.col("raw") > 0))
    weights = weighted.with_columns(weight=pl.col("raw") / pl.col("raw").sum().over("date") * cfg.gross)
    out = weights.sort("date", "symbol").select(WEIGHTS_SCHEMA.names()).cast(WEIGHTS_SCHEMA)
    return StageResult(outputs={"weights": out})


def raw_weight(cfg: AllocationSettings) -> pl.Expr:
    """Unnormalised weight of one selected asset under the configured method."""
    if cfg.method == "inverse_vol":
        return (1.0 / pl.col("volatility")).fill_null(0.0)
    return pl.lit(1.0)
