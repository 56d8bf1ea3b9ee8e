"""Helpers for the data-source and contract tests: small bar frames on real sessions, settings, ledger reading."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ledger import Ledger
from schemas.contracts import BAR_COLUMNS, BAR_SCHEMA
from schemas.settings import ContractSettings, Settings, SourceSettings
from stages.sources.sessions import sessions_from

START = date(2024, 1, 2)


def block(
    symbol: str, n: int = 30, *, start: date = START, price: float = 100.0, seed: int = 0, sector: str | None = "tech"
) -> pl.DataFrame:
    """n valid daily bars of one symbol on consecutive XNYS sessions (random walk, 1% daily vol)."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pl.DataFrame(
        {
            "date": sessions_from("XNYS", start, n),
            "symbol": [symbol] * n,
            "sector": [sector] * n,
            "open": close * 0.999,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": np.full(n, 1e5),
        },
        schema=BAR_SCHEMA,
    )


def market(*symbols: str, n: int = 30) -> pl.DataFrame:
    """Valid blocks for SPY plus the given symbols, concatenated."""
    return pl.concat([block(s, n, seed=i) for i, s in enumerate(("SPY", *symbols))])


def patch(df: pl.DataFrame, symbol: str, position: int, **values: Any) -> pl.DataFrame:
    """Set columns of the position-th row of symbol to values."""
    target = (pl.col("symbol") == symbol) & (pl.int_range(pl.len()).over("symbol") == position)
    return df.with_columns(
        [pl.when(target).then(pl.lit(v, dtype=BAR_SCHEMA[c])).otherwise(pl.col(c)).alias(c) for c, v in values.items()]
    )


def settings(*, contracts: dict[str, Any] | None = None, source: dict[str, Any] | None = None, **top: Any) -> Settings:
    """Settings with [contracts] and [source] overrides (min_symbols 1 so tiny markets pass)."""
    return Settings(
        contracts=ContractSettings(**{"min_symbols": 1, **(contracts or {})}),
        source=SourceSettings(**(source or {})),
        **top,
    )


def events(home: Path) -> list[Any]:
    """Every event in the home folder's ledger."""
    with Ledger.open(home) as ledger:
        return list(ledger.read())


def of_type(evts: list[Any], name: str) -> list[Any]:
    return [e for e in evts if e.type == name]


def write_dir(folder: Path, frames: dict[str, pl.DataFrame]) -> Path:
    """Write frames to folder as name.parquet / name.csv by the suffix of each name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        df.write_parquet(path) if name.endswith(".parquet") else df.write_csv(path)
    return folder


__all__ = ["BAR_COLUMNS", "START", "block", "events", "market", "of_type", "patch", "settings", "write_dir"]


def data_stages() -> list[Any]:
    """ingest, validate, audit as StageSpecs: the runner with only this helper's stages."""
    from stages.audit import audit
    from stages.ingest import ingest
    from stages.spec import StageSpec
    from stages.validate import validate

    return [
        StageSpec("ingest", ingest, reads=(), writes=("raw",)),
        StageSpec("validate", validate, reads=("raw",), writes=("clean", "drops")),
        StageSpec("audit", audit, reads=("clean", "drops"), writes=("clean", "drops")),
    ]


def completed(evts: list[Any]) -> Any:
    """The RunCompleted payload of the (single) run in evts."""
    (done,) = of_type(evts, "RunCompleted")
    return done.data
