"""What the MLflow UI shows beyond params and metrics: inputs as datasets, an equity chart, CSV previews.

Pure functions of a RunFold (and the home's artifacts): the sink sends what they return. MLflow is
not imported here; matplotlib (a dependency of mlflow) is imported only to draw, on an Agg canvas (no pyplot).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from projectors.mirror.plan import RunFold
from schemas.contracts import BAR_SCHEMA
from schemas.events import ArtifactWritten

#: the experiment kind MLflow 3 opens in its model-training layout (not the GenAI evaluation layout)
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
CHART_PATH = "charts/equity_drawdown_drops.png"
#: the artifact whose (date, session) columns put dates on the chart's x-axis
PORTFOLIO = "portfolio"
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


def session_dates(run: RunFold, home: Path) -> dict[int, date]:
    """session -> date from the run's portfolio table (date, session), when the file is what the ledger recorded."""
    found = run.artifacts.get(PORTFOLIO)
    raw = _verified(home, found[1]) if found is not None else None
    if raw is None:
        return {}
    import polars as pl

    try:
        frame = pl.read_parquet(io.BytesIO(raw), columns=["session", "date"])
    except (OSError, pl.exceptions.PolarsError):
        return {}
    return {int(s): d for s, d in zip(frame.get_column("session"), frame.get_column("date")) if isinstance(d, date)}


def equity_series(run: RunFold, home: Path) -> tuple[list[date] | list[int], list[float], str]:
    """(x, equity, x label) of the equity chart: dates when every session's date is known, else session numbers."""
    points = equity_points(run)
    dates = session_dates(run, home)
    equity = [value for _, value in points]
    if points and all(step in dates for step, _ in points):
        return [dates[step] for step, _ in points], equity, "date"
    return [step for step, _ in points], equity, "session (no portfolio table with dates)"


def drops_by_reason(run: RunFold) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for d in run.drops:
        counts[str(d.get("reason", "?"))] += int(d.get("count", 0))
    return dict(counts.most_common())


#: where the chart's three panels sit, in figure fractions (left, bottom, width, height): laid out once by hand,
#: because matplotlib's constrained layout solver costs more than drawing the chart
_EQUITY_BOX = (0.085, 0.585, 0.9, 0.37)
_DRAWDOWN_BOX = (0.085, 0.375, 0.9, 0.195)
_DROPS_BOTTOM, _DROPS_HEIGHT = 0.045, 0.2
#: reasons longer than this are cut in the drops panel; its left margin fits the longest one shown
_REASON_CHARS = 40


def equity_chart(run: RunFold, home: Path) -> bytes | None:
    """A PNG: the equity curve against dates, the drawdown under it (same axis), and the rows dropped by reason;
    None without an equity curve."""
    fig = equity_figure(run, home)
    if fig is None:
        return None
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def equity_figure(run: RunFold, home: Path) -> Any:
    """The matplotlib Figure equity_chart renders (on its own Agg canvas), or None without an equity curve."""
    series, equity, xlabel = equity_series(run, home)
    if not series:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps: Any = series  # dates or session numbers: matplotlib plots either
    peak, drawdown = float("-inf"), []
    for value in equity:
        peak = max(peak, value)
        drawdown.append(value / peak - 1.0 if peak > 0 else 0.0)
    fig = Figure(figsize=(10, 8), dpi=90)  # no pyplot: no global figure registry, nothing to close
    FigureCanvasAgg(fig)
    top = fig.add_axes(_EQUITY_BOX)
    mid = fig.add_axes(_DRAWDOWN_BOX, sharex=top)  # the drawdown under the curve, on the same dates
    top.plot(steps, equity, color="#1f77b4", linewidth=1.2)
    top.set_title(f"run {run.run_id}: equity")
    top.set_ylabel("equity")
    top.grid(alpha=0.3)
    top.tick_params(labelbottom=False)
    mid.fill_between(steps, drawdown, 0.0, color="#d62728", alpha=0.4)
    mid.set_ylabel("drawdown")
    mid.set_xlabel(xlabel)
    if xlabel == "date":
        mid.tick_params(axis="x", labelrotation=30)
    mid.grid(alpha=0.3)
    _drops_panel(fig, drops_by_reason(run))
    return fig


def _drops_panel(fig: Any, drops: dict[str, int]) -> None:
    """The rows dropped by reason (the 12 largest) as horizontal bars, its left margin fitted to the labels."""
    shown = list(drops.items())[:12]
    labels = [r if len(r) <= _REASON_CHARS else r[: _REASON_CHARS - 1] + "\u2026" for r, _ in shown]
    left = min(0.36, 0.025 + 0.0082 * max((len(label) for label in labels), default=0))  # ~7.4 px a character
    low = fig.add_axes((max(left, _EQUITY_BOX[0]), _DROPS_BOTTOM, 0.985 - max(left, _EQUITY_BOX[0]), _DROPS_HEIGHT))
    if shown:
        low.barh(labels[::-1], [count for _, count in shown][::-1], color="#7f7f7f")
        low.set_title("rows dropped by reason")
    else:
        low.text(0.5, 0.5, "no rows dropped", ha="center", va="center")
        low.set_axis_off()


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
        if art.data.format != "parquet" or art.data.rows is None or art.data.rows > PREVIEW_ROWS:
            continue
        raw = _verified(home, art)
        if raw is None:
            continue  # only a file that is what the ledger recorded is previewed (never a tampered one)
        try:
            frame = pl.read_parquet(io.BytesIO(raw))
        except (OSError, pl.exceptions.PolarsError):
            continue
        previews[f"previews/{art.data.name}.csv"] = frame.write_csv().encode()
    return previews


def _verified(home: Path, art: ArtifactWritten) -> bytes | None:
    """The artifact's bytes when its file exists and has the SHA-256 the ledger recorded, else None."""
    try:
        raw = (home / art.data.path).read_bytes()
    except OSError:
        return None
    if art.data.sha256 is None or hashlib.sha256(raw).hexdigest() != art.data.sha256:
        return None
    return raw
