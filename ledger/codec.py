"""Canonical JSON lines: encode an event with its chain fields, hash it, decode and upcast on read."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import ValidationError

from ledger.errors import EventRejectedError, UnknownEventError
from ledger.upcasters import upcast
from schemas.events import Envelope, Event, parse_event

#: longest line the ledger accepts; bulky data belongs in an artifact, not in an event
MAX_LINE_BYTES = 1 << 20
_HASH_SUFFIX_LEN = len(',"hash":""}') + 64


def canonical(obj: dict[str, Any]) -> bytes:
    """Canonical JSON: keys sorted at every depth, no whitespace, UTF-8."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def encode(event: Envelope, seq: int, prev: str) -> tuple[bytes, str]:
    """Return the ledger line (with newline) and hash for event at seq chained to prev.

    The hash covers the canonical JSON of the event without its hash field; the line is
    that same JSON with the hash appended as the last key, so verification needs no re-encoding.
    """
    body = event.model_dump(mode="json", exclude={"hash"})
    body["seq"] = seq
    body["prev"] = prev
    try:
        raw = canonical(body)
    except orjson.JSONEncodeError as exc:
        raise EventRejectedError(f"{body.get('type')}: cannot encode: {exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    line = raw[:-1] + b',"hash":"' + digest.encode() + b'"}\n'
    if len(line) > MAX_LINE_BYTES:
        raise EventRejectedError(
            f"{body.get('type')}: line of {len(line)} bytes exceeds {MAX_LINE_BYTES}; "
            "write bulky data to an artifact"
        )
    return line, digest


def split_hash(line: bytes) -> tuple[bytes, str] | None:
    """Split a line (no newline) into its hashed body and stated hash, or None if malformed."""
    if len(line) < _HASH_SUFFIX_LEN or not line.endswith(b'"}'):
        return None
    tail = line[-_HASH_SUFFIX_LEN:]
    if not tail.startswith(b',"hash":"'):
        return None
    return line[:-_HASH_SUFFIX_LEN] + b"}", tail[9:73].decode("ascii", "replace")


def body_hash(body: bytes) -> str:
    """sha256 hex of a canonical body."""
    return hashlib.sha256(body).hexdigest()


def decode(line: bytes) -> Event:
    """Parse a ledger line into its current-version event, upcasting older versions."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise UnknownEventError(f"not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise UnknownEventError("line is not a JSON object")
    obj = upcast(obj)
    try:
        return parse_event(obj)
    except ValidationError as exc:
        raise UnknownEventError(f"seq {obj.get('seq')}: {obj.get('type')} v{obj.get('v')}: {exc}") from exc
