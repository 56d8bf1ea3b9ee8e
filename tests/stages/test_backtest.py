"""The backtest stage: a hand-checked two-asset book, costs, and no look-ahead through the whole analytics chain."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from stages.allocation import allocate
from stages.backtest import backtest, simple_returns
from stages.features import compute_features
from stages.selection import select_assets
from tests.support.quant_market import business_days, clean_frame, small_settings

DAYS = business_days(date(2022, 1, 3), 6)


def _clean(prices: dict[str, list[float]]) -> pl.DataFrame:
    rows = [(DAYS[t], s, p) for s, series in prices.items() for t, p in enumerate(series) if p is not None]
    d, s, p = zip(*rows)
    return pl.DataFrame(
        {
            "date": pl.Series(d, dtype=pl.Date),
            "symbol": s,
            "sector": [None] * len(s),
            "close": pl.Series(p, dtype=pl.Float64),
        }
    )


def _weights(rows: list[tuple[int, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": pl.Series([DAYS[t] for t, _, _ in rows], dtype=pl.Date),
            "symbol": [s for _, s, _ in rows],
            "weight": [w for _, _, w in rows],
        }
    )


def test_two_asset_book_drifts_then_rebalances_with_costs() -> None:
    clean = _clean({"A": [10, 11, 11, 12.1, 12.1, 12.1], "B": [10, 10, 9, 9, 9, 9]})
    weights = _weights([(1, "A", 0.5), (1, "B", 0.5), (4, "A", 1.0)])
    settings = small_settings(**{"backtest.warmup": "1", "backtest.rebalance_every": "3", "backtest.cost_bps": "10"})
    p = backtest(weights=weights, clean=clean, settings=settings).outputs["portfolio"]
    assert p.get_column("session").to_list() == [1, 2, 3, 4, 5]
    gross = p.get_column("gross_return").to_numpy()
    # day 2: A flat, B -10% -> -5%; day 3: A +10% on its drifted weight 0.5/0.95
    np.testing.assert_allclose(gross, [0.0, -0.05, 0.1 * 0.5 / 0.95, 0.0, 0.0], rtol=1e-12)
    turnover = p.get_column("turnover").to_numpy()
    a_weight_before = (0.5 * 1.1 / 0.95) / (1 + 0.1 * 0.5 / 0.95)
    np.testing.assert_allclose(turnover, [1.0, 0, 0, (1 - a_weight_before) * 2, 0], rtol=1e-12)
    np.testing.assert_allclose(p.get_column("cost").to_numpy(), turnover * 10 / 1e4, rtol=1e-12)
    net = (1 + gross) * (1 - turnover * 1e-3) - 1
    np.testing.assert_allclose(p.get_column("net_return").to_numpy(), net, rtol=1e-12)
    np.testing.assert_allclose(p.get_column("equity").to_numpy(), np.cumprod(1 + net), rtol=1e-12)


def test_a_rebalance_date_without_weights_goes_to_cash() -> None:
    clean = _clean({"A": [10, 11, 12, 13, 14, 15]})
    settings = small_settings(**{"backtest.warmup": "0", "backtest.rebalance_every": "3", "backtest.cost_bps": "0"})
    p = backtest(weights=_weights([(0, "A", 1.0)]), clean=clean, settings=settings).outputs["portfolio"]
    assert p.get_column("exposure").to_list() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert p.get_column("gross_return").to_list()[4:] == [0.0, 0.0]


def test_returns_carry_prices_over_gaps() -> None:
    close = np.array([[10.0], [np.nan], [12.0]])
    np.testing.assert_allclose(simple_returns(close)[:, 0], [0.0, 0.0, 0.2])


def _chain(clean: pl.DataFrame) -> dict[str, pl.DataFrame]:
    settings = small_settings(**{"allocation.method": '"inverse_vol"', "selection.max_per_sector": "2"})
    features = compute_features(clean=clean, settings=settings).outputs["features"]
    selection = select_assets(features=features, settings=settings).outputs["selection"]
    weights = allocate(selection=selection, features=features, settings=settings).outputs["weights"]
    portfolio = backtest(weights=weights, clean=clean, settings=settings).outputs["portfolio"]
    return {"features": features, "selection": selection, "weights": weights, "portfolio": portfolio}


@pytest.mark.parametrize("cut", [150, 231])
def test_no_look_ahead_future_data_never_changes_the_past(cut: int) -> None:
    clean = clean_frame(symbols=12, sessions=300, seed=21)
    cutoff = clean.get_column("date").unique().sort()[cut]
    rng = np.random.default_rng(99)
    shocked = clean.with_columns(
        close=pl.when(pl.col("date") > cutoff)
        .then(pl.col("close") * pl.Series(rng.uniform(0.5, 2.0, clean.height)))
        .otherwise(pl.col("close"))
    )
    before, after = _chain(clean), _chain(shocked)
    for name in before:
        past = [f.filter(pl.col("date") <= cutoff) for f in (before[name], after[name])]
        assert past[0].height > 0
        assert past[0].equals(past[1]), name
    future_b, future_a = (f["portfolio"].filter(pl.col("date") > cutoff) for f in (before, after))
    assert not future_b.equals(future_a)  # the shock did reach the future, so the check above is not vacuous
