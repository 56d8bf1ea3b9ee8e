"""The pure half of the MLflow mirror: ledger lines -> per-run folds and what to send (no mlflow import)."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ledger import decode_at, iter_lines, seq_and_hash, snapshot_end
from projectors.readmodel import TICK_EVERY, Progress, quiet, tick
from schemas.events import (
    GENESIS_HASH,
    ArtifactWritten,
    DataContractChecked,
    Event,
    MetricLogged,
    RowsDropped,
    RunCompleted,
    RunStarted,
    RunTagged,
    StageCompleted,
    StageFailed,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_METRIC_LINE = b'"type":"MetricLogged"'
_BAD_KEY_CHARS = re.compile(r"[^/\w.\- :]")
#: ArtifactWritten names copied into the MLflow run (JSON documents are always copied)
MIRRORED_TABLES = frozenset({"drops", "asset_metrics"})
#: RunTagged keys the registry acts on
CANDIDATE_KEY, ALIAS_KEY = "candidate", "alias"
_ALIAS_RE = re.compile(r"^[\w\-]*$")
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)


def epoch_ms(ts: datetime) -> int:
    """Milliseconds since the epoch, exact (no float rounding), as MLflow stores timestamps."""
    return (ts - _EPOCH) // timedelta(milliseconds=1)


@functools.lru_cache(maxsize=4096)
def safe_key(key: str) -> str:
    """A param/metric/tag key MLflow accepts: disallowed characters become '_', at most 250 chars."""
    return _BAD_KEY_CHARS.sub("_", key).strip("/")[:250] or "_"


def param_value(value: object) -> str:
    """The text of a resolved-config value: strings as they are, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def valid_alias(name: str) -> bool:
    """True when MLflow accepts name as a registered-model alias."""
    return bool(name) and _ALIAS_RE.match(name) is not None and _RESERVED_ALIAS.match(name) is None


@dataclasses.dataclass(frozen=True)
class MetricPoint:
    """One MetricLogged as MLflow will store it: the row key (key, ts, step, value) plus its seq."""

    seq: int
    key: str
    value: float
    timestamp: int
    step: int


@dataclasses.dataclass(frozen=True)
class TagMark:
    """The latest RunTagged of one key on one run."""

    seq: int
    value: str
    reason: str
    by: str
    ts: int


@dataclasses.dataclass
class RunFold:
    """Everything the mirror needs to know about one ledger run, folded from its events in seq order."""

    run_id: str
    first_seq: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    started: RunStarted | None = None
    completed: RunCompleted | None = None
    checks: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    drops: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    stages: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    artifacts: dict[str, tuple[int, ArtifactWritten]] = dataclasses.field(default_factory=dict)
    tags: dict[str, TagMark] = dataclasses.field(default_factory=dict)
    metrics: list[MetricPoint] = dataclasses.field(default_factory=list)

    @property
    def pipeline(self) -> str | None:
        return self.started.data.pipeline if self.started else None

    def add(self, seq: int, digest: str, event: Event) -> None:
        """Fold one event of this run in."""
        if isinstance(event, MetricLogged):
            m = event.data
            self.add_metric(seq, digest, m.key, m.asset, m.value, event.ts, m.step)
            return
        self._advance(seq, digest)
        match event:
            case RunStarted():
                self.started = event
            case RunCompleted():
                self.completed = event
            case RunTagged(data=d):
                self.tags[d.key] = TagMark(seq, d.value, d.reason, d.by, epoch_ms(event.ts))
            case ArtifactWritten(data=d):
                self.artifacts[d.name] = (seq, event)
            case DataContractChecked(data=d):
                self.checks.append({"seq": seq, "stage": event.stage, **d.model_dump(mode="json")})
            case RowsDropped(data=d):
                self.drops.append({"seq": seq, "stage": event.stage, **d.model_dump(mode="json")})
            case StageCompleted(data=d):
                self.stages.append({"stage": event.stage, "status": "completed", **_stage_summary(d)})
            case StageFailed(data=d):
                self.stages.append({"stage": event.stage, "status": "failed", **d.model_dump(mode="json")})
            case _:
                pass

    def add_metric(
        self, seq: int, digest: str, key: str, asset: str | None, value: float, ts: datetime, step: int | None
    ) -> None:
        """Fold one MetricLogged in (from its model or straight from its line)."""
        self._advance(seq, digest)
        name = safe_key(key if asset is None else f"{key}/{asset}")
        self.metrics.append(MetricPoint(seq, name, float(value), epoch_ms(ts), step or 0))

    def _advance(self, seq: int, digest: str) -> None:
        self.first_seq = self.first_seq or seq
        self.last_seq, self.last_hash = seq, digest


def _stage_summary(d: Any) -> dict[str, Any]:
    return {"rows_in": d.rows_in, "rows_out": d.rows_out, "duration_s": d.duration_s, "changed": d.changed}


@dataclasses.dataclass(frozen=True)
class RegistryOp:
    """A RunTagged the registry acts on (candidate or alias), in ledger order."""

    seq: int
    run_id: str
    key: str
    value: str


@dataclasses.dataclass
class LedgerFold:
    """The ledger read up to a fixed head: per-run folds, which runs changed after `after`, registry ops."""

    after: int
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    witness_hash: str | None = None
    runs: dict[str, RunFold] = dataclasses.field(default_factory=dict)
    touched: dict[str, None] = dataclasses.field(default_factory=dict)
    registry_ops: list[RegistryOp] = dataclasses.field(default_factory=list)
    alias_history: list[RegistryOp] = dataclasses.field(default_factory=list)


def read_ledger(path: Path, after: int, progress: Progress = quiet) -> LedgerFold:
    """Fold the whole ledger; MetricLogged lines at or before seq `after` are skipped undecoded.

    Ticks progress (bytes read) every TICK_EVERY lines.
    """
    fold = LedgerFold(after=after, witness_hash=GENESIS_HASH if after == 0 else None)
    end = snapshot_end(path) if path.exists() else 0
    for seq, offset, line in _numbered(path, end):
        if not seq % TICK_EVERY:
            progress(tick("mlflow", "reading the ledger", offset, end, "bytes"))
        parsed = seq_and_hash(line)
        digest = parsed[1] if parsed else ""
        fold.head_seq, fold.head_hash = seq, digest
        if seq == after:
            fold.witness_hash = digest
        if _METRIC_LINE in line:
            if seq <= after:
                continue
            if _fold_metric_line(fold, seq, digest, line):
                continue
        _fold_event(fold, seq, digest, decode_at(line, seq))
    return fold


def _fold_metric_line(fold: LedgerFold, seq: int, digest: str, line: bytes) -> bool:
    """Fold a current-version MetricLogged line from its JSON, without building the event model; False: decode it.

    MetricLogged is most of a ledger and the writer validated each line against its model before
    hashing it, so the mirror reads the fields it sends straight from the parsed line.
    """
    obj = orjson.loads(line)
    if obj.get("type") != "MetricLogged" or obj.get("v") != 1 or obj.get("seq") != seq or not obj.get("run_id"):
        return False
    data = obj["data"]
    run = _run_of(fold, obj["run_id"], seq)
    run.add_metric(
        seq, digest, data["key"], data.get("asset"), data["value"], datetime.fromisoformat(obj["ts"]), data.get("step")
    )
    return True


def _numbered(path: Path, end: int) -> Iterator[tuple[int, int, bytes]]:
    if not path.exists():
        return
    for seq, (offset, line) in enumerate(iter_lines(path, 0, end), start=1):
        yield seq, offset, line


def _fold_event(fold: LedgerFold, seq: int, digest: str, event: Event) -> None:
    run_id = event.run_id
    if run_id is None:
        return
    _run_of(fold, run_id, seq).add(seq, digest, event)
    if isinstance(event, RunTagged) and event.data.key in (CANDIDATE_KEY, ALIAS_KEY):
        op = RegistryOp(seq, run_id, event.data.key, event.data.value)
        if event.data.key == ALIAS_KEY:
            fold.alias_history.append(op)
        if seq > fold.after:
            fold.registry_ops.append(op)


def _run_of(fold: LedgerFold, run_id: str, seq: int) -> RunFold:
    """The fold of run_id (created on its first event), marked touched when seq is after the mirror's witness."""
    run = fold.runs.get(run_id)
    if run is None:
        run = fold.runs[run_id] = RunFold(run_id)
    if seq > fold.after:
        fold.touched[run_id] = None
    return run


def alias_holders(fold: LedgerFold, until: int) -> dict[tuple[str, str], str]:
    """(pipeline, alias) -> run_id holding it after every alias event up to seq `until` (latest wins)."""
    holders: dict[tuple[str, str], str] = {}
    for op in fold.alias_history:
        pipeline = fold.runs[op.run_id].pipeline
        if op.seq <= until and pipeline is not None and valid_alias(op.value):
            holders[(pipeline, op.value)] = op.run_id
    return holders


def run_tags(run: RunFold, aliases: list[str]) -> dict[str, str]:
    """The MLflow tags of a run: where it came from, its ledger status, its RunTagged marks and aliases."""
    tags: dict[str, str] = {"ledger.run_id": run.run_id}
    if run.started is not None:
        d = run.started.data
        tags |= {"ledger.pipeline": d.pipeline, "ledger.profile": d.profile, "ledger.config_hash": d.config_hash}
        tags["ledger.code_dirty"] = json.dumps(d.code_version.dirty)
        if d.orchestrator is not None:
            tags["ledger.orchestrator"] = d.orchestrator.name
            if d.orchestrator.flow_run_id:
                tags["prefect.flow_run_id"] = d.orchestrator.flow_run_id
        if d.sweep is not None:
            tags["ledger.sweep_id"] = d.sweep.id
            tags["ledger.sweep_point"] = json.dumps(d.sweep.point, sort_keys=True)[:5000]
        if d.executor is not None:
            tags["ledger.executor"] = d.executor.name
        if d.code_version.git_sha:
            tags["mlflow.source.git.commit"] = d.code_version.git_sha
    if run.completed is not None:
        tags["ledger.status"] = run.completed.data.status
        if run.completed.data.error:
            tags["ledger.error"] = run.completed.data.error[:5000]
    for key, mark in run.tags.items():
        if key != ALIAS_KEY:
            tags[safe_key(key)] = mark.value[:5000]
        record = {"value": mark.value, "reason": mark.reason, "by": mark.by, "seq": mark.seq, "ts": mark.ts}
        tags[safe_key(f"ledger.tag.{key}")] = json.dumps(record, sort_keys=True)[:5000]
    tags["aliases"] = ",".join(sorted(aliases))
    return tags


def run_params(run: RunFold) -> dict[str, str]:
    """The MLflow params of a run: its resolved, flattened config from RunStarted."""
    if run.started is None:
        return {}
    return {safe_key(k): param_value(v)[:6000] for k, v in sorted(run.started.data.params.items())}


def manifest(run: RunFold) -> dict[str, Any]:
    """The run manifest (JSON): provenance, outcome, stages and every artifact, all from the ledger."""
    doc: dict[str, Any] = {"run_id": run.run_id, "seqs": [run.first_seq, run.last_seq], "last_hash": run.last_hash}
    if run.started is not None:
        doc["started"] = run.started.ts.isoformat()
        doc |= run.started.data.model_dump(mode="json")
    if run.completed is not None:
        doc["completed"] = run.completed.ts.isoformat()
        doc["outcome"] = run.completed.data.model_dump(mode="json")
    doc["stages"] = run.stages
    doc["artifacts"] = [{"seq": seq, **a.data.model_dump(mode="json")} for seq, a in run.artifacts.values()]
    return doc


def contract_report(run: RunFold) -> dict[str, Any]:
    """The contract report (JSON): every DataContractChecked and RowsDropped of the run, in seq order."""
    failed = sum(1 for c in run.checks if c["status"] == "failed")
    return {
        "run_id": run.run_id,
        "checks": run.checks,
        "drops": run.drops,
        "failed_checks": failed,
        "rows_dropped": sum(int(d["count"]) for d in run.drops),
    }


def mirrored_artifacts(run: RunFold) -> list[tuple[int, ArtifactWritten]]:
    """The ArtifactWritten events whose files are copied into the MLflow run (latest per name)."""
    return [(s, a) for s, a in run.artifacts.values() if a.data.format == "json" or a.data.name in MIRRORED_TABLES]
