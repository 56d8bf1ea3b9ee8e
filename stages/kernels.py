"""Numba feature kernels on wide (sessions x symbols) float64 matrices, parallel over symbols, writing into preallocated outputs."""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from stages.numba_cache import cache_dir

# Conventions shared by every kernel (and mirrored exactly by tests/support/reference.py):
# - x[t, j] is session t of symbol j; NaN means "no observation".
# - A rolling value at session t uses the window values x[t - window + 1 : t + 1] (the session itself
#   and the ones before it, never later ones); it is NaN unless all of them are finite.
# - Outputs are preallocated by the caller (out, same shape as the input) and fully overwritten.


# The cache locator is chosen when a kernel is decorated, so the folder must be set before the
# decorators below run; setting numba's config (not os.environ) leaves the process env untouched.
if not numba.config.CACHE_DIR:  # type: ignore[attr-defined]  # NUMBA_CACHE_DIR, read by numba itself
    numba.config.CACHE_DIR = cache_dir()  # type: ignore[attr-defined]


@njit(parallel=True, cache=True)
def log_returns(close: np.ndarray, out: np.ndarray) -> None:
    """out[t, j] = log(close[t, j] / close[t-1, j]) when both prices are finite and > 0, else NaN."""
    sessions, symbols = close.shape
    for j in prange(symbols):
        out[0, j] = np.nan
        for t in range(1, sessions):
            a, b = close[t - 1, j], close[t, j]
            ok = np.isfinite(a) and np.isfinite(b) and a > 0.0 and b > 0.0
            out[t, j] = np.log(b / a) if ok else np.nan


@njit(parallel=True, cache=True)
def rolling_volatility(x: np.ndarray, window: int, out: np.ndarray) -> None:
    """Sample standard deviation (ddof=1, two-pass: mean, then squared deviations) of each window."""
    sessions, symbols = x.shape
    for j in prange(symbols):
        run = 0
        for t in range(sessions):
            run = run + 1 if np.isfinite(x[t, j]) else 0
            out[t, j] = np.nan
            if run >= window:
                mean = 0.0
                for i in range(t - window + 1, t + 1):
                    mean += x[i, j]
                mean /= window
                ss = 0.0
                for i in range(t - window + 1, t + 1):
                    ss += (x[i, j] - mean) ** 2
                out[t, j] = math.sqrt(ss / (window - 1))


@njit(parallel=True, cache=True)
def rolling_sum(x: np.ndarray, window: int, out: np.ndarray) -> None:
    """Sum of each window (on log returns: the window's log momentum), recomputed per window so it never drifts."""
    sessions, symbols = x.shape
    for j in prange(symbols):
        run = 0
        for t in range(sessions):
            run = run + 1 if np.isfinite(x[t, j]) else 0
            out[t, j] = np.nan
            if run >= window:
                s = 0.0
                for i in range(t - window + 1, t + 1):
                    s += x[i, j]
                out[t, j] = s


def hurst_sizes(window: int, min_chunk: int) -> np.ndarray:
    """Sub-window sizes of the R/S Hurst estimate: min_chunk * 2**k for every k with size <= window // 2."""
    sizes = []
    n = min_chunk
    while n <= window // 2:
        sizes.append(n)
        n *= 2
    return np.array(sizes, dtype=np.int64)


@njit(cache=True)
def hurst_rs(x: np.ndarray, sizes: np.ndarray) -> float:
    """Hurst exponent of x by rescaled range: slope of log(mean R/S) on log(n) over the sizes n (from hurst_sizes).

    For each size n, x's last k = len(x) // n blocks of n values (aligned to the end, so the most
    recent value is always used) each give R/S: with m the block mean, Z the cumulative sum of
    (x - m), R = max(Z) - min(Z) and S the population standard deviation (ddof=0). Blocks with
    S == 0 are skipped; a size with no usable block is skipped. The slope is the ordinary least
    squares slope of log(mean R/S) against log(n); NaN when fewer than two sizes are usable.
    """
    _check_doubling(sizes)
    ratios = _block_ratios(x, sizes)
    return _hurst_from_ratios(ratios, x.size - 1, x.size, sizes, np.empty(sizes.size), np.empty(sizes.size))


@njit(parallel=True, cache=True)
def rolling_hurst(x: np.ndarray, window: int, sizes: np.ndarray, out: np.ndarray) -> None:
    """hurst_rs of each window of x (see hurst_rs for the exact definition).

    A block's R/S depends only on the block, and the end-aligned blocks of the window ending at t
    end at t, t - n, t - 2n, ...: so each symbol's R/S is computed once per (size, block end) and
    every window averages the stored ratios, exactly as hurst_rs does for a single window.
    """
    _check_doubling(sizes)  # before the parallel loop, where an exception stays a plain ValueError
    sessions, symbols = x.shape
    for j in prange(symbols):
        col = np.ascontiguousarray(x[:, j])
        ratios = _block_ratios(col, sizes)
        lx, ly = np.empty(sizes.size), np.empty(sizes.size)
        run = 0
        for t in range(sessions):
            run = run + 1 if np.isfinite(col[t]) else 0
            out[t, j] = _hurst_from_ratios(ratios, t, window, sizes, lx, ly) if run >= window else np.nan


@njit(cache=True)
def _check_doubling(sizes: np.ndarray) -> None:
    for s in range(1, sizes.size):
        if sizes[s] != 2 * sizes[s - 1]:
            raise ValueError("hurst sizes must each double the previous one (use hurst_sizes)")


@njit(cache=True)
def _block_ratios(col: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """ratios[s, e] = R/S of the block of sizes[s] values ending at e (-1.0 if constant, NaN if it holds a NaN).

    Block sums double with the size (the sum of 2n values ending at e is the sum of the n ending at
    e - n plus the n ending at e), so only the smallest size is summed value by value; a block's sum
    depends only on its values, so a window's ratios are the same whether computed alone or in a column.
    """
    ratios = np.full((sizes.size, col.size), np.nan)
    sums = np.full(col.size, np.nan)
    for e in range(sizes[0] - 1, col.size):
        total = 0.0
        for i in range(e - sizes[0] + 1, e + 1):
            total += col[i]
        sums[e] = total
    for s in range(sizes.size):
        n = sizes[s]
        if s > 0:
            for e in range(col.size - 1, n - 2, -1):  # descending: sums[e - n // 2] still holds a half-size sum
                sums[e] = sums[e - n // 2] + sums[e]
        for e in range(n - 1, col.size):
            ratios[s, e] = _block_rs(col, e - n + 1, n, sums[e] / n)
    return ratios


@njit(cache=True)
def _block_rs(x: np.ndarray, a: int, n: int, mean: float) -> float:
    """R/S of the block x[a : a + n] with the given mean; -1.0 when the block is constant."""
    z, zmax, zmin, ss = 0.0, -np.inf, np.inf, 0.0
    for i in range(a, a + n):
        d = x[i] - mean
        z += d
        zmax = max(zmax, z)
        zmin = min(zmin, z)
        ss += d * d
    sd = math.sqrt(ss / n)
    return (zmax - zmin) / sd if sd > 0.0 else -1.0


@njit(cache=True)
def _hurst_from_ratios(
    ratios: np.ndarray, t: int, window: int, sizes: np.ndarray, lx: np.ndarray, ly: np.ndarray
) -> float:
    """The R/S slope of the window ending at t from stored block ratios; lx, ly are scratch of len(sizes)."""
    m = 0
    for s in range(sizes.size):
        n = sizes[s]
        k = window // n
        total, used = 0.0, 0
        for c in range(k):
            ratio = ratios[s, t - (k - 1 - c) * n]
            if ratio >= 0.0:
                total += ratio
                used += 1
        if used > 0:
            lx[m] = math.log(n)
            ly[m] = math.log(total / used)
            m += 1
    if m < 2:
        return np.nan
    return _ols_slope(lx[:m], ly[:m])


@njit(cache=True)
def _ols_slope(lx: np.ndarray, ly: np.ndarray) -> float:
    mx, my = lx.mean(), ly.mean()
    num, den = 0.0, 0.0
    for i in range(lx.size):
        num += (lx[i] - mx) * (ly[i] - my)
        den += (lx[i] - mx) ** 2
    return num / den


@njit(cache=True)
def ordinal_code(x: np.ndarray, start: int, order: int) -> int:
    """Index in [0, order!) of the ordinal pattern of x[start : start + order] (ties: earlier is smaller).

    The pattern is the rank vector (the inverse of the stable argsort); its index is the rank
    vector's Lehmer code, sum over a of #{b > a : rank[b] < rank[a]} * (order - 1 - a)!, a bijection
    onto 0 .. order! - 1. With ties ranked by position, rank[b] < rank[a] for b > a iff x[b] < x[a].
    """
    code = 0
    for a in range(order):
        smaller_after = 0
        for b in range(a + 1, order):
            if x[start + b] < x[start + a]:
                smaller_after += 1
        code = code * (order - a) + smaller_after
    return code


@njit(parallel=True, cache=True)
def rolling_permutation_entropy(x: np.ndarray, window: int, order: int, out: np.ndarray) -> None:
    """Normalised permutation entropy (delay 1) of each window: -sum p log p / log(order!) over its window - order + 1 patterns."""
    sessions, symbols = x.shape
    nbins = 1
    for k in range(2, order + 1):
        nbins *= k
    for j in prange(symbols):
        counts = np.zeros(nbins, dtype=np.int64)
        codes = np.full(sessions, -1, dtype=np.int64)
        run, live = 0, False
        for t in range(sessions):
            run = run + 1 if np.isfinite(x[t, j]) else 0
            if run >= order:
                codes[t] = ordinal_code(x[:, j], t - order + 1, order)
            out[t, j] = np.nan
            if run < window:
                live = False
                continue
            if live:
                counts[codes[t]] += 1
                counts[codes[t - window + order - 1]] -= 1
            else:
                counts[:] = 0
                for i in range(t - window + order, t + 1):
                    counts[codes[i]] += 1
                live = True
            out[t, j] = _normalised_entropy(counts, window - order + 1, nbins)


@njit(cache=True)
def _normalised_entropy(counts: np.ndarray, total: int, nbins: int) -> float:
    h = 0.0
    for b in range(nbins):
        if counts[b] > 0:
            p = counts[b] / total
            h -= p * math.log(p)
    return h / math.log(nbins)
