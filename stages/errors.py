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
