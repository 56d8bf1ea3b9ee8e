"""The directory source: a folder of Parquet or CSV files (or one such file) in the long bar format, read as plain files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from schemas.events import DataInput

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_CHUNK = 1 << 20


def is_data_file(path: Path) -> bool:
    """True when path is a regular file with a Parquet or CSV suffix: a source on its own."""
    return path.suffix.lower() in SUFFIXES and path.is_file()


def input_name(source: Path, path: Path) -> str:
    """How RunStarted names one data file: its path under the source folder, or its file name for a file source."""
    return path.name if source == path else str(path.relative_to(source))


def data_files(folder: Path) -> list[Path]:
    """The Parquet and CSV files under folder (recursively, hidden entries such as .dvc skipped), sorted.

    A folder that is itself a Parquet or CSV file is its own single data file.
    """
    if is_data_file(folder):
        return [folder]
    found = [
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found)


def sha256_file(path: Path) -> str:
    """sha256 hex of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def row_count(path: Path) -> int:
    """Rows in one data file (Parquet metadata, or a lazy CSV count)."""
    if SUFFIXES[path.suffix.lower()] == "parquet":
        return int(pl.scan_parquet(path).select(pl.len()).collect().item())
    return int(pl.scan_csv(path).select(pl.len()).collect().item())


def describe(folder: Path) -> list[DataInput]:
    """One DataInput (relative name, sha256, rows, format, DVC version when tracked) per data file: what RunStarted records."""
    from stages.sources.dvc import version_of

    version = version_of(folder)
    return [
        DataInput(
            name=input_name(folder, p),
            sha256=sha256_file(p),
            rows=row_count(p),
            format=SUFFIXES[p.suffix.lower()],
            dvc=version,
        )
        for p in data_files(folder)
    ]


def read_file(path: Path) -> pl.DataFrame:
    """One data file as a frame; CSV dates are parsed when every value parses, else left as strings."""
    if SUFFIXES[path.suffix.lower()] == "parquet":
        return pl.read_parquet(path)
    return pl.read_csv(path, try_parse_dates=True, schema_overrides={"symbol": pl.String, "sector": pl.String})
