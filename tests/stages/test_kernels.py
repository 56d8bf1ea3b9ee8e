"""Each numba kernel against its plain numpy reference (tests/support/reference.py) to 1e-12, on small arrays with gaps."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stages import kernels
from tests.support import reference

TOL = {"rtol": 1e-12, "atol": 1e-12}


def _prices(sessions: int = 160, symbols: int = 5, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(0.02 * rng.standard_normal((sessions, symbols)), axis=0))
    close[5, 1] = np.nan  # a missing observation
    close[40:44, 2] = np.nan  # a hole
    close[:30, 3] = np.nan  # a late listing
    close[90, 4] = -1.0  # a bad print the kernel must not take a log of
    return close


def _run(kernel: object, x: np.ndarray, *args: object) -> np.ndarray:
    out = np.full_like(x, 123.0)  # garbage: every cell must be overwritten
    kernel(x, *args, out)  # type: ignore[operator]
    return out


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    return reference.log_returns(_prices())


def test_log_returns_match_reference() -> None:
    close = _prices()
    np.testing.assert_allclose(_run(kernels.log_returns, close), reference.log_returns(close), **TOL)


def test_log_returns_are_nan_around_gaps_and_bad_prints() -> None:
    r = _run(kernels.log_returns, _prices())
    assert np.isnan(r[0]).all()
    assert np.isnan(r[5:7, 1]).all() and np.isfinite(r[7, 1])
    assert np.isnan(r[90:92, 4]).all()


def test_rolling_volatility_matches_reference(returns: np.ndarray) -> None:
    got = _run(kernels.rolling_volatility, returns, 10)
    np.testing.assert_allclose(got, reference.rolling(returns, 10, reference.volatility), **TOL)
    assert np.isfinite(got).sum() > 500


def test_rolling_sum_matches_reference(returns: np.ndarray) -> None:
    got = _run(kernels.rolling_sum, returns, 20)
    np.testing.assert_allclose(got, reference.rolling(returns, 20, np.sum), **TOL)


@pytest.mark.parametrize(("window", "min_chunk"), [(64, 8), (50, 6), (128, 8)])
def test_rolling_hurst_matches_reference(returns: np.ndarray, window: int, min_chunk: int) -> None:
    sizes = kernels.hurst_sizes(window, min_chunk)
    got = _run(kernels.rolling_hurst, returns, window, sizes)
    expected = reference.rolling(returns, window, lambda w: reference.hurst_rs(w, sizes))
    np.testing.assert_allclose(got, expected, **TOL)
    assert np.isfinite(got).sum() > 50


def test_vectorized_numpy_hurst_baseline_agrees(returns: np.ndarray) -> None:
    sizes = kernels.hurst_sizes(64, 8)
    got = _run(kernels.rolling_hurst, returns, 64, sizes)
    for j in range(returns.shape[1]):
        np.testing.assert_allclose(reference.hurst_vectorized(returns[:, j], 64, sizes), got[:, j], **TOL)


def test_hurst_sizes_are_doubling_up_to_half_the_window() -> None:
    assert kernels.hurst_sizes(128, 8).tolist() == [8, 16, 32, 64]
    assert kernels.hurst_sizes(100, 6).tolist() == [6, 12, 24, 48]


def test_hurst_separates_trending_from_mean_reverting_series() -> None:
    rng = np.random.default_rng(5)
    noise = rng.standard_normal(4096)
    trending = np.convolve(noise, np.ones(32), mode="valid")[:2048]  # strongly persistent increments
    alternating = noise[:2048] - np.roll(noise[:2048], 1)  # anti-persistent increments
    sizes = kernels.hurst_sizes(2048, 8)
    assert kernels.hurst_rs(trending, sizes) > 0.8
    assert kernels.hurst_rs(alternating, sizes) < 0.3


def test_hurst_is_nan_on_a_constant_window() -> None:
    assert math.isnan(kernels.hurst_rs(np.ones(64), kernels.hurst_sizes(64, 8)))


@pytest.mark.parametrize(("window", "order"), [(32, 3), (20, 4), (9, 2)])
def test_rolling_permutation_entropy_matches_reference(returns: np.ndarray, window: int, order: int) -> None:
    got = _run(kernels.rolling_permutation_entropy, returns, window, order)
    expected = reference.rolling(returns, window, lambda w: reference.permutation_entropy(w, order))
    np.testing.assert_allclose(got, expected, **TOL)
    assert np.isfinite(got).sum() > 100


def test_entropy_handles_ties_like_a_stable_sort() -> None:
    x = np.round(np.random.default_rng(2).standard_normal((80, 2)), 0)  # many ties
    got = _run(kernels.rolling_permutation_entropy, x, 16, 3)
    np.testing.assert_allclose(got, reference.rolling(x, 16, lambda w: reference.permutation_entropy(w, 3)), **TOL)


def test_entropy_of_a_monotone_series_is_zero() -> None:
    got = _run(kernels.rolling_permutation_entropy, np.arange(40.0).reshape(-1, 1), 10, 3)
    assert np.nanmax(got) == 0.0


@pytest.mark.parametrize("order", [2, 3, 4, 5])
def test_ordinal_codes_are_a_bijection_onto_range_of_order_factorial(order: int) -> None:
    codes = {
        kernels.ordinal_code(np.array(p, dtype=np.float64), 0, order) for p in itertools.permutations(range(order))
    }
    assert codes == set(range(math.factorial(order)))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1, 1, allow_nan=False), min_size=12, max_size=60), st.integers(2, 4))
def test_entropy_is_normalised_to_unit_interval(values: list[float], order: int) -> None:
    x = np.array(values).reshape(-1, 1)
    got = _run(kernels.rolling_permutation_entropy, x, 10, order)
    finite = got[np.isfinite(got)]
    assert finite.size == x.shape[0] - 9
    assert ((finite >= 0.0) & (finite <= 1.0 + 1e-15)).all()


def test_vectorized_numpy_entropy_baseline_agrees(returns: np.ndarray) -> None:
    got = _run(kernels.rolling_permutation_entropy, returns, 32, 3)
    for j in range(returns.shape[1]):
        np.testing.assert_allclose(reference.entropy_vectorized(returns[:, j], 32, 3), got[:, j], **TOL)


def test_per_window_numpy_baselines_agree_with_the_reference(returns: np.ndarray) -> None:
    sizes = kernels.hurst_sizes(64, 8)
    for t in (70, 100, 159):
        w = returns[t - 63 : t + 1, 0]
        assert reference.hurst_rs_blocks(w, sizes) == pytest.approx(reference.hurst_rs(w, sizes), abs=1e-12)
        assert reference.permutation_entropy_codes(w, 3) == pytest.approx(
            reference.permutation_entropy(w, 3), abs=1e-12
        )


def test_rolling_hurst_is_bit_identical_to_the_single_window_estimate(returns: np.ndarray) -> None:
    sizes = kernels.hurst_sizes(64, 8)
    got = _run(kernels.rolling_hurst, returns, 64, sizes)
    for t in range(70, 160, 7):
        assert got[t, 0] == kernels.hurst_rs(np.ascontiguousarray(returns[t - 63 : t + 1, 0]), sizes)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 158), st.integers(0, 2**32 - 1))
def test_no_kernel_reads_a_later_session(cut: int, seed: int) -> None:
    x = reference.log_returns(_prices())
    later = x.copy()
    later[cut + 1 :] = np.random.default_rng(seed).standard_normal(later[cut + 1 :].shape)
    sizes = kernels.hurst_sizes(32, 4)
    for kernel, args in [
        (kernels.log_returns, ()),
        (kernels.rolling_volatility, (10,)),
        (kernels.rolling_sum, (10,)),
        (kernels.rolling_hurst, (32, sizes)),
        (kernels.rolling_permutation_entropy, (16, 3)),
    ]:
        np.testing.assert_array_equal(_run(kernel, x, *args)[: cut + 1], _run(kernel, later, *args)[: cut + 1])


def test_hurst_sizes_that_do_not_double_are_refused() -> None:
    x = np.random.default_rng(1).standard_normal((100, 2))
    with pytest.raises(ValueError, match="double"):
        kernels.rolling_hurst(x, 64, np.array([8, 24]), np.empty_like(x))
    with pytest.raises(ValueError, match="double"):
        kernels.hurst_rs(x[:, 0].copy(), np.array([8, 24]))
