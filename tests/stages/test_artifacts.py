"""Content-addressed artifacts: frame hashes survive Parquet round trips and float noise, and nothing else."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from schemas.frames import frame_hash
from stages.artifacts import ArtifactStore


@pytest.fixture
def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [date(2024, 1, 2), date(2024, 1, 3), None],
            "ts": [datetime(2024, 1, 2, 9), None, datetime(2024, 1, 4, 16)],
            "symbol": ["AAA", None, "CCÇ"],
            "n": [1, None, 3],
            "flag": [True, False, None],
            "close": [101.25, float("nan"), None],
            "tags": [["a"], [], None],
        }
    )


def test_hash_survives_a_parquet_round_trip(tmp_path: Path, frame: pl.DataFrame) -> None:
    frame.write_parquet(tmp_path / "f.parquet")
    assert frame_hash(pl.read_parquet(tmp_path / "f.parquet")) == frame_hash(frame)


def test_float_noise_below_precision_is_ignored_but_real_changes_are_not(frame: pl.DataFrame) -> None:
    noisy = frame.with_columns(pl.col("close") * (1 + 1e-13))
    moved = frame.with_columns(pl.col("close") * (1 + 1e-6))
    assert frame_hash(noisy) == frame_hash(frame)
    assert frame_hash(moved) != frame_hash(frame)


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.rename({"close": "px"}),
        lambda f: f.with_columns(pl.col("n").cast(pl.Int32)),
        lambda f: f.with_columns(pl.col("symbol").fill_null("")),
        lambda f: f.with_columns(pl.col("n").fill_null(0)),
        lambda f: f.with_columns(pl.col("date").fill_null(date(1970, 1, 1))),
        lambda f: f.with_columns(pl.Series("symbol", ["AA", "A", "CCÇ"])),
        lambda f: f.reverse(),
        lambda f: f.head(2),
        lambda f: f.with_columns(pl.col("tags").fill_null([])),
        lambda f: f.with_columns(pl.col("close").fill_nan(0.0)),
    ],
)
def test_any_change_of_schema_values_nulls_or_order_changes_the_hash(frame: pl.DataFrame, change) -> None:  # type: ignore[no-untyped-def]
    assert frame_hash(change(frame)) != frame_hash(frame)


def test_store_writes_once_under_the_hash_and_reads_back(tmp_path: Path, frame: pl.DataFrame) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    ref, written = store.put_frame("prices", frame)
    again, _ = store.put_frame("prices", frame)
    assert ref == again and ref.hash == frame_hash(frame) and ref.rows == 3
    assert written.path == f"artifacts/{ref.hash}.parquet" and written.bytes > 0
    assert [p.name for p in (tmp_path / "artifacts").iterdir()] == [f"{ref.hash}.parquet"]
    assert store.get_frame(ref).equals(frame)


def test_json_artifacts_are_named_by_their_canonical_bytes(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    a, _ = store.put_json("report", {"b": 1, "a": [1, 2]})
    b, _ = store.put_json("report", {"a": [1, 2], "b": 1})
    assert a.hash == b.hash and store.get_json(a) == {"a": [1, 2], "b": 1}
