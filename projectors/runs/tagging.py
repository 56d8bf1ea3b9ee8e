"""Candidate tagging and registry-like aliases: decisions read from the projections, recorded as RunTagged events.

Every decision first checks the facts it rests on against the run's own ledger events
(projectors/runs/facts.py): an edited projection is refused, never written into the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import orjson

from ledger import Ledger, Recorded, WrongExpectedSeqError
from projectors import projection
from projectors.errors import TaggingError, UnknownRunError
from projectors.runs.facts import checked_facts
from schemas.context import check_run_id
from schemas.events import Envelope, RunTaggedData, envelope
from schemas.settings import TaggingPolicy

ALIASES = ("champion", "challenger")
_RETRIES = 5
Decide = Callable[[duckdb.DuckDBPyConnection], list[Envelope]]


def _tag(run_id: str, key: str, value: str, reason: str, by: str) -> Envelope:
    return envelope(RunTaggedData(key=key, value=value, reason=reason, by=by), run_id=run_id)


def _decide_and_append(home: Path, decide: Decide) -> list[Recorded]:
    """Decide on an up-to-date projection and append only if the ledger has not moved meanwhile (else decide again)."""
    home = Path(home)
    for _ in range(_RETRIES):
        projection.catch_up(home)
        con = projection.connect(home)
        try:
            head = projection.read_checkpoint(con).seq
            events = decide(con)
        finally:
            con.close()
        if not events:
            return []
        try:
            with Ledger.open(home, create=False) as ledger:
                return ledger.append(events, expected_seq=head)
        except WrongExpectedSeqError:
            continue
    raise TaggingError(f"the ledger kept moving while deciding; gave up after {_RETRIES} attempts")


def _require_run(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[Any, ...]:
    check_run_id(run_id)
    row = con.execute("SELECT status, sharpe, rows_dropped FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        raise UnknownRunError(f"unknown run id {run_id!r}: not in the projection")
    return tuple(row)


def _require_facts(home: Path, con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """The run is in the projection and the projection agrees with its ledger events (ProjectionDisagreesError)."""
    _require_run(con, run_id)
    checked_facts(home, con, run_id)


def _current(con: duckdb.DuckDBPyConnection, run_id: str, key: str) -> tuple[str, str] | None:
    row = con.execute(
        "SELECT value, tagged_by FROM tags_current WHERE run_id = ? AND key = ?", [run_id, key]
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


# ------------------------------------------------------------------ the candidate policy


def evaluate(con: duckdb.DuckDBPyConnection, run_id: str, policy: TaggingPolicy) -> tuple[bool, str]:
    """(is a candidate, the verdict with every criterion and its figure) for one run."""
    status, sharpe, dropped = _require_run(con, run_id)
    blocking = con.execute(
        "SELECT count(*) FROM contract_checks WHERE run_id = ? AND status = 'failed' AND severity = 'error' "
        "AND action <> 'dropped'",
        [run_id],
    ).fetchone()[0]  # type: ignore[index]
    rate = dropped / max(_input_rows(con, run_id), 1)
    checks = [
        (status == "succeeded", f"status {status}"),
        (blocking == 0, f"{blocking} unremedied error-level contract failures"),
        (
            rate <= policy.max_drop_rate,
            f"drop rate {rate:.2%} {'<=' if rate <= policy.max_drop_rate else '>'} {policy.max_drop_rate:.2%}",
        ),
    ]
    unmatched = _unversioned_inputs(con, run_id)
    if unmatched is not None:
        checks.append(
            (
                unmatched == 0,
                "data matches its DVC version"
                if unmatched == 0
                else f"{unmatched} input files do not match their DVC version",
            )
        )
    if policy.min_sharpe is not None:
        ok = sharpe is not None and sharpe >= policy.min_sharpe
        shown = "n/a" if sharpe is None else f"{sharpe:.3f}"
        checks.append((ok, f"sharpe {shown} {'>=' if ok else '<'} {policy.min_sharpe:.3f}"))
    passed = all(ok for ok, _ in checks)
    shown_checks = [text for ok, text in checks if ok] if passed else [text for ok, text in checks if not ok]
    return passed, ("candidate: " if passed else "not a candidate: ") + "; ".join(shown_checks)


def _input_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    """Rows the run read: its data inputs, else what its first stage produced."""
    row = con.execute(
        "SELECT coalesce((SELECT sum(i.rows) FROM ledger.run_started s, unnest(s.inputs) AS u(i) WHERE s.run_id = $r), 0), "
        "coalesce((SELECT rows_out FROM stages WHERE run_id = $r ORDER BY position LIMIT 1), 0)",
        {"r": run_id},
    ).fetchone()
    return int(row[0] or row[1]) if row else 0


def _unversioned_inputs(con: duckdb.DuckDBPyConnection, run_id: str) -> int | None:
    """How many of the run's input files did not match their DVC version; None when none is DVC-tracked."""
    row = con.execute(
        "SELECT count(struct_extract(i, 'dvc')), count(*) FILTER (WHERE NOT struct_extract(struct_extract(i, 'dvc'), 'matches')) "
        "FROM ledger.run_started s, unnest(s.inputs) AS u(i) WHERE s.run_id = ?",
        [run_id],
    ).fetchone()
    return None if not row or not row[0] else int(row[1])


def policy_of_run(con: duckdb.DuckDBPyConnection, run_id: str) -> TaggingPolicy:
    """The tagging policy the run was configured with (its tagging.* params), defaults for the rest."""
    _require_run(con, run_id)
    rows = con.execute(
        "SELECT substr(key, 9), value FROM params WHERE run_id = ? AND key LIKE 'tagging.%'", [run_id]
    ).fetchall()
    return TaggingPolicy.model_validate({k: orjson.loads(v) for k, v in rows if v is not None})


def tag_run(home: Path, run_id: str, policy: TaggingPolicy | None = None) -> list[Recorded]:
    """Evaluate the policy for run_id and append RunTagged(candidate=true|false); nothing if the verdict is unchanged.

    Without a policy, the one the run was configured with (policy_of_run).
    """
    return tag_runs(home, [run_id], policy)


def tag_runs(home: Path, run_ids: list[str], policy: TaggingPolicy | None = None) -> list[Recorded]:
    """tag_run for several runs (a sweep's): one catch-up, one decision pass, one append of every changed verdict."""

    def decide(con: duckdb.DuckDBPyConnection) -> list[Envelope]:
        out = []
        for run_id in run_ids:
            _require_facts(home, con, run_id)
            ok, reason = evaluate(con, run_id, policy if policy is not None else policy_of_run(con, run_id))
            value = "true" if ok else "false"
            if _current(con, run_id, "candidate") != (value, "policy"):
                out.append(_tag(run_id, "candidate", value, reason, "policy"))
        return out

    return _decide_and_append(home, decide) if run_ids else []


def decide_pending(home: Path, skip: set[str] | None = None) -> list[Recorded]:
    """Let each succeeded run without a policy verdict get one (with its own configured policy).

    A run recorded while the projection was locked by another process got no candidate decision; the next
    command that can take the lock decides it, and every other one left undecided.
    """
    projection.catch_up(home)
    con = projection.connect(home)
    try:
        pending = [
            r[0]
            for r in con.execute(
                "SELECT run_id FROM runs WHERE status = 'succeeded' AND run_id NOT IN "
                "(SELECT run_id FROM tags_current WHERE key = 'candidate') ORDER BY run_id"
            ).fetchall()
            if r[0] not in (skip or set())
        ]
    finally:
        con.close()
    return tag_runs(home, pending)


# ------------------------------------------------------------------ aliases and free tags


def promote(home: Path, run_id: str, alias: str, *, by: str, reason: str | None = None) -> list[Recorded]:
    """Give alias (champion/challenger) to a succeeded run; the previous holder keeps its history."""
    if alias not in ALIASES:
        raise TaggingError(f"unknown alias {alias!r}; choose one of: {', '.join(ALIASES)}")

    def decide(con: duckdb.DuckDBPyConnection) -> list[Envelope]:
        _require_facts(home, con, run_id)
        status = _require_run(con, run_id)[0]
        if status != "succeeded":
            raise TaggingError(f"run {run_id} is {status}; only a succeeded run can be {alias}")
        holder = alias_holder(con, alias)
        if holder == run_id:
            return []
        why = reason or (f"promoted over {holder}" if holder else "first " + alias)
        return [_tag(run_id, "alias", alias, why, by)]

    return _decide_and_append(home, decide)


def rollback(home: Path, alias: str = "champion", *, by: str) -> list[Recorded]:
    """Give alias back to the run that held it before the current holder."""

    def decide(con: duckdb.DuckDBPyConnection) -> list[Envelope]:
        holders = [
            r[0]
            for r in con.execute(
                "SELECT run_id FROM tag_history WHERE key = 'alias' AND value = ? ORDER BY seq", [alias]
            ).fetchall()
        ]
        if not holders:
            raise TaggingError(f"no run has ever been {alias}; nothing to roll back")
        current = holders[-1]
        earlier = [r for r in holders if r != current]
        if not earlier:
            raise TaggingError(f"{current} is the only run that was ever {alias}; nothing to roll back to")
        _require_facts(home, con, earlier[-1])
        return [_tag(earlier[-1], "alias", alias, f"rollback from {current}", by)]

    return _decide_and_append(home, decide)


def set_tag(home: Path, run_id: str, key: str, value: str, *, by: str, reason: str = "set by hand") -> list[Recorded]:
    """Set a per-run tag (last write wins); aliases go through promote/rollback."""
    if key == "alias":
        raise TaggingError("aliases move between runs: use --promote or --rollback")

    def decide(con: duckdb.DuckDBPyConnection) -> list[Envelope]:
        _require_run(con, run_id)
        return [_tag(run_id, key, value, reason, by)]

    return _decide_and_append(home, decide)


def alias_holder(con: duckdb.DuckDBPyConnection, alias: str) -> str | None:
    """The run holding alias now, or None."""
    row = con.execute("SELECT run_id FROM tags_current WHERE key = 'alias' AND value = ?", [alias]).fetchone()
    return None if row is None else str(row[0])
