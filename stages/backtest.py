"""The backtest stage: walk-forward, periodic rebalancing to the target weights, costs in bps of traded value, no look-ahead."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl

from schemas.settings import BacktestSettings, Settings
from stages.panel import Panel, forward_fill, panel_of
from stages.schedule import rebalance_sessions
from stages.spec import StageResult

PORTFOLIO_SCHEMA = pl.Schema(
    {
        "date": pl.Date(),
        "session": pl.Int64(),
        "gross_return": pl.Float64(),
        "net_return": pl.Float64(),
        "equity": pl.Float64(),
        "turnover": pl.Float64(),
        "cost": pl.Float64(),
        "exposure": pl.Float64(),
    }
)


@dataclasses.dataclass(frozen=True)
class Simulation:
    """Per-session arrays of a simulated portfolio, from its first rebalance session on."""

    sessions: np.ndarray
    gross: np.ndarray
    net: np.ndarray
    equity: np.ndarray
    turnover: np.ndarray
    cost: np.ndarray
    exposure: np.ndarray


def backtest(*, weights: pl.DataFrame, clean: pl.DataFrame, settings: Settings) -> StageResult:
    """Daily portfolio from the first rebalance session: date, session, gross/net return, equity, turnover, cost, exposure."""
    panel = panel_of(clean)
    calendar = panel.dates
    returns = simple_returns(panel.wide(clean.get_column("close")))
    targets = target_matrix(weights, panel)
    path = simulate(returns, targets, rebalance_sessions(calendar.len(), settings.backtest), settings.backtest)
    frame = pl.DataFrame(
        {
            "date": calendar.gather(path.sessions),
            "session": path.sessions,
            "gross_return": path.gross,
            "net_return": path.net,
            "equity": path.equity,
            "turnover": path.turnover,
            "cost": path.cost,
            "exposure": path.exposure,
        }
    ).cast(PORTFOLIO_SCHEMA)
    return StageResult(outputs={"portfolio": frame})


def simple_returns(close: np.ndarray) -> np.ndarray:
    """Close-to-close simple returns of a sessions x symbols matrix, prices carried over gaps; 0 where unknown."""
    filled = forward_fill(close)
    out = np.zeros_like(filled)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = filled[1:] / filled[:-1] - 1.0
    out[~np.isfinite(out)] = 0.0
    return out


def target_matrix(weights: pl.DataFrame, panel: Panel) -> np.ndarray:
    """Sessions x symbols target weights: the weights frame's rows placed on the calendar, 0 elsewhere."""
    known = weights.filter(
        pl.col("symbol").is_in(panel.symbols.implode()) & pl.col("date").is_in(panel.dates.implode())
    )
    out = np.zeros(panel.shape)
    rows = panel.dates.search_sorted(known.get_column("date")).to_numpy()
    cols = panel.symbols.search_sorted(known.get_column("symbol")).to_numpy()
    out[rows, cols] = known.get_column("weight").to_numpy()
    return out


def simulate(returns: np.ndarray, targets: np.ndarray, schedule: np.ndarray, cfg: BacktestSettings) -> Simulation:
    """Walk forward session by session: drift with the day's returns, then trade to target on rebalance sessions.

    At session t the holdings decided at the close of t-1 earn t's returns (the rest is cash at 0%);
    on a rebalance session the book is then traded at t's close to that session's targets (which were
    computed from data up to t), costing cost_bps of the traded value, charged in t's net return.
    """
    start = int(schedule[0]) if schedule.size else returns.shape[0]
    n = returns.shape[0] - start
    gross, turnover, exposure = np.zeros(n), np.zeros(n), np.zeros(n)
    rebalance = np.zeros(returns.shape[0], dtype=bool)
    rebalance[schedule] = True
    held = np.zeros(returns.shape[1])
    for i, t in enumerate(range(start, returns.shape[0])):
        value = held * (1.0 + returns[t])
        gross[i] = value.sum() - held.sum()
        held = value / (1.0 + gross[i]) if gross[i] > -1.0 else np.zeros_like(held)
        if rebalance[t]:
            turnover[i] = np.abs(targets[t] - held).sum()
            held = targets[t].copy()
        exposure[i] = held.sum()
    cost = turnover * cfg.cost_bps / 1e4
    net = (1.0 + gross) * (1.0 - cost) - 1.0
    sessions = np.arange(start, returns.shape[0], dtype=np.int64)
    return Simulation(sessions, gross, net, np.cumprod(1.0 + net), turnover, cost, exposure)
