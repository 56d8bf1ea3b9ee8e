"""Errors raised by stages and the runner."""

from __future__ import annotations

from schemas.errors import LedgerlineError
from schemas.events import Model


class StageError(LedgerlineError):
    """Raised when a stage cannot produce its outputs."""


class ContractBreachError(StageError, ValueError):
    """Raised when a schema-level contract fails (never filtered); carries the events recorded so far."""

    def __init__(self, contract: str, message: str, events: list[Model] | None = None) -> None:
        super().__init__(f"contract {contract} breached: {message}")
        self.contract = contract
        self.events = list(events or [])


class PreflightError(StageError):
    """Raised when settings, inputs or the home folder are unusable; lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("preflight failed: " + "; ".join(problems))
        self.problems = problems


class PostflightError(StageError):
    """Raised when a producer-side consumer contract fails after outputs are written."""

    def __init__(self, contract: str, message: str, events: list[Model] | None = None) -> None:
        super().__init__(f"postflight contract {contract} failed: {message}")
        self.contract = contract
        self.events = list(events or [])


class FeatureMissingError(StageError, LookupError):
    """Raised when a stage needs a feature column that the features settings turned off."""


class ArtifactCorruptError(StageError):
    """Raised when an artifact file is no longer what its ref says (size or content hash); names who wrote it."""

    def __init__(
        self, name: str, digest: str, problem: str, *, run_id: str | None = None, stage: str | None = None
    ) -> None:
        self.name, self.digest, self.problem = name, digest, problem
        self.run_id, self.stage = run_id, stage
        super().__init__(self._message())

    def written_by(self, run_id: str | None, stage: str | None) -> ArtifactCorruptError:
        """The same error, naming the run and stage whose ArtifactWritten recorded the artifact."""
        return ArtifactCorruptError(self.name, self.digest, self.problem, run_id=run_id, stage=stage)

    def _message(self) -> str:
        who = f"written by run {self.run_id} stage {self.stage}" if self.run_id else "writer unknown"
        return (
            f"artifact {self.name} ({self.digest[:12]}) is corrupt: {self.problem} ({who}); "
            "delete the file and re-run to rewrite it"
        )
