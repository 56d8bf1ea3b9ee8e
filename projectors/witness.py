"""Ledger-head witnesses: the positions of the registered read models, and their cross-check against the ledger."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from ledger import line_hash
from projectors import registry


@dataclasses.dataclass(frozen=True)
class Witness:
    """A (seq, hash) of the ledger recorded somewhere else: a rewritten ledger cannot rewrite it too."""

    name: str
    seq: int
    hash: str
    where: str


def witnesses(home: Path, notes: list[str] | None = None, options: Mapping[str, object] | None = None) -> list[Witness]:
    """The position of every registered read model found in the home; one that cannot be read is skipped with a note."""
    found: list[Witness] = []
    for name in registry.names():
        title = name
        try:
            model = registry.open_model(name, Path(home), options)
            title = model.title
            position = model.position()
        except Exception as exc:  # a busy or damaged store is not evidence against the ledger
            if notes is not None:
                notes.append(
                    f"{title} not checked: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                )
            continue
        if position is not None:
            found.append(Witness(title, position.seq, position.hash, model.where()))
    return found


def cross_check(ledger_path: Path, found: list[Witness]) -> list[str]:
    """One problem per witness that disagrees with the ledger: a different hash at its seq, or a seq past the head."""
    problems = []
    for w in found:
        actual = line_hash(ledger_path, w.seq)
        if actual is None:
            problems.append(
                f"{w.name} ({w.where}) witnessed seq {w.seq} but the ledger ends before it (truncated or rewritten)"
            )
        elif actual != w.hash:
            problems.append(
                f"{w.name} ({w.where}) witnessed seq {w.seq} with hash {w.hash[:12]}, "
                f"the ledger has {actual[:12]} (rewritten and re-hashed?)"
            )
    return problems
