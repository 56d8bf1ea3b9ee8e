"""bin/verify --deep for a SQLite MLflow mirror: its runs' params, metric values and aliases against the ledger.

Read with sqlite3, read-only, without importing mlflow: the store is a view this product wrote.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from ledger import LEDGER_NAME
from projectors.mirror.layout import read_sqlite_witness
from projectors.mirror.plan import alias_holders, read_ledger, run_params
from projectors.readmodel import Progress, quiet


def compare_sqlite_mirror(home: Path, db: Path, progress: Progress = quiet) -> list[str]:
    """One line per mirrored run whose params or metrics differ from the ledger, and per alias held elsewhere."""
    witness = read_sqlite_witness(db)
    if witness is None:
        return []
    fold = read_ledger(Path(home) / LEDGER_NAME, 0, progress)
    con = sqlite3.connect(f"{Path(db).resolve().as_uri()}?mode=ro", uri=True)
    try:
        ids = dict(con.execute("SELECT value, run_uuid FROM tags WHERE key = 'ledger.run_id'").fetchall())
        problems: list[str] = []
        for run_id, run in fold.runs.items():
            uuid = ids.get(run_id)
            if uuid is None or run.last_seq > witness[0]:
                continue  # not mirrored yet, or mirrored past this witness: the next replay covers it
            params = dict(con.execute("SELECT key, value FROM params WHERE run_uuid = ?", [uuid]).fetchall())
            wanted = run_params(run)
            bad = sorted(k for k in wanted.keys() | params.keys() if wanted.get(k) != params.get(k))
            if bad:
                problems.append(f"mlflow run of {run_id}: params differ from the ledger ({', '.join(bad[:5])})")
            have = Counter(
                con.execute("SELECT key, value, timestamp, step FROM metrics WHERE run_uuid = ?", [uuid]).fetchall()
            )
            want = Counter((m.key, m.value, m.timestamp, m.step) for m in run.metrics)
            if have != want:
                keys = sorted({k for k, *_ in (have - want) + (want - have)})
                problems.append(f"mlflow run of {run_id}: metric values differ from the ledger ({', '.join(keys[:5])})")
        by_uuid = {uuid: run_id for run_id, uuid in ids.items()}
        try:
            rows = con.execute(
                "SELECT a.alias, v.run_id FROM registered_model_aliases a JOIN model_versions v "
                "ON v.name = a.name AND v.version = a.version"
            ).fetchall()
        except sqlite3.Error:
            rows = []
        store = {(alias, by_uuid.get(uuid, uuid)) for alias, uuid in rows}
        ledger = {(alias, run_id) for (_, alias), run_id in alias_holders(fold, witness[0]).items()}
        for alias, run_id in sorted(store - ledger):
            problems.append(
                f"mlflow alias {alias} points at {run_id}, the ledger gives it to "
                f"{next((r for a, r in ledger if a == alias), 'no run')} (moved by hand?)"
            )
        for alias, run_id in sorted(ledger - store):
            if not any(a == alias for a, _ in store):
                problems.append(f"mlflow alias {alias} is missing (the ledger gives it to {run_id})")
        return problems
    finally:
        con.close()
