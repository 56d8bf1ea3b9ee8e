"""The MLflow mirror on its default SQLite store: artifacts, witness, rebuild, batching limits, follow, errors."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("mlflow")

from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from projectors.errors import MirrorDivergedError, MirrorUnavailableError  # noqa: E402
from projectors.mirror import replay as mirror  # noqa
from projectors.mirror.model import MLflowMirror  # noqa
from projectors.mirror.sink import MAX_REQUEST_BYTES, pack_batches  # noqa: E402
from projectors.readmodel import follow  # noqa: E402
from tests.support.mlflow_fixtures import append, dump_store, free_port, run_events, run_id, standard_history  # noqa: E402


@pytest.fixture
def home(tmp_path: Path, mlflow_template: Path) -> Path:
    """A home with the standard three-run history and a pre-initialized (empty) default store."""
    home = tmp_path / "home"
    for batch in standard_history(home, metrics=9):
        append(home, batch)
    shutil.copyfile(mlflow_template, home / "mlflow.db")
    return home


def test_artifacts_are_the_ledgers_json_and_parquet_never_pickle(home: Path) -> None:
    mirror.replay(home)
    client = MlflowClient(mirror.default_tracking_uri(home))
    exp = client.get_experiment_by_name("ledgerline-momentum")
    run = client.search_runs([exp.experiment_id], f"tags.`ledger.run_id` = '{run_id(1)}'")[0]
    local = Path(run.info.artifact_uri.removeprefix("file://"))
    assert local.is_relative_to(home / "mlartifacts"), "the default store keeps artifacts in the home"
    files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    ledger_files = [f for f in files if not f.startswith(("charts/", "previews/"))]
    assert ledger_files == [
        "contract/contract_report.json",
        "manifest/manifest.json",
        "tables/asset_metrics.parquet",
        "tables/drops.parquet",
    ]
    assert all(f.endswith((".png", ".csv")) for f in files if f not in ledger_files), "UI extras are PNG and CSV only"
    manifest = json.loads((local / "manifest/manifest.json").read_text())
    assert manifest["run_id"] == run_id(1) and manifest["params"]["selection.top_k"] == 11
    assert {a["name"] for a in manifest["artifacts"]} == {"drops", "raw", "asset_metrics"}
    report = json.loads((local / "contract/contract_report.json").read_text())
    assert report["failed_checks"] == 1 and report["rows_dropped"] == 2 and report["drops"][0]["reason"] == "gap"
    assert pl.read_parquet(local / "tables/drops.parquet")["reason"].to_list() == ["gap", "spike"]
    assert not [p for p in (home / "mlartifacts").rglob("*") if p.suffix in {".pkl", ".pickle", ".joblib"}]


def test_witness_lives_in_mlflow_and_a_rewritten_ledger_is_refused(home: Path, tmp_path: Path) -> None:
    assert mirror.read_witness(tmp_path / "nowhere") is None, "no store, no witness"
    report = mirror.replay(home)
    from ledger import Ledger

    with Ledger.open(home) as ledger:
        assert mirror.read_witness(home) == ledger.head() == (report.head_seq, report.head_hash)
    forged = tmp_path / "forged"
    for batch in standard_history(forged, metrics=10):  # same shape, different content: every hash differs
        append(forged, batch)
    shutil.copyfile(forged / "audit.jsonl", home / "audit.jsonl")
    before = dump_store(mirror.default_tracking_uri(home))
    with pytest.raises(MirrorDivergedError, match="rewritten"):
        mirror.replay(home)
    assert dump_store(mirror.default_tracking_uri(home)) == before, "a refused replay writes nothing"
    rebuilt = mirror.replay(home, rebuild=True)
    assert mirror.read_witness(home) == (rebuilt.head_seq, rebuilt.head_hash)


def test_an_empty_ledger_is_witnessed_at_seq_0_and_replays_again(tmp_path: Path, mlflow_template: Path) -> None:
    from ledger import Ledger

    Ledger.open(tmp_path / "home").close()
    shutil.copyfile(mlflow_template, tmp_path / "store.db")
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    mirror.replay(tmp_path / "home", tracking_uri=uri, rebuild=True)
    assert mirror.read_witness(tmp_path / "home", uri) == (0, "0" * 64)
    assert mirror.replay(tmp_path / "home", tracking_uri=uri).head_seq == 0


def test_rebuild_of_the_default_store_equals_the_incremental_mirror(tmp_path: Path, mlflow_template: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(mlflow_template, home / "mlflow.db")
    for batch in standard_history(home, metrics=6):
        append(home, batch)
        mirror.replay(home)  # one replay per batch: runs span replays, aliases move between them
    incremental = dump_store(mirror.default_tracking_uri(home))
    mirror.replay(home, rebuild=True)
    assert dump_store(mirror.default_tracking_uri(home)) == incremental


def test_a_crash_between_metrics_and_position_mark_resends_without_duplicates(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from projectors.mirror.sink import Sink

    def crash(self: Sink, run_id: str, tags: dict[str, str]) -> None:
        raise KeyboardInterrupt("simulated crash after the run's batches landed")

    monkeypatch.setattr(Sink, "mark", crash)
    with pytest.raises(KeyboardInterrupt):
        mirror.replay(home)
    monkeypatch.undo()
    resumed = mirror.replay(home)
    assert resumed.from_seq == 0 and resumed.metrics > 0, "nothing was witnessed, so everything is re-sent"
    rows = _metric_rows(home)
    assert rows == 3 * 11, "re-sent metric rows are the same rows, not new ones"


def test_batches_stay_within_mlflow_limits_and_lose_nothing() -> None:
    params = [Param(f"p{i}", "v" * 5_000) for i in range(250)]
    tags = [RunTag(f"t{i}", "w" * 4_000) for i in range(150)]
    metrics = [Metric(f"m{i % 7}", float(i), i, i) for i in range(2_600)]
    batches = pack_batches(params, tags, metrics)
    for m, p, t in batches:
        assert len(m) <= 1_000 and len(p) <= 100 and len(t) <= 100 and len(m) + len(p) + len(t) <= 1_000
        size = sum(len(x.key) + len(x.value) for x in (*p, *t)) + sum(len(x.key) + 40 for x in m)
        assert size <= MAX_REQUEST_BYTES
    assert [x for b in batches for x in b[1]] == params and [x for b in batches for x in b[2]] == tags
    assert [x for b in batches for x in b[0]] == metrics
    assert len(pack_batches([], [], metrics[:2_500])) == 3


def test_follow_mirrors_new_events_until_stopped(home: Path) -> None:
    stop = threading.Event()
    lines: list[str] = []
    worker = threading.Thread(
        target=follow, args=(MLflowMirror(home),), kwargs={"stop": stop, "progress": lines.append}
    )
    worker.start()
    try:
        _wait(lambda: any("witness seq 0 ->" in line for line in lines))
        append(home, run_events(home, 7, metrics=3))
        _wait(lambda: mirror.read_witness(home) is not None and _has_run(home, 7))
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()


def test_follow_outlives_an_unreachable_store_and_catches_up_when_it_is_back(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from projectors.mirror.sink import Sink

    real, failures = Sink.call, [3]

    def flaky(self: Sink, fn: object, *args: object, **kwargs: object) -> object:
        if failures[0] > 0:
            failures[0] -= 1
            raise MirrorUnavailableError(self.uri, "connection refused")
        return real(self, fn, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Sink, "call", flaky)
    stop, lines = threading.Event(), []
    worker = threading.Thread(
        target=follow, args=(MLflowMirror(home),), kwargs={"stop": stop, "progress": lines.append, "poll_s": 0.2}
    )
    worker.start()
    try:  # no new ledger event arrives: only the retry timer can bring the mirror up to date
        _wait(lambda: any(line.startswith("mirrored 3 runs") for line in lines))
    finally:
        stop.set()
        worker.join(timeout=30)
    assert sum("unavailable" in line for line in lines) == 3 and not worker.is_alive()


def test_an_unreachable_server_is_one_clear_error(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MirrorUnavailableError) as err:
        mirror.replay(home, tracking_uri=uri)
    assert uri in str(err.value) and "\n" not in str(err.value)


def _metric_rows(home: Path) -> int:
    import sqlite3

    with sqlite3.connect(home / "mlflow.db") as db:
        return int(db.execute("select count(*) from metrics").fetchone()[0])


def _has_run(home: Path, n: int) -> bool:
    client = MlflowClient(mirror.default_tracking_uri(home))
    exp = client.get_experiment_by_name("ledgerline-momentum")
    return bool(client.search_runs([exp.experiment_id], f"tags.`ledger.run_id` = '{run_id(n)}'"))


def _wait(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")
