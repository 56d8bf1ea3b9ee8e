"""The validate stage: tier-1 structural contracts, filter and log (every input row kept or dropped with all its reasons)."""

from __future__ import annotations

import numpy as np
import pandera.polars as pa
import polars as pl

from schemas.contracts import (
    BAR_COLUMNS,
    DUP,
    FIRST,
    RET,
    ROW,
    TIER1,
    TIER1_REASONS,
    USABLE,
    any_failure,
    row_checks,
    structure_schema,
)
from schemas.events import DataContractCheckedData, JsonScalar, Model
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
    bad = failing(frame, contracts)
    failures = row_failures(frame, contracts, bad)
    kept, drops = droplog.split(frame, failures, TIER1_REASONS, contract=TIER1, tier=1, columns=BAR_COLUMNS, keep=~bad)
    checks = droplog.check_events(failures, TIER1_REASONS, frame.height, contracts, contract=TIER1, tier=1)
    dropped = droplog.drop_events(failures, drops, TIER1_REASONS, contracts, contract=TIER1)
    return StageResult(
        outputs={"clean": kept, "drops": drops},
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
    if any(problems.values()):
        parts = [
            f"{check}: " + ", ".join(str(p.get("column", "no rows")) for p in found)
            for check, found in problems.items()
            if found
        ]
        raise ContractBreachError(TIER1, "; ".join(parts), events=list[Model](events))
    return events


def _structure_event(
    check: str, found: list[dict[str, JsonScalar]], total: int, contracts: ContractSettings
) -> DataContractCheckedData:
    return DataContractCheckedData(
        contract=TIER1, tier=1, check=check, status="failed" if found else "passed", failed=len(found),
        total=total, sample=found[: contracts.sample_size], action="stopped" if found else "none",
    )  # fmt: skip


def prepare(raw: pl.DataFrame) -> pl.DataFrame:
    """raw sorted by (symbol, date, input order) with the helper columns the row checks need.

    _row (input position) is added only when a sort is needed; on sorted input the position is the
    row number. _dup marks later copies of a key. _ret is close over the previous *usable* close of
    the same symbol (key present, not a later copy, close finite and > 0), so one bad row does not
    also condemn its neighbour; the first usable row of a symbol has no return and passes.
    """
    if "sector" not in raw.columns:
        raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias("sector"))
    frame = raw.with_columns(first_of_symbol().alias(FIRST))
    if not _sorted_with_first(frame):
        frame = raw.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
        frame = frame.sort(["symbol", "date", ROW], nulls_last=True, maintain_order=True)
        frame = frame.with_columns(first_of_symbol().alias(FIRST))
    keyed = pl.col("symbol").is_not_null() & pl.col("date").is_not_null()
    dup = keyed & ~pl.col(FIRST) & (pl.col("date") == pl.col("date").shift(1)).fill_null(False)
    usable = ~pl.col(DUP) & pl.col("close").is_between(0.0, float("inf"), closed="none")
    frame = frame.with_columns(dup.alias(DUP)).with_columns(usable.alias(USABLE))
    return frame.with_columns(_returns(frame)).drop(USABLE)


def _returns(frame: pl.DataFrame) -> pl.Series:
    """_ret: close over the previous usable close of the same symbol, null where there is none.

    Almost every row follows a usable row, so the return is a plain shift (streamed, so the
    intermediates stay in cache a morsel at a time); the few rows that follow an unusable one look
    their reference up by binary search over the usable positions (sorted by symbol, so equal
    symbols at both ends mean the same block).
    """
    usable, close = pl.col(USABLE), pl.col("close")
    after, prev = usable & ~pl.col(FIRST), usable.shift(1).fill_null(False)
    plain = pl.when(after & prev).then(close / close.shift(1) - 1.0).alias(RET)
    ret, gaps = frame.lazy().select(plain, (after & ~prev).alias("gap")).collect(engine="streaming")
    ret, rows = ret.rechunk(), gaps.arg_true()
    if rows.len() == 0:
        return ret
    at = rows.to_numpy()
    positions = frame.get_column(USABLE).arg_true().to_numpy()
    before = positions[np.maximum(np.searchsorted(positions, at) - 1, 0)]
    symbols, closes = frame.get_column("symbol"), frame.get_column("close")
    same = (before < at) & symbols.gather(before).eq_missing(symbols.gather(at)).to_numpy()
    with np.errstate(over="ignore"):  # overflow to inf is a genuine extreme return, caught by the check
        values = np.where(same, closes.gather(at).to_numpy() / closes.gather(before).to_numpy() - 1.0, np.nan)
    return ret.scatter(rows, pl.Series(values, nan_to_null=True))


def _sorted_with_first(frame: pl.DataFrame) -> bool:
    symbol, date = frame.get_column("symbol"), pl.col("date")
    if symbol.has_nulls() or not symbol.is_sorted():
        return False
    return bool(
        frame.select(date.is_not_null().all() & (pl.col(FIRST) | (date >= date.shift(1))).fill_null(True).all()).item()
    )


def is_sorted(frame: pl.DataFrame) -> bool:
    """True when frame is sorted by (symbol, date) with no null keys (then no sort is needed)."""
    symbol, date = pl.col("symbol"), pl.col("date")
    ordered = (symbol > symbol.shift(1)) | ((symbol == symbol.shift(1)) & (date >= date.shift(1)))
    no_nulls = symbol.is_not_null().all() & date.is_not_null().all()
    return bool(frame.select(no_nulls & ordered.fill_null(True).all()).item())


def first_of_symbol() -> pl.Expr:
    """True on the first row of each symbol's block."""
    # a shifted constant marks row 0 without the 10M-row index an int_range would build
    return pl.col("symbol").ne_missing(pl.col("symbol").shift(1)) | pl.repeat(False, pl.len()).shift(1, fill_value=True)


def failing(frame: pl.DataFrame, contracts: ContractSettings) -> pl.Series:
    """True on each row of a prepared frame that fails a row check or is a later copy of its key.

    The streaming engine runs the fused predicate a morsel at a time on both cores, so the
    per-column intermediates stay in cache instead of each making a pass over the whole frame.
    """
    return frame.lazy().select(pl.col(DUP) | any_failure(contracts)).collect(engine="streaming").to_series().rechunk()


def row_failures(frame: pl.DataFrame, contracts: ContractSettings, bad: pl.Series | None = None) -> pl.DataFrame:
    """One row per (row position, check, column) that fails: index, keys, check, column, value (as a string).

    `bad` (from `failing`, computed here when not given) picks the failing rows; the per-check
    detail is then worked out on those rows only.
    """
    flags: list[tuple[str, str, pl.Expr]] = [("unique_key", "date", pl.col(DUP))]
    for check in row_checks(contracts):
        flags.extend((check.name, column, check.failing(column)) for column in check.columns)
    bad = (failing(frame, contracts) if bad is None else bad).arg_true()
    if bad.len() == 0:
        return droplog.empty_failures()
    sub = frame.gather(bad)
    hits = sub.select([expr.alias(str(i)) for i, (_, _, expr) in enumerate(flags)])
    parts = []
    for i, (name, column, _) in enumerate(flags):
        index = hits.get_column(str(i)).arg_true()
        if index.len():
            part = droplog.failures(sub, index, name, column.strip("_"), sub.get_column(column).gather(index))
            parts.append(part.with_columns(bad.gather(index).cast(pl.Int64).alias("index")))
    return pl.concat(parts)
