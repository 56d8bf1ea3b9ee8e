"""Upgrade old event versions on read: pure upcast_<Type>_v<N>_v<N+1>(data) -> data functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.errors import UnknownEventError
from schemas.events import CURRENT_VERSIONS

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def upcast_StageFailed_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 had no traceback; v2 records its tail, unknown (None) for old events."""
    return {**data, "traceback_tail": None}


def upcast_StageFailed_v2_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v2 had no attempts: the plain runner's one attempt, never retried."""
    return {**data, "attempt": 1, "will_retry": False}


def upcast_ArtifactWritten_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 did not record the file's SHA-256; v2 does, unknown (None) for old events."""
    return {**data, "sha256": None}


#: (type, from_version) -> function producing the payload of from_version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("StageFailed", 1): upcast_StageFailed_v1_v2,
    ("StageFailed", 2): upcast_StageFailed_v2_v3,
    ("ArtifactWritten", 1): upcast_ArtifactWritten_v1_v2,
}


def upcast(obj: dict[str, Any]) -> dict[str, Any]:
    """Return the event dict upgraded to its type's current version (the input is not modified)."""
    kind, version = obj.get("type"), obj.get("v")
    if not isinstance(kind, str) or (current := CURRENT_VERSIONS.get(kind)) is None:
        raise UnknownEventError(f"seq {obj.get('seq')}: unknown event type {kind!r}")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1 or version > current:
        raise UnknownEventError(f"seq {obj.get('seq')}: {kind} has unknown version {version!r} (current is {current})")
    if version == current:
        return obj
    data = obj.get("data")
    if not isinstance(data, dict):
        raise UnknownEventError(f"seq {obj.get('seq')}: {kind} v{version} has no data object")
    for step in range(version, current):
        fn = UPCASTERS.get((kind, step))
        if fn is None:
            raise UnknownEventError(f"seq {obj.get('seq')}: no upcaster for {kind} v{step} -> v{step + 1}")
        data = fn(dict(data))
    return {**obj, "v": current, "data": data}
