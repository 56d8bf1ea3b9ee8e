"""Filter and log: turn per-row check failures into the kept frame, the drops frame and their ledger events."""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from schemas.contracts import DROPS_SCHEMA, REASON_SEPARATOR, ROW
from schemas.events import ArtifactRef, DataContractCheckedData, JsonScalar, RowKey, RowsDroppedData
from schemas.frames import frame_hash
from schemas.settings import ContractSettings
from stages.errors import ContractBreachError

FAILURES_SCHEMA: dict[str, pl.DataType] = {
    "index": pl.Int64(),
    "symbol": pl.String(),
    "date": pl.Date(),
    "check": pl.String(),
    "column": pl.String(),
    "value": pl.String(),
}


def breach(contract: str, tier: int, check: str, message: str, total: int) -> ContractBreachError:
    """A schema-level failure: the ContractBreachError to raise, carrying its failed DataContractChecked."""
    event = DataContractCheckedData(
        contract=contract, tier=tier, check=check, status="failed", failed=total, total=total, action="stopped",
        sample=[{"message": message[:500]}],
    )  # fmt: skip
    return ContractBreachError(contract, message, events=[event])


def empty_failures() -> pl.DataFrame:
    """A failures frame with no rows."""
    return pl.DataFrame(schema=FAILURES_SCHEMA)


def failures(
    frame: pl.DataFrame, index: pl.Series, check: str, column: str | None, values: pl.Series | None = None
) -> pl.DataFrame:
    """Failure rows for one check: the row positions in frame, their keys, and the offending value as text."""
    n = index.len()
    index = index.cast(pl.Int64)
    if values is None and column in frame.columns:
        values = frame.get_column(column).gather(index)
    text = values.cast(pl.String) if values is not None else pl.repeat(None, n, eager=True, dtype=pl.String)
    return pl.DataFrame(
        {
            "index": index,
            "symbol": frame.get_column("symbol").gather(index),
            "date": frame.get_column("date").gather(index),
            "check": pl.repeat(check, n, eager=True, dtype=pl.String),
            "column": pl.repeat(column, n, eager=True, dtype=pl.String),
            "value": text.alias("value"),
        },
        schema=FAILURES_SCHEMA,
    )


def split(
    frame: pl.DataFrame,
    found: pl.DataFrame,
    reasons: dict[str, str],
    *,
    contract: str,
    tier: int,
    columns: Sequence[str],
    keep: pl.Series | None = None,
    input_rows: bool = True,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept rows of `columns`, drops): each failing row dropped once, with all its reasons sorted and ';'-joined.

    `keep`, when the caller already has it, is the mask of rows without a failure (it must agree with
    `found`); it saves rebuilding that mask from the failure positions. `input_rows=False` says frame's
    rows are not input rows (tier 2 checks the clean frame), so each drop's `row` is null.
    """
    if found.height == 0:
        return frame.select(columns), pl.DataFrame(schema=DROPS_SCHEMA)
    by_row = (
        found.lazy()
        .select("index", pl.col("check").replace_strict(reasons, return_dtype=pl.String).alias("reason"))
        .sort("index", "reason")
        .unique(maintain_order=True)
        .group_by("index", maintain_order=True)
        .agg(pl.col("reason").str.join(REASON_SEPARATOR).alias("reasons"))
        .collect()
    )
    index = by_row.get_column("index")
    if keep is None:
        keep = pl.Series(pl.repeat(True, frame.height, eager=True)).scatter(index, False)
    if not input_rows:
        rows: pl.Expr | pl.Series = pl.lit(None, dtype=pl.Int64)
    else:
        rows = frame.get_column(ROW).gather(index) if ROW in frame.columns else index  # sorted input: position = row
    drops = (
        frame.select("symbol", "date")
        .gather(index)
        .with_columns(
            rows.cast(pl.Int64).alias("row"),
            by_row.get_column("reasons"),
            contract=pl.lit(contract),
            tier=pl.lit(tier, dtype=pl.Int64),
        )
    )
    return frame.select(columns).filter(keep), drops.select(list(DROPS_SCHEMA)).cast(pl.Schema(DROPS_SCHEMA))


def check_events(
    found: pl.DataFrame,
    reasons: dict[str, str],
    total: int,
    contracts: ContractSettings,
    *,
    contract: str,
    tier: int,
    allowed: frozenset[str] = frozenset(),
) -> list[DataContractCheckedData]:
    """One DataContractChecked per check: passed or failed (warned for `allowed` checks), failed/total rows, a bounded sample."""
    events = []
    for check in reasons:
        mine = found.filter(pl.col("check") == check)
        failed = mine.get_column("index").n_unique()
        soft = check in allowed
        events.append(
            DataContractCheckedData(
                contract=contract,
                tier=tier,
                check=check,
                status=("warned" if soft else "failed") if failed else "passed",
                severity="warning" if soft else "error",
                failed=failed,
                total=total,
                sample=sample(mine, contracts.sample_size),
                action="dropped" if failed else "none",
            )  # fmt: skip
        )
    return events


def sample(found: pl.DataFrame, size: int) -> list[dict[str, JsonScalar]]:
    """The first `size` failures as JSON-safe dicts (dates ISO, non-finite numbers as text)."""
    rows = found.head(size).select("symbol", pl.col("date").cast(pl.String), "column", "value").iter_rows(named=True)
    return [{k: _json_safe(v) for k, v in row.items()} for row in rows]


def _json_safe(value: JsonScalar) -> JsonScalar:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def drop_events(
    found: pl.DataFrame, drops: pl.DataFrame, reasons: dict[str, str], contracts: ContractSettings, *, contract: str
) -> list[RowsDroppedData]:
    """One RowsDropped per reason: keys inline when few, else a ref to the drops artifact (the frame the stage returns)."""
    ref: ArtifactRef | None = None
    events = []
    for check, reason in reasons.items():
        keys = found.filter(pl.col("check") == check).unique("index", keep="first", maintain_order=True)
        if keys.height == 0:
            continue
        if keys.height <= contracts.inline_keys_max:
            inline = [
                RowKey(symbol=s, date=None if d is None else d.isoformat())
                for s, d in keys.select("symbol", "date").iter_rows()
            ]
            events.append(
                RowsDroppedData(contract=contract, check=check, reason=reason, count=keys.height, keys=inline)
            )
            continue
        ref = ref or ArtifactRef(name="drops", hash=frame_hash(drops), rows=drops.height)
        events.append(RowsDroppedData(contract=contract, check=check, reason=reason, count=keys.height, artifact=ref))
    return events
