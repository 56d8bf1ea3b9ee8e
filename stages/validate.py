"""The validate stage: tier-1 structural contracts, filter and log (every input row kept or dropped with all its reasons)."""

from __future__ import annotations

import polars as pl
import pandera.polars as pa

from schemas.contracts import RET, ROW, TIER1, TIER1_REASONS, BAR_COLUMNS, row_checks, structure_schema
from schemas.events import DataContractCheckedData, JsonScalar
from schemas.settings import ContractSettings, Settings
from stages import droplog
from stages.errors import ContractBreachError
from stages.spec import StageResult

_STRUCTURE_CHECKS = {"column_in_dataframe": "columns_present"}


def validate(*, raw: pl.DataFrame, settings: Settings) -> StageResult:
    """clean: rows passing every tier-1 check, sorted by (symbol, date); drops: one row per dropped input row."""
    contracts = settings.contracts
    structure = check_structure(raw, contracts)
    frame = prepare(raw)
    failures = row_failures(frame, contracts)
    kept, drops = droplog.split(frame, failures, TIER1_REASONS, contract=TIER1, tier=1)
    checks = droplog.check_events(failures, TIER1_REASONS, frame.height, contracts, contract=TIER1, tier=1)
    dropped = droplog.drop_events(failures, drops, TIER1_REASONS, contracts, contract=TIER1)
    return StageResult(
        outputs={"clean": kept.select(BAR_COLUMNS), "drops": drops},
        values={"rows_dropped": drops.height},
        events=[*structure, *checks, *dropped],
    )


def check_structure(raw: pl.DataFrame, contracts: ContractSettings) -> list[DataContractCheckedData]:
    """Columns, dtypes and non-emptiness via Pandera; any failure raises ContractBreachError (never filtered)."""
    problems: dict[str, list[dict[str, JsonScalar]]] = {"columns_present": [], "dtypes": [], "not_empty": []}
    try:
        structure_schema().validate(raw, lazy=True)
    except pa.errors.SchemaErrors as exc:
        for case in exc.failure_cases.iter_rows(named=True):
            check = _STRUCTURE_CHECKS.get(case["check"], "dtypes")
            column = case["failure_case"] if check == "columns_present" else case["column"]
            problems[check].append({"column": column, "check": case["check"], "found": case["failure_case"]})
    if raw.height == 0 and not problems["columns_present"]:
        problems["not_empty"].append({"rows": 0})
    events = [_structure_event(check, found, raw.height, contracts) for check, found in problems.items()]
    failed = [e for e in events if e.status == "failed"]
    if failed:
        message = "; ".join(f"{e.check}: " + ", ".join(str(s.get("column", "no rows")) for s in e.sample) for e in failed)
        raise ContractBreachError(TIER1, message, events=events)
    return events


def _structure_event(check: str, found: list[dict[str, JsonScalar]], total: int, contracts: ContractSettings) -> DataContractCheckedData:
    return DataContractCheckedData(
        contract=TIER1, tier=1, check=check, status="failed" if found else "passed", failed=len(found),
        total=total, sample=found[: contracts.sample_size], action="stopped" if found else "none",
    )  # fmt: skip


def prepare(raw: pl.DataFrame) -> pl.DataFrame:
    """raw with its input position (_row), sorted by (symbol, date, input order), and the daily return (_ret).

    The return is close over the previous *usable* close of the same symbol (key present, not a
    later duplicate, close finite and > 0), so one bad row does not also condemn its neighbour.
    The first usable row of a symbol has no return and passes.
    """
    if "sector" not in raw.columns:
        raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias("sector"))
    frame = raw.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
    if not is_sorted(frame):
        frame = frame.sort(["symbol", "date", ROW], nulls_last=True, maintain_order=True)
    usable = ~_later_copy() & pl.col("close").is_finite() & (pl.col("close") > 0)
    previous = fill_within(previous_within(pl.when(usable).then(pl.col("close"))))
    return frame.with_columns(pl.when(usable).then(pl.col("close") / previous - 1.0).alias(RET))


def is_sorted(frame: pl.DataFrame) -> bool:
    """True when frame is sorted by (symbol, date) with no null keys (then no sort is needed)."""
    symbol, date = pl.col("symbol"), pl.col("date")
    ordered = (symbol > symbol.shift(1)) | ((symbol == symbol.shift(1)) & (date >= date.shift(1)))
    no_nulls = symbol.is_not_null().all() & date.is_not_null().all()
    return bool(frame.select(no_nulls & ordered.fill_null(True).all()).item())


# Window helpers for frames sorted by symbol: global shifts masked at symbol boundaries are
# an order of magnitude faster than .over("symbol") on millions of rows.


def first_of_symbol() -> pl.Expr:
    """True on the first row of each symbol's block."""
    return pl.col("symbol").ne_missing(pl.col("symbol").shift(1)) | (pl.int_range(pl.len()) == 0)


def last_of_symbol() -> pl.Expr:
    """True on the last row of each symbol's block."""
    return pl.col("symbol").ne_missing(pl.col("symbol").shift(-1)) | (pl.int_range(pl.len()) == pl.len() - 1)


def previous_within(expr: pl.Expr) -> pl.Expr:
    """expr of the previous row of the same symbol (null on a symbol's first row)."""
    return pl.when(~first_of_symbol()).then(expr.shift(1))


def fill_within(expr: pl.Expr) -> pl.Expr:
    """Forward fill that never crosses into another symbol (expr must hold no NaN: NaN is the fence)."""
    fenced = pl.when(first_of_symbol() & expr.is_null()).then(float("nan")).otherwise(expr).forward_fill()
    return pl.when(fenced.is_nan()).then(None).otherwise(fenced)


def _later_copy() -> pl.Expr:
    """True on every copy of a (symbol, date) key but the first in input order (frame is sorted by key, then _row)."""
    keyed = pl.col("symbol").is_not_null() & pl.col("date").is_not_null()
    same = (pl.col("symbol") == pl.col("symbol").shift(1)) & (pl.col("date") == pl.col("date").shift(1))
    return keyed & same.fill_null(False)


def row_failures(frame: pl.DataFrame, contracts: ContractSettings) -> pl.DataFrame:
    """One row per (row position, check, column) that fails: index, check, column, value (as a string)."""
    flags: list[tuple[str, str, pl.Expr]] = [("unique_key", "date", _later_copy())]
    for check in row_checks(contracts):
        flags.extend((check.name, column, check.failing(column)) for column in check.columns)
    aliases = [f"{i}" for i in range(len(flags))]
    mask = frame.select([expr.alias(a) for (_, _, expr), a in zip(flags, aliases)])
    parts = []
    for (check, column, _), alias in zip(flags, aliases):
        index = mask.get_column(alias).arg_true()
        if index.len():
            parts.append(_failure_part(frame, index, check, column))
    return pl.concat(parts) if parts else droplog.empty_failures()


def _failure_part(frame: pl.DataFrame, index: pl.Series, check: str, column: str) -> pl.DataFrame:
    return droplog.failures(frame, index, check, column.strip("_"), frame.get_column(column).gather(index))
