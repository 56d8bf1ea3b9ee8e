"""The metrics stage: headline figures against hand computations, MetricLogged events, the equity curve, per-asset figures."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest

from schemas.events import MetricLoggedData
from stages.allocation import allocate
from stages.backtest import backtest
from stages.features import compute_features
from stages.metrics import HEADLINE, headline_metrics, max_drawdown, report_metrics
from stages.selection import select_assets
from tests.support.quant_market import business_days, clean_frame, small_settings


def _portfolio(net: list[float], turnover: list[float] | None = None) -> pl.DataFrame:
    n = len(net)
    return pl.DataFrame(
        {
            "date": pl.Series(business_days(date(2022, 1, 3), n), dtype=pl.Date),
            "session": list(range(10, 10 + n)),
            "net_return": net,
            "equity": np.cumprod(1 + np.array(net)),
            "turnover": turnover or [0.0] * n,
            "cost": [0.0] * n,
        }
    )


def test_headline_metrics_match_hand_computation() -> None:
    net = [0.01, -0.02, 0.03, 0.0, -0.01, 0.02]
    m = headline_metrics(_portfolio(net, turnover=[1.0, 0, 0, 0.5, 0, 0]), periods_per_year=4)
    r = np.array(net)
    years = 6 / 4
    assert m["cagr"] == pytest.approx(np.prod(1 + r) ** (1 / years) - 1, rel=1e-12)
    assert m["volatility"] == pytest.approx(np.std(r, ddof=1) * 2, rel=1e-12)
    assert m["sharpe"] == pytest.approx(r.mean() / np.std(r, ddof=1) * 2, rel=1e-12)
    assert m["sortino"] == pytest.approx(r.mean() / math.sqrt((0.02**2 + 0.01**2) / 6) * 2, rel=1e-12)
    assert m["turnover"] == pytest.approx(1.5 / years)
    assert m["hit_rate"] == pytest.approx(2 / 5)  # the first session only trades
    assert m["max_drawdown"] == pytest.approx(1 - (1.01 * 0.98) / 1.01, rel=1e-12)


def test_max_drawdown_counts_a_fall_from_the_start() -> None:
    assert max_drawdown(np.array([0.9, 1.2, 0.6, 1.3])) == pytest.approx(0.5)
    assert max_drawdown(np.array([0.8, 0.9])) == pytest.approx(0.2)
    assert max_drawdown(np.array([1.1, 1.2])) == 0.0


@pytest.fixture(scope="module")
def chain() -> dict[str, object]:
    clean = clean_frame(symbols=10, sessions=260, seed=4)
    settings = small_settings()
    features = compute_features(clean=clean, settings=settings).outputs["features"]
    selection = select_assets(features=features, settings=settings).outputs["selection"]
    weights = allocate(selection=selection, features=features, settings=settings).outputs["weights"]
    portfolio = backtest(weights=weights, clean=clean, settings=settings).outputs["portfolio"]
    result = report_metrics(portfolio=portfolio, weights=weights, clean=clean, settings=settings)
    return {"clean": clean, "weights": weights, "portfolio": portfolio, "result": result}


def test_headline_values_and_events_agree(chain: dict[str, object]) -> None:
    result = chain["result"]
    headline = result.values["headline"]  # type: ignore[attr-defined]
    assert set(HEADLINE) <= set(headline) and "benchmark_cagr" in headline
    logged = {e.key: e.value for e in result.events if e.step is None}  # type: ignore[attr-defined]
    assert logged == headline
    assert all(isinstance(e, MetricLoggedData) and e.asset is None for e in result.events)  # type: ignore[attr-defined]


def test_equity_curve_is_stepped_by_session_index(chain: dict[str, object]) -> None:
    portfolio: pl.DataFrame = chain["portfolio"]  # type: ignore[assignment]
    curve = [(e.step, e.value) for e in chain["result"].events if e.key == "equity"]  # type: ignore[attr-defined]
    assert curve == list(zip(portfolio.get_column("session").to_list(), portfolio.get_column("equity").to_list()))
    assert curve[0][0] == small_settings().backtest.warmup


def test_per_asset_figures_cover_every_selected_asset(chain: dict[str, object]) -> None:
    weights: pl.DataFrame = chain["weights"]  # type: ignore[assignment]
    assets = chain["result"].outputs["asset_metrics"]  # type: ignore[attr-defined]
    assert sorted(assets.get_column("symbol").to_list()) == sorted(weights.get_column("symbol").unique().to_list())
    counts = dict(weights.group_by("symbol").len().iter_rows())
    assert dict(assets.select("symbol", "times_selected").iter_rows()) == counts
    assert assets.get_column("hit_rate").is_between(0, 1).all()


def test_period_contributions_add_up_to_the_gross_growth_of_each_period(chain: dict[str, object]) -> None:
    portfolio: pl.DataFrame = chain["portfolio"]  # type: ignore[assignment]
    assets = chain["result"].outputs["asset_metrics"]  # type: ignore[attr-defined]
    gross = portfolio.get_column("gross_return").to_numpy()
    sessions = portfolio.get_column("session").to_numpy()
    settings = small_settings().backtest
    starts = np.arange(0, sessions.size, settings.rebalance_every)
    ends = np.append(starts[1:], sessions.size - 1)
    period_growth = sum(np.prod(1 + gross[s + 1 : e + 1]) - 1 for s, e in zip(starts, ends))
    assert assets.get_column("contribution").sum() == pytest.approx(period_growth, rel=1e-9)


def test_non_finite_metrics_are_left_out_not_logged() -> None:
    flat = _portfolio([0.0, 0.0, 0.0])
    clean = clean_frame(symbols=3, sessions=40)
    result = report_metrics(
        portfolio=flat,
        weights=flat.select("date").with_columns(symbol=pl.lit("S000"), weight=0.0),
        clean=clean,
        settings=small_settings(),
    )
    headline = result.values["headline"]
    assert "sharpe" not in headline and headline["volatility"] == 0.0


def test_a_history_shorter_than_the_warm_up_gives_empty_outputs_not_errors() -> None:
    clean = clean_frame(symbols=4, sessions=50)
    settings = small_settings()  # warm-up 64 sessions > 50
    features = compute_features(clean=clean, settings=settings).outputs["features"]
    selection = select_assets(features=features, settings=settings).outputs["selection"]
    weights = allocate(selection=selection, features=features, settings=settings).outputs["weights"]
    portfolio = backtest(weights=weights, clean=clean, settings=settings).outputs["portfolio"]
    result = report_metrics(portfolio=portfolio, weights=weights, clean=clean, settings=settings)
    assert selection.height == weights.height == portfolio.height == 0
    assert result.values["headline"] == {} and result.events == []
    assert result.outputs["asset_metrics"].height == 0
