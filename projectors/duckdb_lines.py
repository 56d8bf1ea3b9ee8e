"""Ledger lines -> the staging columns in Python (orjson), so a small catch-up skips DuckDB's JSON reader."""

from __future__ import annotations

import operator
from typing import Any

import orjson

from ledger.errors import UnknownEventError
from ledger.upcasters import upcast
from schemas.events import CURRENT_VERSIONS
from projectors.duckdb_schema import STAGING_COLUMNS
from projectors.errors import LedgerUnreadableError

_HEAD = b'{"data":'
_SPLIT = b',"id":'
#: the envelope columns (all but data): the two integer ones (BIGINT seq, INTEGER v) and the text ones
_ENVELOPE = tuple(name for name, _ in STAGING_COLUMNS if name != "data")
assert _ENVELOPE == ("seq", "id", "ts", "type", "v", "run_id", "stage", "hash"), _ENVELOPE
_FIELDS = operator.itemgetter(*_ENVELOPE)
_TYPE = _ENVELOPE.index("type")
#: types of seq, v, id, ts, type, hash (every canonical line has them) and of run_id and stage
_TYPES = (int, int, str, str, str, str)
_TEXT_OR_NULL = frozenset({str, type(None)})
_SEQ_MAX, _V_MAX = 1 << 63, 1 << 31


class NotCanonicalError(Exception):
    """Internal: a line this path cannot prove it reads as DuckDB's reader would (the caller uses the reader)."""


def staging_values(raw: bytes) -> dict[str, dict[str, list[Any]]]:
    """The staging columns of the complete ledger lines raw, per event type, old versions upcast.

    Values are exactly what DuckDB's reader puts in the same columns, and data is the payload's own
    bytes; a line where that is not certain raises NotCanonicalError, and the caller uses the reader.
    """
    by_type: dict[str, list[tuple[Any, ...]]] = {}
    for line in raw.splitlines():
        row = _row(line)
        by_type.setdefault(row[_TYPE], []).append(row)
    return {kind: {name: list(col) for (name, _), col in zip(STAGING_COLUMNS, zip(*rows))} for kind, rows in by_type.items()}


def staging_relation() -> str:
    """The staging relation of one type's staging_values, passed as named parameters."""
    return "(SELECT " + ", ".join(f"unnest(${n}::{sql}[]) AS {n}" for n, sql in STAGING_COLUMNS) + ")"


def _row(line: bytes) -> tuple[Any, ...]:
    """(seq, id, ts, type, v, run_id, stage, hash, data) of a canonical line: `{"data":{…},"id":…}` compact, keys in order."""
    cut = line.rfind(_SPLIT)
    if not line.startswith(_HEAD) or cut < 0:
        raise NotCanonicalError("not a canonical ledger line")
    text, rest = line[len(_HEAD) : cut], b"{" + line[cut + 1 :]
    data, env = _loads(text), _loads(rest)
    # the payload slice parses as an object, so the cut is at its end; the rest re-encodes to itself: compact, no duplicate keys
    if type(data) is not dict or type(env) is not dict or "data" in env or orjson.dumps(env) != rest:
        raise NotCanonicalError("not a canonical ledger line")
    try:
        row = seq, id_, ts, kind, v, run_id, stage, digest = _FIELDS(env)
    except KeyError as exc:
        raise NotCanonicalError(f"envelope without {exc}") from exc
    if (type(seq), type(v), type(id_), type(ts), type(kind), type(digest)) != _TYPES or not (
        type(run_id) in _TEXT_OR_NULL and type(stage) in _TEXT_OR_NULL and -_SEQ_MAX <= seq < _SEQ_MAX and -_V_MAX <= v < _V_MAX
    ):
        raise NotCanonicalError(f"envelope of unexpected types or ranges: {row!r}")
    if CURRENT_VERSIONS.get(kind) != v:
        obj = _upcast({**env, "data": data})
        row, text = _FIELDS(obj), orjson.dumps(obj["data"])  # as the reader's upcast copy encodes it
    return (*row, text.replace(b"-0.0", b"0.0").decode())


def _loads(text: bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise NotCanonicalError(str(exc)) from exc


def _upcast(obj: dict[str, Any]) -> dict[str, Any]:
    try:
        return upcast(obj)
    except UnknownEventError as exc:
        raise LedgerUnreadableError(f"cannot read {exc}: unknown event type or version") from exc
