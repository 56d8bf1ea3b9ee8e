"""What the MLflow UI shows beyond params and metrics: inputs as datasets, an equity chart, CSV previews.

Pure functions of a RunFold (and the home's artifacts): the sink sends what they return. MLflow is
not imported here; matplotlib (a dependency of mlflow) is imported only to draw, with the Agg backend.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections import Counter
from pathlib import Path

import orjson

from projectors.mirror.plan import RunFold
from schemas.contracts import BAR_SCHEMA

#: the experiment kind MLflow 3 opens in its model-training layout (not the GenAI evaluation layout)
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
CHART_PATH = "charts/equity_drawdown_drops.png"
#: Parquet tables smaller than this many rows also get a CSV preview the UI can show
PREVIEW_ROWS = 1000
#: MLflow's datasets table holds a digest of at most 36 characters: the recorded SHA-256, cut to fit
DIGEST_CHARS = 36


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One run input as an MLflow dataset (the sink turns it into mlflow.entities.Dataset)."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str
    profile: str


def _mlflow_type(dtype: object) -> str:
    text = str(dtype)
    if text.startswith("Float"):
        return "double"
    if text.startswith(("Int", "UInt")):
        return "long"
    if text.startswith("Date"):
        return "datetime"
    return "string"


def dataset_specs(run: RunFold) -> list[DatasetSpec]:
    """The run's RunStarted inputs: name, digest (recorded content hash), where they came from, the bar schema."""
    if run.started is None:
        return []
    params = run.started.data.params
    root = params.get("source.path") if params.get("source.kind") == "directory" else None
    schema = orjson.dumps(
        {"mlflow_colspec": [{"name": n, "type": _mlflow_type(t)} for n, t in BAR_SCHEMA.items()]}
    ).decode()
    out = []
    for item in run.started.data.inputs:
        uri = f"{root}/{item.name}" if root else item.name
        source = orjson.dumps({"uri": uri, "sha256": item.sha256}).decode()
        profile = orjson.dumps({"num_rows": item.rows, "format": item.format, "sha256": item.sha256}).decode()
        out.append(
            DatasetSpec(
                item.name[:500], item.sha256[:DIGEST_CHARS], "local" if root else "code", source, schema, profile
            )
        )
    return out


def equity_points(run: RunFold) -> list[tuple[int, float]]:
    """(session step, equity) of the run's equity curve, latest value per step."""
    points = {m.step: m.value for m in sorted(run.metrics, key=lambda m: m.seq) if m.key == "equity"}
    return sorted(points.items())


def drops_by_reason(run: RunFold) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for d in run.drops:
        counts[str(d.get("reason", "?"))] += int(d.get("count", 0))
    return dict(counts.most_common())


def equity_chart(run: RunFold) -> bytes | None:
    """A PNG: the equity curve, the drawdown under it, and the rows dropped by reason; None without an equity curve."""
    points = equity_points(run)
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, equity = zip(*points)
    peak, drawdown = float("-inf"), []
    for value in equity:
        peak = max(peak, value)
        drawdown.append(value / peak - 1.0 if peak > 0 else 0.0)
    drops = drops_by_reason(run)
    fig, (top, mid, low) = plt.subplots(3, 1, figsize=(10, 8), gridspec_kw={"height_ratios": [3, 1.4, 1.6]})
    try:
        top.plot(steps, equity, color="#1f77b4", linewidth=1.2)
        top.set_title(f"run {run.run_id}: equity")
        top.set_ylabel("equity")
        top.grid(alpha=0.3)
        mid.fill_between(steps, drawdown, 0.0, color="#d62728", alpha=0.4)
        mid.set_ylabel("drawdown")
        mid.set_xlabel("session")
        mid.grid(alpha=0.3)
        if drops:
            low.barh(list(drops)[:12][::-1], list(drops.values())[:12][::-1], color="#7f7f7f")
            low.set_title("rows dropped by reason")
        else:
            low.text(0.5, 0.5, "no rows dropped", ha="center", va="center")
            low.set_axis_off()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        return buf.getvalue()
    finally:
        plt.close(fig)


def csv_previews(run: RunFold, home: Path) -> dict[str, bytes]:
    """CSV copies the UI can preview: drops by reason, and every mirrored Parquet table under PREVIEW_ROWS rows."""
    import polars as pl

    previews: dict[str, bytes] = {}
    drops = drops_by_reason(run)
    if drops:
        previews["previews/drops_by_reason.csv"] = (
            pl.DataFrame({"reason": list(drops), "rows": list(drops.values())}).write_csv().encode()
        )
    for _, art in run.artifacts.values():
        path = home / art.data.path
        if art.data.format != "parquet" or art.data.rows is None or art.data.rows > PREVIEW_ROWS or not path.is_file():
            continue
        raw = path.read_bytes()
        if art.data.sha256 is None or hashlib.sha256(raw).hexdigest() != art.data.sha256:
            continue  # only a file that is what the ledger recorded is previewed (never a tampered one)
        try:
            frame = pl.read_parquet(io.BytesIO(raw))
        except (OSError, pl.exceptions.PolarsError):
            continue
        previews[f"previews/{art.data.name}.csv"] = frame.write_csv().encode()
    return previews
