"""Ledger events -> OpenLineage RunEvents: a fold over the ledger that emits START and COMPLETE/FAIL events.

Imports openlineage: load it only once the extra is known present (projectors.lineage.model checks).

A pipeline run is the job NS/<pipeline>; each stage run the job NS/<pipeline>.<stage> with the `parent` facet
pointing at the pipeline run. Run ids are uuid5 of the ledger run id (and stage name), so a rebuild sends the
same ids. Events come out in ledger order; each depends only on the ledger lines of its own run.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import error_message_run, job_type_job, parent_run

from projectors.lineage import datasets
from projectors.lineage.facets import (
    LEDGERLINE_FACET,
    PRODUCER,
    ROWS_DROPPED_FACET,
    LedgerlineRowsDroppedRunFacet,
    LedgerlineRunFacet,
)
from projectors.lineage.files import ArtifactFiles, Parquet
from projectors.lineage.serialize import Serializer
from schemas.events import (
    ArtifactRef,
    ArtifactWritten,
    DataContractChecked,
    DataContractCheckedData,
    DataInput,
    Event,
    RowsDropped,
    RunCompleted,
    RunStarted,
    StageCompleted,
    StageFailed,
    StageStarted,
)

#: the uuid5 namespace of every run id this projector derives (fixed: the same ledger always gives the same ids)
RUN_ID_NAMESPACE = uuid.UUID("6c6a2f0e-5b1d-5d0e-9c7a-1e6f6c8a4b21")
DEFAULT_NAMESPACE = "ledgerline"


def run_uuid(run_id: str, stage: str | None = None, attempt: int = 1) -> str:
    """The OpenLineage runId of a ledger run, or of one of its stage runs (attempt 2+ of a stage gets its own)."""
    key = run_id if stage is None else f"{run_id}/{stage}" + ("" if attempt == 1 else f"/{attempt}")
    return str(uuid.uuid5(RUN_ID_NAMESPACE, key))


@dataclasses.dataclass
class _Stage:
    name: str
    uuid: str
    seq: int
    inputs: list[ArtifactRef]
    checks: list[DataContractCheckedData] = dataclasses.field(default_factory=list)
    dropped: Counter[str] = dataclasses.field(default_factory=Counter)


@dataclasses.dataclass
class _Run:
    run_id: str
    pipeline: str
    uuid: str
    seq: int
    config_hash: str
    code_version: dict[str, object]
    sources: list[DataInput]
    stages: dict[str, _Stage] = dataclasses.field(default_factory=dict)
    attempts: Counter[str] = dataclasses.field(default_factory=Counter)
    loose_checks: list[DataContractCheckedData] = dataclasses.field(default_factory=list)
    paths: dict[str, str] = dataclasses.field(default_factory=dict)  # artifact hash -> path under the home
    outputs: dict[str, ArtifactRef] = dataclasses.field(default_factory=dict)  # artifact hash -> ref, in order
    #: facets and datasets that do not change within the run, built once (the events only read them)
    parent: Any = None
    source_inputs: list[InputDataset] | None = None
    output_ds: dict[str, OutputDataset] = dataclasses.field(default_factory=dict)  # artifact hash -> dataset
    dataset_facets: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    remembered: list[Any] = dataclasses.field(default_factory=list)  # what the serializer memoizes for this run


class Fold:
    """The state of the runs still open, and the OpenLineage events each new ledger line completes."""

    def __init__(
        self,
        home: Path,
        namespace: str = DEFAULT_NAMESPACE,
        parquet: Parquet | None = None,
        serializer: Serializer | None = None,
    ) -> None:
        self.home = Path(home)
        self.namespace = namespace
        self.parquet = parquet or Parquet()
        #: the shared objects below are remembered by it (converted once); None: nothing to tell
        self.serializer = serializer
        self.runs: dict[str, _Run] = {}
        self._jobs: dict[str, Job] = {}  # job name -> Job (with its jobType facet), the same for the whole fold
        self.files = ArtifactFiles(self.home)

    def open_from(self) -> int | None:
        """The seq of the earliest RunStarted of a run still open: a resumed fold re-reads from there."""
        return min((r.seq for r in self.runs.values()), default=None)

    def apply(self, event: Event) -> list[RunEvent]:
        """Fold one ledger event in; return the OpenLineage events it completes (usually none or one)."""
        run_id = event.run_id
        if run_id is None:
            return []
        if isinstance(event, RunStarted):
            if run_id in self.runs:  # a second RunStarted for an open run (bin/verify names it): keep the first
                return []
            d = event.data
            started = _Run(
                run_id,
                d.pipeline,
                run_uuid(run_id),
                int(event.seq or 0),
                d.config_hash,
                {"gitSha": d.code_version.git_sha, "dirty": d.code_version.dirty},
                list(d.inputs),
            )
            self.runs[run_id] = started
            return [self._event(RunState.START, event, started, None, self._sources(started), [])]
        run = self.runs.get(run_id)
        if run is None:  # a line of a run that ended (a tag, say) or that this fold did not see start
            return []
        stage = run.stages.get(event.stage) if event.stage else None
        if isinstance(event, StageStarted):
            if event.stage is None or stage is not None:
                return []
            run.attempts[event.stage] += 1
            stage = _Stage(
                event.stage,
                run_uuid(run_id, event.stage, run.attempts[event.stage]),
                int(event.seq or 0),
                list(event.data.inputs),
            )
            run.stages[event.stage] = stage
            return [self._event(RunState.START, event, run, stage, self._stage_inputs(run, stage, False), [])]
        if isinstance(event, ArtifactWritten):
            run.paths[event.data.hash] = event.data.path
            return []
        if isinstance(event, DataContractChecked):
            (stage.checks if stage is not None else run.loose_checks).append(event.data)
            return []
        if isinstance(event, RowsDropped):
            if stage is not None:
                stage.dropped[event.data.reason] += event.data.count
            return []
        if isinstance(event, StageCompleted) and stage is not None:
            del run.stages[stage.name]
            for ref in event.data.outputs:
                run.outputs.setdefault(ref.hash, ref)
            outputs = [self._output(run, ref) for ref in event.data.outputs]
            return [self._event(RunState.COMPLETE, event, run, stage, self._stage_inputs(run, stage, True), outputs)]
        if isinstance(event, StageFailed) and stage is not None:
            del run.stages[stage.name]
            error = error_message_run.ErrorMessageRunFacet(
                message=f"{event.data.error_type}: {event.data.message}",
                programmingLanguage="python",
                stackTrace=event.data.traceback_tail,
            )
            return [self._event(RunState.FAIL, event, run, stage, self._stage_inputs(run, stage, True), [], error)]
        if isinstance(event, RunCompleted):
            return self._complete(event, run)
        return []

    def _shared(self, run: _Run | None, obj: Any) -> Any:
        """obj, which later events reuse unchanged: the serializer converts it once (until the run ends)."""
        if self.serializer is not None:
            self.serializer.remember(obj)
            if run is not None:
                run.remembered.append(obj)
        return obj

    # ------------------------------------------------------------ events

    def _complete(self, event: RunCompleted, run: _Run) -> list[RunEvent]:
        out = []
        status, error_text = event.data.status, event.data.error
        for stage in list(run.stages.values()):  # a stage the run never ended still gets its one terminal event
            error: error_message_run.ErrorMessageRunFacet | None = error_message_run.ErrorMessageRunFacet(
                message=f"the run ended ({status}) before stage {stage.name} completed", programmingLanguage="python"
            )
            out.append(self._event(RunState.FAIL, event, run, stage, self._stage_inputs(run, stage, True), [], error))
        run.stages.clear()
        del self.runs[run.run_id]
        if self.serializer is not None:
            for obj in run.remembered:
                self.serializer.forget(obj)
            run.remembered.clear()
        failed = status != "succeeded"
        error = None
        if failed:
            error = error_message_run.ErrorMessageRunFacet(
                message=f"{status}: {error_text or 'no error recorded'}", programmingLanguage="python"
            )
        inputs = self._sources(run, run.loose_checks)
        outputs = [self._output(run, ref) for ref in run.outputs.values()]
        out.append(
            self._event(RunState.FAIL if failed else RunState.COMPLETE, event, run, None, inputs, outputs, error)
        )
        return out

    def _event(
        self,
        state: RunState,
        event: Event,
        run: _Run,
        stage: _Stage | None,
        inputs: list[InputDataset],
        outputs: list[OutputDataset],
        error: Any = None,
    ) -> RunEvent:
        seq = int(event.seq or 0)
        first = run.seq if stage is None else stage.seq
        facets: dict[str, Any] = {
            LEDGERLINE_FACET: LedgerlineRunFacet(
                ledgerRunId=run.run_id,
                firstSeq=first if state != RunState.START else seq,
                lastSeq=seq,
                headHash=str(event.hash),
                configHash=run.config_hash,
                codeVersion=run.code_version,
                producer=PRODUCER,
            ),
        }
        if stage is not None:
            if run.parent is None:
                run.parent = self._shared(
                    run,
                    parent_run.ParentRunFacet(
                        run=parent_run.Run(runId=run.uuid),
                        job=parent_run.Job(namespace=self.namespace, name=run.pipeline),
                        root=parent_run.Root(
                            run=parent_run.RootRun(runId=run.uuid),
                            job=parent_run.RootJob(namespace=self.namespace, name=run.pipeline),
                        ),
                        producer=PRODUCER,
                    ),
                )
            facets["parent"] = run.parent
            if stage.dropped and state != RunState.START:
                facets[ROWS_DROPPED_FACET] = LedgerlineRowsDroppedRunFacet(
                    rowsDropped=dict(sorted(stage.dropped.items())), producer=PRODUCER
                )
        if error is not None:
            error._producer = PRODUCER
            facets["errorMessage"] = error
        name = run.pipeline if stage is None else f"{run.pipeline}.{stage.name}"
        job = self._jobs.get(name)
        if job is None:
            job_type = job_type_job.JobTypeJobFacet(
                processingType="BATCH",
                integration="LEDGERLINE",
                jobType="PIPELINE" if stage is None else "STAGE",
                producer=PRODUCER,
            )
            job = Job(namespace=self.namespace, name=name, facets={"jobType": job_type})
            self._jobs[name] = self._shared(None, job)
        return RunEvent(
            eventType=state,
            eventTime=event.ts.isoformat(),
            run=Run(runId=run.uuid if stage is None else stage.uuid, facets=facets),
            job=job,
            producer=PRODUCER,
            inputs=inputs,
            outputs=outputs,
        )

    # ------------------------------------------------------------ datasets

    def _sources(self, run: _Run, checks: list[DataContractCheckedData] | None = None) -> list[InputDataset]:
        """The run's sources: built once per run, except with the checks on the first (at a stage's or the run's end)."""
        if not checks and run.source_inputs is not None:
            return run.source_inputs
        out = [datasets.source(src, checks if i == 0 else None) for i, src in enumerate(run.sources)]
        if not checks:
            run.source_inputs = [self._shared(run, ds) for ds in out]
        return out

    def _stage_inputs(self, run: _Run, stage: _Stage, terminal: bool) -> list[InputDataset]:
        """A stage's input artifacts (the run's sources for a stage that reads none); checks on the first, at its end."""
        checks = stage.checks if terminal else None
        if not stage.inputs:
            return self._sources(run, checks)
        out = []
        for i, ref in enumerate(stage.inputs):
            path = self.files.path(run.paths, ref)
            described = self.parquet.describe(path) if path.suffix == ".parquet" else None
            facets = self._facets(run, ref, path, described)
            out.append(datasets.artifact_input(ref, path, described, facets, checks if i == 0 else None))
        return out

    def _output(self, run: _Run, ref: ArtifactRef) -> OutputDataset:
        """The dataset of an output artifact: built once per run (a stage's output is the run's output too)."""
        key = f"{ref.hash}/{ref.rows}"
        found = run.output_ds.get(key)
        if found is not None:
            return found
        path = self.files.path(run.paths, ref)
        described = self.parquet.describe(path) if path.suffix == ".parquet" else None
        try:
            size: int | None = os.stat(path).st_size
        except OSError:
            size = None
        out = datasets.artifact_output(ref, path, size, self._facets(run, ref, path, described))
        run.output_ds[key] = self._shared(run, out)
        return out

    def _facets(self, run: _Run, ref: ArtifactRef, path: Path, described: datasets.Described | None) -> dict[str, Any]:
        """The version and schema facets of an artifact, built once per run and artifact."""
        key = f"{ref.hash}\0{path}"
        found = run.dataset_facets.get(key)
        if found is None:
            found = run.dataset_facets[key] = datasets.artifact_facets(ref, described)
            for facet in found.values():
                self._shared(run, facet)
        return found
