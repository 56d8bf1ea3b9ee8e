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
_TYPE, _V = _ENVELOPE.index("type"), _ENVELOPE.index("v")
#: types of seq, v, id, ts, type, hash (every canonical line has them) and of run_id and stage
_TYPES = (int, int, str, str, str, str)
_TEXT_OR_NULL = frozenset({str, type(None)})
_SEQ_MAX, _V_MAX = 1 << 63, 1 << 31


class NotCanonicalError(Exception):
    """Internal: a line this path cannot prove it reads as DuckDB's reader would (the caller uses the reader)."""


def staging_values(raw: bytes) -> dict[str, list[Any]]:
    """The staging columns of the complete ledger lines raw, old versions upcast.

    Values are exactly what DuckDB's reader puts in the same columns, and data is the payload's own
    bytes; a line where that is not certain raises NotCanonicalError, and the caller uses the reader.
    """
    rows = [_row(line) for line in raw.splitlines()]
    return {name: list(col) for (name, _), col in zip(STAGING_COLUMNS, zip(*rows))} if rows else {n: [] for n, _ in STAGING_COLUMNS}


def staging_sql(table: str) -> str:
    """CREATE the TEMP staging table from staging_values passed as named parameters (one statement, one conversion)."""
    cols = ", ".join(f"unnest(${n}::{sql}[]) AS {n}" for n, sql in STAGING_COLUMNS)
    return f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {cols}"


def _row(line: bytes) -> tuple[Any, ...]:
    """(seq, id, ts, type, v, run_id, stage, hash, data) of one canonical line."""
    text, data, env = _split(line)
    row = _envelope(env)
    if CURRENT_VERSIONS.get(row[_TYPE]) != row[_V]:
        obj = _upcast({**env, "data": data})
        row, text = _FIELDS(obj), orjson.dumps(obj["data"])  # as the reader's upcast copy encodes it
    return (*row, text.decode())


def _split(line: bytes) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    """The payload's own bytes, the payload and the rest of a line shaped `{"data":{…},"id":…}`, compact.

    The payload slice parses as an object, so the cut is exactly at its end; the rest re-encodes to
    itself, so it is compact, has no duplicate keys and holds nothing a JSON reader could read otherwise.
    """
    cut = line.rfind(_SPLIT)
    if not line.startswith(_HEAD) or cut < 0:
        raise NotCanonicalError("not a canonical ledger line")
    text, rest = line[len(_HEAD) : cut], b"{" + line[cut + 1 :]
    data, env = _loads(text), _loads(rest)
    if type(data) is not dict or type(env) is not dict or "data" in env or orjson.dumps(env) != rest:
        raise NotCanonicalError("not a canonical ledger line")
    return text, data, env


def _envelope(env: dict[str, Any]) -> tuple[Any, ...]:
    """The envelope columns, when each holds what its staging column holds unchanged (else the reader decides)."""
    try:
        row: tuple[Any, ...] = _FIELDS(env)
    except KeyError as exc:
        raise NotCanonicalError(f"envelope without {exc}") from exc
    seq, id_, ts, kind, v, run_id, stage, digest = row
    if (type(seq), type(v), type(id_), type(ts), type(kind), type(digest)) != _TYPES or not (
        type(run_id) in _TEXT_OR_NULL and type(stage) in _TEXT_OR_NULL and -_SEQ_MAX <= seq < _SEQ_MAX and -_V_MAX <= v < _V_MAX
    ):
        raise NotCanonicalError(f"envelope of unexpected types or ranges: {row!r}")
    return row


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
