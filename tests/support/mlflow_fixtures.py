"""Helpers for the MLflow mirror tests: synthetic ledgers, a normalized dump of a store, a real mlflow server."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ledger import Ledger
from schemas.events import (
    CodeVersion,
    DataContractCheckedData,
    Envelope,
    MetricLoggedData,
    Model,
    RowsDroppedData,
    RunCompletedData,
    RunStartedData,
    RunTaggedData,
    StageCompletedData,
    StageStartedData,
    envelope,
)
from stages.artifacts import ArtifactStore

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
PIPELINE = "momentum"


def run_id(n: int) -> str:
    return f"20260105-0930{n:02d}-r{n:03d}"


def run_events(
    home: Path, n: int, metrics: int = 30, *, status: str = "succeeded", t0: datetime = T0
) -> list[Envelope]:
    """The events of one synthetic run: params, a stage, contract checks, drops, tables, metrics, completion."""
    rid, ts = run_id(n), t0 + timedelta(hours=n)
    store = ArtifactStore(home / "artifacts")
    drops_ref, drops = store.put_frame("drops", pl.DataFrame({"symbol": ["AAA", "BBB"], "reason": ["gap", "spike"]}))
    _, assets = store.put_frame("asset_metrics", pl.DataFrame({"symbol": ["AAA", "CCC"], "sharpe": [0.4 + n, 1.2]}))
    _, raw = store.put_frame("raw", pl.DataFrame({"x": [n, 2, 3]}))
    params: dict[str, Any] = {
        "selection.top_k": 10 + n,
        "features.hurst": True,
        "source.kind": "synthetic",
        "selection.min_hurst": None,
        "backtest.cost_bps": 5.0,
    }
    started = RunStartedData(
        pipeline=PIPELINE,
        profile="canary",
        params=params,
        config_hash=f"{n:064x}",
        code_version=CodeVersion(git_sha="abc123", dirty=False),
        packages={"polars": "1"},
        inputs=[],
        seed=7,
    )
    items: list[tuple[Model, str | None]] = [(started, None), (StageStartedData(), "validate")]
    items += [
        (
            DataContractCheckedData(
                contract="prices", tier=1, check="no_gaps", status="failed", failed=1, total=100, action="dropped"
            ),
            "validate",
        ),
        (RowsDroppedData(contract="prices", check="no_gaps", reason="gap", count=2, artifact=drops_ref), "validate"),
        (drops, "validate"),
        (raw, "ingest"),
        (assets, "metrics"),
        (StageCompletedData(rows_in=100, rows_out=98, duration_s=0.1), "validate"),
    ]
    for i in range(metrics):
        key = ("sharpe", "equity", "turnover")[i % 3]
        items.append((MetricLoggedData(key=key, value=float(i) / 7 + n, step=i // 3), "metrics"))
    items.append((MetricLoggedData(key="sharpe", value=1.5 + n, asset="AAA"), "metrics"))
    items.append((MetricLoggedData(key="cagr", value=0.1 * n), "metrics"))
    items.append(
        (RunCompletedData(status=status, duration_s=1.0, error=None if status == "succeeded" else "boom"), None)
    )  # type: ignore[arg-type]
    return [envelope(p, run_id=rid, stage=s, ts=ts + timedelta(milliseconds=i)) for i, (p, s) in enumerate(items)]


def epoch_of(n: int, index: int) -> int:
    """Epoch ms of the index-th event of run n as run_events stamps it."""
    return int((T0 + timedelta(hours=n, milliseconds=index)).timestamp() * 1000)


def tag(n: int, key: str, value: str, minute: int = 0) -> Envelope:
    data = RunTaggedData(key=key, value=value, reason=f"test {key}={value}", by="tests")
    return envelope(data, run_id=run_id(n), ts=T0 + timedelta(days=1, minutes=minute))


def append(home: Path, events: Sequence[Envelope]) -> int:
    """Append events to the home's ledger; return the head seq."""
    with Ledger.open(home) as ledger:
        ledger.append(events)
        return ledger.head()[0]


def standard_history(home: Path, metrics: int = 30) -> list[list[Envelope]]:
    """Batches of events appended one after another: three runs, candidates, alias moves, a rollback."""
    return [
        run_events(home, 1, metrics),
        run_events(home, 2, metrics, status="failed"),
        [tag(1, "candidate", "true", 1), tag(1, "alias", "champion", 2)],
        run_events(home, 3, metrics),
        [tag(3, "candidate", "true", 3), tag(3, "alias", "champion", 4), tag(1, "alias", "challenger", 5)],
        [
            tag(1, "alias", "champion", 6),
            tag(3, "alias", "challenger", 7),
            tag(2, "candidate", "false", 8),
            tag(3, "note", "rolled back", 9),
        ],
    ]


# ---------------------------------------------------------------- reading a store back


def dump_store(uri: str, served_artifacts: Path | None = None) -> dict[str, Any]:
    """Everything the mirror wrote, keyed by ledger ids (MLflow's own uuids and artifact URIs left out).

    Artifacts are listed from disk when the store keeps them locally (`served_artifacts` is a test
    server's --artifacts-destination), which saves several HTTP requests per run.
    """
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    out: dict[str, Any] = {"experiments": {}, "runs": {}, "models": {}}
    exps = [e for e in client.search_experiments(view_type=ViewType.ALL) if e.name.startswith("ledgerline")]
    for exp in exps:
        out["experiments"][exp.name] = dict(exp.tags)
        for run in client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=10_000):
            out["runs"][run.data.tags["ledger.run_id"]] = _dump_run(client, run, served_artifacts)
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name = '{model.name}'")
        out["models"][model.name] = {
            "aliases": {a: int(v) for a, v in model.aliases.items()},
            "versions": sorted(
                (int(v.version), v.tags.get("ledger.run_id"), dict(v.tags), v.source.split("/")[-1]) for v in versions
            ),
        }
    return out


def _dump_run(client: Any, run: Any, served: Path | None) -> dict[str, Any]:
    rid = run.info.run_id
    history = {
        k: sorted((m.timestamp, m.step, m.value) for m in client.get_metric_history(rid, k)) for k in run.data.metrics
    }
    return {
        "name": run.info.run_name,
        "status": run.info.status,
        "start": run.info.start_time,
        "end": run.info.end_time,
        "lifecycle": run.info.lifecycle_stage,
        "params": dict(run.data.params),
        "tags": {k: v for k, v in run.data.tags.items() if k != "mlflow.runName"},
        "latest": dict(run.data.metrics),
        "history": history,
        "artifacts": _artifacts(client, run, served),
    }


def _artifacts(client: Any, run: Any, served: Path | None) -> list[tuple[str, int | None]]:
    uri: str = run.info.artifact_uri
    local = None
    if uri.startswith("file://"):
        local = Path(uri.removeprefix("file://"))
    elif uri.startswith("mlflow-artifacts:/") and served is not None:
        local = served / uri.removeprefix("mlflow-artifacts:/")
    if local is not None:
        return sorted((p.relative_to(local).as_posix(), p.stat().st_size) for p in local.rglob("*") if p.is_file())
    return _listed(client, run.info.run_id)


def _listed(client: Any, run_id: str, path: str | None = None) -> list[tuple[str, int | None]]:
    out: list[tuple[str, int | None]] = []
    for info in client.list_artifacts(run_id, path):
        out += _listed(client, run_id, info.path) if info.is_dir else [(info.path, info.file_size)]
    return sorted(out)


def metric_rows(uri: str) -> int:
    """Metric rows in a SQLite store, counted in the table itself (duplicates included)."""
    import sqlite3

    with sqlite3.connect(uri.removeprefix("sqlite:///")) as db:
        return int(db.execute("select count(*) from metrics").fetchone()[0])


# ---------------------------------------------------------------- a real mlflow server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: no telemetry, and no job runner: MLflow 3's server otherwise starts a third process importing mlflow (a huey
#: consumer for GenAI jobs, about 3 s of a start on this machine), which the mirror never uses
SERVER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class MlflowServer:
    """`mlflow server` on 127.0.0.1 with a SQLite backend and proxied artifacts in a folder; start/stop/restart."""

    def __init__(self, root: Path, template: Path | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)
        if template is not None:  # an initialized store: the server skips creating its tables
            shutil.copyfile(template, root / "server.db")

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def backend(self) -> str:
        return f"sqlite:///{self.root / 'server.db'}"

    def start(self, timeout: float = 90) -> None:
        cmd = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--backend-store-uri",
            self.backend,
            "--artifacts-destination",
            str(self.artifacts),
        ]
        env = {**os.environ, **SERVER_ENV}
        self.log = open(self.root / "server.log", "ab")  # noqa: SIM115 - lives as long as the server; closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(self.root / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("mlflow server did not become healthy")

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def stop(self) -> None:
        """Kill the server (its whole process group): as abrupt as a crash, and instant."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None
        self.log.close()


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 in front of a server: stop() is the server going down, start() it coming back.

    To a client it is the same as killing and restarting the server (refused connections, reset ones
    mid-request, and a request the server applied whose answer never arrives), without paying the seconds a
    restart of `mlflow server` costs.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port = target_port, free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and reset every open one."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # close() alone leaves it listening while accept() blocks on it
            except OSError:
                pass
            listener.close()
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
                sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv()
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by stop()
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._lock:
            if src in self._open:
                self._open -= {src, dst}
                src.close()
                dst.close()


def empty_store(path: Path) -> Path:
    """An initialized, empty SQLite tracking store at path (creating the tables costs seconds: copy it)."""
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def kill_mid_transaction(db: Path, statement: str, params: Sequence[Any] = ()) -> Path:
    """SIGKILL a writer of the SQLite file db inside an uncommitted transaction: it leaves a hot journal.

    The writer runs statement, then spills pages to the file (a one-page cache and a large insert) so the database
    file itself holds uncommitted pages and only the journal can undo them, as when a replay dies mid-request."""
    import signal
    import sqlite3

    pid = os.fork()
    if pid == 0:
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("PRAGMA cache_size = 1")
        con.execute("BEGIN")
        con.execute(statement, params)
        con.execute("CREATE TABLE spill (x BLOB)")
        con.executemany("INSERT INTO spill VALUES (?)", [(b"x" * 512,) for _ in range(4_000)])
        os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    journal = db.with_name(db.name + "-journal")
    assert journal.stat().st_size > 0, "the killed writer left no journal"
    return journal


# ---------------------------------------------------------------- SIGKILL at random points


def crash_trials(home: Path, template: Path, work: Path, kills_wanted: int, seed: int) -> dict[str, Any]:
    """Kill replays with SIGKILL at random points, resume each to completion, compare with one clean replay.

    Runs in a process that has imported mlflow once and forks one child per replay attempt, so a kill
    costs milliseconds, not an interpreter start. Half the kills land just before or just after a
    randomly chosen request (every crash window is reachable); the others after a random delay.
    Trials go on until kills_wanted replays were actually killed.
    """
    import random
    import signal

    import projectors.mirror.replay  # noqa: F401  (imported once here, not in every forked child)

    rng = random.Random(seed)
    dump_store(_fresh(work / "warm", template))  # mlflow's store classes set up before any fork, too
    ref = _fresh(work / "reference", template)
    started = time.monotonic()  # the clean replay is also the timed one whose requests are counted
    assert _fork(lambda: _replay_counting(home, ref, work / "requests.txt")) == 0, "clean replay failed"
    clean_s, total = time.monotonic() - started, int((work / "requests.txt").read_text())
    reference = dump_store(ref)
    kills, trial, mismatches, points = 0, 0, [], []
    while kills < kills_wanted and trial < kills_wanted:
        uri = _fresh(work / f"trial-{trial}", template)
        for attempt in range(2):  # kill, resume and kill again, then resume to the end
            share = 1.0 if attempt == 0 else 0.5
            if (trial + attempt) % 2 == 0:
                point: tuple[Any, str] = (rng.randint(1, max(1, int(total * share))), rng.choice(["before", "after"]))
                status = _fork(lambda: _replay_dying_at(home, uri, *point))
            else:
                point = (round(rng.uniform(0.0, clean_s * share), 3), "seconds")
                status = _fork(lambda: _replay(home, uri), kill_after=float(point[0]))
            if status == -signal.SIGKILL:
                kills += 1
                points.append(point)
        assert _fork(lambda: _replay(home, uri)) == 0, f"resume after trial {trial} failed"
        if dump_store(uri) != reference:
            mismatches.append({"trial": trial, "points": points[-2:]})
        trial += 1
    return {
        "kills": kills,
        "trials": trial,
        "requests": total,
        "clean_s": clean_s,
        "mismatches": mismatches,
        "points": points,
    }


def _fresh(folder: Path, template: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, folder / "store.db")
    return f"sqlite:///{folder / 'store.db'}"


def _replay(home: Path, uri: str) -> None:
    from projectors.mirror import replay as mirror

    mirror.replay(home, tracking_uri=uri)


def _replay_counting(home: Path, uri: str, out: Path) -> None:
    from projectors.mirror import replay as mirror

    out.write_text(str(mirror.replay(home, tracking_uri=uri).requests))


def _replay_dying_at(home: Path, uri: str, request: int, when: str) -> None:
    import signal

    from projectors.mirror.sink import Sink

    real = Sink.call

    def call(self: Sink, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self.requests + 1 == request and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(self, fn, *args, **kwargs)
        if self.requests == request:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    Sink.call = call  # type: ignore[method-assign]  # only in this forked child
    _replay(home, uri)


def _fork(body: Any, kill_after: float | None = None) -> int:
    """Run body in a forked child; SIGKILL it after kill_after seconds if still running; return its status."""
    import signal

    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            body()
        except BaseException:  # report, never return into the parent's code
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(code)
    if kill_after is not None:
        deadline = time.monotonic() + kill_after
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.002)
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def creation_trials(home: Path, work: Path, kills_wanted: int, seed: int) -> dict[str, Any]:
    """SIGKILL a replay into the default store (mlflow.db in the home) while MLflow creates its tables, resume it.

    Each trial copies the ledger into a home without a store, kills the replay at a random moment within the
    time one store creation takes, and checks that what is left is no store or a complete one, and that the
    next replay finishes and gives the store one clean replay gives.
    """
    import random
    import signal

    from projectors.mirror import replay as mirror
    from projectors.mirror.layout import store_problem
    from projectors.mirror.stores import create_store

    rng = random.Random(seed)

    def fresh_home(name: str) -> Path:
        folder = work / name
        folder.mkdir(parents=True)
        shutil.copyfile(home / "audit.jsonl", folder / "audit.jsonl")
        if (home / "artifacts").exists():
            shutil.copytree(home / "artifacts", folder / "artifacts")
        return folder

    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    assert _fork(lambda: create_store(work / "timed.db")) == 0
    create_s = time.monotonic() - started
    ref = fresh_home("reference")  # the clean replay goes into the timed store: one creation less
    shutil.copyfile(work / "timed.db", ref / "mlflow.db")
    assert _fork(lambda: mirror.replay(ref)) == 0, "clean replay failed"
    reference = dump_store(f"sqlite:///{ref / 'mlflow.db'}")
    kills, problems, points = 0, [], []
    for trial in range(kills_wanted * 2):
        if kills >= kills_wanted:
            break
        target = fresh_home(f"trial-{trial}")
        point = round(rng.uniform(0.05, 0.95) * create_s, 3)
        if _fork(lambda: mirror.replay(target), kill_after=point) == -signal.SIGKILL:
            kills += 1
            points.append(point)
        db = target / "mlflow.db"
        left = store_problem(db) if db.exists() else None
        if left is not None:
            problems.append({"trial": trial, "point": point, "left": left})
        if _fork(lambda: mirror.replay(target)) != 0:
            problems.append({"trial": trial, "point": point, "resume": "failed"})
        elif dump_store(f"sqlite:///{db}") != reference:
            problems.append({"trial": trial, "point": point, "resume": "differs from a clean replay"})
        if list(target.glob(".mlflow.db.*.tmp")):
            problems.append({"trial": trial, "point": point, "left": "a temporary store file"})
    return {"kills": kills, "create_s": create_s, "problems": problems, "points": points}


if __name__ == "__main__":
    import json

    if sys.argv[1] == "--creation":
        result = creation_trials(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        result = crash_trials(
            Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        )
    print(json.dumps(result))
