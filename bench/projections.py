"""Benchmark the DuckDB projection: full rebuild, 1,000-event catch-up and an OR + window query over 30,000 runs."""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ledger import LEDGER_NAME  # noqa: E402
from projectors import projection as projection  # noqa: E402
from projectors.projection.query import query  # noqa: E402
from projectors.projection.schema import staging_columns  # noqa: E402

GOALS = {"rebuild_s": 1.0, "catch_up_s": 0.050, "query_s": 2.0}
QUERY = """
SELECT run_id, profile, sharpe, max_drawdown,
       rank() OVER (PARTITION BY profile ORDER BY sharpe DESC) AS rank_in_profile,
       sharpe - avg(sharpe) OVER (PARTITION BY profile) AS sharpe_vs_profile,
       avg(sharpe) OVER (ORDER BY started_at ROWS BETWEEN 99 PRECEDING AND CURRENT ROW) AS rolling_sharpe
FROM runs
WHERE (status = 'succeeded' AND sharpe > 1.0) OR max_drawdown < 0.05 OR rows_dropped > 2
QUALIFY rank_in_profile <= 20
ORDER BY profile, rank_in_profile
"""
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# ------------------------------------------------------------------ a synthetic but valid ledger


class Chain:
    """Writes hash-chained ledger lines exactly as the ledger does (canonical JSON, hash appended last)."""

    def __init__(self, seq: int = 0, prev: str = "0" * 64) -> None:
        self.seq, self.prev = seq, prev

    def line(self, kind: str, run_id: str | None, stage: str | None, data: dict[str, Any], v: int = 1) -> bytes:
        self.seq += 1
        ts = (T0 + timedelta(milliseconds=self.seq)).isoformat().replace("+00:00", "Z")
        body = {
            "data": data,
            "id": uuid.uuid4().hex,
            "prev": self.prev,
            "run_id": run_id,
            "seq": self.seq,
            "stage": stage,
            "ts": ts,
            "type": kind,
            "v": v,
        }
        raw = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        self.prev = hashlib.sha256(raw).hexdigest()
        return raw[:-1] + b',"hash":"' + self.prev.encode() + b'"}\n'


def _h(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def run_lines(chain: Chain, i: int) -> Iterator[bytes]:
    """About 33 events of one plausible run (params, stages, contracts, a drop, metrics, a tag)."""
    run_id = f"20260101-{i // 3600 % 24:02d}{i // 60 % 60:02d}{i % 60:02d}-{i // 86400:04d}"
    profile = ("canary", "production", "research")[i % 3]
    params = {
        "selection.top_k": 5 + i % 20,
        "backtest.cost_bps": 5.0,
        "profile": profile,
        "seed": i,
        "tagging.min_sharpe": None,
    }
    yield chain.line(
        "RunStarted",
        run_id,
        None,
        {
            "pipeline": "quant-reference",
            "profile": profile,
            "params": params,
            "config_hash": _h(i),
            "seed": i,
            "code_version": {"git_sha": "abc123", "dirty": False},
            "packages": {"polars": "1.0", "duckdb": "2.0"},
            "inputs": [{"name": "prices", "sha256": _h("p", i), "rows": 20000, "format": "parquet"}],
        },
    )
    for stage in ("ingest", "validate", "features", "select", "backtest"):
        ref = {"name": stage, "hash": _h(stage, i), "rows": 20000}
        yield chain.line("StageStarted", run_id, stage, {"inputs": []})
        yield chain.line(
            "ArtifactWritten",
            run_id,
            stage,
            {**ref, "format": "parquet", "bytes": 1 << 20, "path": f"artifacts/{ref['hash']}.parquet"},
        )
        yield chain.line(
            "StageCompleted",
            run_id,
            stage,
            {"rows_in": 20000, "rows_out": 19990, "duration_s": 0.1, "outputs": [ref], "changed": [stage]},
        )
    for check in ("not_null", "max_abs_return"):
        yield chain.line(
            "DataContractChecked",
            run_id,
            "validate",
            {
                "contract": "prices",
                "tier": 1,
                "check": check,
                "column": "close",
                "status": "failed" if i % 7 == 0 else "passed",
                "severity": "error",
                "failed": i % 7 == 0,
                "total": 20000,
                "sample": [],
                "action": "dropped" if i % 7 == 0 else "none",
                "observed": None,
            },
        )
    yield chain.line(
        "RowsDropped",
        run_id,
        "validate",
        {
            "contract": "prices",
            "check": "max_abs_return",
            "reason": "extreme return",
            "count": i % 5,
            "keys": [{"symbol": f"S{i % 40:03d}", "date": "2021-03-01"}],
            "artifact": None,
        },
    )
    sharpe = ((i * 7919) % 3000) / 1000.0
    for key, value in (
        ("sharpe", sharpe),
        ("max_drawdown", 0.02 + (i % 50) / 100),
        ("cagr", sharpe / 20),
        ("volatility", 0.15),
        ("sortino", sharpe * 1.3),
        ("turnover", 2.0),
        ("hit_rate", 0.52),
    ):
        yield chain.line("MetricLogged", run_id, "metrics", {"key": key, "value": value, "step": None, "asset": None})
    for step in range(5):
        yield chain.line(
            "MetricLogged",
            run_id,
            "metrics",
            {"key": "equity", "value": 1 + step * sharpe / 100, "step": step, "asset": None},
        )
    yield chain.line(
        "RunTagged",
        run_id,
        None,
        {"key": "candidate", "value": "true" if sharpe > 1 else "false", "reason": "policy", "by": "policy"},
    )
    yield chain.line("RunCompleted", run_id, None, {"status": "succeeded", "duration_s": 3.2, "error": None})


def write_ledger(path: Path, events: int, chain: Chain, first_run: int = 0) -> int:
    """Append whole runs until at least `events` lines; return the number of runs."""
    runs, start = first_run, chain.seq
    with open(path, "ab") as f:
        while chain.seq - start < events:
            f.write(b"".join(run_lines(chain, runs)))
            runs += 1
    return runs - first_run


# ------------------------------------------------------------------ measurements


def best_of(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def raw_read(path: Path, envelope_only: bool = False, con: duckdb.DuckDBPyConnection | None = None) -> None:
    """The reader floor: DuckDB's reader parsing the file with the staging columns into memory, nothing else.

    The staging columns are the envelope plus the payload as text; envelope_only drops the payload too.
    con: an instance already open (a catch-up reuses one; opening a new one costs more than 1,000 lines).
    """
    columns = staging_columns()
    if envelope_only:
        columns = {k: v for k, v in columns.items() if k != "data"}
    own = con is None
    con = con or duckdb.connect(config={"preserve_insertion_order": False})  # as the projector's own sessions
    con.execute(
        "CREATE OR REPLACE TABLE t AS SELECT * FROM read_ndjson($p, columns = $c, format = 'newline_delimited')",
        {"p": str(path), "c": columns},
    )
    con.execute("DROP TABLE t")
    if own:
        con.close()


def store_floor(
    path: Path, target: Path, con: duckdb.DuckDBPyConnection | None = None, envelope_only: bool = False
) -> None:
    """DuckDB reading the lines with the staging columns into ONE table of a database file, committed and detached.

    No typing, no per-type tables, no checks: what any projection that persists these lines must at
    least pay. With con (an open instance) the file is attached, as a catch-up session does; else a
    new file is built and checkpointed, as a rebuild does.
    """
    own = con is None
    columns = staging_columns()
    if envelope_only:  # what every typed table stores anyway: seq, id, ts, type, v, run_id, stage
        columns = {k: v for k, v in columns.items() if k not in ("data", "hash")}
    con = con or duckdb.connect(config={"preserve_insertion_order": False})
    con.execute(f"ATTACH '{target}' AS s")
    con.execute(
        "CREATE TABLE IF NOT EXISTS s.t AS SELECT * FROM read_ndjson($p, columns = $c, format = 'newline_delimited') LIMIT 0",
        {"p": str(path), "c": columns},
    )
    con.execute(
        "INSERT INTO s.t SELECT * FROM read_ndjson($p, columns = $c, format = 'newline_delimited')",
        {"p": str(path), "c": columns},
    )
    con.execute("DETACH s")
    if own:
        con.close()


def commit_floor(home: Path, con: duckdb.DuckDBPyConnection) -> None:
    """The catch-up's storage floor: attach the projection, commit one checkpoint row, detach (DuckDB checkpoints), nothing else."""
    con.execute(f"ATTACH '{projection.projection_path(home)}' AS p")
    con.execute("BEGIN")
    con.execute("UPDATE p.checkpoint SET seq = seq")
    con.execute("COMMIT")
    con.execute("DETACH p")


def catch_up_runs(home: Path, chain: Chain, first_run: int, repeats: int) -> dict[str, list[float]]:
    """Append ~1,000 events (whole runs) `repeats` times; time catch_up and, on the same lines, its floors."""
    out: dict[str, list[float]] = {"catch_up": [], "commit": [], "reader": [], "store": []}
    con = duckdb.connect(config={"preserve_insertion_order": False, "threads": 1})  # as catch-up sessions
    for r in range(repeats):
        before = (home / LEDGER_NAME).stat().st_size
        write_ledger(home / LEDGER_NAME, 1000, chain, first_run + r * 40)
        with open(home / LEDGER_NAME, "rb") as f:
            f.seek(before)
            raw = f.read()
        started = time.perf_counter()
        applied = projection.catch_up(home)
        out["catch_up"].append(time.perf_counter() - started)
        assert applied >= 1000, applied
        out["commit"].append(best_of(1, lambda: commit_floor(home, con)))
        with tempfile.NamedTemporaryFile(suffix=".jsonl") as tail:
            tail.write(raw)
            tail.flush()
            out["reader"].append(best_of(1, lambda: raw_read(Path(tail.name), con=con)))
            out["store"].append(best_of(1, lambda: store_floor(Path(tail.name), home / "store-floor.duckdb", con)))
    con.close()
    return out


def materialized_floor(home: Path) -> float:
    """The same query on an in-memory copy of the runs view (pure engine time: no open, no view work)."""
    con = projection.connect(home)
    mem = duckdb.connect()
    mem.register("runs_df", con.sql("SELECT * FROM runs").to_arrow_table())
    mem.execute("CREATE TABLE runs AS SELECT * FROM runs_df")
    con.close()
    return best_of(3, lambda: mem.execute(QUERY).fetchall())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="100k events (3k runs) instead of 1M (30k runs)")
    p.add_argument("--events", type=int, default=None, help="ledger size (default 1,000,000; 100,000 with --quick)")
    args = p.parse_args()
    events = args.events or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="ledgerline-bench-") as tmp:
        home = Path(tmp)
        chain = Chain()
        started = time.perf_counter()
        runs = write_ledger(home / LEDGER_NAME, events, chain)
        size = (home / LEDGER_NAME).stat().st_size
        print(
            f"ledger: {chain.seq:,} events, {runs:,} runs, {size / 1e6:.0f} MB (generated in {time.perf_counter() - started:.1f}s)"
        )
        report(home, chain, runs)
    return 0


def load() -> str:
    """The 1-minute load average, printed beside every figure (this machine is shared)."""
    return f"load {os.getloadavg()[0]:.1f}"


def report(home: Path, chain: Chain, runs: int) -> None:
    floor = best_of(3, lambda: raw_read(home / LEDGER_NAME))
    envelope = best_of(3, lambda: raw_read(home / LEDGER_NAME, envelope_only=True))
    stored_envelope = best_of(3, lambda: _fresh_store(home, envelope_only=True))
    stored = best_of(3, lambda: _fresh_store(home))  # last: the catch-up floor appends to this file
    rebuild = best_of(3, lambda: projection.rebuild(home))
    print(
        f"full rebuild      {rebuild:7.3f} s   raw read_ndjson floor {floor:.3f} s (envelope columns only {envelope:.3f} s)   "
        f"ratio {rebuild / floor:4.2f}x   goal <= {GOALS['rebuild_s']:.1f} s  {_verdict(rebuild, 'rebuild_s')}   [{load()}]"
    )
    print(
        f"                  read+store floor (the same lines into one table of a new file) {stored:.3f} s   ratio {rebuild / stored:4.2f}x;"
        f" envelope columns only (no payload at all) {stored_envelope:.3f} s   ratio {rebuild / stored_envelope:4.2f}x"
    )
    times = {k: statistics.median(v) for k, v in catch_up_runs(home, chain, runs, repeats=9).items()}
    up = times["catch_up"]
    floor = times["commit"] + times["reader"]
    print(
        f"catch-up 1,000    {up * 1000:7.1f} ms  floor {floor * 1000:.1f} ms = open+commit+close {times['commit'] * 1000:.1f} ms "
        f"+ raw read_ndjson of the lines {times['reader'] * 1000:.1f} ms   "
        f"ratio {up / floor:4.2f}x   goal <= {GOALS['catch_up_s'] * 1000:.0f} ms  "
        f"{_verdict(up, 'catch_up_s')}   [{load()}]"
    )
    print(
        f"                  read+store floor (attach, the 1,000 lines into one table, commit, detach) {times['store'] * 1000:.1f} ms   "
        f"ratio {up / times['store']:4.2f}x"
    )
    query(home, "SELECT 1")  # open once so the query figure is not a cold file-cache read
    q = best_of(3, lambda: query(home, QUERY))
    total_runs = query(home, "SELECT count(*) FROM runs").rows[0][0]
    engine = materialized_floor(home)
    print(
        f"OR+window query   {q:7.3f} s   over {total_runs:,} runs; same SQL on a materialized runs table {engine:.3f} s   "
        f"ratio {q / engine:4.1f}x   goal <= {GOALS['query_s']:.1f} s  {_verdict(q, 'query_s')}   [{load()}]"
    )


def _fresh_store(home: Path, envelope_only: bool = False) -> None:
    target = home / "store-floor.duckdb"
    for p in (target, target.with_name(target.name + ".wal")):
        p.unlink(missing_ok=True)
    store_floor(home / LEDGER_NAME, target, envelope_only=envelope_only)


def _verdict(value: float, goal: str) -> str:
    return "OK" if value <= GOALS[goal] else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
