"""The read-model registry: names to factories, one unknown name is a clear error, options reach the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from projectors import registry
from projectors.errors import UnknownReadModelError
from projectors.readmodel import Position, ReadModel, Step


def test_duckdb_and_mlflow_are_registered_and_open_as_read_models(tmp_path: Path) -> None:
    assert registry.names()[:2] == ["duckdb", "mlflow"]
    for model in registry.open_all(tmp_path):
        assert isinstance(model, ReadModel) and model.home == tmp_path
        assert model.position() is None  # no store yet: nothing is created by asking


def test_options_reach_the_model(tmp_path: Path) -> None:
    model = registry.open_model("mlflow", tmp_path, {"tracking_uri": "sqlite:////elsewhere/mlflow.db"})
    assert model.where() == "sqlite:////elsewhere/mlflow.db"


def test_an_unknown_name_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UnknownReadModelError, match="known: duckdb, mlflow"):
        registry.open_model("nosuch", tmp_path)


def test_a_registered_model_is_found_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Fixed(ReadModel):
        name, title = "fixed", "fixed model"

        def __init__(self, home: Path) -> None:
            self.home = home

        def position(self) -> Position | None:
            return Position(1, "a" * 64)

        def catch_up(self, *, progress=None) -> int:  # type: ignore[no-untyped-def]
            return 0

        rebuild = catch_up

        def where(self) -> str:
            return "nowhere"

    monkeypatch.setattr(registry, "READ_MODELS", dict(registry.READ_MODELS))
    registry.register("fixed", lambda home, options: Fixed(home))
    assert registry.open_model("fixed", tmp_path).position() == Position(1, "a" * 64)
    assert "fixed" in registry.names()


def test_a_step_is_a_line_with_counts() -> None:
    step = Step("duckdb: applied 3 events", model="duckdb", done=3, total=3)
    assert step == "duckdb: applied 3 events" and (step.model, step.done, step.total) == ("duckdb", 3, 3)
