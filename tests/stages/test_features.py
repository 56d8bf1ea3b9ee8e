"""The features stage: one row per clean row, each feature equal to the reference computed on that symbol's own series."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from stages import kernels
from stages.features import compute_features
from tests.support import reference
from tests.support.quant_market import clean_frame, small_settings


@pytest.fixture(scope="module")
def clean() -> pl.DataFrame:
    return clean_frame(symbols=6, sessions=200)


@pytest.fixture(scope="module")
def features(clean: pl.DataFrame) -> pl.DataFrame:
    return compute_features(clean=clean, settings=small_settings()).outputs["features"]


def test_one_row_per_clean_row_with_keys_and_all_features(clean: pl.DataFrame, features: pl.DataFrame) -> None:
    assert features.height == clean.height
    assert features.columns == ["date", "symbol", "sector", "log_return", "volatility", "momentum", "hurst", "entropy"]
    assert features.select("date", "symbol", "sector").equals(clean.select("date", "symbol", "sector"))
    assert features.get_column("log_return").null_count() < clean.height  # some are filled
    assert all(
        features.get_column(c).is_nan().sum() == 0 for c in ("volatility", "hurst", "entropy")
    )  # nulls, never NaN


def test_each_symbol_matches_the_reference_on_its_own_calendar(clean: pl.DataFrame, features: pl.DataFrame) -> None:
    cfg = small_settings().features
    calendar = clean.get_column("date").unique().sort()
    for symbol in ("S000", "S001"):  # S000 lists late, S001 has holes
        rows = clean.filter(pl.col("symbol") == symbol)
        close = np.full(calendar.len(), np.nan)
        close[calendar.search_sorted(rows.get_column("date")).to_numpy()] = rows.get_column("close").to_numpy()
        r = reference.log_returns(close.reshape(-1, 1))
        sizes = kernels.hurst_sizes(cfg.hurst_window, cfg.hurst_min_chunk)
        expected = {
            "log_return": r,
            "volatility": reference.rolling(r, cfg.vol_window, reference.volatility),
            "hurst": reference.rolling(r, cfg.hurst_window, lambda w: reference.hurst_rs(w, sizes)),
            "entropy": reference.rolling(
                r, cfg.entropy_window, lambda w: reference.permutation_entropy(w, cfg.entropy_order)
            ),
        }
        got = features.filter(pl.col("symbol") == symbol)
        at = calendar.search_sorted(got.get_column("date")).to_numpy()
        for name, matrix in expected.items():
            np.testing.assert_allclose(
                got.get_column(name).fill_null(np.nan).to_numpy(), matrix[at, 0], rtol=1e-12, atol=1e-12
            )


def test_a_missing_day_blanks_the_next_return(features: pl.DataFrame) -> None:
    s1 = features.filter(pl.col("symbol") == "S001")
    calendar = features.get_column("date").unique().sort()
    positions = calendar.search_sorted(s1.get_column("date")).to_numpy()
    after_hole = np.nonzero(np.diff(positions) > 1)[0] + 1
    assert after_hole.size > 0
    assert s1.get_column("log_return").gather(after_hole).is_null().all()


def test_feature_flags_turn_kernels_off(clean: pl.DataFrame) -> None:
    settings = small_settings(**{"features.hurst": "false", "features.entropy": "false"})
    out = compute_features(clean=clean, settings=settings).outputs["features"]
    assert "hurst" not in out.columns and "entropy" not in out.columns
    assert "momentum" in out.columns
