"""The audit stage: tier-2 semantic contracts (genesis nulls, sessions, stale prices, splits, early stops) and aggregate checks."""

from __future__ import annotations

from datetime import date

import polars as pl

from schemas.contracts import BAR_COLUMNS, TIER2, TIER2_REASONS
from schemas.events import DataContractCheckedData, JsonScalar
from schemas.settings import ContractSettings, Settings
from stages import droplog
from stages.sources.sessions import sessions_between
from stages.spec import StageResult
from stages.validate import first_of_symbol, is_sorted

_FIRST, _LAST, _OBS, _RATIO, _SPLIT = "_first", "_last", "_observed", "_ratio", "_split"
_OHLCV = ("open", "high", "low", "close", "volume")
#: rows these checks drop are expected (an asset before it exists), so the check warns rather than fails
ALLOWED = frozenset({"leading_nulls"})
#: dates exchange_calendars (nanosecond timestamps) can always compute sessions for
CALENDAR_SPAN = (date(1900, 1, 1), date(2200, 12, 31))


def audit(*, clean: pl.DataFrame, drops: pl.DataFrame, settings: Settings) -> StageResult:
    """clean: tier-1 rows that also pass every tier-2 check; drops: tier-1 drops plus tier-2 drops."""
    contracts, source = settings.contracts, settings.source
    frame = clean if is_sorted(clean) else clean.sort(["symbol", "date"])
    sessions = _sessions(frame, source.calendar)
    found = tier2_failures(frame, sessions, source.benchmark, contracts)
    kept, new_drops = droplog.split(
        frame, found, TIER2_REASONS, contract=TIER2, tier=2, columns=BAR_COLUMNS, input_rows=False
    )
    all_drops = pl.concat([drops, new_drops], how="vertical_relaxed")
    events = [
        *droplog.check_events(found, TIER2_REASONS, frame.height, contracts, contract=TIER2, tier=2, allowed=ALLOWED),
        *aggregate_checks(kept, sessions, source.benchmark, contracts),
        *droplog.drop_events(found, all_drops, TIER2_REASONS, contracts, contract=TIER2),
    ]
    return StageResult(
        outputs={"clean": kept, "drops": all_drops}, values={"rows_dropped": all_drops.height}, events=events
    )


def _sessions(frame: pl.DataFrame, calendar: str) -> pl.Series:
    """The calendar's sessions over the data's dates, clamped to what the calendar can compute.

    A row dated outside the clamp (a typo like 2320-01-02) is then simply not a session and is
    dropped as such, instead of breaking the stage.
    """
    if frame.height == 0:
        return pl.Series("date", [], dtype=pl.Date)
    first = max(_date(frame.get_column("date").min()), CALENDAR_SPAN[0])
    last = min(_date(frame.get_column("date").max()), CALENDAR_SPAN[1])
    return sessions_between(calendar, first, last) if first <= last else pl.Series("date", [], dtype=pl.Date)


def tier2_failures(
    frame: pl.DataFrame, sessions: pl.Series, benchmark: str, contracts: ContractSettings
) -> pl.DataFrame:
    """Failure rows (index, keys, check, column, value) of every tier-2 row check on a (symbol, date)-sorted frame."""
    frame = frame.with_columns(first_of_symbol().alias(_FIRST), _last_of_symbol().alias(_LAST))
    frame = frame.with_columns(_observed().alias(_OBS), _split_ratio().alias(_RATIO))
    frame = frame.with_columns(_is_split(contracts).alias(_SPLIT))
    flags = frame.select(
        _leading_nulls().alias("leading_nulls"),
        _nulls_after_genesis().alias("nulls_after_genesis"),
        pl.col("date").is_in(sessions.implode()).not_().alias("trading_session"),
        _stale(contracts.stale_run_sessions).alias("stale_price"),
        _before_split().alias("unadjusted_split"),
        _split_day_ratio().alias("_split_day"),
    ).with_columns(_stopped_early(frame, sessions, benchmark, contracts).alias("stops_early"))
    parts = []
    for check, column in _CHECK_COLUMNS.items():
        index = flags.get_column(check).arg_true()
        if index.len():
            values = flags.get_column("_split_day").gather(index) if check == "unadjusted_split" else None
            parts.append(droplog.failures(frame, index, check, column, values))
    return pl.concat(parts) if parts else droplog.empty_failures()


_CHECK_COLUMNS = {name: "close" for name in TIER2_REASONS} | {"trading_session": "date", "stops_early": "date"}


# Window helpers for a frame sorted by symbol: global shifts and fills fenced at symbol
# boundaries (_first/_last columns) are an order of magnitude faster than .over("symbol").


def _last_of_symbol() -> pl.Expr:
    return pl.col("symbol").ne_missing(pl.col("symbol").shift(-1)) | (pl.int_range(pl.len()) == pl.len() - 1)


def _previous(expr: pl.Expr) -> pl.Expr:
    """expr of the previous row of the same symbol (null on a symbol's first row)."""
    return pl.when(~pl.col(_FIRST)).then(expr.shift(1))


def _observed() -> pl.Expr:
    """True from the asset's first observation (first non-null close) on."""
    seen = pl.col("close").is_not_null().cast(pl.Int64)
    before = pl.when(pl.col(_FIRST)).then(seen.cum_sum() - seen).forward_fill()
    return (seen.cum_sum() - before) > 0


def _leading_nulls() -> pl.Expr:
    """Rows before the asset's first observation: allowed, but not observations."""
    return ~pl.col(_OBS)


def _nulls_after_genesis() -> pl.Expr:
    return pl.col(_OBS) & pl.any_horizontal([pl.col(c).is_null() for c in _OHLCV])


def _stale(min_run: int) -> pl.Expr:
    """Rows in a run of at least min_run sessions with an unchanged close and zero volume."""
    flat = ((pl.col("close") == _previous(pl.col("close"))) & (pl.col("volume") == 0)).fill_null(False)
    total = flat.cast(pl.Int64).cum_sum()
    streak = total - pl.when(~flat).then(total).forward_fill().fill_null(0)
    run_end = flat & ~flat.shift(-1).fill_null(False)
    return flat & (pl.when(run_end).then(streak).backward_fill() >= min_run)


def _split_ratio() -> pl.Expr:
    """close over the previous non-null close of the symbol (closes are > 0 after tier 1, so -1 fences symbols)."""
    previous = _previous(pl.col("close"))
    fenced = pl.when(pl.col(_FIRST) & previous.is_null()).then(-1.0).otherwise(previous).forward_fill()
    return pl.when(fenced > 0).then(pl.col("close") / fenced)


def _is_split(contracts: ContractSettings) -> pl.Expr:
    ratio = pl.col(_RATIO)
    near = [((ratio * k) - 1.0).abs() <= contracts.split_tolerance for k in contracts.split_ratios]
    return pl.any_horizontal(near).fill_null(False)


def _split_day_ratio() -> pl.Expr:
    """The close ratio of the next split day (the sample value of unadjusted_split rows)."""
    return pl.when(pl.col(_SPLIT)).then(pl.col(_RATIO)).backward_fill()


def _before_split() -> pl.Expr:
    """Rows of a symbol before its last unadjusted split day: their prices are in pre-split units."""
    splits = pl.col(_SPLIT).cast(pl.Int64).cum_sum()
    at_end = pl.when(pl.col(_LAST)).then(splits).backward_fill()
    return at_end > splits


def _stopped_early(frame: pl.DataFrame, sessions: pl.Series, benchmark: str, contracts: ContractSettings) -> pl.Series:
    """True on every row of a symbol whose last date lags the benchmark's by more than max_lag_sessions."""
    if frame.height == 0:
        return pl.Series("stops_early", [], dtype=pl.Boolean)
    ends = frame.filter(pl.col(_LAST)).select("symbol", "date")  # one row per symbol: its last date
    bench = ends.filter(pl.col("symbol") == benchmark).get_column("date")
    reference = _date(bench.max() if bench.len() else ends.get_column("date").max())
    lag = sessions.search_sorted(reference, side="right") - sessions.search_sorted(
        ends.get_column("date"), side="right"
    ).cast(pl.Int64)
    stopped = ends.filter(lag > contracts.max_lag_sessions).get_column("symbol")
    return frame.select(pl.col("symbol").is_in(stopped.implode()).alias("stops_early")).to_series()


def _date(value: object) -> date:
    assert isinstance(value, date)
    return value


def aggregate_checks(
    kept: pl.DataFrame, sessions: pl.Series, benchmark: str, contracts: ContractSettings
) -> list[DataContractCheckedData]:
    """Frame-level checks that report an observed value and drop nothing."""
    missing = missing_sessions(kept, sessions)
    survivors = missing.height
    gaps = missing.filter(pl.col("missing") > 0)
    has_bench = bool((kept.get_column("symbol") == benchmark).any())
    return [
        _aggregate("min_symbols", int(survivors < contracts.min_symbols), survivors, kept.height,
                   [{"symbols": survivors, "required": contracts.min_symbols}]),
        _aggregate("benchmark_present", int(not has_bench), 1.0 if has_bench else 0.0, kept.height, [{"benchmark": benchmark}]),
        _aggregate("missing_sessions", gaps.height, float(missing.get_column("missing").sum()), missing.height,
                   [dict(r) for r in gaps.head(contracts.sample_size).iter_rows(named=True)], warn=True),
    ]  # fmt: skip


def _aggregate(
    check: str, failed: int, observed: float, total: int, sample: list[dict[str, JsonScalar]], *, warn: bool = False
) -> DataContractCheckedData:
    status = "passed" if not failed else ("warned" if warn else "failed")
    return DataContractCheckedData(
        contract=TIER2, tier=2, check=check, status=status, severity="warning" if warn else "error",
        failed=failed, total=total, sample=sample, action="reported", observed=float(observed),
    )  # fmt: skip


def missing_sessions(kept: pl.DataFrame, sessions: pl.Series) -> pl.DataFrame:
    """Per symbol: calendar sessions between its first and last kept row that it has no row for."""
    # kept is sorted by (symbol, date) with unique keys: each symbol's block edges give its span and row count
    edges = kept.with_row_index("_k").filter(first_of_symbol() | _last_of_symbol())
    blocks = edges.group_by("symbol").agg(pl.col("date").min().alias("first"), pl.col("date").max().alias("last"),
                                          (pl.col("_k").max() - pl.col("_k").min() + 1).alias("seen"))  # fmt: skip
    span = sessions.search_sorted(blocks.get_column("last"), side="right") - sessions.search_sorted(
        blocks.get_column("first"), side="left"
    )
    missing = (span - blocks.get_column("seen").cast(pl.Int64)).clip(0).cast(pl.Int64)
    return blocks.select("symbol").with_columns(missing.alias("missing")).sort("symbol")
