"""Errors raised by the projectors (DuckDB projection, run state, tagging, mirrors); exit codes are chosen in bin/."""

from __future__ import annotations

from schemas.errors import LedgerlineError


class ProjectorError(LedgerlineError):
    """Raised when a projector cannot do what was asked."""


class CheckpointMismatchError(ProjectorError, ValueError):
    """Raised when a projection's checkpoint (seq, hash) no longer matches the ledger; nothing was written."""


class ProjectionMissingError(ProjectorError, FileNotFoundError):
    """Raised when there is no ledger (or no projection) where one was expected."""


class ProjectionBusyError(ProjectorError, OSError):
    """Raised when another process holds the projection file's write lock for too long."""


class ProjectionLockedError(ProjectionBusyError):
    """Raised when another process (another DuckDB client) holds projections.duckdb open past the bounded wait."""


class LedgerUnreadableError(ProjectorError, ValueError):
    """Raised when ledger lines cannot be read as events of a known type and version."""


class QueryError(ProjectorError, ValueError):
    """Raised when user SQL fails to parse, bind or run."""


class UnknownRunError(ProjectorError, LookupError):
    """Raised when a run id is not in the projection."""


class TaggingError(ProjectorError, ValueError):
    """Raised when a tag, promotion or rollback cannot be applied."""


class UnknownReadModelError(ProjectorError, LookupError):
    """Raised when no read model is registered under the name asked for."""


class MirrorError(ProjectorError, RuntimeError):
    """Raised when an MLflow mirror request is refused for a reason other than the store being unreachable."""


class MirrorUnavailableError(MirrorError, ConnectionError):
    """Raised when the MLflow tracking store cannot be reached after the client's retries; rerun to resume."""

    def __init__(self, uri: str, detail: str) -> None:
        first = detail.strip().splitlines()[0] if detail.strip() else "no detail"
        super().__init__(
            f"mlflow tracking store at {uri} is unavailable ({first[:300]}); "
            "nothing is lost: rerun the replay when it is back to resume"
        )
        self.uri = uri


class MirrorDivergedError(MirrorError, ValueError):
    """Raised when the mirror's witness (seq, hash) or its runs no longer match the ledger; nothing was written."""


class ProjectionDisagreesError(TaggingError):
    """Raised when a fact a decision rests on differs between the projection and the run's own ledger events."""


class MirrorStoreIncompleteError(MirrorError, ValueError):
    """Raised when a SQLite MLflow store was found half-created (tables or its schema version missing)."""


class LineageError(ProjectorError, RuntimeError):
    """Raised when the OpenLineage replay cannot do what was asked (missing extra, damaged output)."""


class LineageUnavailableError(LineageError, ConnectionError):
    """Raised when an OpenLineage HTTP endpoint still fails after the bounded retries; rerun to resume."""

    def __init__(self, url: str, detail: str) -> None:
        first = detail.strip().splitlines()[0] if detail.strip() else "no detail"
        super().__init__(
            f"openlineage endpoint {url} is unavailable after retries ({first[:300]}); "
            "nothing is lost: rerun the replay when it is back to resume"
        )
        self.url = url


class LineageDivergedError(LineageError, ValueError):
    """Raised when the OpenLineage position (seq, hash) no longer matches the ledger; nothing was written."""
