"""bin/query: run one SQL statement against the DuckDB projection (caught up first) and print the result."""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import sys
from collections.abc import Sequence
from typing import Any

from bin._cli import EXIT_OK, parser, run
from projectors.projection.query import QueryResult, query

PROG = "query"
_MAX_CELL = 60


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Run one read-only SQL statement over the projection (views: runs, stages, metrics, params, "
        "contract_checks, rows_dropped, artifacts, tag_history, tags_current, candidates).",
        'bin/query "SELECT run_id, status, sharpe FROM runs ORDER BY started_at DESC LIMIT 5" --format csv',
    )
    p.add_argument("sql", help="one SQL statement")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format (default table)")
    p.add_argument("--json", action="store_true", help="same as --format json")
    args = p.parse_args(argv)

    def body() -> int:
        result = query(args.home, args.sql)
        fmt = "json" if args.json else args.format
        sys.stdout.write({"table": as_table, "csv": as_csv, "json": as_json}[fmt](result))
        return EXIT_OK

    return run(PROG, body)


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return value


def as_json(result: QueryResult) -> str:
    """A JSON array of objects, one per row; JSON-typed columns are embedded as JSON, not as strings."""
    decode = [t == "JSON" for t in result.types]
    rows = [
        {c: (json.loads(v) if d and isinstance(v, str) else _plain(v)) for c, v, d in zip(result.columns, row, decode)}
        for row in result.rows
    ]
    return json.dumps(rows, indent=None, default=str) + "\n"


def as_csv(result: QueryResult) -> str:
    """CSV with a header row; nested values as JSON."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_cell(v, limit=None) for v in row])
    return buf.getvalue()


def _cell(value: Any, limit: int | None = _MAX_CELL) -> str:
    if value is None:
        text = "" if limit is None else "NULL"
    elif isinstance(value, (dict, list, tuple)):
        text = json.dumps(_plain(value), default=str)
    else:
        text = str(_plain(value))
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def as_table(result: QueryResult) -> str:
    """An aligned text table with the row count underneath."""
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]

    def line(parts: list[str]) -> str:
        return "  ".join(p.ljust(w) for p, w in zip(parts, widths)).rstrip()

    out = [line(result.columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    out.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
