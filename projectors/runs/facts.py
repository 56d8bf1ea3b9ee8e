"""The facts a tagging decision rests on, read from the run's own ledger events and checked against the projection.

The projection is derived and anyone with a DuckDB client can edit it; a decision written into the
ledger (RunTagged) must never rest on an edited figure. So before appending, the tagger reads the
run's events between its RunStarted and RunCompleted (the seqs the projection names, each checked
to be that run's event) and compares status, headline metrics, rows dropped, input rows and
unremedied contract failures with what the projection says.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import duckdb

from ledger import Ledger
from projectors.errors import ProjectionDisagreesError
from schemas.events import DataContractChecked, MetricLogged, RowsDropped, RunCompleted, RunStarted, StageCompleted

REBUILD = "rebuild the projection (bin/replay --to duckdb --rebuild)"
#: headline metrics of the runs view that a policy may use
HEADLINE = ("sharpe", "max_drawdown", "cagr")


@dataclasses.dataclass(frozen=True)
class RunFacts:
    """What a decision about one run may rest on."""

    status: str
    metrics: dict[str, float | None]
    rows_dropped: int
    input_rows: int
    blocking: int


def projected_facts(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[RunFacts, int, int | None] | None:
    """(facts, started seq, completed seq) as the projection has them, or None for a run it does not hold."""
    row = con.execute(
        "SELECT status, sharpe, max_drawdown, cagr, rows_dropped, started_seq, completed_seq FROM runs WHERE run_id = ?",
        [run_id],
    ).fetchone()
    if row is None:
        return None
    blocking = con.execute(
        "SELECT count(*) FROM contract_checks WHERE run_id = ? AND status = 'failed' AND severity = 'error' AND action <> 'dropped'",
        [run_id],
    ).fetchone()
    inputs = con.execute(
        "SELECT coalesce((SELECT sum(i.rows) FROM ledger.run_started s, unnest(s.inputs) AS u(i) WHERE s.run_id = $r), 0), "
        "coalesce((SELECT rows_out FROM stages WHERE run_id = $r ORDER BY position LIMIT 1), 0)",
        {"r": run_id},
    ).fetchone()
    facts = RunFacts(
        status=str(row[0]),
        metrics=dict(zip(HEADLINE, row[1:4])),
        rows_dropped=int(row[4] or 0),
        input_rows=int(inputs[0] or inputs[1]) if inputs else 0,
        blocking=int(blocking[0]) if blocking else 0,
    )
    return facts, int(row[5]), None if row[6] is None else int(row[6])


def ledger_facts(home: Path, run_id: str, started_seq: int, completed_seq: int | None) -> RunFacts:
    """The facts from the run's own events, the range checked to start at its RunStarted and end at its RunCompleted."""
    with Ledger.open(home, create=False, readonly=True) as ledger:
        events = list(ledger.read(started_seq - 1, completed_seq))
    mine = [e for e in events if e.run_id == run_id]
    if not events or not isinstance(events[0], RunStarted) or events[0].run_id != run_id:
        raise ProjectionDisagreesError(
            f"projection says run {run_id} started at seq {started_seq} but the ledger's event there is not its RunStarted; {REBUILD}"
        )
    done = [e for e in mine if isinstance(e, RunCompleted)]
    if completed_seq is not None and not (done and events[-1] is done[-1]):
        raise ProjectionDisagreesError(
            f"projection says run {run_id} completed at seq {completed_seq} but the ledger's event there is not its RunCompleted; {REBUILD}"
        )
    metrics: dict[str, float | None] = dict.fromkeys(HEADLINE)
    dropped = blocking = 0
    first_rows: int | None = None
    for e in mine:
        if isinstance(e, MetricLogged) and e.data.key in metrics and e.data.step is None and e.data.asset is None:
            metrics[e.data.key] = e.data.value
        elif isinstance(e, RowsDropped):
            dropped += e.data.count
        elif isinstance(e, DataContractChecked):
            d = e.data
            blocking += d.status == "failed" and d.severity == "error" and d.action != "dropped"
        elif isinstance(e, StageCompleted) and first_rows is None:
            first_rows = e.data.rows_out
    started = events[0]
    assert isinstance(started, RunStarted)
    return RunFacts(
        status=done[-1].data.status if done else "running",
        metrics=metrics,
        rows_dropped=dropped,
        input_rows=sum(i.rows for i in started.data.inputs) or (first_rows or 0),
        blocking=blocking,
    )


def checked_facts(home: Path, con: duckdb.DuckDBPyConnection, run_id: str) -> RunFacts | None:
    """The run's facts when the projection and the ledger agree on every one; ProjectionDisagreesError naming the first that differs.

    None for a run the projection does not hold (the caller reports an unknown run).
    """
    found = projected_facts(con, run_id)
    if found is None:
        return None
    projected, started_seq, completed_seq = found
    truth = ledger_facts(home, run_id, started_seq, completed_seq)
    if projected.status != truth.status:
        raise ProjectionDisagreesError(
            f"projection says run {run_id} {projected.status} but its ledger events say {truth.status}; {REBUILD}"
        )
    figures = [
        *[(k, projected.metrics[k], truth.metrics[k]) for k in HEADLINE],
        ("rows_dropped", projected.rows_dropped, truth.rows_dropped),
        ("input rows", projected.input_rows, truth.input_rows),
        ("unremedied contract failures", projected.blocking, truth.blocking),
    ]
    for label, said, true in figures:
        if not _same(said, true):
            raise ProjectionDisagreesError(
                f"projection says run {run_id} has {label} {said} but its ledger events say {true}; {REBUILD}"
            )
    return truth


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    return a == b
