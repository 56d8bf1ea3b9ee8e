"""Ledger lines -> the Arrow staging table in Python (orjson), so a small catch-up skips DuckDB's JSON reader."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

from ledger.errors import UnknownEventError
from ledger.upcasters import upcast
from schemas.events import CURRENT_VERSIONS
from projectors.errors import LedgerUnreadableError

#: the staging relation both paths fill: the same columns, names and types as the read_ndjson spec
STAGING_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("id", pa.string()),
        ("ts", pa.string()),
        ("type", pa.string()),
        ("v", pa.int32()),
        ("run_id", pa.string()),
        ("stage", pa.string()),
        ("hash", pa.string()),
        ("data", pa.string()),
    ]
)
_STRINGS = ("id", "ts", "type", "run_id", "stage", "hash")
_REQUIRED = ("id", "ts", "type", "hash")
_DATA_START = b'{"data":'
_DATA_END = b',"id":'
_INT64 = (-(1 << 63), (1 << 63) - 1)


class NotCanonicalError(Exception):
    """Internal: a line this path does not read exactly as DuckDB's reader would (the caller uses the reader)."""


def staging_table(raw: bytes) -> pa.Table:
    """The staging rows of complete ledger lines raw, old versions upcast; raises NotCanonicalError to defer to the reader."""
    columns: dict[str, list[Any]] = {name: [] for name in STAGING_SCHEMA.names}
    for line in raw.splitlines():
        for name, value in _row(line).items():
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=STAGING_SCHEMA)


def _row(line: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise NotCanonicalError(str(exc)) from exc
    if not isinstance(obj, dict) or list(obj)[:2] != ["data", "id"] or not isinstance(obj["data"], dict):
        raise NotCanonicalError("not a canonical ledger line")
    _check_envelope(obj)
    if CURRENT_VERSIONS.get(obj["type"]) == obj.get("v"):
        data = line[len(_DATA_START) : line.rindex(_DATA_END)].decode()  # the payload's own bytes, as the reader sees them
    else:
        obj, data = _upcast(obj)
    return {**{name: obj.get(name) for name in STAGING_SCHEMA.names}, "data": data}


def _check_envelope(obj: dict[str, Any]) -> None:
    """Envelope values of the types the reader's columns hold; anything else is left to the reader."""
    seq, v = obj.get("seq"), obj.get("v")
    for value in (seq, v):
        if type(value) is not int or not _INT64[0] <= value <= _INT64[1]:
            raise NotCanonicalError(f"seq or v is not an integer: {value!r}")
    if any(not isinstance(obj.get(name), str) for name in _REQUIRED):
        raise NotCanonicalError("an envelope field is missing or not a string")
    if any(obj.get(name) is not None and not isinstance(obj[name], str) for name in _STRINGS):
        raise NotCanonicalError("an envelope field is not a string")


def _upcast(obj: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """An old version upgraded, its payload re-encoded exactly as the reader's upcast copy is."""
    try:
        obj = upcast(obj)
    except UnknownEventError as exc:
        raise LedgerUnreadableError(f"cannot read {exc}: unknown event type or version") from exc
    return obj, orjson.dumps(obj["data"]).decode()
