"""The synthetic market: seeded OHLCV on real sessions with sectors, staggered genesis, regimes, fat tails and injectable toxicity."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import polars as pl

from schemas.settings import SourceSettings
from stages.sources.sessions import sessions_from

#: the defects the synthetic market can inject, each by a count of instances
TOXICITIES = (
    "extreme_return",
    "nonpositive_price",
    "null_mid_history",
    "duplicate_rows",
    "stale_run",
    "unadjusted_split",
    "stops_early",
)
SECTORS = (
    "communication", "consumer_discretionary", "consumer_staples", "energy", "financials", "health_care",
    "industrials", "information_technology", "materials", "real_estate", "utilities",
)  # fmt: skip
#: share of symbols that start after the first session, and how late (fraction of the history) they may start
LATE_SHARE, LATE_SPAN = 0.2, 0.1
SPIKE, STALE_SPAN, NULL_SPAN, STOP_EARLY = 8.0, 8, 3, 10


@dataclasses.dataclass
class Wide:
    """The market in the wide, symbol-major shape (symbols x sessions); NaN marks a null, `present` rows that exist."""

    dates: np.ndarray
    names: list[str]
    sectors: list[str | None]
    bars: dict[str, np.ndarray]
    present: np.ndarray
    genesis: np.ndarray
    duplicates: list[tuple[int, int]] = dataclasses.field(default_factory=list)


def generate(source: SourceSettings, seed: int) -> pl.DataFrame:
    """The synthetic market as a long bar frame, deterministic in (source settings, seed)."""
    rng = np.random.default_rng(seed)
    dates = sessions_from(source.calendar, date.fromisoformat(source.start), source.sessions).to_numpy()
    wide = _market(rng, dates, source.symbols, source.benchmark, source.toxicity.get("unadjusted_split", 0))
    _inject(rng, wide, source.toxicity)
    return melt(wide)


def _names(n: int, benchmark: str) -> list[str]:
    return [benchmark] + [f"S{i:04d}" for i in range(1, n + 1)]


def _regimes(rng: np.random.Generator, steps: int) -> np.ndarray:
    """A two-state Markov chain (0 calm, 1 stressed); the loop is over sessions only, never rows."""
    stay = np.array([0.985, 0.95])
    draws = rng.random(steps)
    out = np.zeros(steps, dtype=np.int64)
    for t in range(1, steps):
        out[t] = out[t - 1] if draws[t] < stay[out[t - 1]] else 1 - out[t - 1]
    return out


def _fat(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Fat-tailed unit-variance shocks: a normal scale mixture (1 in 20 draws 3x wider), clipped at 8 sigma.

    Clipping keeps every natural move far from the defects the contracts look for (a 500% day, a 2:1 split).
    """
    wide = rng.random(shape, dtype=np.float32) < 0.05
    norm = np.float32(np.sqrt(0.95 + 0.05 * 9.0))  # so that E[scale^2] = 1
    scale = np.where(wide, np.float32(3.0) / norm, np.float32(1.0) / norm)
    shocks: np.ndarray = np.clip(rng.standard_normal(shape, dtype=np.float32) * scale, -8.0, 8.0)
    return shocks


def _log_returns(rng: np.random.Generator, steps: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Daily log returns, benchmark first: beta to a regime-switching market, a sector factor, fat-tailed noise."""
    regime = _regimes(rng, steps)
    drift, vol = np.array([0.0004, -0.0008])[regime], np.array([0.008, 0.022])[regime]
    market = drift + vol * _fat(rng, (steps,))
    sector_of = rng.integers(0, len(SECTORS), size=n)
    sector_moves = (vol * 0.5) * rng.standard_normal((len(SECTORS), steps))
    beta = rng.uniform(0.6, 1.4, size=(n, 1))
    idio = rng.uniform(0.008, 0.025, size=(n, 1)) * (1.0 + regime)
    r = beta * market + sector_moves[sector_of] + idio * _fat(rng, (n, steps))
    return np.vstack([market, r]), sector_of


def _market(rng: np.random.Generator, dates: np.ndarray, n: int, benchmark: str, splits: int) -> Wide:
    steps = dates.shape[0]
    r, sector_of = _log_returns(rng, steps, n)
    r[:, 0] = 0.0
    _split_returns(rng, r, splits)
    close = rng.uniform(10.0, 300.0, size=(n + 1, 1)) * np.exp(np.cumsum(r, axis=1))
    open_ = close * np.exp(-0.006 * rng.standard_normal(close.shape, dtype=np.float32))
    wick = np.exp(np.abs(0.005 * rng.standard_normal((2, *close.shape), dtype=np.float32)))
    bars = {
        "open": open_,
        "high": np.maximum(open_, close) * wick[0],
        "low": np.minimum(open_, close) / wick[1],
        "close": close,
        "volume": np.round(np.exp(13.0 + 0.5 * rng.standard_normal(close.shape, dtype=np.float32))).astype(np.float64),
    }
    genesis = _genesis(rng, steps, n + 1)
    before = np.arange(steps)[None, :] < genesis[:, None]
    if before.any():
        for values in bars.values():
            values[before] = np.nan
    sectors = [None] + [SECTORS[s] for s in sector_of]
    present = np.ones(close.shape, dtype=bool)
    return Wide(dates, _names(n, benchmark), sectors, bars, present, genesis)


def _genesis(rng: np.random.Generator, steps: int, n: int) -> np.ndarray:
    late = rng.random(n) < LATE_SHARE
    late[0] = False  # the benchmark exists from the first session
    return np.where(late, rng.integers(1, max(2, int(steps * LATE_SPAN)), size=n), 0)


def _split_returns(rng: np.random.Generator, r: np.ndarray, count: int) -> None:
    """Unadjusted 2:1 splits: the close halves on the split day and the history before is left in old units."""
    n, steps = r.shape
    # splits go on the last symbols (never the benchmark) in the first sixth of the history
    for j in range(n - 1, max(0, n - 1 - count), -1):
        r[j, int(rng.integers(steps // 8, steps // 6))] = -np.log(2.0)


def _victims(rng: np.random.Generator, wide: Wide, count: int, used: set[int]) -> list[int]:
    """Distinct non-benchmark symbols not yet hit by another toxicity (reused only when none are left)."""
    n = len(wide.names)
    fresh = [j for j in rng.permutation(np.arange(1, n)).tolist() if j not in used]
    chosen = (fresh or list(range(1, n)))[:count]
    used.update(chosen)
    return chosen


def _inject(rng: np.random.Generator, wide: Wide, toxicity: dict[str, int]) -> None:
    steps = wide.dates.shape[0]
    n = len(wide.names)
    used = set(range(n - toxicity.get("unadjusted_split", 0), n))
    for kind in TOXICITIES:
        if kind == "unadjusted_split":
            continue
        for j in _victims(rng, wide, toxicity.get(kind, 0), used):
            t = int(rng.integers(max(int(wide.genesis[j]) + 2, steps // 4), max(steps // 4 + 1, 3 * steps // 4)))
            _INJECTORS[kind](wide, t, j)


def _spike(wide: Wide, t: int, j: int) -> None:
    for p in ("open", "high", "low", "close"):
        wide.bars[p][j, t] *= SPIKE


def _nonpositive(wide: Wide, t: int, j: int) -> None:
    wide.bars["close"][j, t] = -wide.bars["close"][j, t] if t % 2 else 0.0


def _nulls(wide: Wide, t: int, j: int) -> None:
    for values in wide.bars.values():
        values[j, t : t + NULL_SPAN] = np.nan


def _duplicate(wide: Wide, t: int, j: int) -> None:
    wide.duplicates.append((t, j))


def _stale(wide: Wide, t: int, j: int) -> None:
    span = slice(t + 1, t + 1 + STALE_SPAN)
    for p in ("open", "high", "low", "close"):
        wide.bars[p][j, span] = wide.bars["close"][j, t]
    wide.bars["volume"][j, span] = 0.0


def _stop_early(wide: Wide, t: int, j: int) -> None:
    wide.present[j, -STOP_EARLY:] = False


_INJECTORS = {
    "extreme_return": _spike,
    "nonpositive_price": _nonpositive,
    "null_mid_history": _nulls,
    "duplicate_rows": _duplicate,
    "stale_run": _stale,
    "stops_early": _stop_early,
}


def melt(wide: Wide) -> pl.DataFrame:
    """Wide -> long bars, symbol-major in name order (sorted, as validate likes it), absent rows left out, duplicates appended."""
    n, steps = wide.present.shape
    order = np.argsort(np.array(wide.names), kind="stable")
    keep = wide.present[order].ravel()
    everything = bool(keep.all())
    t_idx = np.tile(np.arange(steps), n)
    j_idx = np.repeat(order, steps)
    if not everything:
        t_idx, j_idx = t_idx[keep], j_idx[keep]
    dup_t = np.array([t for t, _ in wide.duplicates], dtype=np.int64)
    dup_j = np.array([j for _, j in wide.duplicates], dtype=np.int64)
    columns: dict[str, pl.Series] = {
        "date": pl.Series("date", wide.dates.astype("datetime64[D]"))
        .cast(pl.Date)
        .gather(np.concatenate([t_idx, dup_t])),
        "symbol": pl.Series("symbol", wide.names, dtype=pl.String).gather(np.concatenate([j_idx, dup_j])),
        "sector": pl.Series("sector", wide.sectors, dtype=pl.String).gather(np.concatenate([j_idx, dup_j])),
    }
    for name, values in wide.bars.items():
        flat = values[order].ravel()
        long = np.concatenate([flat if everything else flat[keep], values[dup_j, dup_t]])
        columns[name] = pl.Series(name, long, dtype=pl.Float64, nan_to_null=True)
    return pl.DataFrame(columns)
