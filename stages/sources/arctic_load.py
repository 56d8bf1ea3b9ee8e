"""Writing a folder of market files into an ArcticDB library (bin/load-arctic), through the ArcticDB source adapter.

Everything is checked before anything is written: the folder, every file, the URI, the snapshot name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import polars as pl

from schemas.errors import LedgerlineError
from schemas.settings import parse_arctic_uri
from stages.sources import arctic, directory


class ArcticLoadError(LedgerlineError, ValueError):
    """Raised when a folder cannot be loaded into ArcticDB as asked (no files, a file without symbol/date, a taken name)."""


@dataclasses.dataclass(frozen=True)
class Loaded:
    """What bin/load-arctic wrote: the store, the library, the symbols with their new versions, rows, the snapshot."""

    store: str
    library: str
    layout: str
    versions: dict[str, int]
    rows: int
    snapshot: str | None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def store_uri(uri: str, library: str) -> tuple[str, str]:
    """(the URI ArcticDB takes, the source URI to give bin/run-pipeline) from `lmdb:///PATH` or `arcticdb+lmdb:///PATH`."""
    full = uri if uri.startswith("arcticdb+") else f"arcticdb+{uri}"
    full += ("&" if "?" in full else "?") + f"library={library}"
    arctic_uri, _ = parse_arctic_uri(full)
    return arctic_uri, full


def read_folder(folder: Path) -> pl.DataFrame:
    """Every Parquet/CSV file of folder as one long bar frame (each must have symbol and date columns)."""
    files = directory.data_files(folder) if folder.exists() else []
    if not files:
        raise ArcticLoadError(f"{folder} holds no .parquet or .csv files")
    frames = []
    for path in files:
        try:
            df = directory.read_file(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise ArcticLoadError(f"{path} does not parse: {type(exc).__name__}") from exc
        missing = [c for c in ("symbol", "date") if c not in df.columns]
        if missing:
            raise ArcticLoadError(f"{path} has no {' or '.join(missing)} column")
        frames.append(df)
    return pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]


def _pandas(df: pl.DataFrame) -> Any:
    """A frame as pandas, dates as datetime64[ns] (what ArcticDB indexes and returns)."""
    dates = [c for c, t in df.schema.items() if t == pl.Date]
    return df.with_columns(pl.col(c).cast(pl.Datetime("ns")) for c in dates).to_pandas()


def load_folder(
    folder: Path,
    uri: str,
    library: str,
    *,
    snapshot: str | None = None,
    layout: Literal["symbol_per_ticker", "frame"] = "symbol_per_ticker",
    frame_symbol: str = "bars",
    progress: Callable[[str], None] = lambda line: None,
) -> Loaded:
    """Write folder's bars into library (one symbol per ticker, or one frame symbol), then snapshot it when asked."""
    arctic_uri, _ = store_uri(uri, library)
    bars = read_folder(folder)
    store = arctic.open_store(arctic_uri, incoming_bytes=int(bars.estimated_size()))
    lib = store.get_library(library, create_if_missing=True)
    if snapshot is not None and snapshot in lib.list_snapshots(load_metadata=False):
        raise ArcticLoadError(f"snapshot {snapshot} already exists in library {library}; choose another name")
    tickers = sorted(bars.get_column("symbol").drop_nulls().unique().to_list())
    versions: dict[str, int] = {}
    if layout == "frame":
        item = lib.write(frame_symbol, _pandas(bars), metadata={"symbols": tickers})
        versions[frame_symbol] = int(item.version)
    else:
        for n, ticker in enumerate(tickers, 1):
            rows = bars.filter(pl.col("symbol") == ticker).drop("symbol")
            versions[ticker] = int(lib.write(ticker, _pandas(rows)).version)
            if n % 100 == 0 or n == len(tickers):
                progress(f"  wrote {n}/{len(tickers)} symbols")
    if snapshot is not None:
        lib.snapshot(snapshot)
    return Loaded(arctic_uri.split("?")[0], library, layout, versions, bars.height, snapshot)
