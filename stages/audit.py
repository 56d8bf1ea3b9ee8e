"""The audit stage: tier-2 semantic contracts (genesis nulls, sessions, stale prices, splits, early stops) and aggregate checks."""

from __future__ import annotations

import polars as pl

from schemas.contracts import BAR_COLUMNS, ROW, TIER2, TIER2_REASONS
from schemas.events import DataContractCheckedData, JsonScalar
from schemas.settings import ContractSettings, Settings
from stages import droplog
from stages.errors import ContractBreachError
from stages.sources.sessions import sessions_between
from stages.spec import StageResult
from stages.validate import fill_within, first_of_symbol, is_sorted, last_of_symbol, previous_within

_I, _RATIO, _SPLIT = "_i", "_ratio", "_split"
_OHLCV = ("open", "high", "low", "close", "volume")


def audit(*, clean: pl.DataFrame, drops: pl.DataFrame, settings: Settings) -> StageResult:
    """clean: tier-1 rows that also pass every tier-2 check; drops: tier-1 drops plus tier-2 drops."""
    contracts, source = settings.contracts, settings.source
    frame = clean if is_sorted(clean) else clean.sort(["symbol", "date"])
    frame = frame.with_row_index(_I).with_columns(
        pl.col(_I).cast(pl.Int64), pl.lit(None, dtype=pl.Int64).alias(ROW)
    )
    sessions = _sessions(frame, source.calendar)
    found = tier2_failures(frame, sessions, source.benchmark, contracts)
    kept, new_drops = droplog.split(frame, found, TIER2_REASONS, contract=TIER2, tier=2)
    all_drops = pl.concat([drops, new_drops], how="vertical_relaxed")
    kept = kept.select(BAR_COLUMNS)
    events = [
        *droplog.check_events(found, TIER2_REASONS, frame.height, contracts, contract=TIER2, tier=2),
        *aggregate_checks(kept, sessions, source.benchmark, contracts),
        *droplog.drop_events(found, all_drops, TIER2_REASONS, contracts, contract=TIER2),
    ]
    return StageResult(outputs={"clean": kept, "drops": all_drops}, values={"rows_dropped": all_drops.height}, events=events)


def _sessions(frame: pl.DataFrame, calendar: str) -> pl.Series:
    if frame.height == 0:
        return pl.Series("date", [], dtype=pl.Date)
    first, last = frame.get_column("date").min(), frame.get_column("date").max()
    try:
        return sessions_between(calendar, first, last)  # type: ignore[arg-type]
    except ValueError as exc:
        event = DataContractCheckedData(
            contract=TIER2, tier=2, check="calendar_covers", status="failed", failed=1, total=1, action="stopped",
            sample=[{"first": str(first), "last": str(last), "calendar": calendar}],
        )  # fmt: skip
        raise ContractBreachError(TIER2, f"calendar {calendar} cannot cover {first}..{last}: {exc}", [event]) from exc


def tier2_failures(frame: pl.DataFrame, sessions: pl.Series, benchmark: str, contracts: ContractSettings) -> pl.DataFrame:
    """Failure rows (index, keys, check, column, value) of every tier-2 row check on a (symbol, date)-sorted frame."""
    frame = frame.with_columns(_split_ratio().alias(_RATIO)).with_columns(_is_split(contracts).alias(_SPLIT))
    flags = frame.select(
        _I,
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


def _observed() -> pl.Expr:
    """True from the asset's first observation (first non-null close) on."""
    seen = pl.col("close").is_not_null().cast(pl.Int64)
    before = pl.when(first_of_symbol()).then(seen.cum_sum() - seen).forward_fill()
    return (seen.cum_sum() - before) > 0


def _leading_nulls() -> pl.Expr:
    """Rows before the asset's first observation: allowed, but not observations."""
    return ~_observed()


def _nulls_after_genesis() -> pl.Expr:
    return _observed() & pl.any_horizontal([pl.col(c).is_null() for c in _OHLCV])


def _stale(min_run: int) -> pl.Expr:
    """Rows in a run of at least min_run sessions with an unchanged close and zero volume."""
    flat = ((pl.col("close") == previous_within(pl.col("close"))) & (pl.col("volume") == 0)).fill_null(False)
    total = flat.cast(pl.Int64).cum_sum()
    streak = total - pl.when(~flat).then(total).forward_fill().fill_null(0)
    run_end = flat & ~flat.shift(-1).fill_null(False)
    return flat & (pl.when(run_end).then(streak).backward_fill() >= min_run)


def _split_ratio() -> pl.Expr:
    return pl.col("close") / fill_within(previous_within(pl.col("close")))


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
    at_end = pl.when(last_of_symbol()).then(splits).backward_fill()
    return at_end > splits


def _stopped_early(frame: pl.DataFrame, sessions: pl.Series, benchmark: str, contracts: ContractSettings) -> pl.Series:
    """True on every row of a symbol whose last date lags the benchmark's by more than max_lag_sessions."""
    if frame.height == 0:
        return pl.Series("stops_early", [], dtype=pl.Boolean)
    bench = frame.filter(pl.col("symbol") == benchmark).get_column("date")
    reference = bench.max() if bench.len() else frame.get_column("date").max()
    ref_pos = sessions.search_sorted(reference, side="right")  # type: ignore[arg-type]
    last = frame.select(pl.when(last_of_symbol()).then(pl.col("date")).backward_fill()).to_series()
    lag = ref_pos - sessions.search_sorted(last, side="right")
    return (lag > contracts.max_lag_sessions).alias("stops_early")


def aggregate_checks(kept: pl.DataFrame, sessions: pl.Series, benchmark: str, contracts: ContractSettings) -> list[DataContractCheckedData]:
    """Frame-level checks that report an observed value and drop nothing."""
    survivors = kept.get_column("symbol").n_unique()
    missing = missing_sessions(kept, sessions)
    gaps = missing.filter(pl.col("missing") > 0)
    has_bench = bool((kept.get_column("symbol") == benchmark).any())
    return [
        _aggregate("min_symbols", int(survivors < contracts.min_symbols), survivors, kept.height,
                   [{"symbols": survivors, "required": contracts.min_symbols}]),
        _aggregate("benchmark_present", int(not has_bench), 1.0 if has_bench else 0.0, kept.height, [{"benchmark": benchmark}]),
        _aggregate("missing_sessions", gaps.height, float(missing.get_column("missing").sum()), missing.height,
                   [dict(r) for r in gaps.head(contracts.sample_size).iter_rows(named=True)], warn=True),
    ]  # fmt: skip


def _aggregate(check: str, failed: int, observed: float, total: int, sample: list[dict[str, JsonScalar]], *, warn: bool = False) -> DataContractCheckedData:
    status = "passed" if not failed else ("warned" if warn else "failed")
    return DataContractCheckedData(
        contract=TIER2, tier=2, check=check, status=status, severity="warning" if warn else "error",
        failed=failed, total=total, sample=sample, action="reported", observed=float(observed),
    )  # fmt: skip


def missing_sessions(kept: pl.DataFrame, sessions: pl.Series) -> pl.DataFrame:
    """Per symbol: calendar sessions between its first and last kept row that it has no row for."""
    pos = sessions.search_sorted(kept.get_column("date"), side="left").cast(pl.Int64)
    spans = kept.with_columns(pos.alias("_pos")).group_by("symbol").agg(
        (pl.col("_pos").max() - pl.col("_pos").min() + 1).alias("span"), pl.col("date").n_unique().alias("seen")
    )
    return spans.select("symbol", (pl.col("span") - pl.col("seen")).clip(0).cast(pl.Int64).alias("missing")).sort("symbol")

