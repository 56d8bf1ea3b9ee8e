"""Who drives a pipeline's stages: the plain loop (stages.runner.run) or an orchestrator adapter.

Adapters import their engine lazily; only stages/orchestrators/prefect_flow.py imports prefect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.pipeline import Pipeline
from stages.runner import Progress, RunOutcome, run


def run_with(
    orchestrator: str,
    pipeline: Pipeline,
    settings: Any,
    home: Path,
    *,
    run_id: str | None = None,
    progress: Progress = lambda line: None,
    prefect_api: str | None = None,
) -> RunOutcome:
    """Run pipeline under the named orchestrator ('plain' or 'prefect')."""
    if orchestrator == "plain":
        return run(pipeline, settings, home, run_id=run_id, progress=progress)
    if orchestrator == "prefect":
        from stages.orchestrators.prefect_flow import run_prefect

        return run_prefect(pipeline, settings, home, run_id=run_id, progress=progress, api_url=prefect_api)
    raise ValueError(f"unknown orchestrator {orchestrator!r}")
