"""Canonical JSON lines: encode a checked event with its chain fields, slice chain fields back out, decode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from ledger.chain import HASH_SUFFIX, HASH_SUFFIX_LEN, chain_fields
from ledger.checks import SPECS, Spec, check_unrecorded, locate_bad_value, rejected
from ledger.errors import UnknownEventError
from ledger.upcasters import upcast
from schemas.events import Envelope, Event, parse_event

#: longest line the ledger accepts; bulky data belongs in an artifact, not in an event
MAX_LINE_BYTES = 1 << 20
_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z
_ZERO = timedelta(0)

#: `"type":"X","v":N` -> class, for every current (type, version): such lines need no upcasting
_CURRENT_TAILS: dict[bytes, type[BaseModel]] = {
    f'"type":"{s.type}","v":{s.version}'.encode(): cls for cls, s in SPECS.items()
}


def _as_dict(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.__dict__
    raise TypeError(f"{type(obj).__name__} is not JSON")


def canonical(obj: Any) -> bytes:
    """Canonical JSON: keys sorted at every depth, no whitespace, UTF-8, UTC as Z."""
    return orjson.dumps(obj, default=_as_dict, option=_OPTS)


def check_batch(events: list[Any]) -> list[Spec]:
    """Check the envelopes of unrecorded events (cheap, before the writer's lock); return their specs."""
    run_ids: set[str] = set()
    return [check_unrecorded(event, run_ids) for event in events]


def encode_batch(events: list[Any], specs: list[Spec], seq: int, prev: str) -> tuple[bytearray, list[str]]:
    """The lines (one buffer) and hashes of events chained after (seq, prev); raises before returning on a bad one.

    Each line is the canonical JSON of the event without its hash, with `,"hash":"<hex>"` added as the
    last key, so verification hashes the raw bytes without re-encoding. The payload is validated from
    those very bytes (or, for payloads of plain scalar fields, by exact type checks that accept
    a subset of what the model accepts), so every line written is one the reader accepts.
    """
    out, hashes = bytearray(), []
    for event, spec in zip(events, specs):
        seq += 1
        data = event.data
        values = data.__dict__ if isinstance(data, BaseModel) else data
        env = {
            "data": values,
            "id": event.id,
            "prev": prev,
            "run_id": event.run_id,
            "seq": seq,
            "stage": event.stage,
            "ts": event.ts if event.ts.utcoffset() == _ZERO else _in_utc(event),
            "type": spec.type,
            "v": spec.version,
        }
        try:
            raw = canonical(env)
        except TypeError as exc:  # orjson: surrogates, unknown types, nesting too deep
            path, why = locate_bad_value(event)
            raise rejected(event, path or "event", why or str(exc)) from exc
        if not spec.plainly_valid(values):
            _validate_data(event, spec, raw[8 : raw.rfind(b',"id":')])
        if len(raw) + HASH_SUFFIX_LEN > MAX_LINE_BYTES:
            path, _ = locate_bad_value(event, biggest=True)
            why = f"line of {len(raw) + HASH_SUFFIX_LEN} bytes exceeds the {MAX_LINE_BYTES}-byte limit; write bulky data to an artifact"
            raise rejected(event, path, why)
        prev = sha256(raw).hexdigest()
        hashes.append(prev)
        out += raw
        del out[-1]
        out += HASH_SUFFIX
        out += prev.encode()
        out += b'"}\n'

    return out, hashes


def _in_utc(event: Any) -> datetime:
    """The event's ts in UTC (the ledger writes every ts with Z); a ts without a zone names no instant, so it is refused."""
    ts: datetime = event.ts
    if ts.utcoffset() is None:
        raise rejected(event, "ts", f"{ts.isoformat()} has no time zone; give an aware datetime (UTC)")
    return ts.astimezone(UTC)


def _validate_data(event: Any, spec: Spec, data: bytes) -> None:
    if spec.nan_prone:
        path, why = locate_bad_value(event)
        if path:
            raise rejected(event, path, why)
    try:
        spec.data_validator.validate_json(data, strict=True)
    except ValidationError as exc:
        path, why = locate_bad_value(event)
        if not path:
            err = exc.errors()[0]
            path, why = "data." + ".".join(str(p) for p in err["loc"]), err["msg"]
        raise rejected(event, path.rstrip("."), why) from exc


def encode(event: Envelope, seq: int, prev: str) -> tuple[bytes, str]:
    """Return the ledger line (with newline) and hash for one event at seq chained to prev."""
    out, hashes = encode_batch([event], check_batch([event]), seq - 1, prev)
    return bytes(out), hashes[0]


def decode(line: bytes) -> Event:
    """Parse a ledger line into its current-version event, upcasting older versions."""
    end = len(line) - HASH_SUFFIX_LEN
    cls = _CURRENT_TAILS.get(line[line.rfind(b'"type":"', 0, end) : end])
    if cls is not None:
        try:
            return cls.model_validate_json(line)  # type: ignore[return-value]
        except ValidationError:
            pass  # fall through for the error message
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
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise UnknownEventError(
            f"seq {obj.get('seq')}: {obj.get('type')} v{obj.get('v')}: {where}: {err['msg']}"
        ) from exc


__all__ = [
    "HASH_SUFFIX",
    "HASH_SUFFIX_LEN",
    "MAX_LINE_BYTES",
    "canonical",
    "chain_fields",
    "check_batch",
    "decode",
    "encode",
    "encode_batch",
]
