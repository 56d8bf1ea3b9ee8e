"""Postflight: each consumer contract made to fail (named error, run status in the ledger), and the `latest` pointer."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from schemas.contracts import POSTFLIGHT
from schemas.settings import Settings
from stages.artifacts import ArtifactStore
from stages.errors import PostflightError
from stages.postflight import move_latest, postflight, read_latest
from stages.runner import run_pipeline
from stages.spec import StageResult, StageSpec
from tests.support.contracts_kit import block, completed, data_stages, events, of_type, settings, write_dir

CHECKS = ["outputs_parse", "benchmark_fresh", "symbols_fresh", "counts"]


def folder(tmp_path: Path, *, spy_sessions: int = 60, others: dict[str, int] | None = None) -> Path:
    """A data folder: SPY with spy_sessions sessions from 2024-01-02 and others ending where told."""
    frames = {"SPY.parquet": block("SPY", spy_sessions)}
    for i, (name, n) in enumerate((others or {"AAA": spy_sessions, "BBB": spy_sessions}).items()):
        frames[f"{name}.csv"] = block(name, n, seed=i + 1)
    return write_dir(tmp_path / "data", frames)


def dir_settings(path: Path, **contracts: Any) -> Settings:
    source: dict[str, Any] = {"kind": "directory", "path": str(path)}
    if "as_of" in contracts:
        source["as_of"] = contracts.pop("as_of")
    return settings(source=source, contracts=contracts)


def test_a_good_run_records_every_check_passed_and_moves_latest(tmp_path: Path) -> None:
    outcome = run_pipeline(dir_settings(folder(tmp_path)), tmp_path / "home", stages=data_stages())
    assert outcome.status == "succeeded"
    evts = events(tmp_path / "home")
    checks = [e for e in of_type(evts, "DataContractChecked") if e.stage == "postflight"]
    assert [(e.data.check, e.data.status, e.data.contract) for e in checks] == [
        (c, "passed", POSTFLIGHT) for c in CHECKS
    ]
    latest = read_latest(tmp_path / "home")
    assert (
        latest is not None
        and latest["run_id"] == outcome.run_id
        and latest["as_of"] == block("SPY", 60).item(-1, "date").isoformat()
    )
    assert latest["outputs"]["clean"] == outcome.context.clean.hash  # type: ignore[index,union-attr]


def assert_postflight_failed(home: Path, contract: str, fragment: str) -> None:
    evts = events(home)
    done = completed(evts)
    assert done.status == "postflight_failed" and contract in done.error and fragment in done.error
    failed = [e for e in of_type(evts, "DataContractChecked") if e.stage == "postflight" and e.data.status == "failed"]
    assert [e.data.check for e in failed] == [contract]
    assert read_latest(home) is None


def vandal(home: Path) -> StageSpec:
    """A last stage that loses the raw artifact after it was written."""

    def lose(*, clean: pl.DataFrame, settings: Settings) -> StageResult:
        for path in (home / "artifacts").glob("*.parquet"):
            if (
                pl.read_parquet_schema(path).get("close")
                and pl.scan_parquet(path).select(pl.len()).collect().item() == 180 + 1
            ):
                path.unlink()
        return StageResult()

    return StageSpec("vandal", lose, reads=("clean",), writes=())


def test_outputs_parse_fails_when_an_output_is_lost(tmp_path: Path) -> None:
    data = folder(tmp_path)
    raw = pl.concat([pl.read_parquet(data / "SPY.parquet"), block("XXX", 1)])  # 181 raw rows, the vandal's mark
    raw.write_parquet(data / "SPY.parquet")
    home = tmp_path / "home"
    outcome = run_pipeline(dir_settings(data, max_lag_sessions=100), home, stages=[*data_stages(), vandal(home)])
    assert outcome.status == "postflight_failed"
    assert_postflight_failed(home, "outputs_parse", "does not parse")


def test_benchmark_fresh_fails_when_the_data_is_older_than_the_as_of_date(tmp_path: Path) -> None:
    home = tmp_path / "home"
    outcome = run_pipeline(dir_settings(folder(tmp_path), as_of="2024-12-31"), home, stages=data_stages())
    assert outcome.status == "postflight_failed"
    assert_postflight_failed(home, "benchmark_fresh", "the session before as-of 2024-12-31")


def test_symbols_fresh_fails_on_a_partial_write_seen_by_a_producer_without_tier2(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = folder(tmp_path, others={"AAA": 60, "CUT": 55})
    outcome = run_pipeline(dir_settings(data), home, stages=data_stages()[:2])
    assert outcome.status == "postflight_failed"
    assert_postflight_failed(home, "symbols_fresh", "CUT last date")
    (failed,) = [e for e in of_type(events(home), "DataContractChecked") if e.data.check == "symbols_fresh"]
    assert failed.data.sample[0]["seed"] == 7 and failed.data.failed == 1


def test_counts_fail_below_the_thresholds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    outcome = run_pipeline(dir_settings(folder(tmp_path), min_symbols=10), home, stages=data_stages())
    assert outcome.status == "postflight_failed"
    assert_postflight_failed(home, "counts", "contracts.min_symbols is 10")


# ------------------------------------------------------------- direct calls


@pytest.fixture
def good_run(tmp_path: Path) -> tuple[Any, ArtifactStore, Path]:
    home = tmp_path / "home"
    outcome = run_pipeline(dir_settings(folder(tmp_path)), home, stages=data_stages())
    return outcome.context, ArtifactStore(home / "artifacts"), home


def test_a_corrupt_or_miscounted_output_fails_outputs_parse(
    good_run: tuple[Any, ArtifactStore, Path], tmp_path: Path
) -> None:
    ctx, store, home = good_run
    s = dir_settings(tmp_path / "data")
    store.path_for(ctx.drops.hash, "parquet").write_bytes(b"PAR1 torn")
    with pytest.raises(PostflightError, match="drops .* does not parse") as info:
        postflight(ctx, store, s, home)
    assert info.value.contract == "outputs_parse"
    liar = ctx.model_copy(update={"drops": None, "raw": ctx.raw.model_copy(update={"rows": 5})})
    with pytest.raises(PostflightError, match="has 180 rows, the ledger says 5"):
        postflight(liar, store, s, home)


def test_freshness_is_by_calendar_a_monday_after_good_friday_is_fresh(tmp_path: Path) -> None:
    # 2024-03-28 is the Thursday before Good Friday; as of Monday 2024-04-01 the previous session is that Thursday.
    n = pl.Series(block("SPY", 80).get_column("date")).search_sorted(date(2024, 3, 28)) + 1
    data = folder(tmp_path, spy_sessions=n)
    home = tmp_path / "home"
    assert run_pipeline(dir_settings(data, as_of="2024-04-01"), home, stages=data_stages()).status == "succeeded"
    assert (
        run_pipeline(dir_settings(data, as_of="2024-04-02"), home, stages=data_stages()).status == "postflight_failed"
    )


def test_symbols_fresh_catches_a_truncated_symbol_in_the_output(
    good_run: tuple[Any, ArtifactStore, Path], tmp_path: Path
) -> None:
    ctx, store, home = good_run
    clean = store.get_frame(ctx.clean)
    partial = clean.filter(
        ~((pl.col("symbol") == "AAA") & (pl.col("date") > clean.get_column("date").unique().sort()[-5]))
    )
    ref, _ = store.put_frame("clean", partial)
    with pytest.raises(PostflightError, match="AAA last date .* 4 sessions behind") as info:
        postflight(ctx.model_copy(update={"clean": ref}), store, dir_settings(tmp_path / "data"), home)
    checks = [e.check for e in info.value.events]  # type: ignore[attr-defined]
    assert checks == ["outputs_parse", "benchmark_fresh", "symbols_fresh"]


def test_the_symbol_sample_is_seeded(good_run: tuple[Any, ArtifactStore, Path], tmp_path: Path) -> None:
    ctx, store, home = good_run
    s = dir_settings(tmp_path / "data", postflight_sample=1)
    first = [e for e in postflight(ctx, store, s, home) if e.check == "symbols_fresh"][0]
    again = [e for e in postflight(ctx, store, s, home) if e.check == "symbols_fresh"][0]
    assert first == again and first.sample[0] == {"seed": 7, "sampled": 1, "max_lag_sessions": 2}


def test_latest_never_moves_backwards(tmp_path: Path, good_run: tuple[Any, ArtifactStore, Path]) -> None:
    ctx, _, home = good_run
    before = read_latest(home)
    assert before is not None and before["run_id"] == ctx.run_id
    older = ctx.model_copy(update={"run_id": "20000101-000000-aaaa"})
    assert move_latest(home, older, date(2024, 1, 2)) is False
    assert read_latest(home) == before
    newer = ctx.model_copy(update={"run_id": "29990101-000000-aaaa"})
    assert move_latest(home, newer, date(2024, 1, 2)) is True
    assert read_latest(home)["run_id"] == "29990101-000000-aaaa"  # type: ignore[index]
    assert not [p for p in home.iterdir() if p.name.startswith(".latest-")]


def test_a_failed_postflight_leaves_latest_where_it_was(
    tmp_path: Path, good_run: tuple[Any, ArtifactStore, Path]
) -> None:
    _, _, home = good_run
    before = read_latest(home)
    outcome = run_pipeline(dir_settings(tmp_path / "data", min_symbols=99), home, stages=data_stages())
    assert outcome.status == "postflight_failed" and read_latest(home) == before
