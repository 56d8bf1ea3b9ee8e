"""Issue 12.11: what the MLflow UI shows: training layout, inputs as datasets, an equity chart and CSV previews."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient  # noqa: E402

from ledger import LEDGER_NAME  # noqa: E402
from projectors.mirror import extras  # noqa: E402
from projectors.mirror import replay as mirror  # noqa: E402
from projectors.mirror.extras import CHART_PATH, DIGEST_CHARS, equity_series  # noqa: E402
from projectors.mirror.plan import read_ledger  # noqa: E402
from projectors.mirror.sink import Sink, experiment_name  # noqa: E402
from schemas.events import DataInput, RunStarted, envelope  # noqa: E402
from stages.artifacts import ArtifactStore  # noqa: E402
from tests.support.mlflow_fixtures import PIPELINE, append, run_events, run_id  # noqa: E402

SHA = "ab" * 32


@pytest.fixture
def home(tmp_path: Path, mlflow_template: Path) -> Path:
    """One mirrored run whose RunStarted names a directory input, with an equity curve and drops."""
    home = tmp_path / "home"
    events = run_events(home, 1, metrics=30)
    started = events[0]
    assert isinstance(started, RunStarted)
    data = started.data.model_copy(update={
        "inputs": [DataInput(name="SPY.parquet", sha256=SHA, rows=504, format="parquet")],
        "params": {**started.data.params, "source.kind": "directory", "source.path": "/data/market"},
    })  # fmt: skip
    days = [date(2024, 1, 2) + timedelta(days=d) for d in range(10)]
    _, portfolio = ArtifactStore(home / "artifacts").put_frame(
        "portfolio", pl.DataFrame({"date": days, "session": list(range(10)), "equity": [1.0] * 10})
    )  # the backtest's table: session -> date for the chart's x-axis
    written = envelope(portfolio, run_id=run_id(1), stage="backtest", ts=started.ts)
    append(home, [started.model_copy(update={"data": data}), written, *events[1:]])
    shutil.copyfile(mlflow_template, home / "mlflow.db")
    mirror.replay(home)
    return home


def test_the_experiment_opens_in_the_model_training_layout(home: Path) -> None:
    client = MlflowClient(mirror.default_tracking_uri(home))
    exp = client.get_experiment_by_name(experiment_name(PIPELINE))
    assert exp is not None and exp.tags["mlflow.experimentKind"] == "custom_model_development"


def test_inputs_are_logged_as_datasets_with_the_recorded_digest(home: Path) -> None:
    client = MlflowClient(mirror.default_tracking_uri(home))
    exp = client.get_experiment_by_name(experiment_name(PIPELINE))
    (run,) = client.search_runs([exp.experiment_id], filter_string=f"tags.`ledger.run_id` = '{run_id(1)}'")
    (ds,) = [d.dataset for d in run.inputs.dataset_inputs]
    assert ds.name == "SPY.parquet" and ds.digest == SHA[:DIGEST_CHARS] and ds.source_type == "local"
    assert "/data/market/SPY.parquet" in ds.source and SHA in ds.source and '"close"' in ds.schema


def test_an_equity_chart_and_csv_previews_are_uploaded(home: Path) -> None:
    client = MlflowClient(mirror.default_tracking_uri(home))
    exp = client.get_experiment_by_name(experiment_name(PIPELINE))
    (run,) = client.search_runs([exp.experiment_id], filter_string=f"tags.`ledger.run_id` = '{run_id(1)}'")
    local = Path(client.download_artifacts(run.info.run_id, "", str(home.parent / "dl")))
    assert (local / CHART_PATH).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (
        local / CHART_PATH
    ).stat().st_size > 10_000
    assert (local / "previews" / "drops_by_reason.csv").read_text().splitlines() == ["reason,rows", "gap,2"]
    assert (local / "previews" / "asset_metrics.csv").read_text().splitlines()[0] == "symbol,sharpe"


def test_the_equity_chart_is_drawn_against_the_sessions_dates(home: Path) -> None:
    run = read_ledger(home / LEDGER_NAME, 0).runs[run_id(1)]
    x, equity, label = equity_series(run, home)
    assert label == "date" and x == [date(2024, 1, 2) + timedelta(days=d) for d in range(10)] and len(equity) == 10
    (home / run.artifacts["portfolio"][1].data.path).chmod(0o644)
    (home / run.artifacts["portfolio"][1].data.path).write_bytes(b"tampered")  # never trusted: session numbers
    x, _, label = equity_series(run, home)
    assert label.startswith("session") and x == list(range(10))


@pytest.mark.parametrize(
    "drops",
    [
        {"gap": 2},
        {"greater_than_or_equal_to(0) on close_adjusted_for_splits_and_dividends": 40, "x": 3},  # cut to 40 characters
        {},
    ],
)
def test_every_label_of_the_chart_lies_inside_the_picture(
    home: Path, drops: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The panels are placed by hand (no layout solver): no title, tick label or axis label may fall off the PNG."""
    run = read_ledger(home / LEDGER_NAME, 0).runs[run_id(1)]
    monkeypatch.setattr(extras, "drops_by_reason", lambda _run: drops)
    fig = extras.equity_figure(run, home)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    width, height = fig.canvas.get_width_height()
    for ax in fig.axes:  # an axes' tight box holds what it drew: its title, tick labels and axis labels
        box = ax.get_tightbbox(renderer)
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, (ax.get_title(), box)
    reasons = [t.get_text() for t in fig.axes[-1].get_yticklabels()]
    assert any(r.endswith("\u2026") and len(r) == 40 for r in reasons) == any(len(r) > 40 for r in drops)


def test_the_experiment_list_shows_only_the_pipeline_experiment_and_the_witness_still_reads(home: Path) -> None:
    uri = mirror.default_tracking_uri(home)
    client = MlflowClient(uri)
    assert [e.name for e in client.search_experiments()] == [experiment_name(PIPELINE)]  # no witness, no empty Default
    head = mirror.read_witness(home)
    assert head is not None
    append(home, run_events(home, 2, metrics=6))
    again = mirror.replay(home)  # restores the hidden witness to move it, then hides it again
    assert again.head_seq > head[0] and mirror.read_witness(home) == (again.head_seq, again.head_hash)
    assert [e.name for e in client.search_experiments()] == [experiment_name(PIPELINE)]
    assert Sink.open(uri).read_witness() == (again.head_seq, again.head_hash)  # the server path reads it too
