"""Postflight: producer-side consumer contracts on the written outputs, then the `latest` pointer moves forward."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import orjson
import polars as pl

from ledger import LATEST_NAME, fsync_dir, write_atomic
from schemas.context import RunContext
from schemas.contracts import POSTFLIGHT
from schemas.events import ArtifactRef, DataContractCheckedData, JsonScalar
from schemas.settings import Settings
from stages.artifacts import ArtifactStore
from stages.errors import ArtifactCorruptError, PostflightError
from stages.sources.sessions import previous_session, sessions_between

LATEST = LATEST_NAME
Sample = list[dict[str, JsonScalar]]


def postflight(ctx: RunContext, store: ArtifactStore, settings: Settings, home: Path) -> list[DataContractCheckedData]:
    """The passed checks (and `latest` moved to this run), or PostflightError naming the first violated contract."""
    events: list[DataContractCheckedData] = []
    _require(events, outputs_parse(ctx, store))
    assert ctx.clean is not None  # outputs_parse fails without it
    clean = pl.read_parquet(store.path_for(ctx.clean.hash, "parquet"), columns=["symbol", "date"])
    as_of = _as_of(ctx, store, settings, clean)
    last = _last_dates(clean)
    bench_last = last.get(settings.source.benchmark)
    _require(events, benchmark_fresh(settings, bench_last, as_of))
    assert bench_last is not None  # benchmark_fresh fails without it
    _require(events, symbols_fresh(settings, last, bench_last))
    _require(events, counts(settings, clean))
    move_latest(home, ctx, as_of)
    return events


def _check(
    check: str, failed: int, total: int, sample: Sample, observed: float | None = None
) -> DataContractCheckedData:
    return DataContractCheckedData(
        contract=POSTFLIGHT, tier=3, check=check, status="failed" if failed else "passed", failed=failed, total=total,
        sample=sample, action="stopped" if failed else "none", observed=observed,
    )  # fmt: skip


def _require(events: list[DataContractCheckedData], event: DataContractCheckedData) -> None:
    events.append(event)
    if event.status == "failed":
        message = (
            "; ".join(str(s.get("problem", s)) for s in event.sample if "problem" in s)
            or f"{event.failed} of {event.total} failed"
        )
        raise PostflightError(event.check, message, events=list(events))


def _refs(ctx: RunContext) -> dict[str, ArtifactRef]:
    return {name: ref for name in type(ctx).model_fields if isinstance(ref := getattr(ctx, name), ArtifactRef)}


def outputs_parse(ctx: RunContext, store: ArtifactStore) -> DataContractCheckedData:
    """Every output ref of the context exists in the store, parses as Parquet and has the recorded row count."""
    refs = _refs(ctx)
    problems: Sample = [] if "clean" in refs else [{"problem": "no clean output was produced"}]
    for name, ref in refs.items():
        try:
            path = store.checked_path(ref)
        except ArtifactCorruptError as exc:
            problems.append({"problem": f"{name} ({ref.hash[:12]}) does not parse: it is corrupt, {exc.problem}"})
            continue
        try:
            rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        except (OSError, pl.exceptions.PolarsError) as exc:
            problems.append({"problem": f"{name} ({ref.hash[:12]}) does not parse: {type(exc).__name__}"})
            continue
        if ref.rows is not None and rows != ref.rows:
            problems.append({"problem": f"{name} ({ref.hash[:12]}) has {rows} rows, the ledger says {ref.rows}"})
    return _check("outputs_parse", len(problems), max(len(refs), 1), problems)


def _as_of(ctx: RunContext, store: ArtifactStore, settings: Settings, clean: pl.DataFrame) -> date:
    """settings.source.as_of, else the input data's own last date (so a synthetic run is fresh on any day)."""
    if settings.source.as_of:
        return date.fromisoformat(settings.source.as_of)
    source = clean.lazy() if ctx.raw is None else pl.scan_parquet(store.path_for(ctx.raw.hash, "parquet"))
    last = source.select(pl.col("date").max()).collect().item()
    return last if isinstance(last, date) else date.today()


def _last_dates(clean: pl.DataFrame) -> dict[str, date]:
    return dict(clean.group_by("symbol").agg(pl.col("date").max()).iter_rows())


def benchmark_fresh(settings: Settings, bench_last: date | None, as_of: date) -> DataContractCheckedData:
    """The benchmark's last date is on or after the previous session of the as-of date (by the calendar)."""
    source = settings.source
    due = previous_session(source.calendar, as_of)
    fresh = bench_last is not None and bench_last >= due
    sample: Sample = [{"benchmark": source.benchmark, "last": None if bench_last is None else bench_last.isoformat(),
                       "as_of": as_of.isoformat(), "due": due.isoformat()}]  # fmt: skip
    if not fresh:
        sample[0]["problem"] = (
            f"benchmark {source.benchmark} last date {sample[0]['last']} is before {due}, the session before as-of {as_of}"
        )
    return _check("benchmark_fresh", int(not fresh), 1, sample)


def symbols_fresh(settings: Settings, last: dict[str, date], bench_last: date) -> DataContractCheckedData:
    """A seeded sample of symbols each within max_lag_sessions sessions of the benchmark (catches partial writes).

    last: each symbol's last date in the clean output.
    """
    contracts, source = settings.contracts, settings.source
    names = sorted(s for s in last if s != source.benchmark)
    picked = random.Random(settings.seed).sample(names, min(contracts.postflight_sample, len(names)))
    sessions = sessions_between(source.calendar, min([last[s] for s in picked], default=bench_last), bench_last)
    bench_pos = sessions.search_sorted(bench_last, side="right")
    lags = {s: int(bench_pos - sessions.search_sorted(last[s], side="right")) for s in picked}
    stale = [s for s in picked if lags[s] > contracts.max_lag_sessions]
    sample: Sample = [{"seed": settings.seed, "sampled": len(picked), "max_lag_sessions": contracts.max_lag_sessions}]
    sample += [{"symbol": s, "last": last[s].isoformat(), "lag": lags[s],
                "problem": f"{s} last date {last[s]} is {lags[s]} sessions behind the benchmark"} for s in stale]  # fmt: skip
    return _check("symbols_fresh", len(stale), len(picked), sample[: contracts.sample_size + 1])


def counts(settings: Settings, clean: pl.DataFrame) -> DataContractCheckedData:
    """The clean output has at least min_clean_rows rows and min_symbols symbols."""
    contracts = settings.contracts
    symbols = clean.get_column("symbol").n_unique()
    problems: Sample = []
    if clean.height < contracts.min_clean_rows:
        problems.append(
            {"problem": f"clean has {clean.height} rows, contracts.min_clean_rows is {contracts.min_clean_rows}"}
        )
    if symbols < contracts.min_symbols:
        problems.append({"problem": f"clean has {symbols} symbols, contracts.min_symbols is {contracts.min_symbols}"})
    return _check(
        "counts", len(problems), 2, [{"rows": clean.height, "symbols": symbols}, *problems], observed=float(symbols)
    )


def read_latest(home: Path) -> dict[str, object] | None:
    """The `latest` pointer of a home folder, or None if no run has passed postflight yet."""
    path = home / LATEST
    return orjson.loads(path.read_bytes()) if path.exists() else None


def move_latest(home: Path, ctx: RunContext, as_of: date) -> bool:
    """Point `latest` at this run (atomically: temp file, fsync, rename); never backwards to an older run id."""
    current = read_latest(home)
    if current is not None and str(current.get("run_id", "")) > ctx.run_id:
        return False
    document = {"run_id": ctx.run_id, "as_of": as_of.isoformat(), "outputs": {k: r.hash for k, r in _refs(ctx).items()}}
    raw = orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
    write_atomic(home / LATEST, lambda f: f.write(raw), prefix=".latest-")
    fsync_dir(home)
    return True
