"""A small seeded clean frame (long: date, symbol, sector, OHLCV) for the analytics stage tests."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from schemas.settings import Settings, load_settings

SECTORS = ("tech", "energy", "health", None)


def business_days(start: date, count: int) -> list[date]:
    """The first count weekdays from start on."""
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def clean_frame(symbols: int = 12, sessions: int = 300, seed: int = 3, gaps: bool = True) -> pl.DataFrame:
    """Random-walk prices with per-symbol drift; with gaps, some rows are missing (late starts, holes)."""
    rng = np.random.default_rng(seed)
    days = business_days(date(2021, 1, 4), sessions)
    names = ["SPY", *(f"S{i:03d}" for i in range(symbols))]
    drift = rng.normal(0.0003, 0.0008, len(names))
    vol = rng.uniform(0.008, 0.03, len(names))
    logp = np.cumsum(drift + vol * rng.standard_normal((sessions, len(names))), axis=0)
    close = 50.0 * np.exp(logp)
    present = np.ones_like(close, dtype=bool)
    if gaps:
        present[: sessions // 5, 1] = False
        present[rng.integers(0, sessions, 6), 2] = False
        present[sessions - sessions // 10 :, 3] = False
    rows_t, rows_j = np.nonzero(present)
    c = close[rows_t, rows_j]
    return pl.DataFrame(
        {
            "date": pl.Series([days[t] for t in rows_t], dtype=pl.Date),
            "symbol": [names[j] for j in rows_j],
            "sector": pl.Series([None if j == 0 else SECTORS[j % len(SECTORS)] for j in rows_j], dtype=pl.String),
            "open": c,
            "high": c * 1.01,
            "low": c * 0.99,
            "close": c,
            "volume": np.full(c.size, 1e6),
        }
    )


def small_settings(**overrides: str) -> Settings:
    """Default settings (no predictability filter, no sector cap) with windows shrunk to a few hundred sessions, plus overrides."""
    base = {
        "features.vol_window": "10",
        "features.momentum_window": "20",
        "features.hurst_window": "64",
        "features.entropy_window": "32",
        "backtest.warmup": "64",
        "backtest.rebalance_every": "10",
        "selection.top_k": "4",
    }
    return load_settings("small", {**base, **overrides}, path=Path(os.devnull))
