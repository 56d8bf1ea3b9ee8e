"""The allocation stage: equal and inverse-volatility weights per rebalance date, summing to the gross exposure."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from stages.allocation import allocate
from tests.support.quant_market import small_settings

D1, D2 = date(2022, 1, 3), date(2022, 2, 1)
SELECTION = pl.DataFrame(
    {
        "date": [D1, D1, D1, D2, D2],
        "symbol": ["A", "B", "C", "A", "D"],
        "sector": ["x", "y", "z", "x", "y"],
        "score": [3.0, 2.0, 1.0, 2.0, 1.0],
        "rank": [1, 2, 3, 1, 2],
    }
)
FEATURES = pl.DataFrame(
    {
        "date": [D1, D1, D1, D2, D2, D2],
        "symbol": ["A", "B", "C", "A", "D", "B"],
        "volatility": [0.01, 0.02, 0.04, 0.03, 0.01, 0.5],
    }
)


def _weights(method: str, **extra: str) -> dict[tuple[date, str], float]:
    settings = small_settings(**{"allocation.method": f'"{method}"', **extra})
    out = allocate(selection=SELECTION, features=FEATURES, settings=settings).outputs["weights"]
    assert out.columns == ["date", "symbol", "weight"]
    return {(d, s): w for d, s, w in out.iter_rows()}


def test_equal_weight_splits_each_date_evenly() -> None:
    w = _weights("equal")
    assert w == pytest.approx({(D1, "A"): 1 / 3, (D1, "B"): 1 / 3, (D1, "C"): 1 / 3, (D2, "A"): 0.5, (D2, "D"): 0.5})


def test_inverse_vol_weights_are_proportional_to_one_over_volatility() -> None:
    w = _weights("inverse_vol")
    total = 100 + 50 + 25
    assert w[(D1, "A")] == pytest.approx(100 / total)
    assert w[(D1, "C")] == pytest.approx(25 / total)
    assert w[(D2, "D")] / w[(D2, "A")] == pytest.approx(3.0)
    assert (D2, "B") not in w  # unselected assets get no weight


def test_gross_scales_every_date() -> None:
    w = _weights("equal", **{"allocation.gross": "0.5"})
    assert sum(v for (d, _), v in w.items() if d == D1) == pytest.approx(0.5)
