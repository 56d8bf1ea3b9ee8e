"""Canonical JSON lines: encode a checked event with its chain fields, slice chain fields back out, decode."""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, ValidationError

from ledger.checks import SPECS, Spec, check_unrecorded, locate_bad_value, rejected
from ledger.errors import EventRejectedError, UnknownEventError
from ledger.upcasters import upcast
from schemas.events import EVENT_TYPES, Envelope, Event, parse_event

#: longest line the ledger accepts; bulky data belongs in an artifact, not in an event
MAX_LINE_BYTES = 1 << 20
#: `,"hash":"<64 hex>"}` closes every line; the hashed body is the line with that replaced by `}`
HASH_SUFFIX = b',"hash":"'
HASH_SUFFIX_LEN = len(HASH_SUFFIX) + 64 + 2
_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z

#: `"type":"X","v":N` -> class, for every current (type, version): such lines need no upcasting
_CURRENT_TAILS: dict[bytes, type[BaseModel]] = {
    f'"type":"{cls.model_fields["type"].default}","v":{cls.model_fields["v"].default}'.encode(): cls
    for cls in EVENT_TYPES
}


class Prepared(NamedTuple):
    """An event encoded up to its chain fields: the body is head + prev + mid + seq + tail."""

    head: bytes
    mid: bytes
    tail: bytes


def _as_dict(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.__dict__
    raise TypeError(f"{type(obj).__name__} is not JSON")


def canonical(obj: Any) -> bytes:
    """Canonical JSON: keys sorted at every depth, no whitespace, UTF-8, UTC as Z."""
    return orjson.dumps(obj, default=_as_dict, option=_OPTS)


def prepare(event: Any) -> Prepared:
    """Check an unrecorded event and encode everything but seq and prev (which the writer assigns under its lock)."""
    spec = check_unrecorded(event, SPECS)
    env = {
        "data": event.data,
        "id": event.id,
        "prev": "",
        "run_id": event.run_id,
        "seq": 0,
        "stage": event.stage,
        "ts": event.ts,
        "type": spec.type,
        "v": spec.version,
    }
    try:
        raw = canonical(env)
    except TypeError as exc:  # orjson: surrogates, unknown types, nesting too deep
        path, why = locate_bad_value(event)
        raise rejected(event, path or "event", why or str(exc)) from exc
    data_end = raw.rfind(b',"id":')
    _validate_data(event, spec, raw[8:data_end])
    p = raw.rfind(b',"prev":""', data_end) + 9
    s = raw.rfind(b',"seq":0,', p) + 7
    prepared = Prepared(raw[:p], raw[p:s], raw[s + 1 :])
    size = len(raw) + 64 + HASH_SUFFIX_LEN + 20
    if size > MAX_LINE_BYTES:
        path, _ = locate_bad_value(event, biggest=True)
        raise rejected(event, path, f"line of ~{size} bytes exceeds the {MAX_LINE_BYTES}-byte limit; write bulky data to an artifact")
    return prepared


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


def seal(prepared: Prepared, seq: int, prev: str) -> tuple[bytes, str]:
    """The finished line (with newline) and its hash, for a prepared event at seq chained to prev."""
    body = b"".join((prepared.head, prev.encode(), prepared.mid, b"%d" % seq, prepared.tail))
    digest = hashlib.sha256(body).hexdigest()
    return b"".join((body[:-1], HASH_SUFFIX, digest.encode(), b'"}\n')), digest


def encode(event: Envelope, seq: int, prev: str) -> tuple[bytes, str]:
    """Return the ledger line (with newline) and hash for one event at seq chained to prev."""
    return seal(prepare(event), seq, prev)


def split_hash(line: bytes) -> tuple[bytes, str] | None:
    """Split a line (no newline) into its hashed body and stated hash, or None if malformed."""
    if len(line) < HASH_SUFFIX_LEN or not line.endswith(b'"}') or line[-HASH_SUFFIX_LEN:-66] != HASH_SUFFIX:
        return None
    return line[:-HASH_SUFFIX_LEN] + b"}", line[-66:-2].decode("ascii", "replace")


def body_hash(body: bytes) -> str:
    """sha256 hex of a canonical body."""
    return hashlib.sha256(body).hexdigest()


def chain_fields(line: bytes) -> tuple[int, bytes, bytes] | None:
    """(seq, prev, stated hash) sliced from a line without decoding it, or None if it is not shaped like one.

    Keys are sorted and every top-level key after `prev` holds a scalar, so the last `,"prev":"`
    and `,"seq":` in the body are the top-level ones (a JSON string cannot hold an unescaped quote).
    """
    end = len(line) - HASH_SUFFIX_LEN
    if end < 8 or line[end : end + 9] != HASH_SUFFIX or not line.endswith(b'"}'):
        return None
    p = line.rfind(b',"prev":"', 0, end)
    s = line.rfind(b',"seq":', p, end)
    t = line.find(b',"stage":', s, end)
    if p < 0 or s < 0 or t < 0 or line[p + 73 : p + 84] != b'","run_id":':
        return None
    try:
        seq = int(line[s + 7 : t])
    except ValueError:
        return None
    return seq, line[p + 9 : p + 73], line[end + 9 : end + 73]


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
        raise UnknownEventError(f"seq {obj.get('seq')}: {obj.get('type')} v{obj.get('v')}: {where}: {err['msg']}") from exc


__all__ = [
    "HASH_SUFFIX_LEN",
    "MAX_LINE_BYTES",
    "EventRejectedError",
    "Prepared",
    "body_hash",
    "canonical",
    "chain_fields",
    "decode",
    "encode",
    "prepare",
    "seal",
    "split_hash",
]
