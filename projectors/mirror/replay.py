"""The MLflow mirror: a view-only, idempotent, resumable replay of the ledger into any MLflow tracking store."""

from __future__ import annotations

import dataclasses
import errno
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag

from ledger import LEDGER_NAME, MLFLOW_DB, MLFLOW_LOCK, Ledger, LedgerCorruptError, lock_file
from projectors.errors import MirrorDivergedError
from projectors.mirror.extras import CHART_PATH, EXPERIMENT_KIND, csv_previews, dataset_specs, equity_chart
from projectors.mirror.layout import default_tracking_uri
from projectors.mirror.plan import (
    ALIAS_KEY,
    CANDIDATE_KEY,
    LedgerFold,
    RunFold,
    alias_holders,
    contract_report,
    epoch_ms,
    manifest,
    mirrored_artifacts,
    read_ledger,
    run_params,
    run_tags,
    valid_alias,
)
from projectors.mirror.sink import MIRRORED_HASH_TAG, MIRRORED_SEQ_TAG, Sink, experiment_name
from projectors.mirror.stores import check_named_store, ensure_default_store
from projectors.readmodel import Progress, Step, quiet, tick

MANIFEST_PATH, REPORT_PATH = "manifest/manifest.json", "contract/contract_report.json"


@dataclasses.dataclass(frozen=True)
class ReplayReport:
    """What one replay sent, and the ledger head the mirror now witnesses."""

    tracking_uri: str
    runs: int
    params: int
    metrics: int
    tags: int
    artifacts: int
    versions: int
    aliases: int
    requests: int
    from_seq: int
    head_seq: int
    head_hash: str

    def __str__(self) -> str:
        sent = f"{self.params:,} params, {self.metrics:,} metrics, {self.tags:,} tags, {self.artifacts} artifacts"
        return (
            f"mirrored {self.runs} runs ({sent}; {self.versions} model versions, {self.aliases} aliases) "
            f"in {self.requests:,} requests to {self.tracking_uri}; witness seq {self.from_seq} -> {self.head_seq}"
        )


@dataclasses.dataclass
class _Tally:
    runs: int = 0
    params: int = 0
    metrics: int = 0
    tags: int = 0
    artifacts: int = 0
    versions: int = 0
    aliases: int = 0


def read_witness(home: Path, tracking_uri: str | None = None) -> tuple[int, str] | None:
    """The (seq, hash) head the mirror last completed, stored as tags of the `ledgerline` experiment; None without a store."""
    uri = tracking_uri or default_tracking_uri(home)
    if tracking_uri is None and not (Path(home) / MLFLOW_DB).exists():
        return None
    return Sink.open(uri).read_witness()


def replay(
    home: Path,
    *,
    tracking_uri: str | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> ReplayReport:
    """Mirror every ledger event after the store's witness (all of them with rebuild) into MLflow."""
    home = Path(home)
    if not (home / LEDGER_NAME).is_file():
        raise FileNotFoundError(errno.ENOENT, "no ledger to mirror", str(home / LEDGER_NAME))
    with lock_file(home / MLFLOW_LOCK):  # one replay per home: two racing ones could each create a new run's MLflow run
        return _replay(home, tracking_uri, rebuild, progress or quiet)


def _replay(home: Path, tracking_uri: str | None, rebuild: bool, say: Progress) -> ReplayReport:
    folded = None
    if tracking_uri is None:
        if rebuild or not (home / MLFLOW_DB).exists():  # the store will be new: read the ledger first, so one
            folded = _read_checked(home, None, say)  # that cannot be read leaves no store behind
        rebuild = ensure_default_store(home, rebuild, say)
    else:
        check_named_store(tracking_uri)
    sink = Sink.open(tracking_uri or default_tracking_uri(home))
    witness = None if rebuild or folded is not None else sink.read_witness()
    if witness is not None and _ledger_head(home) == witness:  # up to date: nothing to fold, nothing to send
        tally = _Tally(aliases=restore_aliases(sink, sink.alias_record, say))  # ...but aliases moved by hand go back
        return ReplayReport(
            sink.uri,
            requests=sink.requests,
            from_seq=witness[0],
            head_seq=witness[0],
            head_hash=witness[1],
            **dataclasses.asdict(tally),
        )
    fold = folded or _read_checked(home, witness, say)
    start = fold.after
    if fold.head_seq > start:
        say(
            Step(
                f"mirroring seq {start + 1}..{fold.head_seq} ({len(fold.touched)} runs) into {sink.uri}",
                model="mlflow",
                done=0,
                total=fold.head_seq - start,
            )
        )
    job = _Replay(home, sink, fold, rebuild, say)
    for done, run_id in enumerate(fold.touched):
        say(tick("mlflow", "sending runs", done, len(fold.touched), "runs"))
        job.run(fold.runs[run_id])
    if fold.touched:
        say(tick("mlflow", "sending runs", len(fold.touched), len(fold.touched), "runs"))
    job.registry()
    record = job.alias_record(sink.alias_record)
    job.tally.aliases += restore_aliases(sink, record, say)
    if fold.head_seq != start or rebuild or record != sink.alias_record:
        sink.write_witness(fold.head_seq, fold.head_hash, record)
    return ReplayReport(
        sink.uri,
        requests=sink.requests,
        from_seq=start,
        head_seq=fold.head_seq,
        head_hash=fold.head_hash,
        **dataclasses.asdict(job.tally),
    )


def restore_aliases(sink: Sink, record: dict[str, dict[str, list[str]]], say: Progress) -> int:
    """Point every alias of the record back at its version (and drop aliases the ledger never gave); return how many.

    An alias moved, added or deleted by hand in the MLflow UI is put back as the ledger has it: one request
    per registered model when nothing moved.
    """
    fixed = 0
    for name, wanted in record.items():
        current = sink.aliases(name)
        if current is None:
            continue  # the model was deleted by hand: a --rebuild recreates it
        for alias, (version, holder) in wanted.items():
            if current.get(alias) != version:
                sink.set_alias(name, alias, version)
                say(
                    Step(
                        f"  {name}: alias {alias} pointed at version {current.get(alias) or 'none'}; "
                        f"the ledger gives it to {holder} (version {version}): restored",
                        model="mlflow",
                    )
                )
                fixed += 1
        for alias in sorted(current.keys() - wanted.keys()):
            sink.delete_alias(name, alias)
            say(Step(f"  {name}: alias {alias} is not in the ledger: removed", model="mlflow"))
            fixed += 1
    return fixed


def _ledger_head(home: Path) -> tuple[int, str] | None:
    """The ledger's (seq, hash) head from its last line alone; None when that line is not intact (a full read decides)."""
    try:
        with Ledger.open(home, readonly=True) as ledger:
            return ledger.head()
    except LedgerCorruptError:
        return None


def _experiment_tags(pipeline: str) -> dict[str, str]:
    note = (
        f"View-only mirror of the ledgerline pipeline `{pipeline}`. The ledger (audit.jsonl) is the source "
        "of truth: edits made here are never read back, and `bin/replay --to mlflow --rebuild` recreates this."
    )
    return {"ledger.pipeline": pipeline, "mlflow.note.content": note, **EXPERIMENT_KIND}


def _read_checked(home: Path, witness: tuple[int, str] | None, say: Progress) -> LedgerFold:
    """The ledger folded after the witness, refused when the witness no longer matches it."""
    start = witness[0] if witness else 0
    fold = read_ledger(home / LEDGER_NAME, start, say)
    if witness and (fold.head_seq < start or fold.witness_hash != witness[1]):
        raise MirrorDivergedError(
            f"the MLflow mirror witnessed seq {start} with hash {witness[1][:12]}, but the ledger "
            f"{'ends at seq ' + str(fold.head_seq) if fold.head_seq < start else 'has another hash there'}: "
            "the ledger was rewritten or the store mirrors another ledger; run bin/verify, or --rebuild into an empty store"
        )
    return fold


@dataclasses.dataclass
class _Replay:
    """One replay in progress: where it reads, where it writes, what it has sent."""

    home: Path
    sink: Sink
    fold: LedgerFold
    rebuild: bool
    say: Progress
    tally: _Tally = dataclasses.field(default_factory=_Tally)
    ids: dict[str, str] = dataclasses.field(default_factory=dict)
    _versions: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    _before: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    _after: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self._before = alias_holders(self.fold, self.fold.after)
        self._after = alias_holders(self.fold, self.fold.head_seq)

    def run(self, run: RunFold) -> None:
        """Send one run's events after its own mirrored position."""
        if run.pipeline is None or run.started is None:
            self.say(f"  {run.run_id}: no RunStarted in the ledger, not mirrored")
            return
        exp_id = self.sink.experiment(experiment_name(run.pipeline), tags=_experiment_tags(run.pipeline))
        found = self.sink.find_run(exp_id, run.run_id)
        if found is None and self.fold.after and run.first_seq <= self.fold.after:
            raise MirrorDivergedError(
                f"run {run.run_id} is below the mirror's witness (seq {self.fold.after}) but missing from the "
                "store; replay with --rebuild"
            )
        if found is None:
            self.ids[run.run_id] = self.sink.create_run(exp_id, run.run_id, epoch_ms(run.started.ts))
            cutoff = 0
        else:
            self.ids[run.run_id] = found.info.run_id
            cutoff = 0 if self.rebuild else max(self.fold.after, int(found.data.tags.get(MIRRORED_SEQ_TAG, 0)))
        if cutoff < run.last_seq:
            self._send(run, self.ids[run.run_id], cutoff)

    def _send(self, run: RunFold, run_id: str, cutoff: int) -> None:
        assert run.started is not None and run.started.seq is not None
        params = [Param(k, v) for k, v in run_params(run).items()] if run.started.seq > cutoff else []
        tags = [RunTag(k, v) for k, v in run_tags(run, self._aliases_of(run.run_id)).items()]
        metrics = [Metric(m.key, m.value, m.timestamp, m.step) for m in run.metrics if m.seq > cutoff]
        batches = self.sink.log(run_id, params, tags, metrics)
        self._artifacts(run, run_id, cutoff)
        self._ui_extras(run, run_id, cutoff)
        if run.completed is not None and (run.completed.seq is None or run.completed.seq > cutoff):
            status = "FINISHED" if run.completed.data.status == "succeeded" else "FAILED"
            self.sink.terminate(run_id, status, epoch_ms(run.completed.ts))
        self.sink.mark(run_id, {MIRRORED_HASH_TAG: run.last_hash, MIRRORED_SEQ_TAG: str(run.last_seq)})
        t = self.tally
        t.runs, t.params, t.tags, t.metrics = (
            t.runs + 1,
            t.params + len(params),
            t.tags + len(tags),
            t.metrics + len(metrics),
        )
        self.say(f"  {run.run_id}: {len(metrics):,} metrics in {batches} batches, mirrored up to seq {run.last_seq}")

    def _artifacts(self, run: RunFold, run_id: str, cutoff: int) -> None:
        """The manifest and contract report (rewritten whenever the run changes), and new ledger artifacts."""
        files: dict[str, Path] = {}
        for seq, art in mirrored_artifacts(run):
            source = self.home / art.data.path
            if seq > cutoff and source.is_file():
                folder = "tables" if art.data.format == "parquet" else "reports"
                files[f"{folder}/{art.data.name}.{art.data.format}"] = source
        self.sink.upload(run_id, files, {MANIFEST_PATH: manifest(run), REPORT_PATH: contract_report(run)})
        self.tally.artifacts += len(files) + 2

    def _ui_extras(self, run: RunFold, run_id: str, cutoff: int) -> None:
        """Inputs as MLflow datasets (once), and when the run completes: the equity chart and CSV previews."""
        assert run.started is not None and run.started.seq is not None
        if run.started.seq > cutoff:
            self.sink.log_datasets(run_id, dataset_specs(run))
        if run.completed is None or (run.completed.seq is not None and run.completed.seq <= cutoff):
            return
        blobs = csv_previews(run, self.home)
        chart = equity_chart(run, self.home)
        if chart is not None:
            blobs[CHART_PATH] = chart
        if blobs:
            self.sink.upload(run_id, {}, {}, blobs)
            self.tally.artifacts += len(blobs)

    def alias_record(self, previous: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        """{model: {alias: [version, ledger run]}} for every alias the ledger gives at its head."""
        record: dict[str, dict[str, list[str]]] = {}
        for (pipeline, alias), holder in sorted(self._after.items()):
            name = experiment_name(pipeline)
            known = previous.get(name, {}).get(alias)
            if holder in self._versions:
                version = self._versions[holder][1]
            elif known is not None and known[1] == holder:
                version = known[0]
            elif self._find(holder):
                version = self._version(holder)[1]
            else:
                continue  # its run is not in the store (yet)
            record.setdefault(name, {})[alias] = [version, holder]
        return record

    def _find(self, run_id: str) -> bool:
        """Whether run_id's MLflow run is in the store (remembered in ids)."""
        if run_id not in self.ids:
            pipeline = self.fold.runs[run_id].pipeline
            assert pipeline is not None
            found = self.sink.find_run(self.sink.experiment(experiment_name(pipeline)), run_id)
            if found is None:
                return False
            self.ids[run_id] = found.info.run_id
        return True

    def _aliases_of(self, run_id: str) -> list[str]:
        return sorted(alias for (_, alias), holder in self._after.items() if holder == run_id)

    def registry(self) -> None:
        """Model versions for candidate runs (in ledger order, so numbering is the same on every replay), then aliases."""
        candidates: dict[str, str] = {}
        for op in self.fold.registry_ops:
            if op.run_id not in self.ids:
                continue
            if op.key == CANDIDATE_KEY:
                candidates[op.run_id] = op.value
            if (op.key == CANDIDATE_KEY and op.value == "true") or (op.key == ALIAS_KEY and valid_alias(op.value)):
                self._version(op.run_id)
        for run_id, value in candidates.items():
            if run_id in self._versions:
                self.sink.set_version_tag(*self._versions[run_id], CANDIDATE_KEY, value)
        self._move_aliases()

    def _version(self, run_id: str) -> tuple[str, str]:
        """(registered model, version) of a run, created on first need."""
        if run_id not in self._versions:
            pipeline = self.fold.runs[run_id].pipeline
            assert pipeline is not None
            name = experiment_name(pipeline)
            self.sink.ensure_model(name, pipeline)
            self._versions[run_id] = (name, self.sink.ensure_version(name, self.ids[run_id], run_id))
            self.tally.versions += 1
        return self._versions[run_id]

    def _move_aliases(self) -> None:
        """Point every alias named in this replay at its final holder; retag runs that gained or lost one."""
        for (pipeline, alias), holder in self._after.items():
            loser = self._before.get((pipeline, alias))
            if loser == holder or holder not in self.ids:
                continue
            name, version = self._version(holder)
            self.sink.set_alias(name, alias, version)
            self.tally.aliases += 1
            if loser is not None and loser != holder and loser not in self.ids:
                self._retag_aliases(loser)

    def _retag_aliases(self, run_id: str) -> None:
        pipeline = self.fold.runs[run_id].pipeline
        assert pipeline is not None
        found = self.sink.find_run(self.sink.experiment(experiment_name(pipeline)), run_id)
        if found is not None:
            self.sink.mark(found.info.run_id, {"aliases": ",".join(self._aliases_of(run_id))})
