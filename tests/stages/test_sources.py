"""The synthetic market and the directory source: determinism, shape, sessions, genesis, toxicity, file inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from schemas.contracts import BAR_SCHEMA
from schemas.frames import frame_hash
from schemas.settings import SourceSettings
from stages.sources import describe_inputs, load
from stages.sources.sessions import sessions_between
from stages.sources.synthetic import STALE_SPAN, STOP_EARLY, TOXICITIES, generate
from tests.support.contracts_kit import block, settings, write_dir


def small(**toxicity: int) -> SourceSettings:
    return SourceSettings(symbols=12, sessions=120, toxicity=toxicity)


def test_synthetic_market_is_deterministic_in_the_seed() -> None:
    assert frame_hash(generate(small(), 3)) == frame_hash(generate(small(), 3))
    assert frame_hash(generate(small(), 3)) != frame_hash(generate(small(), 4))


def test_synthetic_market_is_long_bars_on_real_sessions_with_the_benchmark() -> None:
    df = generate(small(), 1)
    assert df.schema == pl.Schema(BAR_SCHEMA)
    assert df.height == 13 * 120 and df.get_column("symbol").n_unique() == 13
    days = df.get_column("date")
    assert days.is_in(sessions_between("XNYS", days.min(), days.max()).implode()).all()  # type: ignore[arg-type]
    spy = df.filter(pl.col("symbol") == "SPY")
    assert spy.height == 120 and spy.get_column("close").null_count() == 0 and spy.get_column("sector").is_null().all()
    assert df.filter(pl.col("symbol") != "SPY").get_column("sector").null_count() == 0
    assert df.equals(df.sort("symbol", "date"))


def test_clean_synthetic_bars_are_consistent() -> None:
    df = generate(small(), 2).drop_nulls()
    assert df.select(
        (pl.col("high") >= pl.max_horizontal("open", "close")).all().alias("a"),
        (pl.col("low") <= pl.min_horizontal("open", "close")).all().alias("b"),
        (pl.col("low") > 0).all().alias("c"),
        (pl.col("volume") > 0).all().alias("d"),
    ).row(0) == (True, True, True, True)


def test_genesis_is_staggered_with_leading_nulls_only() -> None:
    df = generate(SourceSettings(symbols=60, sessions=200), 5)
    seen = pl.col("close").is_not_null().cum_sum().over("symbol") > 0
    firsts = df.filter(seen).group_by("symbol").agg(pl.col("date").min()).get_column("date")
    assert firsts.n_unique() > 1  # some symbols start late
    assert (
        df.filter(seen).drop("sector").null_count().select(pl.sum_horizontal(pl.all())).item() == 0
    )  # none after genesis
    assert df.filter(~seen).height > 0


def toxic(kind: str) -> pl.DataFrame:
    return generate(small(**{kind: 1}), 9)


def test_every_toxicity_changes_the_market() -> None:
    base = frame_hash(generate(small(), 9))
    assert all(frame_hash(toxic(kind)) != base for kind in TOXICITIES)


def test_extreme_return_and_nonpositive_price_and_duplicates_are_injected() -> None:
    ret = toxic("extreme_return").select((pl.col("close") / pl.col("close").shift(1).over("symbol") - 1).max()).item()
    assert ret > 5
    assert toxic("nonpositive_price").select((pl.col("close") <= 0).sum()).item() == 1
    assert toxic("duplicate_rows").select(pl.struct("symbol", "date").is_duplicated().sum()).item() == 2


def test_stale_run_split_and_early_stop_are_injected() -> None:
    stale = toxic("stale_run").filter(pl.col("volume") == 0)
    assert stale.height == STALE_SPAN and stale.get_column("close").n_unique() == 1
    ratio = toxic("unadjusted_split").select((pl.col("close") / pl.col("close").shift(1).over("symbol")).min()).item()
    assert ratio == pytest.approx(0.5)
    counts = toxic("stops_early").group_by("symbol").len().get_column("len")
    assert sorted(set(counts)) == [120 - STOP_EARLY, 120]


def test_mid_history_nulls_are_injected_after_genesis() -> None:
    df = toxic("null_mid_history")
    seen = pl.col("close").is_not_null().cum_sum().over("symbol") > 0
    assert df.filter(seen & pl.col("close").is_null()).height == 3


def test_synthetic_input_is_described_by_its_recipe() -> None:
    (one,) = describe_inputs(settings(seed=3))
    (two,) = describe_inputs(settings(seed=4))
    assert one.format == "synthetic" and one.sha256 != two.sha256 and one.rows == 41 * 504


def test_directory_source_reads_parquet_and_csv_and_skips_hidden_folders(tmp_path: Path) -> None:
    folder = write_dir(
        tmp_path / "data",
        {"a.parquet": block("AAA", 5), "nested/b.csv": block("BBB", 4), ".dvc/c.csv": block("CCC", 3)},
    )
    s = settings(source={"kind": "directory", "path": str(folder)})
    inputs = describe_inputs(s)
    assert [(i.name, i.rows, i.format) for i in inputs] == [("a.parquet", 5, "parquet"), ("nested/b.csv", 4, "csv")]
    assert inputs[0].sha256 == hashlib.sha256((folder / "a.parquet").read_bytes()).hexdigest()
    frames = dict(load(s))
    assert set(frames) == {"a.parquet", "nested/b.csv"}
    assert frames["nested/b.csv"].schema["date"] == pl.Date  # CSV dates are parsed


def test_nested_session_windows_share_one_calendar_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run asks for nested windows (ingest, audit, postflight); each build costs a quarter of a second."""
    from datetime import date

    import exchange_calendars as xcals

    from stages.sources import sessions

    builds: list[object] = []
    real = xcals.get_calendar
    monkeypatch.setattr(sessions, "_BUILT", {})
    monkeypatch.setattr(xcals, "get_calendar", lambda *a, **kw: builds.append(kw) or real(*a, **kw))
    wide = sessions.sessions_between("XNYS", date(2021, 3, 1), date(2023, 6, 30))
    inner = sessions.sessions_between("XNYS", date(2022, 1, 3), date(2023, 1, 31))
    assert sessions.previous_session("XNYS", date(2023, 1, 3)) == date(2022, 12, 30)
    assert len(builds) == 1 and inner.is_in(wide.implode()).all()
    sessions.sessions_between("XNYS", date(2019, 1, 2), date(2019, 3, 1))  # outside: a build of its own
    assert len(builds) == 2
