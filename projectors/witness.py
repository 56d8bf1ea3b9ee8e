"""Ledger-head witnesses kept by the projectors (DuckDB checkpoint, MLflow mirror) and their cross-check."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb

from ledger.codec import chain_fields
from ledger.lines import iter_lines, offset_of_line
from projectors.duckdb import PROJECTION_NAME as PROJECTION_NAME  # re-exported

#: the MLflow mirror's default store (a SQLite file) and its artifact folder, both in the home
MLFLOW_DB, MLFLOW_ARTIFACTS = "mlflow.db", "mlartifacts"


def default_tracking_uri(home: Path) -> str:
    """The mirror's default store: sqlite:///<absolute home>/mlflow.db (no mlflow import needed to name it)."""
    return f"sqlite:///{(Path(home).resolve() / MLFLOW_DB)}"


@dataclasses.dataclass(frozen=True)
class Witness:
    """A (seq, hash) of the ledger recorded somewhere else: a rewritten ledger cannot rewrite it too."""

    name: str
    seq: int
    hash: str
    where: str


def duckdb_witness(home: Path) -> Witness | None:
    """The projection's checkpoint, read through a read-only connection; None without a projection."""
    path = home / PROJECTION_NAME
    if not path.is_file():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'checkpoint'"
        ).fetchone()
        if not found or not found[0]:
            return None
        row = con.execute("SELECT seq, hash FROM checkpoint WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None or not row[0]:
        return None
    return Witness("duckdb checkpoint", int(row[0]), str(row[1]), str(path))


def mlflow_witness(home: Path) -> Witness | None:
    """The head the MLflow mirror last completed; None without a mirror store (mlflow is imported only then)."""
    if not (home / MLFLOW_DB).is_file():
        return None
    try:
        from projectors.mlflow import read_witness
    except (ImportError, AttributeError):
        return None
    found = read_witness(home)
    if found is None or not found[0]:
        return None
    return Witness("mlflow mirror", int(found[0]), str(found[1]), str(home / MLFLOW_DB))


def witnesses(home: Path, notes: list[str] | None = None) -> list[Witness]:
    """Every witness found in the home folder; one that cannot be read is skipped with a note."""
    found: list[Witness] = []
    for name, reader in (("duckdb checkpoint", duckdb_witness), ("mlflow mirror", mlflow_witness)):
        try:
            witness = reader(home)
        except Exception as exc:  # a busy or damaged store is not evidence against the ledger
            if notes is not None:
                notes.append(f"{name} not checked: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            continue
        if witness is not None:
            found.append(witness)
    return found


def line_hash(ledger_path: Path, seq: int) -> str | None:
    """The hash stated on the ledger's line seq, or None when the ledger has fewer complete lines."""
    try:
        start = offset_of_line(ledger_path, seq - 1, ledger_path.stat().st_size)
    except EOFError:
        return None
    for _, line in iter_lines(ledger_path, start):
        fields = chain_fields(line)
        return fields[2].decode("ascii", "replace") if fields else "(unreadable line)"
    return None


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
