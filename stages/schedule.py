"""The rebalance schedule shared by selection and backtest: every n-th session from the warm-up session on."""

from __future__ import annotations

import numpy as np
import polars as pl

from schemas.settings import BacktestSettings


def rebalance_sessions(sessions: int, cfg: BacktestSettings) -> np.ndarray:
    """Session indices warmup, warmup + every, warmup + 2 * every, ... below sessions."""
    return np.arange(cfg.warmup, sessions, cfg.rebalance_every, dtype=np.int64)


def rebalance_dates(calendar: pl.Series, cfg: BacktestSettings) -> pl.Series:
    """The dates of the rebalance sessions of a sorted session calendar."""
    return calendar.gather(rebalance_sessions(calendar.len(), cfg))
