"""Ledger benchmark: durable append, one-event appends, verify and read, each next to a baseline from the same run."""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository, for ledger/ and tests.support

import orjson  # noqa: E402

from ledger import (  # noqa: E402
    Ledger,
    iter_chunks,  # noqa: E402
    verify_file,
)
from schemas.events import EVENT_ADAPTER, MetricLogged, MetricLoggedData  # noqa: E402

RUN_ID = "20261122-000000-bnch"
BATCH = 1000


def events(n: int) -> list[MetricLogged]:
    """n small MetricLogged events, built (and validated) before any clock starts."""
    return [
        MetricLogged(run_id=RUN_ID, stage="backtest", data=MetricLoggedData(key=f"m{i % 50}", value=i * 0.001, step=i))
        for i in range(n)
    ]


def timed(fn: Callable[[], object]) -> float:
    """Seconds fn takes, with the collector off (as a steady-state service would tune it)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def cpu_of(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds fn takes; CPU counts helper processes too and is what a busy machine inflates least."""
    before = os.times()
    wall = timed(fn)
    after = os.times()
    cpu = sum(after[:4]) - sum(before[:4])
    return wall, cpu


def line(name: str, value: str, note: str = "") -> None:
    print(f"  {name:<52} {value:>22}  {note}")


# ----------------------------------------------------------------------------- group commit


def bench_append(tmp: Path, n: int, metric_loop_n: int) -> None:
    print(f"\n== durable group-commit append, {n:,} MetricLogged, {BATCH} per Ledger.append (one fdatasync each)")
    evs = events(n)

    def run() -> None:
        with Ledger.open(tmp / "append") as ledger:
            for i in range(0, n, BATCH):
                ledger.append(evs[i : i + BATCH])

    rate = n / timed(run)
    line("Ledger.append", f"{rate:,.0f} ev/s", "goal >= 300,000 ev/s")
    if Path("/dev/shm").is_dir():  # same code, fdatasync nearly free: what the CPU alone allows
        with tempfile.TemporaryDirectory(dir="/dev/shm") as shm, Ledger.open(Path(shm)) as ledger:
            cpu = n / timed(lambda: [ledger.append(evs[i : i + BATCH]) for i in range(0, n, BATCH)])
        line(
            "  same on /dev/shm (no disk)",
            f"{cpu:,.0f} ev/s",
            f"the disk's fsyncs take {1 - rate / cpu:.0%} of the time",
        )
    floor = n / timed(lambda: [hashlib.sha256(e.model_dump_json().encode()).hexdigest() for e in evs])
    line(
        "  baseline: model_dump_json + sha256, no I/O", f"{floor:,.0f} ev/s", f"ledger runs at {rate / floor:.0%} of it"
    )
    bare = n / timed(lambda: bare_encode(evs))
    line(
        "  floor: orjson of the fields + sha256, no checks/I/O",
        f"{bare:,.0f} ev/s",
        f"ledger runs at {rate / bare:.0%} of it",
    )
    batch_rate = n / mlflow_log_batch(tmp, evs)
    line(
        "MlflowClient.log_batch into SQLite (1000/request)",
        f"{batch_rate:,.0f} metrics/s",
        f"ledger is {rate / batch_rate:,.1f}x  (goal >= 20x)",
    )
    loop_rate = metric_loop_n / mlflow_log_metric_loop(tmp, evs[:metric_loop_n])
    line(
        f"mlflow.log_metric loop ({metric_loop_n:,} metrics)",
        f"{loop_rate:,.0f} metrics/s",
        f"ledger is {rate / loop_rate:,.0f}x  (goal >= 1000x)",
    )
    es_rate = n / eventsourcing_append(tmp, evs)
    line(
        "eventsourcing SQLiteApplicationRecorder (1000/call)",
        f"{es_rate:,.0f} ev/s",
        f"ledger is {rate / es_rate:,.1f}x",
    )


def bare_encode(evs: list[MetricLogged]) -> None:
    """The least any JSON hash chain of these events does: one canonical orjson dump and one sha256 each."""
    opts = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z
    prev = "0" * 64
    for e in evs:
        prev = hashlib.sha256(
            orjson.dumps({**e.__dict__, "prev": prev}, default=lambda m: m.__dict__, option=opts)
        ).hexdigest()


def mlflow_log_batch(tmp: Path, evs: list[MetricLogged]) -> float:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp}/batch.db")
    run_id = client.create_run(client.create_experiment("bench")).info.run_id
    metrics = [Metric(e.data.key, e.data.value, int(e.ts.timestamp() * 1000), e.data.step or 0) for e in evs]
    return timed(
        lambda: [client.log_batch(run_id, metrics=metrics[i : i + BATCH]) for i in range(0, len(metrics), BATCH)]
    )


def mlflow_log_metric_loop(tmp: Path, evs: list[MetricLogged]) -> float:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp}/loop.db")
    with mlflow.start_run():
        return timed(lambda: [mlflow.log_metric(e.data.key, e.data.value, step=e.data.step) for e in evs])


def eventsourcing_append(tmp: Path, evs: list[MetricLogged]) -> float:
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    recorder = SQLiteApplicationRecorder(SQLiteDatastore(str(tmp / "es.db")))
    recorder.create_table()
    origin, topic = uuid.uuid4(), "schemas.events:MetricLogged"

    def run() -> None:  # serialization is inside the clock for both stores
        for i in range(0, len(evs), BATCH):
            chunk = evs[i : i + BATCH]
            recorder.insert_events(
                [StoredEvent(origin, i + j + 1, topic, e.model_dump_json().encode()) for j, e in enumerate(chunk)]
            )

    return timed(run)


# ----------------------------------------------------------------------------- one event per call


def bench_single(tmp: Path, n: int) -> None:
    print(f"\n== one event per Ledger.append, {n:,} calls (one fdatasync each), interleaved with the disk baseline")
    evs, step = events(n), 50
    fd = os.open(tmp / "odsync.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DSYNC, 0o644)
    block = os.urandom(4096)
    ours = disk = 0.0
    with Ledger.open(tmp / "single") as ledger:
        for i in range(0, n, step):  # alternate rounds so both see the same disk weather
            ours += timed(lambda: [ledger.append([e]) for e in evs[i : i + step]])
            disk += timed(lambda: [os.write(fd, block) for _ in range(step)])
    os.close(fd)
    line("Ledger.append([event])", f"{n / ours:,.0f} ev/s", f"{disk / ours:.0%} of the disk  (goal >= 80%)")
    line("disk: 4 KiB O_DSYNC appends to a new file", f"{n / disk:,.0f} writes/s", "baseline")


# ----------------------------------------------------------------------------- verify and read


def bench_scan(tmp: Path, n: int) -> None:
    print(f"\n== verify() and read() on a {n:,}-event ledger")
    home = tmp / "scan"
    with Ledger.open(home) as ledger:
        for i in range(0, n, 50_000):
            ledger.append(events(min(50_000, n - i)))
        path = ledger.path
        verify_s, verify_cpu = cpu_of(lambda: _check(ledger.verify().ok))
        one_s, one_cpu = cpu_of(lambda: _check(verify_file(path, parallel=False).ok))
        read_s, read_cpu = cpu_of(lambda: sum(1 for _ in ledger.read()))
        deep_s = timed(lambda: _check(ledger.verify(deep=True).ok))
    lines = [x for _, _, chunk in iter_chunks(path) for x in chunk]
    hash_s = timed(lambda: [hashlib.sha256(x).hexdigest() for x in lines])
    validate = EVENT_ADAPTER.validate_json
    parse_s = timed(lambda: [validate(x) for x in lines[: n // 4]]) * 4
    loads_s = timed(lambda: [orjson.loads(x) for x in lines])
    mb = path.stat().st_size / 1e6
    line(
        "verify()",
        f"{verify_s:.2f} s",
        f"goal <= 1.0 s per 1M -> {verify_s * 1e6 / n:.2f} s/1M; {mb:,.0f} MB; {verify_cpu:.2f} CPU s",
    )
    line("  one process (parallel=False)", f"{one_s:.2f} s", f"{one_cpu:.2f} CPU s")
    line(
        "  baseline: bare sha256 of every line",
        f"{hash_s:.2f} s",
        f"verify is {verify_s / hash_s:.2f}x the hashing floor",
    )
    line("verify(deep=True)", f"{deep_s:.2f} s", "also decodes every event")
    line("read()", f"{read_s:.2f} s", f"goal <= 1.5 s per 1M -> {read_s * 1e6 / n:.2f} s/1M; {read_cpu:.2f} CPU s")
    line(
        "  baseline: TypeAdapter.validate_json per line",
        f"{parse_s:.2f} s",
        f"read is {read_s / parse_s:.2f}x the pydantic floor",
    )
    line(
        "  floor: orjson.loads per line (dicts, no models)",
        f"{loads_s:.2f} s",
        f"read is {read_s / loads_s:.2f}x; the goal is {1.5 * n / 1e6 / loads_s:.2f}x",
    )


def _check(ok: bool) -> None:
    if not ok:
        raise SystemExit("bench ledger does not verify")


# ----------------------------------------------------------------------------- crash soak


def bench_soak(tmp: Path, kills: int) -> None:
    from tests.support.ledger_crashloop import kill_loop

    print(f"\n== crash soak: SIGKILL an appending process {kills} times")
    start = time.perf_counter()
    stats = kill_loop(tmp / "soak", kills, seed=int(time.time()))
    line(
        "kills / acked appends / torn tails recovered",
        f"{stats.kills} / {stats.acked} / {stats.recoveries}",
        "every acked event present, chain verifies",
    )
    line("soak time", f"{time.perf_counter() - start:.1f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, epilog="example: .venv/bin/python bench/ledger.py --quick")
    p.add_argument("--quick", action="store_true", help="smaller sizes (100k append, 100k scan, 200 kills)")
    p.add_argument(
        "--only",
        choices=["append", "single", "scan", "soak"],
        action="append",
        help="run just these parts (repeatable)",
    )
    args = p.parse_args()
    parts = set(args.only or ["append", "single", "scan", "soak"])
    n, scan, single, loop, kills = (
        (100_000, 100_000, 500, 300, 200) if args.quick else (100_000, 1_000_000, 2_000, 1_000, 1000)
    )
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"ledger bench ({'quick' if args.quick else 'full'}), {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}"
        )
        for part, run in [
            ("append", lambda: bench_append(Path(tmp), n, loop)),
            ("single", lambda: bench_single(Path(tmp), single)),
            ("scan", lambda: bench_scan(Path(tmp), scan)),
            ("soak", lambda: bench_soak(Path(tmp), kills)),
        ]:
            if part in parts:
                run()
                print(f"  (load after this part: {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
