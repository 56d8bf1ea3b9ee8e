"""Settings: profiles, --set overrides, feature flags, validation, the config hash, and ContextVar isolation across threads."""

from __future__ import annotations

import threading

import pytest

from schemas.settings import Settings, SettingsError, current, load_settings, profile_names, using


def test_both_profiles_load_and_differ_where_they_should() -> None:
    assert {"canary", "production"} <= set(profile_names())
    canary, production = load_settings("canary"), load_settings("production")
    assert (canary.source.symbols, canary.source.sessions) == (40, 504)
    assert (production.source.symbols, production.source.sessions) == (2000, 2520)
    assert production.allocation.method == "inverse_vol" and production.selection.max_per_sector == 10
    assert canary.config_hash() != production.config_hash()


def test_overrides_are_typed_and_change_the_hash() -> None:
    base = load_settings("canary")
    changed = load_settings("canary", {"backtest.cost_bps": "12.5", "features.hurst": "false", "selection.score": "momentum"})
    assert changed.backtest.cost_bps == 12.5 and changed.features.hurst is False and changed.selection.score == "momentum"
    assert changed.config_hash() != base.config_hash()
    assert load_settings("canary").config_hash() == base.config_hash()


def test_flat_params_carry_the_feature_flags() -> None:
    flat = load_settings("canary", {"features.entropy": "false"}).flat()
    assert flat["features.entropy"] is False and flat["features.hurst_window"] == 128


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("selection.top_k", "0", "selection.top_k"),
        ("features.entropy_order", "9", "features.entropy_order"),
        ("features.hurst_window", "20", "hurst_window"),
        ("features.entropy_window", "3", "entropy_window"),
        ("allocation.method", "risk_parity", "allocation.method"),
        ("backtest.cost_bps", "-1", "backtest.cost_bps"),
        ("features.colour", "1", "colour"),
    ],
)
def test_invalid_settings_are_one_clear_error(key: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings("canary", {key: value})


def test_settings_are_frozen() -> None:
    with pytest.raises(ValueError):
        load_settings("canary").backtest.cost_bps = 1.0  # type: ignore[misc]


def test_two_threads_with_different_settings_never_see_each_others() -> None:
    barrier = threading.Barrier(2, timeout=10)
    seen: dict[str, list[float]] = {}
    errors: list[BaseException] = []

    def worker(name: str, settings: Settings) -> None:
        try:
            with using(settings):
                barrier.wait()  # both threads are now inside their own `using` block
                first = current().backtest.cost_bps
                barrier.wait()  # and both have read once: force a second read after the other's
                seen[name] = [first, current().backtest.cost_bps]
            seen[name].append(current().backtest.cost_bps)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    a = load_settings("canary", {"backtest.cost_bps": "1"})
    b = load_settings("production", {"backtest.cost_bps": "2"})
    threads = [threading.Thread(target=worker, args=("a", a)), threading.Thread(target=worker, args=("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    default = Settings().backtest.cost_bps
    assert seen == {"a": [1.0, 1.0, default], "b": [2.0, 2.0, default]}


def test_using_restores_the_outer_settings() -> None:
    outer, inner = load_settings("canary"), load_settings("production")
    with using(outer):
        with using(inner):
            assert current() is inner
        assert current() is outer
