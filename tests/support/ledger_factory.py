"""Plausible pipeline runs built from events directly, so read-side tests do not depend on the stages."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger import Ledger, Recorded
from schemas.events import (
    ArtifactRef,
    ArtifactWrittenData,
    CodeVersion,
    DataContractCheckedData,
    DataInput,
    Envelope,
    MetricLoggedData,
    Model,
    RowKey,
    RowsDroppedData,
    RunCompletedData,
    RunStartedData,
    RunTaggedData,
    StageCompletedData,
    StageFailedData,
    StageStartedData,
    envelope,
)

BASE_PARAMS: dict[str, Any] = {
    "selection.top_k": 10,
    "backtest.cost_bps": 5.0,
    "source.symbols": 40,
    "profile": "canary",
}
STAGES = ("ingest", "validate", "features", "select", "backtest", "metrics")
#: which params each stage's output depends on (a change there changes that output and everything after)
DEPENDS = {"ingest": ("source.symbols",), "select": ("selection.top_k",), "backtest": ("backtest.cost_bps",)}
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def h(*parts: object) -> str:
    """A deterministic sha256 hex of parts."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


class Clock:
    """Monotonic event timestamps, one second apart, so time-based queries are deterministic."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def run_events(
    run_id: str,
    *,
    params: dict[str, Any] | None = None,
    toxic: int = 0,
    status: str = "succeeded",
    fail_stage: str | None = None,
    git_sha: str = "abc123",
    clock: Clock | None = None,
) -> list[Envelope]:
    """Events of one run: RunStarted, stages with contracts/drops/artifacts, metrics, RunCompleted."""
    clock = clock or Clock()
    p = {**BASE_PARAMS, **(params or {})}
    out: list[Envelope] = []

    def emit(data: Model, stage: str | None = None) -> None:
        out.append(envelope(data, run_id=run_id, stage=stage, ts=clock.tick()))

    emit(_started(p, toxic, git_sha))
    lineage = ("toxic", toxic)
    for stage in STAGES:
        emit(StageStartedData(inputs=[]), stage)
        if stage == fail_stage:
            emit(StageFailedData(error_type="ValueError", message=f"{stage} exploded"), stage)
            emit(RunCompletedData(status="failed", duration_s=3.0, error=f"{stage}: exploded"))
            return out
        lineage = (*lineage, stage, *(p[k] for k in DEPENDS.get(stage, ())))
        for payload in _stage_payloads(stage, p, toxic, lineage):
            emit(payload, stage)
    emit(RunCompletedData(status=status, duration_s=12.5))  # type: ignore[arg-type]
    return out


def _started(p: dict[str, Any], toxic: int, git_sha: str) -> RunStartedData:
    return RunStartedData(
        pipeline="quant-reference",
        profile=str(p["profile"]),
        params=p,
        config_hash=h("config", sorted(p.items())),
        code_version=CodeVersion(git_sha=git_sha, dirty=False),
        packages={"polars": "1.0"},
        inputs=[
            DataInput(
                name="prices", sha256=h("prices", p["source.symbols"], toxic), rows=1000 + toxic, format="parquet"
            )
        ],
        seed=7,
    )


def _stage_payloads(stage: str, p: dict[str, Any], toxic: int, lineage: tuple[object, ...]) -> list[Model]:
    ref = ArtifactRef(name=stage, hash=h(*lineage), rows=100)
    payloads: list[Model] = []
    if stage == "validate":
        payloads += _contracts(toxic)
    if stage == "metrics":
        payloads += _metrics(p, toxic)
    written = ArtifactWrittenData(
        name=stage, hash=ref.hash, format="parquet", rows=100, bytes=4096, path=f"artifacts/{ref.hash}.parquet"
    )
    payloads += [
        written,
        StageCompletedData(rows_in=1000, rows_out=1000 - toxic, duration_s=0.5, outputs=[ref], changed=[stage]),
    ]
    return payloads


def _contracts(toxic: int) -> list[Model]:
    keys = [RowKey(symbol=f"S{i:03d}", date="2021-03-01") for i in range(toxic)]
    checks: list[Model] = [
        DataContractCheckedData(
            contract="prices",
            tier=1,
            check="not_null",
            column="close",
            status="passed",
            failed=0,
            total=1000,
            action="none",
        ),
        DataContractCheckedData(
            contract="prices",
            tier=1,
            check="max_abs_return",
            column="ret",
            status="failed" if toxic else "passed",
            failed=toxic,
            total=1000,
            sample=[{"symbol": k.symbol, "ret": 9.5} for k in keys],
            action="dropped" if toxic else "none",
        ),
    ]
    if toxic:
        checks.append(
            RowsDroppedData(contract="prices", check="max_abs_return", reason="extreme return", count=toxic, keys=keys)
        )
    return checks


def _metrics(p: dict[str, Any], toxic: int) -> list[Model]:
    top_k, cost = float(p["selection.top_k"]), float(p["backtest.cost_bps"])
    sharpe = round(1.0 + top_k / 100 - cost / 100 - toxic / 10, 6)
    out: list[Model] = [
        MetricLoggedData(key="sharpe", value=sharpe),
        MetricLoggedData(key="max_drawdown", value=round(-0.2 - toxic / 100, 6)),
        MetricLoggedData(key="cagr", value=round(0.08 + top_k / 1000, 6)),
    ]
    out += [MetricLoggedData(key="equity", value=1.0 + i * sharpe / 100, step=i) for i in range(3)]
    out.append(MetricLoggedData(key="sharpe", value=sharpe / 2, asset="S001"))
    return out


def tag_event(
    run_id: str, key: str, value: str, *, by: str = "policy", reason: str = "test", clock: Clock | None = None
) -> Envelope:
    """One RunTagged event."""
    ts = (clock or Clock()).tick()
    return envelope(RunTaggedData(key=key, value=value, reason=reason, by=by), run_id=run_id, ts=ts)


def write(home: Path, events: list[Envelope]) -> list[Recorded]:
    """Append events to the ledger under home (created if missing)."""
    home.mkdir(parents=True, exist_ok=True)
    with Ledger.open(home) as ledger:
        return ledger.append(events)


RUN_A = "20260105-090000-aaaa"
RUN_B = "20260105-100000-bbbb"
RUN_C = "20260105-110000-cccc"
