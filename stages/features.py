"""The features stage: log returns, rolling volatility, momentum, Hurst (R/S) and permutation entropy per symbol and session."""

from __future__ import annotations

import numpy as np
import polars as pl

from schemas.settings import FeatureSettings, Settings
from stages.panel import panel_of
from stages.spec import StageResult


def compute_features(*, clean: pl.DataFrame, settings: Settings) -> StageResult:
    """Features of every clean row, in clean's row order: date, symbol, sector and the enabled features (null until warm)."""
    panel = panel_of(clean)
    matrices = feature_matrices(panel.wide(clean.get_column("close")), settings.features)
    columns = [pl.Series(name, panel.long(m)).fill_nan(None) for name, m in matrices.items()]
    features = clean.select("date", "symbol", "sector").with_columns(columns)
    return StageResult(outputs={"features": features})


def feature_matrices(close: np.ndarray, cfg: FeatureSettings) -> dict[str, np.ndarray]:
    """Every enabled feature as a sessions x symbols matrix, from a sessions x symbols close matrix."""
    from stages import kernels  # here, not at import: commands that only import the runner do not load numba

    close = np.ascontiguousarray(close, dtype=np.float64)
    returns = _run(kernels.log_returns, close)
    out = {
        "log_return": returns,
        "volatility": _run(kernels.rolling_volatility, returns, cfg.vol_window),
        "momentum": _run(kernels.rolling_sum, returns, cfg.momentum_window),
    }
    if cfg.hurst:
        sizes = kernels.hurst_sizes(cfg.hurst_window, cfg.hurst_min_chunk)
        out["hurst"] = _run(kernels.rolling_hurst, returns, cfg.hurst_window, sizes)
    if cfg.entropy:
        out["entropy"] = _run(kernels.rolling_permutation_entropy, returns, cfg.entropy_window, cfg.entropy_order)
    return out


def _run(kernel: object, x: np.ndarray, *args: object) -> np.ndarray:
    """Call a kernel with a freshly preallocated output of x's shape and return that output."""
    out = np.empty_like(x)
    kernel(x, *args, out)  # type: ignore[operator]
    return out
