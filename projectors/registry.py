"""The read models by name (`bin/replay --to NAME`, bin/verify's witnesses): name -> factory(home, options)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from projectors.errors import UnknownReadModelError
from projectors.readmodel import ReadModel

Factory = Callable[[Path, Mapping[str, object]], ReadModel]


def _duckdb(home: Path, options: Mapping[str, object]) -> ReadModel:
    from projectors.projection.model import open_projection

    return open_projection(home, options)


def _mlflow(home: Path, options: Mapping[str, object]) -> ReadModel:
    from projectors.mirror.model import open_mirror  # imports no mlflow until the model is used

    return open_mirror(home, options)


def _openlineage(home: Path, options: Mapping[str, object]) -> ReadModel:
    from projectors.lineage.model import open_lineage  # imports no openlineage until events are built

    return open_lineage(home, options)


#: every read model, in the order verify lists their witnesses; factories import their model only when called
READ_MODELS: dict[str, Factory] = {"duckdb": _duckdb, "mlflow": _mlflow, "openlineage": _openlineage}


def names() -> list[str]:
    """The registered read models' names."""
    return list(READ_MODELS)


def register(name: str, factory: Factory) -> None:
    """Add (or replace) a read model under name."""
    READ_MODELS[name] = factory


def open_model(name: str, home: Path, options: Mapping[str, object] | None = None) -> ReadModel:
    """The read model called name for the ledger under home."""
    try:
        factory = READ_MODELS[name]
    except KeyError:
        raise UnknownReadModelError(f"no read model named {name!r} (known: {', '.join(READ_MODELS)})") from None
    return factory(Path(home), options or {})


def open_all(home: Path, options: Mapping[str, object] | None = None) -> list[ReadModel]:
    """Every registered read model for the ledger under home."""
    return [open_model(name, home, options) for name in READ_MODELS]
