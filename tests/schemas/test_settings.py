"""Settings: profiles, --set overrides, feature flags, validation, the config hash, and isolation across threads with settings passed explicitly."""

from __future__ import annotations

import threading

import pytest

from schemas.settings import Settings, SettingsError, load_settings, profile_names
from stages.validate import validate
from tests.support.contracts_kit import market, patch
from tests.support.contracts_kit import settings as kit_settings


def test_both_profiles_load_and_differ_where_they_should() -> None:
    assert {"canary", "production"} <= set(profile_names())
    canary, production = load_settings("canary"), load_settings("production")
    assert (canary.source.symbols, canary.source.sessions) == (40, 504)
    assert (production.source.symbols, production.source.sessions) == (2000, 2520)
    assert production.allocation.method == "inverse_vol" and production.selection.max_per_sector == 10
    assert canary.config_hash() != production.config_hash()


def test_overrides_are_typed_and_change_the_hash() -> None:
    base = load_settings("canary")
    changed = load_settings(
        "canary", {"backtest.cost_bps": "12.5", "features.hurst": "false", "selection.score": "momentum"}
    )
    assert (
        changed.backtest.cost_bps == 12.5 and changed.features.hurst is False and changed.selection.score == "momentum"
    )
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
    """Isolation rests on settings passed explicitly: two validations with different contracts run at
    once in two threads, interleaved by a barrier, and each sees only its own settings."""
    spiked = patch(market("AAA"), "AAA", 12, close=800.0)
    strict = kit_settings(contracts={"max_abs_return": 0.5})
    loose = kit_settings(contracts={"max_abs_return": 1e6})
    barrier = threading.Barrier(2, timeout=30)
    seen: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def worker(name: str, settings: Settings) -> None:
        try:
            seen[name] = []
            for _ in range(3):
                barrier.wait()  # both threads validate at the same time, three rounds
                seen[name].append(validate(raw=spiked, settings=settings).outputs["drops"].height)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=("strict", strict)),
        threading.Thread(target=worker, args=("loose", loose)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert seen["loose"] == [0, 0, 0]
    assert seen["strict"][0] > 0 and len(set(seen["strict"])) == 1


def test_settings_module_holds_no_active_settings() -> None:
    import schemas.settings as module

    assert not hasattr(module, "current") and not hasattr(module, "using") and not hasattr(module, "CURRENT_SETTINGS")
