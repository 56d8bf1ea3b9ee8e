"""Tier-1 contracts on 10M rows: our filter-and-log vs a hand-written polars filter (the floor) and pandera drop_invalid_rows."""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.pandas as pap
import pandera.polars as pa
import polars as pl

from schemas.contracts import BAR_SCHEMA, PRICES
from schemas.settings import Settings
from stages.validate import validate

GOAL_S = 0.3
BAD_SHARE = 0.001


def make_bars(rows: int, seed: int = 0) -> pl.DataFrame:
    """rows long bars (sorted by symbol, date) with ~0.1% bad rows: negative/NaN prices, negative volume, spikes, duplicates."""
    rng = np.random.default_rng(seed)
    sessions = 2500
    symbols = max(1, rows // sessions)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.01, (symbols, sessions)), axis=1)).ravel()[:rows]
    n = close.shape[0]
    bad = rng.random(n) < BAD_SHARE
    kind = rng.integers(0, 4, n)
    close = np.where(bad & (kind == 0), -close, close)
    close = np.where(bad & (kind == 1), np.nan, close)
    close = np.where(bad & (kind == 2), close * 9.0, close)
    volume = np.where(bad & (kind == 3), -1.0, 1e5)
    days = pl.date_range(pl.date(2000, 1, 3), pl.date(2000, 1, 3) + pl.duration(days=sessions - 1), eager=True)
    df = pl.DataFrame(
        {
            "date": days.gather(np.tile(np.arange(sessions), symbols)[:n]),
            "symbol": pl.Series([f"S{i:05d}" for i in range(symbols)]).gather(np.repeat(np.arange(symbols), sessions)[:n]),
            "sector": pl.repeat("tech", n, eager=True),
            "open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": volume,
        },
        schema=BAR_SCHEMA,
    )  # fmt: skip
    copies = df.gather(rng.choice(n, size=max(1, int(n * BAD_SHARE / 4)), replace=False))
    return pl.concat([df, copies]).sort("symbol", "date", maintain_order=True)  # duplicates beside their originals


def floor(df: pl.DataFrame) -> pl.DataFrame:
    """Hand-written polars on the sorted frame: the same row predicates as one filter, no accounting, no events."""
    ok = [pl.col(p).is_finite() & (pl.col(p) > 0) for p in PRICES]
    same = pl.col("symbol") == pl.col("symbol").shift(1)
    ret = pl.col("close") / pl.when(same).then(pl.col("close").shift(1)) - 1.0
    dup = same & (pl.col("date") == pl.col("date").shift(1))
    keep = pl.all_horizontal(
        *ok, pl.col("volume") >= 0, pl.col("high") >= pl.col("low"), ret.is_between(-1, 5).fill_null(True)
    )
    return df.filter(keep & ~dup.fill_null(False))


def pandera_schema_polars() -> pa.DataFrameSchema:
    price = [pa.Check.gt(0)]
    return pa.DataFrameSchema(
        {"date": pa.Column(pl.Date), "symbol": pa.Column(pl.String), **{p: pa.Column(pl.Float64, price, nullable=True) for p in PRICES},
         "volume": pa.Column(pl.Float64, pa.Check.ge(0), nullable=True)},
        unique=["symbol", "date"], drop_invalid_rows=True,
    )  # fmt: skip


def pandera_schema_pandas() -> pap.DataFrameSchema:
    price = [pap.Check.gt(0)]
    return pap.DataFrameSchema(
        {"date": pap.Column("datetime64[ns]"), "symbol": pap.Column(str), **{p: pap.Column(float, price, nullable=True) for p in PRICES},
         "volume": pap.Column(float, pap.Check.ge(0), nullable=True)},
        unique=["symbol", "date"], drop_invalid_rows=True,
    )  # fmt: skip


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, epilog="example: .venv/bin/python bench/contracts.py --quick")
    parser.add_argument("--quick", action="store_true", help="1M rows and one repeat instead of 10M and best of five")
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    repeats = 1 if args.quick else 5
    df = make_bars(rows)
    settings = Settings()
    result = validate(raw=df, settings=settings)
    kept, dropped = result.outputs["clean"].height, result.outputs["drops"].height
    assert kept + dropped == df.height
    print(
        f"tier 1 on {df.height:,} rows ({dropped:,} dropped), best of {repeats}; goal <= {GOAL_S} s for our filter-and-log"
    )
    ours = best_of(repeats, lambda: validate(raw=df, settings=settings))
    base = best_of(repeats, lambda: floor(df))
    pandera_pl = best_of(repeats, lambda: pandera_schema_polars().validate(df, lazy=True))
    table = [("hand-written polars filter (floor)", base), ("ours: filter and log, full accounting", ours),
             ("pandera polars drop_invalid_rows", pandera_pl)]  # fmt: skip
    if rows <= 2_000_000 or not args.quick:
        pdf = df.to_pandas()
        pdf["date"] = pd.to_datetime(pdf["date"])
        table.append(
            ("pandera pandas drop_invalid_rows", best_of(1, lambda: pandera_schema_pandas().validate(pdf, lazy=True)))
        )
    for name, seconds in table:
        print(f"  {name:<40} {seconds:8.3f} s   {seconds / base:6.1f}x floor   {seconds / ours:6.2f}x ours")
    if rows != 10_000_000:
        print(f"ours {ours:.3f} s on {rows:,} rows; the goal of {GOAL_S} s is for 10M rows (run without --quick)")
        return
    verdict = "meets" if ours <= GOAL_S else "MISSES"
    print(
        f"ours {ours:.3f} s {verdict} the goal of {GOAL_S} s ({ours / GOAL_S:.2f}x the goal; the floor is {base / GOAL_S:.2f}x)"
    )


if __name__ == "__main__":
    main()
