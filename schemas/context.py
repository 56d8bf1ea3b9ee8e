"""The run context the runner threads between stages: artifact refs and small values, with diff()."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from schemas.errors import LedgerlineError
from schemas.events import ArtifactRef, Model, is_run_id


class InvalidRunIdError(LedgerlineError, ValueError):
    """Raised when a run id is not of the form YYYYMMDD-HHMMSS-xxxx (checked before any filesystem use)."""


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id: UTC timestamp plus four random base-36 characters."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    return f"{stamp}-{''.join(secrets.choice(alphabet) for _ in range(4))}"


def check_run_id(value: str) -> str:
    """Return value if it is a valid run id, else raise InvalidRunIdError."""
    if not is_run_id(value):
        raise InvalidRunIdError(f"invalid run id {value!r}: expected YYYYMMDD-HHMMSS-xxxx")
    return value


class RunContext(Model):
    """What the stages of one run have produced so far: refs to artifacts, never frames."""

    run_id: str
    raw: ArtifactRef | None = None
    clean: ArtifactRef | None = None
    features: ArtifactRef | None = None
    selection: ArtifactRef | None = None
    weights: ArtifactRef | None = None
    portfolio: ArtifactRef | None = None
    asset_metrics: ArtifactRef | None = None
    drops: ArtifactRef | None = None
    rows_dropped: int = 0
    headline: dict[str, float] = {}

    def diff(self, other: RunContext) -> dict[str, tuple[Any, Any]]:
        """Fields whose values differ: name -> (self's value, other's value)."""
        mine, theirs = self.model_dump(mode="json"), other.model_dump(mode="json")
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
