"""Sweeps as the projection shows them: the ranked runs of one sweep, its totals, the command promoting the best."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projectors import projection
from schemas.events import is_sweep_id

_COLUMNS = ("run_id", "point", "point_text", "status", "sharpe", "max_drawdown", "cagr", "rank_metric", "rank_value", "rank")


def _rows(home: Path, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    con = projection.connect(home)
    try:
        cur = con.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def sweep_table(home: Path, sweep_id: str) -> list[dict[str, Any]]:
    """The sweep's runs, best first (ranked runs by rank, then the unranked in start order)."""
    assert is_sweep_id(sweep_id)
    return _rows(
        home,
        f"SELECT {', '.join(_COLUMNS)} FROM sweep_runs WHERE sweep_id = ? ORDER BY \"rank\" NULLS LAST, started_seq",
        [sweep_id],
    )


def sweep_summary(home: Path, sweep_id: str) -> dict[str, Any]:
    """The sweep's row of the sweeps view (points, succeeded, failed, times, best run and its metric)."""
    assert is_sweep_id(sweep_id)
    rows = _rows(home, "SELECT * FROM sweeps WHERE sweep_id = ?", [sweep_id])
    if not rows:
        return {"sweep_id": sweep_id, "points": 0, "succeeded": 0, "failed": 0, "best_run_id": None, "rank_metric": None}
    return rows[0]


def promote_command(home: Path, summary: dict[str, Any]) -> str | None:
    """The bin/tag line that gives the sweep's best run the challenger alias (None without a ranked run)."""
    best = summary.get("best_run_id")
    if not best:
        return None
    h = "" if Path(home) == Path("runs") else f" --home {home}"
    reason = f"best {summary['rank_metric']} of {summary['sweep_id']}"
    return f'bin/tag{h} {best} --promote challenger --reason "{reason}"'
