"""The selection stage: at each rebalance session, rank assets by an alpha score after predictability filters, top-k under a sector cap."""

from __future__ import annotations

import polars as pl

from schemas.settings import SelectionSettings, Settings
from stages.errors import FeatureMissingError
from stages.panel import session_calendar
from stages.schedule import rebalance_dates
from stages.spec import StageResult

SELECTION_SCHEMA = pl.Schema(
    {"date": pl.Date(), "symbol": pl.String(), "sector": pl.String(), "score": pl.Float64(), "rank": pl.Int64()}
)


def select_assets(*, features: pl.DataFrame, settings: Settings) -> StageResult:
    """Selected assets per rebalance date: date, symbol, sector, score and rank (1 = best)."""
    cfg = active_selection(settings)
    _require_columns(features, cfg)
    dates = rebalance_dates(session_calendar(features), settings.backtest)
    candidates = features.filter(pl.col("date").is_in(dates.implode()))
    if cfg.exclude_benchmark:
        candidates = candidates.filter(pl.col("symbol") != settings.source.benchmark)
    ranked = rank_candidates(candidates.with_columns(score=score_expr(cfg)).filter(_eligible(cfg)), cfg)
    return StageResult(outputs={"selection": ranked})


def active_selection(settings: Settings) -> SelectionSettings:
    """The selection settings with the filter of a feature switched off by its flag removed (the flag turns off its use too)."""
    return settings.selection.model_copy(
        update={
            "min_hurst": settings.selection.min_hurst if settings.features.hurst else None,
            "max_entropy": settings.selection.max_entropy if settings.features.entropy else None,
        }
    )


def score_expr(cfg: SelectionSettings) -> pl.Expr:
    """The alpha score: window log momentum, or momentum per unit of daily volatility."""
    if cfg.score == "momentum":
        return pl.col("momentum")
    return pl.col("momentum") / pl.col("volatility")


def _eligible(cfg: SelectionSettings) -> pl.Expr:
    rule = pl.col("score").is_not_null() & pl.col("score").is_finite()
    if cfg.min_hurst is not None:
        rule &= pl.col("hurst") >= cfg.min_hurst
    if cfg.max_entropy is not None:
        rule &= pl.col("entropy") <= cfg.max_entropy
    return rule.fill_null(False)


def rank_candidates(candidates: pl.DataFrame, cfg: SelectionSettings) -> pl.DataFrame:
    """Best score first (ties by symbol), at most max_per_sector per sector, top_k per date.

    A symbol without a sector (own data without a sector column) is its own sector: unknown is not one shared sector.
    """
    ordered = candidates.sort(["date", "score", "symbol"], descending=[False, True, False])
    if cfg.max_per_sector is not None:
        group = pl.coalesce(pl.col("sector"), pl.lit("\x00unknown:") + pl.col("symbol"))
        ordered = ordered.filter(pl.int_range(pl.len()).over("date", group) < cfg.max_per_sector)
    ranked = ordered.with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("date"))
    return ranked.filter(pl.col("rank") <= cfg.top_k).select(SELECTION_SCHEMA.names()).cast(SELECTION_SCHEMA)


def _require_columns(features: pl.DataFrame, cfg: SelectionSettings) -> None:
    needed = {"momentum", "volatility"}
    needed |= {"hurst"} if cfg.min_hurst is not None else set()
    needed |= {"entropy"} if cfg.max_entropy is not None else set()
    missing = sorted(needed - set(features.columns))
    if missing:
        raise FeatureMissingError(f"selection needs feature columns {missing}, absent from the features frame")
