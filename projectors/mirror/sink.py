"""The MLflow half of the mirror: every request it sends, counted, batched at MLflow's limits, errors made clear."""

from __future__ import annotations

import os

# The mirror copies an audit trail: it must not phone home. Users may still opt in explicitly.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import orjson
from mlflow.entities import Metric, Param, Run, RunStatus, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ledger import MLFLOW_ARTIFACTS
from projectors.errors import MirrorError, MirrorUnavailableError
from projectors.mirror.extras import DatasetSpec
from projectors.mirror.layout import ALIASES_TAG, HEAD_HASH_TAG, HEAD_SEQ_TAG, WITNESS_EXPERIMENT

#: MLflow's HTTP retry defaults (7 retries, backoff factor 2, 120 s timeout) keep a replay to a dead server busy for minutes
_HTTP_BOUNDS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}

T = TypeVar("T")
MIRRORED_SEQ_TAG, MIRRORED_HASH_TAG = "ledger.mirrored_seq", "ledger.mirrored_hash"
MAX_METRICS, MAX_PARAMS_TAGS, MAX_ENTITIES = 1000, 100, 1000
#: stay under MLflow's 1 MB request limit with room for the JSON framing of each entity
MAX_REQUEST_BYTES = 900_000
_ENTITY_OVERHEAD = 80


def experiment_name(pipeline: str) -> str:
    """The MLflow experiment (and registered model) of a pipeline."""
    return f"ledgerline-{pipeline}"


def pack_batches(
    params: Sequence[Param], tags: Sequence[RunTag], metrics: Sequence[Metric]
) -> list[tuple[list[Metric], list[Param], list[RunTag]]]:
    """Split one run's entities into the fewest log_batch requests within MLflow's per-request limits."""
    batches: list[tuple[list[Metric], list[Param], list[RunTag]]] = []
    cur: tuple[list[Metric], list[Param], list[RunTag]] = ([], [], [])
    size = 0
    items: Iterable[tuple[int, Any]] = [(1, p) for p in params] + [(2, t) for t in tags] + [(0, m) for m in metrics]
    for kind, item in items:
        cost = _ENTITY_OVERHEAD + len(item.key) + (len(item.value) if kind else 0)
        if _full(cur, kind, size + cost):
            batches.append(cur)
            cur, size = ([], [], []), 0
        cur[kind].append(item)
        size += cost
    if any(cur):
        batches.append(cur)
    return batches


def _full(cur: tuple[list[Any], list[Any], list[Any]], kind: int, size: int) -> bool:
    total = sum(map(len, cur))
    limit = MAX_METRICS if kind == 0 else MAX_PARAMS_TAGS
    return total > 0 and (total >= MAX_ENTITIES or len(cur[kind]) >= limit or size > MAX_REQUEST_BYTES)


def artifact_root(tracking_uri: str) -> str | None:
    """Where a SQLite store keeps artifacts: `mlartifacts/` beside the database file; servers decide themselves."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme != "sqlite":
        return None
    db = Path(tracking_uri.removeprefix("sqlite:///"))
    return (db.parent.resolve() / MLFLOW_ARTIFACTS).as_uri()


def forget_engines(uri: str) -> None:
    """Drop MLflow's process-wide cached SQLAlchemy engines for uri, before its database file is replaced.

    Both SqlAlchemyStore classes keep one engine per URI for the life of the process; a pooled
    connection to a deleted file would otherwise write into the unlinked inode ("readonly database").
    """
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
    from mlflow.tracking._model_registry.registry import ModelRegistryStoreRegistry
    from mlflow.tracking._tracking_service.registry import TrackingStoreRegistry

    for store in (TrackingStore, RegistryStore):
        engine = store._engine_map.pop(uri, None)
        if engine is not None:
            engine.dispose()
    # the store objects are cached too (lru_cache per registry); they would keep the old engine
    TrackingStoreRegistry._get_store_with_resolved_uri.cache_clear()
    ModelRegistryStoreRegistry._get_store_with_resolved_uri.cache_clear()


def _unavailable(exc: BaseException) -> bool:
    """True when an error means the store could not be reached (worth retrying later), not a bad request."""
    seen: BaseException | None = exc
    while seen is not None:
        name = type(seen).__module__ + "." + type(seen).__name__
        if name.startswith(("requests.", "urllib3.")) or "OperationalError" in name:
            return True
        if isinstance(seen, MlflowException) and seen.get_http_status_code() in (429, 502, 503, 504):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return "API request to" in text and "failed with exception" in text


@dataclasses.dataclass
class Sink:
    """One MlflowClient against one tracking URI, counting every request it sends."""

    uri: str
    client: MlflowClient
    requests: int = 0
    _experiments: dict[str, str] = dataclasses.field(default_factory=dict)
    _models: set[str] = dataclasses.field(default_factory=set)
    #: the aliases the last complete replay set (read with the witness): {model: {alias: [version, ledger run]}}
    alias_record: dict[str, dict[str, list[str]]] = dataclasses.field(default_factory=dict)

    @classmethod
    def open(cls, uri: str) -> Sink:
        for (
            name,
            value,
        ) in _HTTP_BOUNDS.items():  # a dead server fails in seconds, not minutes; the user's own settings win
            os.environ.setdefault(name, value)
        return cls(uri, MlflowClient(tracking_uri=uri, registry_uri=uri))

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Send one request; a store that cannot be reached becomes MirrorUnavailableError."""
        self.requests += 1
        try:
            return fn(*args, **kwargs)
        except MlflowException as exc:
            if _unavailable(exc):
                raise MirrorUnavailableError(self.uri, str(exc)) from exc
            raise MirrorError(f"mlflow at {self.uri} refused {getattr(fn, '__name__', fn)}: {exc.message}") from exc
        except OSError as exc:
            raise MirrorUnavailableError(self.uri, str(exc)) from exc

    # ------------------------------------------------------------ experiments and the witness

    def experiment(self, name: str, tags: dict[str, str] | None = None) -> str:
        """The id of experiment `name`, created (or restored) if needed."""
        if name in self._experiments:
            return self._experiments[name]
        found = self.call(self.client.get_experiment_by_name, name)
        if found is None:
            exp_id = str(
                self.call(self.client.create_experiment, name, artifact_location=self._location(name), tags=tags)
            )
        else:
            exp_id = str(found.experiment_id)
            if found.lifecycle_stage == "deleted":
                self.call(self.client.restore_experiment, exp_id)
            for key, value in (tags or {}).items():  # e.g. an experiment kind added after the store was made
                if found.tags.get(key) != value:
                    self.call(self.client.set_experiment_tag, exp_id, key, value)
        self._experiments[name] = exp_id
        return exp_id

    def _location(self, name: str) -> str | None:
        root = artifact_root(self.uri)
        return None if root is None else f"{root}/{name}"

    def read_witness(self) -> tuple[int, str] | None:
        """The (seq, hash) head the last complete replay reached, from the witness experiment's tags."""
        found = self.call(self.client.get_experiment_by_name, WITNESS_EXPERIMENT)
        if found is not None and found.lifecycle_stage != "deleted":
            self._experiments[WITNESS_EXPERIMENT] = found.experiment_id  # write_witness need not look it up again
        if found is None or HEAD_SEQ_TAG not in found.tags:
            return None
        try:
            self.alias_record = orjson.loads(found.tags.get(ALIASES_TAG) or "{}")
        except orjson.JSONDecodeError:
            self.alias_record = {}  # a record edited by hand: the next folding replay writes it again
        return int(found.tags[HEAD_SEQ_TAG]), found.tags[HEAD_HASH_TAG]

    def write_witness(self, seq: int, digest: str, aliases: dict[str, dict[str, list[str]]] | None = None) -> None:
        """Record the head this replay completed (and the aliases it set); hash first so a torn pair never names a
        wrong hash."""
        note = "Witness of the ledger head the MLflow mirror last completed; checked by bin/verify."
        exp_id = self.experiment(WITNESS_EXPERIMENT, tags={"mlflow.note.content": note})
        if aliases is not None:
            self.call(self.client.set_experiment_tag, exp_id, ALIASES_TAG, orjson.dumps(aliases).decode())
            self.alias_record = aliases
        self.call(self.client.set_experiment_tag, exp_id, HEAD_HASH_TAG, digest)
        self.call(self.client.set_experiment_tag, exp_id, HEAD_SEQ_TAG, str(seq))
        self.hide_witness(exp_id)
        self.hide_empty_default()

    def hide_witness(self, exp_id: str) -> None:
        """Keep the witness out of the UI's experiment list: a deleted experiment whose tags stay readable.

        MLflow sets tags only on an active experiment, so the next write_witness restores it first
        (Sink.experiment does); `mlflow gc` could purge it, which only makes the next replay a full one.
        """
        self.call(self.client.delete_experiment, exp_id)
        self._experiments.pop(WITNESS_EXPERIMENT, None)

    def hide_empty_default(self) -> None:
        """Delete MLflow's `Default` experiment (id 0) while it holds no runs: it is clutter in the mirror's list."""
        try:
            default = self.call(self.client.get_experiment, "0")
        except MirrorError:
            return
        if default.lifecycle_stage == "deleted" or self.call(
            self.client.search_runs, ["0"], max_results=1, run_view_type=ViewType.ALL
        ):
            return
        self.call(self.client.delete_experiment, "0")

    # ------------------------------------------------------------ runs

    def find_run(self, exp_id: str, ledger_run_id: str) -> Run | None:
        """The MLflow run mirroring a ledger run, found by its ledger.run_id tag (restored if deleted)."""
        found = self.call(
            self.client.search_runs,
            [exp_id],
            filter_string=f"tags.`ledger.run_id` = '{ledger_run_id}'",
            run_view_type=ViewType.ALL,
            max_results=2,
            order_by=["attributes.start_time ASC", "attributes.run_id ASC"],
        )
        if not found:
            return None
        run = found[0]
        if run.info.lifecycle_stage == "deleted":
            self.call(self.client.restore_run, run.info.run_id)
        return run

    def create_run(self, exp_id: str, ledger_run_id: str, start_ms: int | None) -> str:
        """A new MLflow run carrying its ledger.run_id tag from the first request (so it is found again)."""
        run = self.call(
            self.client.create_run,
            exp_id,
            start_time=start_ms,
            tags={"ledger.run_id": ledger_run_id},
            run_name=ledger_run_id,
        )
        return str(run.info.run_id)

    def log(self, run_id: str, params: Sequence[Param], tags: Sequence[RunTag], metrics: Sequence[Metric]) -> int:
        """log_batch everything, packed at MLflow's limits; returns the number of requests sent."""
        batches = pack_batches(params, tags, metrics)
        for m, p, t in batches:
            self.call(self.client.log_batch, run_id, metrics=m, params=p, tags=t)
        return len(batches)

    def terminate(self, run_id: str, status: str, end_ms: int) -> None:
        """Set status and end time; via the store, since set_terminated re-reads the run and prints a URL."""
        store = self.client._tracking_client.store
        self.call(store.update_run_info, run_id, RunStatus.from_string(status), end_ms, None)

    def mark(self, run_id: str, tags: dict[str, str]) -> None:
        """Set a few tags in one request."""
        self.call(self.client.log_batch, run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def upload(
        self, run_id: str, files: dict[str, Path], documents: dict[str, Any], blobs: dict[str, bytes] | None = None
    ) -> None:
        """Copy files, JSON documents and raw bytes (charts, CSV previews) into the run at deterministic paths."""
        with tempfile.TemporaryDirectory(prefix="ledgerline-mirror-") as tmp:
            for dest, raw in (blobs or {}).items():
                (Path(tmp) / dest).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / dest).write_bytes(raw)
            for dest, source in files.items():
                (Path(tmp) / dest).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, Path(tmp) / dest)
            for dest, document in documents.items():
                (Path(tmp) / dest).parent.mkdir(parents=True, exist_ok=True)
                raw = orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
                (Path(tmp) / dest).write_bytes(raw)
            self.call(self.client.log_artifacts, run_id, tmp)

    def log_datasets(self, run_id: str, specs: Sequence[DatasetSpec]) -> None:
        """Log the run's inputs as MLflow datasets (one request), so the UI's Datasets column is filled."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = [
            DatasetInput(Dataset(s.name, s.digest, s.source_type, s.source, s.schema, s.profile),
                         tags=[InputTag("mlflow.data.context", "input")])
            for s in specs
        ]  # fmt: skip
        if inputs:
            self.call(self.client.log_inputs, run_id, datasets=inputs)

    # ------------------------------------------------------------ registry

    def ensure_model(self, name: str, pipeline: str) -> None:
        """Create the registered model of a pipeline unless it exists."""
        if name in self._models:
            return
        self._models.add(name)
        try:
            self.call(self.client.get_registered_model, name)
        except MirrorError as exc:
            cause = exc.__cause__
            if not isinstance(cause, MlflowException) or cause.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            description = f"Candidate runs of pipeline {pipeline}, mirrored from the ledger (view only)."
            self.call(
                self.client.create_registered_model, name, tags={"ledger.pipeline": pipeline}, description=description
            )

    def ensure_version(self, name: str, run_id: str, ledger_run_id: str) -> str:
        """The model version of an MLflow run, looked up by run_id before one is created (idempotent)."""
        found = self.call(self.client.search_model_versions, f"run_id = '{run_id}'")
        versions = sorted(int(v.version) for v in found if v.name == name)
        if versions:
            return str(versions[0])
        mv = self.call(
            self.client.create_model_version,
            name,
            f"runs:/{run_id}/manifest",
            run_id=run_id,
            tags={"ledger.run_id": ledger_run_id},
            description=f"ledger run {ledger_run_id}",
            await_creation_for=0,
        )
        return str(mv.version)

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.call(self.client.set_model_version_tag, name, version, key, value)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.call(self.client.set_registered_model_alias, name, alias, version)

    def aliases(self, name: str) -> dict[str, str] | None:
        """The aliases of registered model name (alias -> version); None when the model does not exist."""
        try:
            model = self.call(self.client.get_registered_model, name)
        except MirrorError as exc:
            cause = exc.__cause__
            if isinstance(cause, MlflowException) and cause.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return {str(alias): str(version) for alias, version in (model.aliases or {}).items()}

    def delete_alias(self, name: str, alias: str) -> None:
        self.call(self.client.delete_registered_model_alias, name, alias)
