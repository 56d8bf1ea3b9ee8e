"""Benchmark: the Hurst and entropy numba kernels against whole-array numpy and pandas rolling().apply on the same data."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.support

from stages import kernels  # noqa: E402
from tests.support import reference  # noqa: E402

HURST_WINDOW, MIN_CHUNK, ENTROPY_WINDOW, ORDER = 128, 8, 64, 3
GOAL_VS_PANDAS = 150.0
USAGE = """examples:
  .venv/bin/python bench/features.py            # 1,000 symbols x 2,520 sessions (pandas on 8 symbols, extrapolated)
  .venv/bin/python bench/features.py --quick    # 200 symbols x 2,520 sessions (pandas on 2 symbols, extrapolated)
"""


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """Best wall time of repeat calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def market(symbols: int, sessions: int) -> np.ndarray:
    """Seeded daily log returns with a few holes (sessions x symbols)."""
    rng = np.random.default_rng(1)
    r = 0.015 * rng.standard_normal((sessions, symbols))
    r[rng.integers(0, sessions, symbols // 10), rng.integers(0, symbols, symbols // 10)] = np.nan
    return r


def numba_run(kernel: Callable[..., None], x: np.ndarray, *args: object) -> np.ndarray:
    out = np.empty_like(x)
    kernel(x, *args, out)
    return out


def bench_kernel(name: str, x: np.ndarray, pandas_cols: int) -> dict[str, float]:
    """Seconds for numba (warm), numpy (all columns) and pandas (pandas_cols columns, scaled to all); checks agreement."""
    window, run_numba, column_numpy, per_window = _contenders(name, x)
    cold = timed(run_numba)
    warm = timed(run_numba, repeat=3)
    got = run_numba()
    numpy_s = timed(lambda: [column_numpy(x[:, j]) for j in range(x.shape[1])])
    np.testing.assert_allclose(
        np.column_stack([column_numpy(x[:, j]) for j in range(3)]), got[:, :3], rtol=1e-9, atol=1e-12
    )
    frame = pd.DataFrame(x[:, :pandas_cols])
    pandas_s = timed(lambda: frame.rolling(window).apply(per_window, raw=True)) * x.shape[1] / pandas_cols
    return {"cold": cold, "numba": warm, "numpy": numpy_s, "pandas": pandas_s}


def _contenders(
    name: str, x: np.ndarray
) -> tuple[int, Callable[[], np.ndarray], Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], float]]:
    """window, the numba call, the numpy per-column baseline and the pandas per-window function of one kernel."""
    if name == "hurst":
        sizes = kernels.hurst_sizes(HURST_WINDOW, MIN_CHUNK)
        return (
            HURST_WINDOW,
            lambda: numba_run(kernels.rolling_hurst, x, HURST_WINDOW, sizes),
            lambda c: reference.hurst_vectorized(c, HURST_WINDOW, sizes),
            lambda w: reference.hurst_rs_blocks(w, sizes),
        )
    return (
        ENTROPY_WINDOW,
        lambda: numba_run(kernels.rolling_permutation_entropy, x, ENTROPY_WINDOW, ORDER),
        lambda c: reference.entropy_vectorized(c, ENTROPY_WINDOW, ORDER),
        lambda w: reference.permutation_entropy_codes(w, ORDER),
    )


def report(name: str, symbols: int, sessions: int, pandas_cols: int, t: dict[str, float]) -> None:
    print(f"\n{name}: {symbols:,} symbols x {sessions:,} sessions, {numba.get_num_threads()} numba threads")
    print(
        f"  numba  (warm, best of 3)      {t['numba']:8.3f} s   1.0x   (first call incl. cache load/compile {t['cold']:.2f} s)"
    )
    print(f"  numpy  (sliding windows)      {t['numpy']:8.3f} s   numba is {t['numpy'] / t['numba']:7.1f}x faster")
    print(
        f"  pandas rolling().apply        {t['pandas']:8.3f} s   numba is {t['pandas'] / t['numba']:7.1f}x faster"
        f"   [EXTRAPOLATED from {pandas_cols} of {symbols} symbols]"
    )
    if name == "hurst":
        ok = t["pandas"] / t["numba"] >= GOAL_VS_PANDAS
        print(f"  goal: >= {GOAL_VS_PANDAS:.0f}x pandas for Hurst -> {'MET' if ok else 'NOT MET'}")


def main(argv: list[str] | None = None) -> int:
    """Run both kernels' benchmarks and print the figures with their baselines."""
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200 symbols, pandas on 2 of them")
    args = parser.parse_args(argv)
    symbols, sessions, pandas_cols = (200, 2520, 2) if args.quick else (1000, 2520, 8)
    x = market(symbols, sessions)
    print(
        f"numba cache: {numba.config.CACHE_DIR or '(beside the source)'}; NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'default')}"
    )
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start (other work inflates every wall time)"
    )
    for name in ("hurst", "entropy"):
        report(name, symbols, sessions, pandas_cols, bench_kernel(name, x, pandas_cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
