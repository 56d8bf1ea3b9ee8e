"""The post-run workflow: catch the projection up, let the tagging policy decide, catch up again, mirror if asked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ledger import Recorded
from projectors.errors import ProjectionLockedError
from projectors.readmodel import Progress, quiet
from projectors.registry import open_model
from projectors.runs.tagging import decide_pending, tag_run
from schemas.settings import TaggingPolicy


@dataclasses.dataclass(frozen=True)
class AfterRun:
    """What the post-run workflow did: events projected, tags recorded, and the mirror's report when it ran."""

    run_id: str
    projected: int
    tags: list[Recorded]
    mirrored: str | None = None
    locked: str | None = None  # why the projection could not be caught up (another process holds it)

    def notes(self) -> list[str]:
        """One human line per step (the `notes` of `bin/run-pipeline --json`)."""
        lines = (
            [f"projections: {self.projected} events applied"]
            if self.locked is None
            else [
                f"projection locked: {self.locked}; the run is recorded, its catch-up and candidate decision are left to "
                "the next command that can take the lock"
            ]
        )
        for r in self.tags:
            d = r.event.data  # type: ignore[attr-defined]
            lines.append(f"tagged {d.key}={d.value}: {d.reason}")
        if self.mirrored is not None:
            lines.append(f"mlflow: {self.mirrored}")
        return lines


def after_run(
    home: Path,
    run_id: str,
    *,
    policy: TaggingPolicy | None = None,
    tag: bool = True,
    mirror: bool = False,
    tracking_uri: str | None = None,
    progress: Progress = quiet,
) -> AfterRun:
    """Catch the DuckDB projection up, tag the run by policy (catching up again when tags were added), mirror if asked.

    Without a policy, the tagging policy the run was configured with. The mirror goes to tracking_uri
    (default: mlflow.db in the home).
    """
    home = Path(home)
    projection = open_model("duckdb", home)
    try:
        projected = projection.catch_up(progress=progress)
        # a pipeline without a candidate policy is never tagged
        tags = tag_run(home, run_id, policy) + decide_pending(home, skip={run_id}) if tag else []
    except ProjectionLockedError as exc:  # the run is in the ledger: the next command with the lock decides
        projected, tags = 0, []
        locked: str | None = str(exc)
        progress(f"projection locked: {exc}")
    else:
        locked = None
    if tags:
        projection.catch_up(progress=progress)
    mirrored = None
    if mirror:
        model = open_model("mlflow", home, {"tracking_uri": tracking_uri} if tracking_uri else {})
        mirrored = model.report(model.catch_up(progress=progress))
    return AfterRun(run_id, projected, tags, mirrored, locked)
