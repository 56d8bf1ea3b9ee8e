"""Market-data sources: the seeded synthetic market, a directory of Parquet/CSV files, ArcticDB libraries."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from schemas.contracts import TIER1
from schemas.events import DataInput
from schemas.settings import Settings
from stages import droplog
from stages.sources import directory, synthetic


def describe_inputs(settings: Settings, store: Any = None) -> list[DataInput]:
    """What RunStarted records about the data: each file's sha256 and rows, each ArcticDB library's symbol versions
    (a long list written to store as a JSON artifact), or the synthetic market's recipe hash."""
    source = settings.source
    if source.kind == "directory":
        return directory.describe(Path(source.path or "."))
    if source.kind == "arcticdb" and source.arctic is not None:
        from stages.sources import arctic

        return arctic.describe(source.arctic, store)
    recipe = orjson.dumps(
        {"source": source.model_dump(mode="json"), "seed": settings.seed}, option=orjson.OPT_SORT_KEYS
    )
    grid = (source.symbols + 1) * source.sessions
    return [
        DataInput(
            name=f"synthetic:seed={settings.seed}",
            sha256=hashlib.sha256(recipe).hexdigest(),
            rows=grid,
            format="synthetic",
        )
    ]


def _read(folder: Path, path: Path) -> pl.DataFrame:
    """One data file, or a named contract breach when it does not parse (a corrupt or truncated file)."""
    try:
        return directory.read_file(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        message = f"{directory.input_name(folder, path)} does not parse: {type(exc).__name__}: {exc}"
        raise droplog.breach(TIER1, 1, "readable", message, 0) from exc


Market = list[tuple[str, pl.DataFrame]]

#: market data already in memory, by inputs_key: a sweep's executor loads (or receives) it once for many points
_PRELOADED: ContextVar[Mapping[str, Market] | None] = ContextVar("preloaded_market", default=None)


def inputs_key(settings: Settings) -> str:
    """What the data a run reads is named by: the sha256 of its inputs' names and content hashes."""
    described = sorted((i.name, i.sha256) for i in describe_inputs(settings))
    return hashlib.sha256(orjson.dumps(described)).hexdigest()


@contextmanager
def preloaded(markets: Mapping[str, Market]) -> Iterator[None]:
    """Within the block, load() returns these frames for a run whose inputs_key is one of markets' keys."""
    token = _PRELOADED.set({**(_PRELOADED.get() or {}), **markets})
    try:
        yield
    finally:
        _PRELOADED.reset(token)


def load(settings: Settings) -> Market:
    """Read the data: (input name, frame) per input, as the source gives it (ingest normalises)."""
    markets = _PRELOADED.get()
    if markets and (found := markets.get(inputs_key(settings))) is not None:
        return list(found)
    source = settings.source
    if source.kind == "directory":
        folder = Path(source.path or ".")
        return [(directory.input_name(folder, p), _read(folder, p)) for p in directory.data_files(folder)]
    if source.kind == "arcticdb" and source.arctic is not None:
        from stages.sources import arctic

        return arctic.load(source.arctic)
    return [(f"synthetic:seed={settings.seed}", synthetic.generate(source, settings.seed))]
