"""Benchmark: the MLflow mirror replaying 100k metrics into SQLite, beside log_metric and log_batch baselines."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger import Ledger  # noqa: E402
from schemas.events import CodeVersion, MetricLoggedData, RunCompletedData, RunStartedData, envelope  # noqa: E402

GOAL_RATE, GOAL_VS_LOOP = 10_000, 25
T0 = datetime(2026, 1, 5, tzinfo=UTC)
KEYS = ("equity", "drawdown", "turnover", "exposure", "sharpe_20d", "vol_20d", "gross", "net", "cash", "hits")


def build_ledger(home: Path, runs: int, per_run: int) -> list[list[tuple[str, float, int, int]]]:
    """A ledger of `runs` runs with `per_run` MetricLogged each; returns the same metrics as plain tuples."""
    out: list[list[tuple[str, float, int, int]]] = []
    with Ledger.open(home) as ledger:
        for r in range(runs):
            rid = f"20260105-0000{r:02d}-b{r:03d}"
            ts = T0 + timedelta(hours=r)
            started = RunStartedData(
                pipeline="bench",
                profile="bench",
                params={"run": r, "k": "v"},
                config_hash=f"{r:064x}",
                code_version=CodeVersion(git_sha=None, dirty=False),
                packages={},
                inputs=[],
            )
            events = [envelope(started, run_id=rid, ts=ts)]
            rows = []
            for i in range(per_run):
                key, value, step = KEYS[i % len(KEYS)], (i * 7919 % 1000) / 1000, i // len(KEYS)
                stamp = ts + timedelta(milliseconds=i)
                events.append(envelope(MetricLoggedData(key=key, value=value, step=step), run_id=rid, ts=stamp))
                rows.append((key, value, int(stamp.timestamp() * 1000), step))
            events.append(envelope(RunCompletedData(status="succeeded", duration_s=1.0), run_id=rid, ts=ts))
            ledger.append(events)
            out.append(rows)
    return out


def fresh(template: Path, folder: Path, name: str) -> str:
    path = folder / f"{name}.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def time_mirror(home: Path, uri: str) -> tuple[float, int]:
    from projectors.mirror import replay as mirror

    started = time.perf_counter()
    report = mirror.replay(home, tracking_uri=uri)
    return time.perf_counter() - started, report.requests


def time_ledger_read(home: Path) -> float:
    """The mirror's own share: reading and folding the ledger, no MLflow at all."""
    from projectors.mirror.plan import read_ledger

    started = time.perf_counter()
    read_ledger(home / "audit.jsonl", 0)
    return time.perf_counter() - started


def time_log_batch(uri: str, metrics: list[list[tuple[str, float, int, int]]]) -> float:
    """The floor: MlflowClient.log_batch in chunks of 1,000, nothing else."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.create_experiment("baseline-batch")
    started = time.perf_counter()
    for rows in metrics:
        run = client.create_run(exp).info.run_id
        batch = [Metric(k, v, t, s) for k, v, t, s in rows]
        for i in range(0, len(batch), 1_000):
            client.log_batch(run, metrics=batch[i : i + 1_000])
    return time.perf_counter() - started


def time_log_metric_loop(uri: str, rows: list[tuple[str, float, int, int]]) -> float:
    """What a naive sync loop costs: mlflow.log_metric once per metric (measured on a sample)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("baseline-loop")
    started = time.perf_counter()
    with mlflow.start_run():
        for key, value, stamp, step in rows:
            mlflow.log_metric(key, value, step=step, timestamp=stamp)
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="10k metrics instead of 100k")
    args = p.parse_args()
    runs, per_run, loop_n = (2, 5_000, 300) if args.quick else (10, 10_000, 1_500)
    total = runs * per_run
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as tmp:
        root = Path(tmp)
        metrics = build_ledger(root / "home", runs, per_run)
        from mlflow.tracking import MlflowClient

        (root / "stores").mkdir()
        template = root / "template.db"
        MlflowClient(f"sqlite:///{template}").search_experiments()  # table creation, excluded from every timing
        batch_s = time_log_batch(fresh(template, root / "stores", "batch"), metrics)
        mirror_s, requests = time_mirror(root / "home", fresh(template, root / "stores", "mirror"))
        read_s = time_ledger_read(root / "home")
        again_s, _ = time_mirror(root / "home", f"sqlite:///{root / 'stores' / 'mirror.db'}")
        loop_s = time_log_metric_loop(fresh(template, root / "stores", "loop"), metrics[0][:loop_n])
    mirror_rate, batch_rate, loop_rate = total / mirror_s, total / batch_s, loop_n / loop_s
    print(f"MLflow mirror benchmark: {total:,} metrics in {runs} runs, SQLite store, {os.cpu_count()} cores")
    print(f"  mirror replay            {mirror_s:7.2f} s  {mirror_rate:9,.0f} metrics/s  ({requests} requests)")
    print(f"  baseline log_batch x1000 {batch_s:7.2f} s  {batch_rate:9,.0f} metrics/s")
    print(f"  baseline log_metric loop {loop_s:7.2f} s  {loop_rate:9,.0f} metrics/s  (sample of {loop_n:,})")
    print(f"  of which ledger read     {read_s:7.2f} s  {total / read_s:9,.0f} events/s")
    print(f"  replay again (no change) {again_s:7.2f} s")
    print(f"  mirror / log_batch = {mirror_rate / batch_rate:.2f}x   mirror / loop = {mirror_rate / loop_rate:.1f}x")
    ok = mirror_rate >= GOAL_RATE and mirror_rate / loop_rate >= GOAL_VS_LOOP
    print(f"  goal: >= {GOAL_RATE:,} metrics/s and >= {GOAL_VS_LOOP}x the loop -> {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
