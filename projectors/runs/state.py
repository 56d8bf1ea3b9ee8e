"""RunState: one run as the projection knows it, now or as of any seq."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson

from projectors import projection
from projectors.errors import UnknownRunError
from schemas.context import check_run_id
from schemas.events import JsonScalar, Model


class StageState(Model):
    """One stage of a run: where it ran in the order, how it ended, and the hashes of what it wrote."""

    name: str
    position: int
    status: str
    rows_in: int | None = None
    rows_out: int | None = None
    outputs: dict[str, str] = {}
    attempts: int = 1


class ContractOutcome(Model):
    """The result of one data-contract check."""

    status: str
    severity: str
    failed: int
    total: int
    action: str


class DropSummary(Model):
    """Rows dropped for one (contract, check, reason): how many and which keys (symbol@date) when inline."""

    count: int
    keys: list[str] = []
    artifact: str | None = None


class RunState(Model):
    """Everything a forensic diff compares, rebuilt from the projection views."""

    run_id: str
    status: str
    pipeline: str
    profile: str
    git_sha: str | None
    git_dirty: bool | None
    config_hash: str
    packages: dict[str, str] = {}
    params: dict[str, JsonScalar] = {}
    inputs: dict[str, str] = {}
    stages: list[StageState] = []
    contracts: dict[str, ContractOutcome] = {}
    drops: dict[str, DropSummary] = {}
    metrics: dict[str, float] = {}
    series: dict[str, dict[int, float]] = {}
    tags: dict[str, str] = {}
    #: how the run was executed (orchestrator, its flow run id, executor, sweep): compared by bin/diff, never a difference
    execution: dict[str, JsonScalar] = {}


def load_state(con: duckdb.DuckDBPyConnection, run_id: str) -> RunState:
    """Read one run's state from an open projection (live, or an as_of database)."""
    check_run_id(run_id)
    row = con.execute(
        "SELECT r.status, r.pipeline, r.profile, r.git_sha, r.git_dirty, r.config_hash, s.packages, s.inputs, "
        "r.orchestrator, r.flow_run_id, s.executor.name, s.executor.workers, s.sweep.id FROM runs r JOIN ledger.run_started s USING (run_id) WHERE run_id = ? ORDER BY s.seq LIMIT 1",
        [run_id],
    ).fetchone()
    if row is None:
        raise UnknownRunError(
            f'unknown run id {run_id!r}: not in the projection (see: bin/query "SELECT run_id FROM runs")'
        )
    status, pipeline, profile, sha, dirty, config_hash, packages, inputs, orchestrator, flow_run_id, *where = row
    executor, workers, sweep_id = where
    stages = _stages(con, run_id)
    return RunState(
        run_id=run_id,
        status=status,
        pipeline=pipeline,
        profile=profile,
        git_sha=sha,
        git_dirty=dirty,
        config_hash=config_hash,
        packages=dict(packages or {}),
        inputs=_inputs(inputs or []),
        params=_params(con, run_id),
        stages=stages,
        contracts=_contracts(con, run_id),
        drops=_drops(con, run_id),
        tags=_tags(con, run_id),
        **_metrics(con, run_id),
        execution={
            "orchestrator": orchestrator or "plain",
            "flow_run_id": flow_run_id,
            "executor": executor or "local",
            "workers": workers,
            "sweep": sweep_id,
            **{f"{st.name} attempts": st.attempts for st in stages},
        },
    )


def _inputs(inputs: list[dict[str, Any]]) -> dict[str, str]:
    """Each input's sha256, then one entry per DVC-tracked path (its md5, the repo commit, whether the files matched)
    and per ArcticDB library (snapshot or as-of, how many symbol versions, their hash; each version when inline)."""
    out = {i["name"]: i["sha256"] for i in inputs}
    for i in inputs:
        if i.get("arctic"):
            out.update(_arctic(i["arctic"]))
        d = i.get("dvc")
        if d:
            commit = (d.get("repo_commit") or "no commit")[:12]
            out[f"dvc {d['path']}"] = f"md5 {d['md5']} at commit {commit}" + (
                "" if d.get("matches") else " (files differ)"
            )
    return out


def _arctic(version: dict[str, Any]) -> dict[str, str]:
    """The data-version entries of one ArcticDB library a run read."""
    read = f"snapshot {version['snapshot']}" if version.get("snapshot") else f"as of {version.get('as_of') or 'latest'}"
    read = "pinned versions" if version.get("pinned") else read
    key = f"arcticdb {version['library']}"
    out = {key: f"{read}, {version['count']} symbol versions {version['symbols_sha256'][:12]} ({version['uri']})"}
    out.update({f"{key} {s}": f"v{v}" for s, v in (version.get("symbols") or {}).items()})
    return out


def _params(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, JsonScalar]:
    rows = con.execute("SELECT key, value FROM params WHERE run_id = ? ORDER BY key", [run_id]).fetchall()
    return {k: None if v is None else orjson.loads(v) for k, v in rows}


def _stages(con: duckdb.DuckDBPyConnection, run_id: str) -> list[StageState]:
    rows = con.execute(
        "SELECT stage, position, status, rows_in, rows_out, outputs, attempts FROM stages WHERE run_id = ? ORDER BY position",
        [run_id],
    ).fetchall()
    return [
        StageState(
            name=n,
            position=p,
            status=s,
            rows_in=ri,
            rows_out=ro,
            outputs={o["name"]: o["hash"] for o in outs or []},
            attempts=int(att or 1),
        )
        for n, p, s, ri, ro, outs, att in rows
    ]


def _contracts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, ContractOutcome]:
    rows = con.execute(
        'SELECT stage, contract, "check", "column", status, severity, failed, total, action FROM contract_checks '
        "WHERE run_id = ? ORDER BY seq",
        [run_id],
    ).fetchall()
    out: dict[str, ContractOutcome] = {}
    for stage, contract, check, column, status, severity, failed, total, action in rows:
        key = f"{stage}: {contract}.{check}" + (f"[{column}]" if column else "")
        out[key] = ContractOutcome(status=status, severity=severity, failed=failed, total=total, action=action)
    return out


def _drops(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, DropSummary]:
    rows = con.execute(
        'SELECT contract, "check", reason, "count", keys, artifact_hash FROM rows_dropped WHERE run_id = ? ORDER BY seq',
        [run_id],
    ).fetchall()
    out: dict[str, DropSummary] = {}
    for contract, check, reason, count, keys, artifact in rows:
        key = f"{contract}.{check}: {reason}"
        prev = out.get(key, DropSummary(count=0))
        names = sorted({*prev.keys, *(f"{k['symbol']}@{k['date']}" for k in keys or [])})
        out[key] = DropSummary(count=prev.count + count, keys=names, artifact=artifact or prev.artifact)
    return out


def _metrics(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    rows = con.execute("SELECT key, asset, step, value FROM metrics WHERE run_id = ? ORDER BY seq", [run_id]).fetchall()
    scalars: dict[str, float] = {}
    series: dict[str, dict[int, float]] = {}
    for key, asset, step, value in rows:
        name = key if asset is None else f"{key}@{asset}"
        if step is None:
            scalars[name] = value
        else:
            series.setdefault(name, {})[step] = value
    return {"metrics": scalars, "series": series}


def _tags(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, str]:
    rows = con.execute("SELECT key, value FROM tags_current WHERE run_id = ? ORDER BY key, value", [run_id]).fetchall()
    tags: dict[str, str] = {}
    for key, value in rows:
        tags[key] = value if key not in tags else f"{tags[key]},{value}"
    return tags


def open_view(home: Path, seq: int | None) -> duckdb.DuckDBPyConnection:
    """The live projection (caught up first), or an in-memory copy as it was right after seq."""
    if seq is not None:
        return projection.as_of(home, seq)
    projection.catch_up(home)
    return projection.connect(home)


def run_state(home: Path, run_id: str, *, seq: int | None = None) -> RunState:
    """A run's state from the projection under home, now or as it was right after seq."""
    check_run_id(run_id)
    con = open_view(home, seq)
    try:
        return load_state(con, run_id)
    finally:
        con.close()
