"""Content-addressed artifacts: frames as Parquet and documents as JSON, named by their content hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import orjson
import polars as pl

from ledger import write_atomic
from schemas.events import ArtifactRef, ArtifactWrittenData

Format = Literal["parquet", "json"]

#: floats are hashed after rounding to this many significant digits: noise below it never changes a hash
HASH_SIGNIFICANT_DIGITS = 10


def frame_hash(df: pl.DataFrame) -> str:
    """Hash of a frame's schema and values, stable across Parquet round trips and float noise < 1e-10 relative."""
    h = hashlib.sha256()
    for name, dtype in df.schema.items():
        h.update(f"{name}:{dtype}\n".encode())
        for chunk in _column_bytes(df.get_column(name)):
            h.update(chunk)
    return h.hexdigest()


def _column_bytes(column: pl.Series) -> list[bytes]:
    """The bytes that stand for a column's values: numbers as raw machine values, strings with their lengths."""
    nulls = column.is_null().to_numpy().tobytes()
    dtype = column.dtype
    if dtype.is_float():
        values = column.cast(pl.Float64).fill_null(0.0).to_numpy()
        return [_round_significant(values).tobytes(), np.isnan(values).tobytes(), nulls]
    if dtype.is_integer() or dtype.is_temporal() or dtype == pl.Boolean:
        return [column.to_physical().fill_null(0).to_numpy().tobytes(), nulls]
    if dtype in (pl.String, pl.Categorical, pl.Enum):
        text = column.cast(pl.String).fill_null("")
        return [text.str.len_bytes().to_numpy().tobytes(), text.str.join("").item().encode(), nulls]
    return [orjson.dumps(column.to_list(), default=str, option=orjson.OPT_SORT_KEYS), nulls]


def _round_significant(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        finite = np.isfinite(values) & (values != 0)
        exponent = np.where(finite, np.floor(np.log10(np.abs(np.where(finite, values, 1.0)))), 0.0)
        scale = 10.0 ** (HASH_SIGNIFICANT_DIGITS - 1 - exponent)
        rounded = np.where(finite, np.round(values * scale) / scale, values)
    rounded = np.where(np.isnan(rounded), 0.0, rounded)
    return rounded + 0.0  # folds -0.0 into 0.0


class ArtifactStore:
    """artifacts/<sha256>.parquet|json under a home folder; written once, never modified."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str, fmt: Format) -> Path:
        """Where an artifact with this hash and format lives."""
        return self.root / f"{digest}.{fmt}"

    def put_frame(self, name: str, df: pl.DataFrame) -> tuple[ArtifactRef, ArtifactWrittenData]:
        """Write df once under its content hash; return its ref and the ArtifactWritten payload."""
        digest = frame_hash(df)
        path = self.path_for(digest, "parquet")
        if not path.exists():
            self._write_atomic(path, lambda f: df.write_parquet(f, statistics=False))
        ref = ArtifactRef(name=name, hash=digest, rows=df.height)
        return ref, self._written(name, digest, "parquet", df.height, path)

    def put_json(self, name: str, document: Any) -> tuple[ArtifactRef, ArtifactWrittenData]:
        """Write a JSON document once under the hash of its canonical bytes."""
        raw = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha256(raw).hexdigest()
        path = self.path_for(digest, "json")
        if not path.exists():
            self._write_atomic(path, lambda f: f.write(raw))
        return ArtifactRef(name=name, hash=digest), self._written(name, digest, "json", None, path)

    def get_frame(self, ref: ArtifactRef) -> pl.DataFrame:
        """Load the frame a ref points to."""
        return pl.read_parquet(self.path_for(ref.hash, "parquet"))

    def get_json(self, ref: ArtifactRef) -> Any:
        """Load the JSON document a ref points to."""
        return orjson.loads(self.path_for(ref.hash, "json").read_bytes())

    def _written(self, name: str, digest: str, fmt: Format, rows: int | None, path: Path) -> ArtifactWrittenData:
        return ArtifactWrittenData(
            name=name, hash=digest, format=fmt, rows=rows, bytes=path.stat().st_size,
            path=str(Path(self.root.name) / path.name),
        )

    def _write_atomic(self, path: Path, write: Callable[[BinaryIO], object]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomic(path, write)
