"""Ingest: every source row arrives in the long bar format; lossless conversions only; missing columns stop the run."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from schemas.contracts import BAR_SCHEMA, TIER1
from stages.errors import ContractBreachError
from stages.ingest import ingest, normalise
from tests.support.contracts_kit import block, settings, write_dir


def test_synthetic_ingest_returns_the_whole_market() -> None:
    s = settings(source={"symbols": 5, "sessions": 40})
    raw = ingest(settings=s).outputs["raw"]
    assert raw.schema == pl.Schema(BAR_SCHEMA) and raw.height == 6 * 40
    assert "SPY" in raw.get_column("symbol")


def test_directory_ingest_concatenates_every_file(tmp_path: Path) -> None:
    folder = write_dir(tmp_path, {"a.parquet": block("AAA", 5), "b.csv": block("BBB", 7)})
    raw = ingest(settings=settings(source={"kind": "directory", "path": str(folder)})).outputs["raw"]
    assert raw.schema == pl.Schema(BAR_SCHEMA)
    assert raw.group_by("symbol").len().sort("symbol").rows() == [("AAA", 5), ("BBB", 7)]


def test_normalise_widens_integers_adds_sector_and_truncates_datetimes() -> None:
    df = (
        block("AAA", 3)
        .drop("sector")
        .with_columns(
            pl.col("volume").cast(pl.Int64), pl.col("date").cast(pl.Datetime("us")), pl.col("close").cast(pl.Float32)
        )
    )
    out = normalise("x", df.select("volume", "date", "symbol", "open", "high", "low", "close"))
    assert out.schema == pl.Schema(BAR_SCHEMA)
    assert out.get_column("sector").is_null().all() and out.item(0, "date") == datetime(2024, 1, 2).date()


def test_all_empty_columns_take_the_bar_dtype(tmp_path: Path) -> None:
    empty = block("NEW", 3).with_columns(
        pl.lit(None, dtype=pl.Float64).alias(c) for c in ("open", "high", "low", "close", "volume")
    )
    folder = write_dir(tmp_path, {"a.csv": block("AAA", 3), "new.csv": empty})
    raw = ingest(settings=settings(source={"kind": "directory", "path": str(folder)})).outputs["raw"]
    assert raw.schema == pl.Schema(BAR_SCHEMA) and raw.height == 6


def test_normalise_leaves_lossy_columns_for_validate_to_reject() -> None:
    df = block("AAA", 3).with_columns(pl.col("close").cast(pl.String))
    assert normalise("x", df).schema["close"] == pl.String


def test_a_file_missing_a_column_is_a_contract_breach_naming_the_file(tmp_path: Path) -> None:
    folder = write_dir(tmp_path, {"good.parquet": block("AAA", 5), "bad.csv": block("BBB", 5).drop("close")})
    with pytest.raises(ContractBreachError) as info:
        ingest(settings=settings(source={"kind": "directory", "path": str(folder)}))
    assert info.value.contract == TIER1 and "bad.csv" in str(info.value) and "close" in str(info.value)
    (event,) = info.value.events
    assert event.status == "failed" and event.check == "columns_present"  # type: ignore[attr-defined]


def test_mixed_dtypes_across_files_survive_ingest_for_validate_to_judge(tmp_path: Path) -> None:
    text = block("BBB", 5).with_columns(pl.col("close").cast(pl.String).str.replace(r"^(\d)", "x$1", literal=False))
    folder = write_dir(tmp_path, {"a.parquet": block("AAA", 5), "b.parquet": text})
    raw = ingest(settings=settings(source={"kind": "directory", "path": str(folder)})).outputs["raw"]
    assert raw.height == 10 and raw.schema["close"] == pl.String


def test_a_corrupt_file_is_a_contract_breach_naming_the_file(tmp_path: Path) -> None:
    folder = write_dir(tmp_path, {"good.parquet": block("AAA", 5)})
    (folder / "torn.parquet").write_bytes(b"PAR1\x00\x01torn")
    with pytest.raises(ContractBreachError, match="torn.parquet does not parse") as info:
        ingest(settings=settings(source={"kind": "directory", "path": str(folder)}))
    assert [e.check for e in info.value.events] == ["readable"]  # type: ignore[attr-defined]
