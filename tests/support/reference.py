"""Plain numpy references of the numba kernels (same definitions, no numba), for tests and benchmarks."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

WindowFn = Callable[[np.ndarray], float]


def log_returns(close: np.ndarray) -> np.ndarray:
    """log(p_t / p_{t-1}) where both prices are finite and positive, else NaN; row 0 is NaN."""
    out = np.full(close.shape, np.nan)
    a, b = close[:-1], close[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
        out[1:] = np.where(ok, np.log(np.where(ok, b / np.where(ok, a, 1.0), 1.0)), np.nan)
    return out


def rolling(x: np.ndarray, window: int, fn: WindowFn) -> np.ndarray:
    """Apply fn to every fully finite window x[t-window+1 : t+1] of every column; NaN elsewhere."""
    out = np.full(x.shape, np.nan)
    for j in range(x.shape[1]):
        for t in range(window - 1, x.shape[0]):
            w = x[t - window + 1 : t + 1, j]
            if np.all(np.isfinite(w)):
                out[t, j] = fn(w)
    return out


def volatility(w: np.ndarray) -> float:
    """Sample standard deviation (ddof=1)."""
    return float(np.std(w, ddof=1))


def hurst_rs(x: np.ndarray, sizes: np.ndarray) -> float:
    """Rescaled-range Hurst exponent, the definition documented on stages.kernels.hurst_rs."""
    lx, ly = [], []
    for n in sizes:
        k = x.size // n
        blocks = x[x.size - k * n :].reshape(k, n)
        ratios = [r for r in (_rs(b) for b in blocks) if r is not None]
        if ratios:
            lx.append(math.log(n))
            ly.append(math.log(sum(ratios) / len(ratios)))
    if len(lx) < 2:
        return math.nan
    return float(np.polyfit(np.array(lx), np.array(ly), 1)[0])


def _rs(block: np.ndarray) -> float | None:
    d = block - block.mean()
    z = np.cumsum(d)
    sd = float(np.sqrt(np.mean(d * d)))
    return float(z.max() - z.min()) / sd if sd > 0 else None


def permutation_entropy(w: np.ndarray, order: int) -> float:
    """Normalised permutation entropy (delay 1, stable tie order) of one window."""
    patterns = Counter(tuple(np.argsort(w[i : i + order], kind="stable")) for i in range(w.size - order + 1))
    total = w.size - order + 1
    h = -sum((c / total) * math.log(c / total) for c in patterns.values())
    return h / math.log(math.factorial(order))


def hurst_rs_blocks(x: np.ndarray, sizes: np.ndarray) -> float:
    """hurst_rs of one window, vectorised over the blocks of each size: what a pandas rolling().apply user would write."""
    lx, ly = [], []
    for n in sizes:
        k = x.size // n
        blocks = x[x.size - k * n :].reshape(k, n)
        d = blocks - blocks.mean(axis=1, keepdims=True)
        z = np.cumsum(d, axis=1)
        sd = np.sqrt((d * d).mean(axis=1))
        ok = sd > 0
        if ok.any():
            lx.append(math.log(n))
            ly.append(math.log(float(np.mean((z.max(axis=1) - z.min(axis=1))[ok] / sd[ok]))))
    if len(lx) < 2:
        return math.nan
    ax, ay = np.array(lx) - np.mean(lx), np.array(ly) - np.mean(ly)
    return float(
        (ax * ay).sum() / (ax * ax).sum()
    )  # closed-form OLS slope: np.polyfit would triple the per-window cost


def permutation_entropy_codes(w: np.ndarray, order: int) -> float:
    """permutation_entropy of one window via numpy pattern codes: what a pandas rolling().apply user would write."""
    patterns = np.argsort(sliding_window_view(w, order), axis=1, kind="stable")
    counts = np.unique(patterns @ (order ** np.arange(order)), return_counts=True)[1]
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / math.log(math.factorial(order)))


def hurst_vectorized(x: np.ndarray, window: int, sizes: np.ndarray) -> np.ndarray:
    """Rolling Hurst of one column with whole-array numpy (sliding windows): the fair numpy baseline.

    Same definition as hurst_rs, except that a size whose blocks are all constant gives NaN instead of being skipped.
    """
    out = np.full(x.shape, np.nan)
    if x.size < window:
        return out
    views = sliding_window_view(x, window)
    lx, ly = [], []
    for n in sizes:
        k = window // n
        blocks = views[:, window - k * n :].reshape(views.shape[0], k, n)
        d = blocks - blocks.mean(axis=2, keepdims=True)
        z = np.cumsum(d, axis=2)
        sd = np.sqrt(np.mean(d * d, axis=2))
        ok = sd > 0
        rs = np.where(ok, (z.max(axis=2) - z.min(axis=2)) / np.where(ok, sd, 1.0), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ly.append(np.log(rs.sum(axis=1) / ok.sum(axis=1)))
        lx.append(math.log(n))
    lxa, lya = np.array(lx), np.vstack(ly)
    slope = ((lxa - lxa.mean())[:, None] * (lya - lya.mean(axis=0))).sum(axis=0) / ((lxa - lxa.mean()) ** 2).sum()
    finite = np.all(np.isfinite(views), axis=1)
    out[window - 1 :] = np.where(finite, slope, np.nan)
    return out


def entropy_vectorized(x: np.ndarray, window: int, order: int) -> np.ndarray:
    """Rolling permutation entropy of one column with whole-array numpy (one-hot pattern counts): the numpy baseline."""
    out = np.full(x.shape, np.nan)
    if x.size < window:
        return out
    patterns = np.argsort(sliding_window_view(x, order), axis=1, kind="stable")
    codes = np.unique(patterns, axis=0, return_inverse=True)[1].reshape(-1)
    onehot = np.zeros((codes.size + 1, math.factorial(order)))
    onehot[np.arange(1, codes.size + 1), codes] = 1.0
    cum = np.cumsum(onehot, axis=0)
    per = window - order + 1
    counts = cum[per:] - cum[:-per]
    p = counts / per
    with np.errstate(invalid="ignore", divide="ignore"):
        h = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1) / math.log(math.factorial(order))
    finite = np.all(np.isfinite(sliding_window_view(x, window)), axis=1)
    out[window - 1 :] = np.where(finite, h, np.nan)
    return out
