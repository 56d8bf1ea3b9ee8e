"""The selection stage: rebalance dates only, score order, predictability filters, top-k, sector caps, benchmark excluded."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from stages.errors import FeatureMissingError
from stages.selection import select_assets
from tests.support.quant_market import business_days, small_settings

DAYS = business_days(date(2022, 1, 3), 30)


def _features(rows: list[tuple[str, str | None, float, float, float, float]], days: int = 30) -> pl.DataFrame:
    """Every (symbol, sector, momentum, volatility, hurst, entropy) row repeated on each of the first days sessions."""
    symbols, sectors, mom, vol, hurst, ent = zip(*rows)
    frame = pl.DataFrame(
        {
            "symbol": symbols,
            "sector": pl.Series(sectors, dtype=pl.String),
            "momentum": mom,
            "volatility": vol,
            "hurst": hurst,
            "entropy": ent,
        }
    )
    return pl.DataFrame({"date": pl.Series(DAYS[:days], dtype=pl.Date)}).join(frame, how="cross")


UNIVERSE = [
    ("SPY", None, 9.0, 0.01, 0.5, 0.9),
    ("A", "tech", 0.50, 0.01, 0.60, 0.95),  # score 50
    ("B", "tech", 0.40, 0.01, 0.40, 0.99),  # score 40, anti-persistent
    ("C", "tech", 0.30, 0.01, 0.70, 0.90),  # score 30
    ("D", "energy", 0.20, 0.01, 0.55, 0.80),  # score 20
    ("E", None, 0.10, 0.01, 0.65, 0.97),  # score 10
    ("F", "energy", 0.90, 0.10, 0.58, 0.96),  # score 9 but best raw momentum
]


def _select(features: pl.DataFrame, **overrides: str) -> pl.DataFrame:
    base = {"backtest.warmup": "5", "backtest.rebalance_every": "10", "selection.top_k": "3"}
    return select_assets(features=features, settings=small_settings(**{**base, **overrides})).outputs["selection"]


def test_selects_top_k_by_score_on_each_rebalance_date_only() -> None:
    out = _select(_features(UNIVERSE))
    assert out.get_column("date").unique().sort().to_list() == [DAYS[5], DAYS[15], DAYS[25]]
    first = out.filter(pl.col("date") == DAYS[5])
    assert first.get_column("symbol").to_list() == ["A", "B", "C"]
    assert first.get_column("rank").to_list() == [1, 2, 3]
    assert first.get_column("score").to_list() == pytest.approx([50.0, 40.0, 30.0])


def test_benchmark_is_never_selected_unless_allowed() -> None:
    assert "SPY" not in _select(_features(UNIVERSE)).get_column("symbol").to_list()
    assert (
        "SPY" in _select(_features(UNIVERSE), **{"selection.exclude_benchmark": "false"}).get_column("symbol").to_list()
    )


def test_momentum_score_ignores_volatility() -> None:
    first = _select(_features(UNIVERSE), **{"selection.score": '"momentum"'}).filter(pl.col("date") == DAYS[5])
    assert first.get_column("symbol").to_list() == ["F", "A", "B"]


def test_predictability_filters_drop_assets_before_ranking() -> None:
    first = _select(_features(UNIVERSE), **{"selection.min_hurst": "0.5", "selection.max_entropy": "0.96"}).filter(
        pl.col("date") == DAYS[5]
    )
    assert first.get_column("symbol").to_list() == ["A", "C", "D"]  # B fails hurst, E entropy, F entropy


def test_sector_cap_skips_to_the_next_best_in_another_sector() -> None:
    first = _select(_features(UNIVERSE), **{"selection.max_per_sector": "1"}).filter(pl.col("date") == DAYS[5])
    assert first.get_column("symbol").to_list() == ["A", "D", "E"]  # one tech, one energy, E (no sector: its own)


def test_symbols_without_a_sector_are_each_their_own_sector() -> None:
    unknown = [(s, None, m, v, h, e) for s, _, m, v, h, e in UNIVERSE]
    first = _select(_features(unknown), **{"selection.max_per_sector": "1"}).filter(pl.col("date") == DAYS[5])
    assert first.get_column("symbol").to_list() == ["A", "B", "C"]  # not one shared null sector capped at 1


def test_assets_without_a_score_yet_are_not_eligible() -> None:
    features = _features(UNIVERSE).with_columns(
        momentum=pl.when(pl.col("symbol") == "A").then(None).otherwise(pl.col("momentum"))
    )
    assert "A" not in _select(features).get_column("symbol").to_list()


def test_ties_are_broken_by_symbol_for_a_stable_order() -> None:
    tied = [("Z", "x", 0.1, 0.01, 0.5, 0.5), ("Y", "x", 0.1, 0.01, 0.5, 0.5), ("X", "x", 0.1, 0.01, 0.5, 0.5)]
    first = _select(_features(tied), **{"selection.top_k": "2"}).filter(pl.col("date") == DAYS[5])
    assert first.get_column("symbol").to_list() == ["X", "Y"]


def test_a_feature_flag_turns_its_filter_off_too() -> None:
    features = _features(UNIVERSE).drop("hurst")
    on = _select(_features(UNIVERSE), **{"selection.min_hurst": "0.5"}).filter(pl.col("date") == DAYS[5])
    off = _select(features, **{"selection.min_hurst": "0.5", "features.hurst": "false"}).filter(
        pl.col("date") == DAYS[5]
    )
    assert on.get_column("symbol").to_list() == ["A", "C", "D"]  # B fails the Hurst filter
    assert off.get_column("symbol").to_list() == ["A", "B", "C"]  # no Hurst, no Hurst filter


def test_a_filter_on_a_column_missing_from_the_frame_is_a_clear_error() -> None:
    with pytest.raises(FeatureMissingError, match="hurst"):
        _select(_features(UNIVERSE).drop("hurst"), **{"selection.min_hurst": "0.5"})
