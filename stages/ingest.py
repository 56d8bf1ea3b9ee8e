"""The ingest stage: read the configured source into one long bar frame (columns normalised, nothing dropped)."""

from __future__ import annotations

import polars as pl

from schemas.contracts import BAR_COLUMNS, BAR_SCHEMA, PRICES, REQUIRED_COLUMNS, TIER1
from schemas.events import DataContractCheckedData, JsonScalar
from schemas.settings import Settings
from stages import droplog, sources
from stages.errors import ContractBreachError
from stages.spec import StageResult


def ingest(*, settings: Settings) -> StageResult:
    """raw: every input row of every source file, in the long bar format; nothing is filtered here."""
    loaded = sources.load(settings)
    frames = [normalise(name, df) for name, df in loaded]
    if not frames:
        raise _breach("input_present", "the source holds no data files", 0)
    raw = pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]
    warned = sector_absent([(name, df) for name, df in loaded if "sector" not in df.columns], raw.height)
    return StageResult(outputs={"raw": raw}, events=[warned] if warned else [])


#: what a missing sector means downstream (the sector cap in selection)
SECTOR_UNKNOWN = "no sector column: each of its symbols counts as its own sector in the sector cap"


def sector_absent(inputs: list[tuple[str, pl.DataFrame]], total: int) -> DataContractCheckedData | None:
    """A warned check naming the inputs without a sector column (None when every input has one)."""
    if not inputs:
        return None
    sample: list[dict[str, JsonScalar]] = [
        {
            "input": name,
            "symbols": df.get_column("symbol").n_unique() if "symbol" in df.columns else 0,
            "problem": SECTOR_UNKNOWN,
        }
        for name, df in inputs[:20]
    ]
    return DataContractCheckedData(
        contract=TIER1, tier=1, check="sector_present", column="sector", status="warned", severity="warning",
        failed=sum(df.height for _, df in inputs), total=total, sample=sample, action="reported",
    )  # fmt: skip


def normalise(name: str, df: pl.DataFrame) -> pl.DataFrame:
    """The bar columns in order: sector added (null) when absent, numeric columns widened to Float64, datetimes to dates.

    Anything that does not convert losslessly is left as it is, so validate reports the wrong dtype.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise _breach("columns_present", f"{name}: missing column(s) {', '.join(missing)}", df.height)
    if "sector" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias("sector"))
    return df.select([_convert(df.get_column(c)) for c in BAR_COLUMNS])


def _convert(series: pl.Series) -> pl.Expr:
    column, dtype = series.name, series.dtype
    target = BAR_SCHEMA[column]
    expr = pl.col(column)
    if dtype == target:
        return expr
    if series.null_count() == series.len():  # e.g. an all-empty CSV column, inferred as String
        return expr.cast(target)
    if column in (*PRICES, "volume") and dtype.is_numeric():
        return expr.cast(pl.Float64)
    if column == "date" and isinstance(dtype, pl.Datetime):
        return expr.dt.date()
    return expr


def _breach(check: str, message: str, total: int) -> ContractBreachError:
    return droplog.breach(TIER1, 1, check, message, total)
