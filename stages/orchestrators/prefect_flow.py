"""The Prefect 3 adapter: the same stages as a flow `ledgerline-<pipeline>`, one task per stage with its retries.

The only module of schemas/, ledger/ and stages/ that imports prefect (lazily, inside run_prefect, after the
environment is set: `import prefect` creates PREFECT_HOME). Tasks receive and return artifact refs (JSON dicts),
never frames; the flow runs in this process, which stays the one ledger writer (RunSession).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from schemas.errors import LedgerlineError
from stages.pipeline import Pipeline
from stages.runner import Progress, RunOutcome, RunSession, StageAttemptError

#: the ephemeral API's startup on a busy 2-core machine takes far longer than Prefect's default 20 s
STARTUP_TIMEOUT_S = "600"
QUIET_LOGGERS = (
    "prefect",
    "prefect.task_runs",
    "prefect.flow_runs",
    "prefect.task_engine",
    "prefect.flow_engine",
    "prefect.engine",
)


class PrefectMissingError(LedgerlineError):
    """Raised when --orchestrator prefect is asked for but prefect is not installed."""


def prefect_environment(home: Path, api_url: str | None = None) -> dict[str, str]:
    """The environment Prefect is imported under: home-local PREFECT_HOME unless set, analytics off, long startup."""
    env = {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": os.environ.get(
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", STARTUP_TIMEOUT_S
        ),
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
    }
    if not os.environ.get("PREFECT_HOME"):
        env["PREFECT_HOME"] = str((Path(home) / "prefect").resolve())
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def run_prefect(
    pipeline: Pipeline,
    settings: Any,
    home: Path,
    *,
    run_id: str | None = None,
    progress: Progress = lambda line: None,
    api_url: str | None = None,
) -> RunOutcome:
    """Run pipeline as a Prefect flow; RunStarted records {"name": "prefect", "flow_run_id": ...}."""
    pipeline.check_reads()
    os.environ.update(prefect_environment(home, api_url))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    try:
        from prefect import flow, task
        from prefect.cache_policies import NO_CACHE
        from prefect.runtime import flow_run as runtime_flow_run
        from prefect.runtime import task_run as runtime_task_run
    except ImportError as exc:
        raise PrefectMissingError("--orchestrator prefect needs prefect: pip install -e '.[prefect]'") from exc
    if os.environ.get("LEDGERLINE_DEBUG") != "1":  # failures are in the ledger; Prefect's tracebacks only with DEBUG
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)

    with RunSession(pipeline, settings, home, run_id=run_id, progress=progress) as session:
        by_name = {spec.name: spec for spec in pipeline.stages}

        def run_stage(name: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            spec = by_name[name]
            attempt = int(runtime_task_run.run_count or 1)
            refs = session.run_stage(spec, attempt=attempt, retries=spec.retries)
            return [ref.model_dump(mode="json") for ref in refs]

        tasks = {
            spec.name: task(
                run_stage,
                name=spec.name,
                retries=spec.retries,
                retry_delay_seconds=spec.retry_delay_s,
                persist_result=False,
                cache_policy=NO_CACHE,
                log_prints=False,
            )
            for spec in pipeline.stages
        }

        def body() -> str | None:
            flow_run_id: str | None = runtime_flow_run.get_id()
            if not session.start({"name": "prefect", "flow_run_id": str(flow_run_id) if flow_run_id else None}):
                return flow_run_id
            for spec in pipeline.stages:
                inputs = [ref.model_dump(mode="json") for ref in session.refs(spec) if ref is not None]
                try:
                    tasks[spec.name](spec.name, inputs)
                except StageAttemptError:
                    break
            return flow_run_id

        the_flow = flow(
            body,
            name=f"ledgerline-{pipeline.name}",
            flow_run_name=session.run_id,
            persist_result=False,
            log_prints=False,
            validate_parameters=False,
        )
        progress(f"prefect: flow ledgerline-{pipeline.name} (API {os.environ.get('PREFECT_API_URL') or 'ephemeral'})")
        try:
            the_flow()
        except StageAttemptError:
            pass
        return session.finish()
