"""A frame's content identity (the hash stages record and verify checks) and a panic-proof Parquet read.

Shared by the stages, which write artifacts, and by projectors/runs/artifacts.py, which checks them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator

import numpy as np
import orjson
import polars as pl

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


def parse_parquet(raw: bytes) -> pl.DataFrame | None:
    """The frame in raw, or None when polars cannot read it (its panic message kept off the terminal)."""
    try:
        with _quiet_stderr():
            return pl.read_parquet(io.BytesIO(raw))
    except Exception:
        return None
    except BaseException as exc:  # a Rust panic surfaces as pyo3's PanicException, a BaseException
        if type(exc).__name__ == "PanicException":
            return None
        raise


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send fd 2 to /dev/null for the duration (a Rust panic prints its backtrace there before raising)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
