"""The v1 event catalog: frozen Pydantic models, one discriminated union, parse_event."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

RUN_ID_PATTERN = r"^[0-9]{8}-[0-9]{6}-[0-9a-z]{4}$"
RunId = Annotated[str, StringConstraints(pattern=RUN_ID_PATTERN)]
SWEEP_ID_PATTERN = r"^sweep-[0-9]{8}-[0-9]{6}-[0-9a-z]{4}$"
SweepId = Annotated[str, StringConstraints(pattern=SWEEP_ID_PATTERN)]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
JsonScalar = Union[str, int, float, bool, None]  # noqa: UP007 - kept a typing.Union: the projection schema maps it by get_origin
Status = Literal["passed", "failed", "warned"]
RunStatus = Literal["succeeded", "failed", "preflight_failed", "postflight_failed"]

GENESIS_HASH = "0" * 64


def is_run_id(value: str) -> bool:
    """True when value is a well-formed run id (YYYYMMDD-HHMMSS-xxxx)."""
    return re.fullmatch(RUN_ID_PATTERN, value) is not None


def is_sweep_id(value: str) -> bool:
    """True when value is a well-formed sweep id (sweep-YYYYMMDD-HHMMSS-xxxx)."""
    return re.fullmatch(SWEEP_ID_PATTERN, value) is not None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


class Model(BaseModel):
    """Base of every event and payload: frozen, closed, finite floats only."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# ---------------------------------------------------------------- payload parts


class CodeVersion(Model):
    git_sha: str | None
    dirty: bool


class DvcVersion(Model):
    """The DVC version a data file belongs to: the repo's git commit, the tracked path, DVC's md5, and whether the files match it."""

    repo_commit: str | None
    path: str
    md5: str
    matches: bool
    file: str | None = None


class ArtifactRef(Model):
    """hash is the content address (frame hash); sha256 and bytes describe the file, so a loader can check it."""

    name: str
    hash: Sha256Hex
    rows: int | None = None
    sha256: Sha256Hex | None = None
    bytes: int | None = None


class ArcticVersion(Model):
    """The ArcticDB data a run read from one library: the store, the library, the snapshot or as-of, each symbol's version.

    symbols is inline when few; otherwise symbols_ref names a JSON artifact holding the [symbol, version] list,
    and symbols_sha256 is the content hash of that list either way.
    """

    uri: str
    library: str
    snapshot: str | None = None
    as_of: str | None = None
    layout: str = "symbol_per_ticker"
    #: the versions were pinned one by one (bin/rerun of a run whose snapshot no longer holds them)
    pinned: bool = False
    count: int
    symbols_sha256: Sha256Hex
    symbols: dict[str, int] | None = None
    symbols_ref: ArtifactRef | None = None


class DataInput(Model):
    """One input a run read: a data file (dvc: its DVC version when tracked) or an ArcticDB library (arctic); both absent in older events."""

    name: str
    sha256: Sha256Hex
    rows: int
    format: str
    dvc: DvcVersion | None = None
    arctic: ArcticVersion | None = None


class RowKey(Model):
    symbol: str | None
    date: str | None


# ---------------------------------------------------------------- payloads


class Orchestrator(Model):
    """The orchestrator that drove a run's stages (Prefect: its flow run id), execution detail only."""

    name: str
    flow_run_id: str | None = None


class Executor(Model):
    """Where a sweep point ran: local (the driver's process), processes (N worker processes) or ray; execution detail only."""

    name: Literal["local", "processes", "ray"]
    workers: int | None = None


class SweepRank(Model):
    """How a sweep ranks its runs: a run-level metric and which way is better."""

    metric: str = "sharpe"
    better: Literal["higher", "lower", "smaller_magnitude"] = "higher"


class SweepPlan(Model):
    """What a sweep runs, enough for --resume: the pipeline target, profile, grid (key -> raw values), seeds, --sets."""

    target: str
    profile: str | None = None
    grid: dict[str, list[str]]
    seeds: list[int] = []
    sets: dict[str, str] = {}
    rank: SweepRank = SweepRank()
    points: int


class Sweep(Model):
    """The sweep a run belongs to: its id, the point's overrides (grid keys and seed, parsed values) and the plan."""

    id: SweepId
    point: dict[str, JsonScalar]
    plan: SweepPlan


class RunStartedData(Model):
    pipeline: str
    profile: str
    params: dict[str, JsonScalar]
    config_hash: Sha256Hex
    code_version: CodeVersion
    packages: dict[str, str]
    inputs: list[DataInput]
    seed: int | None = None
    #: who drove the stages: {"name": "prefect", "flow_run_id": ...}; None for the plain runner (never in config_hash)
    orchestrator: Orchestrator | None = None
    rerun_of: RunId | None = None
    #: the sweep this run is a point of (None outside sweeps); membership, not configuration
    sweep: Sweep | None = None
    #: where a sweep point ran (None for bin/run-pipeline); execution detail, never in config_hash
    executor: Executor | None = None


class StageStartedData(Model):
    inputs: list[ArtifactRef] = []


class StageCompletedData(Model):
    rows_in: int
    rows_out: int
    duration_s: float
    outputs: list[ArtifactRef] = []
    changed: list[str] = []
    attempts: int = 1


class StageFailedData(Model):
    """v2 adds traceback_tail: the message alone does not say where a stage failed.

    v3 adds attempt (1-based) and will_retry: an orchestrator's failed attempt that it will retry.
    """

    error_type: str
    message: str
    traceback_tail: Annotated[str, StringConstraints(max_length=4000)] | None = None
    attempt: int = 1
    will_retry: bool = False


class DataContractCheckedData(Model):
    contract: str
    tier: int
    check: str
    column: str | None = None
    status: Status
    severity: Literal["error", "warning"] = "error"
    failed: int
    total: int
    sample: list[dict[str, JsonScalar]] = []
    action: Literal["none", "dropped", "stopped", "reported"]
    observed: float | None = None


class RowsDroppedData(Model):
    contract: str
    check: str
    reason: str
    count: int
    keys: list[RowKey] | None = None
    artifact: ArtifactRef | None = None


class MetricLoggedData(Model):
    key: str
    value: float
    step: int | None = None
    asset: str | None = None


class ArtifactWrittenData(Model):
    """v2 adds sha256: the SHA-256 of the file's bytes (hash stays the content address); None for v1 events."""

    name: str
    hash: Sha256Hex
    format: Literal["parquet", "json"]
    rows: int | None
    bytes: int
    path: str
    sha256: Sha256Hex | None = None


class RunTaggedData(Model):
    key: str
    value: str
    reason: str
    by: str


class RunCompletedData(Model):
    status: RunStatus
    duration_s: float
    error: str | None = None


class LedgerRecoveredData(Model):
    offset: int
    length: int
    sha256: Sha256Hex
    quarantine_path: str


# ---------------------------------------------------------------- envelope


class Envelope(Model):
    """Fields every event carries; seq, prev and hash are assigned by the ledger writer."""

    seq: int | None = None
    id: str = Field(default_factory=_new_id)
    ts: datetime = Field(default_factory=_utcnow)
    run_id: RunId | None
    stage: str | None = None
    prev: Sha256Hex | None = None
    hash: Sha256Hex | None = None


class RunStarted(Envelope):
    type: Literal["RunStarted"] = "RunStarted"
    v: Literal[1] = 1
    data: RunStartedData


class StageStarted(Envelope):
    type: Literal["StageStarted"] = "StageStarted"
    v: Literal[1] = 1
    data: StageStartedData


class StageCompleted(Envelope):
    type: Literal["StageCompleted"] = "StageCompleted"
    v: Literal[1] = 1
    data: StageCompletedData


class StageFailed(Envelope):
    type: Literal["StageFailed"] = "StageFailed"
    v: Literal[3] = 3
    data: StageFailedData


class DataContractChecked(Envelope):
    type: Literal["DataContractChecked"] = "DataContractChecked"
    v: Literal[1] = 1
    data: DataContractCheckedData


class RowsDropped(Envelope):
    type: Literal["RowsDropped"] = "RowsDropped"
    v: Literal[1] = 1
    data: RowsDroppedData


class MetricLogged(Envelope):
    type: Literal["MetricLogged"] = "MetricLogged"
    v: Literal[1] = 1
    data: MetricLoggedData


class ArtifactWritten(Envelope):
    type: Literal["ArtifactWritten"] = "ArtifactWritten"
    v: Literal[2] = 2
    data: ArtifactWrittenData


class RunTagged(Envelope):
    type: Literal["RunTagged"] = "RunTagged"
    v: Literal[1] = 1
    data: RunTaggedData


class RunCompleted(Envelope):
    type: Literal["RunCompleted"] = "RunCompleted"
    v: Literal[1] = 1
    data: RunCompletedData


class LedgerRecovered(Envelope):
    type: Literal["LedgerRecovered"] = "LedgerRecovered"
    v: Literal[1] = 1
    data: LedgerRecoveredData


Event = Annotated[
    RunStarted
    | StageStarted
    | StageCompleted
    | StageFailed
    | DataContractChecked
    | RowsDropped
    | MetricLogged
    | ArtifactWritten
    | RunTagged
    | RunCompleted
    | LedgerRecovered,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

#: every event class, in catalog order
EVENT_TYPES: tuple[type[Envelope], ...] = get_args(get_args(Event)[0])

#: type name -> current schema version
CURRENT_VERSIONS: dict[str, int] = {
    cls.model_fields["type"].default: cls.model_fields["v"].default for cls in EVENT_TYPES
}

#: payload class -> event class, so stages can return payloads and the runner envelopes them
EVENT_FOR_PAYLOAD: dict[type[Model], type[Envelope]] = {
    cls.model_fields["data"].annotation: cls  # type: ignore[misc]
    for cls in EVENT_TYPES
}


def parse_event(line: str | bytes | dict[str, Any]) -> Event:
    """Parse one ledger line (or its decoded dict) into the right event class, current version only."""
    if isinstance(line, dict):
        return EVENT_ADAPTER.validate_python(line)
    return EVENT_ADAPTER.validate_json(line)


def envelope(data: Model, *, run_id: str | None, stage: str | None = None, ts: datetime | None = None) -> Envelope:
    """Wrap a payload in the event class that carries it."""
    cls = EVENT_FOR_PAYLOAD[type(data)]
    extra: dict[str, Any] = {} if ts is None else {"ts": ts}
    return cls(run_id=run_id, stage=stage, data=data, **extra)  # type: ignore[call-arg]
