"""The metrics stage: headline figures and the equity curve as MetricLogged events, per-asset figures as one artifact."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from schemas.events import MetricLoggedData, Model
from schemas.settings import Settings
from stages.backtest import target_matrix
from stages.panel import forward_fill, panel_of
from stages.schedule import rebalance_sessions
from stages.spec import StageResult

HEADLINE = ("cagr", "volatility", "sharpe", "sortino", "max_drawdown", "turnover", "hit_rate")


def report_metrics(
    *, portfolio: pl.DataFrame, weights: pl.DataFrame, clean: pl.DataFrame, settings: Settings
) -> StageResult:
    """Headline metrics (values + MetricLogged), the equity curve (key equity, step = session) and per-asset figures."""
    ppy = settings.backtest.periods_per_year
    headline = headline_metrics(portfolio, ppy)
    headline.update(_benchmark(clean, portfolio, settings.source.benchmark, ppy))
    headline = {k: v for k, v in headline.items() if math.isfinite(v)}  # events carry finite floats only
    events: list[Model] = [MetricLoggedData(key=k, value=v) for k, v in headline.items()]
    events += [
        MetricLoggedData(key="equity", value=float(e), step=int(s))
        for s, e in zip(portfolio.get_column("session").to_list(), portfolio.get_column("equity").to_list())
    ]
    per_asset = asset_metrics(weights, clean, settings)
    return StageResult(outputs={"asset_metrics": per_asset}, values={"headline": headline}, events=events)


def headline_metrics(portfolio: pl.DataFrame, periods_per_year: int) -> dict[str, float]:
    """CAGR, annualised volatility, Sharpe and Sortino (rf = 0), max drawdown, annual turnover, hit rate, costs."""
    net = portfolio.get_column("net_return").to_numpy()
    equity = portfolio.get_column("equity").to_numpy()
    if net.size < 2:
        return {}
    years = net.size / periods_per_year
    sd = float(np.std(net, ddof=1))
    downside = math.sqrt(float(np.mean(np.minimum(net, 0.0) ** 2)))
    scale = math.sqrt(periods_per_year)
    return {
        "cagr": float(equity[-1] ** (1.0 / years) - 1.0) if equity[-1] > 0 else -1.0,
        "volatility": sd * scale,
        "sharpe": float(np.mean(net)) / sd * scale if sd > 0 else math.nan,
        "sortino": float(np.mean(net)) / downside * scale if downside > 0 else math.nan,
        "max_drawdown": max_drawdown(equity),
        "turnover": float(portfolio.get_column("turnover").sum()) / years,
        "hit_rate": float(np.mean(net[1:] > 0.0)),
        "total_cost": float(portfolio.get_column("cost").sum()),
        "final_equity": float(equity[-1]),
        "sessions": float(net.size),
    }


def max_drawdown(equity: np.ndarray) -> float:
    """Largest fall from a running peak, as a positive fraction (the curve starts from 1.0)."""
    peaks = np.maximum.accumulate(np.concatenate([[1.0], equity]))
    return float(np.max(1.0 - np.concatenate([[1.0], equity]) / peaks))


def _benchmark(clean: pl.DataFrame, portfolio: pl.DataFrame, benchmark: str, ppy: int) -> dict[str, float]:
    """CAGR of the benchmark over the backtest's sessions (empty when it is absent)."""
    dates = portfolio.get_column("date")
    if dates.len() < 2:
        return {}
    prices = clean.filter((pl.col("symbol") == benchmark) & pl.col("date").is_between(dates.min(), dates.max())).sort(
        "date"
    )
    if prices.height < 2:
        return {}
    growth = prices.get_column("close")[-1] / prices.get_column("close")[0]
    return {"benchmark_cagr": float(growth ** (ppy / dates.len()) - 1.0) if growth > 0 else -1.0}


def asset_metrics(weights: pl.DataFrame, clean: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Per selected asset: times selected, mean weight, holding-period returns and hit rate, contribution (gross)."""
    panel = panel_of(clean)
    calendar = panel.dates
    schedule = rebalance_sessions(calendar.len(), settings.backtest)
    if schedule.size == 0:
        return _empty_assets()
    close = forward_fill(panel.wide(clean.get_column("close")))
    ends = np.append(schedule[1:], calendar.len() - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        period = close[ends] / close[schedule] - 1.0
    period[~np.isfinite(period)] = 0.0
    held = target_matrix(weights, panel)[schedule]
    chosen = held > 0
    count = chosen.sum(axis=0)
    keep = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = pl.DataFrame(
            {
                "symbol": panel.symbols.filter(pl.Series(keep)),
                "times_selected": count[keep].astype(np.int64),
                "mean_weight": (held.sum(axis=0) / count)[keep],
                "mean_period_return": (np.where(chosen, period, 0.0).sum(axis=0) / count)[keep],
                "hit_rate": ((chosen & (period > 0)).sum(axis=0) / count)[keep],
                "contribution": (held * period).sum(axis=0)[keep],
            }
        )
    sectors = clean.group_by("symbol").agg(pl.col("sector").drop_nulls().last())
    return frame.join(sectors, on="symbol", how="left", maintain_order="left").select(
        "symbol", "sector", *frame.columns[1:]
    )


def _empty_assets() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "symbol": pl.String,
            "sector": pl.String,
            "times_selected": pl.Int64,
            "mean_weight": pl.Float64,
            "mean_period_return": pl.Float64,
            "hit_rate": pl.Float64,
            "contribution": pl.Float64,
        }
    )
