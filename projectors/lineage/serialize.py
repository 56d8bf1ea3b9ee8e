"""A fast, equivalent stand-in for openlineage-python's `Serde.to_dict` / `Serde.to_json` on its attrs models.

`Serde.to_dict` is `attr.asdict` followed by a walk that turns enums into their values, dates into ISO strings
and UUIDs into str, drops None values from dicts, and drops None and {} elements from lists. It walks every
object twice through generic, per-call dispatch; on a replay it was most of the time spent. `to_dict` below does
the same in one walk with the attribute names of each attrs class looked up once (a per-type cache), and
`to_json` writes it with orjson, keys sorted as Serde's `json.dumps(sort_keys=True)` does. The output is
JSON-equal to `Serde.to_json` (tests/projectors/lineage/test_serialize.py checks every event kind the projector
emits): orjson writes no spaces after separators and non-ASCII as UTF-8 rather than \\u escapes. A value orjson
cannot write (an int beyond 64 bits, a type Serde would label "<<non-serializable: ...>>") falls back to the
standard library with Serde's own default, so nothing is lost or written differently in meaning.

Imports no openlineage (only attrs, which the openlineage client depends on): the shape is attrs' own.
"""

from __future__ import annotations

import datetime
import json
import uuid
from enum import Enum
from typing import Any

import orjson

_PLAIN = (str, int, float, bool)
#: type -> its attrs attribute names in definition order (attr.asdict's order), or False for a type not attrs
_FIELDS: dict[type, tuple[str, ...] | bool] = {}


def _fields(cls: type) -> tuple[str, ...] | bool:
    attrs = getattr(cls, "__attrs_attrs__", None)
    names = _FIELDS[cls] = False if attrs is None else tuple(a.name for a in attrs)
    return names


class Serializer:
    """`Serde.to_dict` / `Serde.to_json`, fast; objects given to `remember` are converted once and reused.

    A replay shares some model objects between many events (a run's parent facet, its source datasets, a job):
    `remember(obj)` keeps obj's converted form until `forget(obj)`. The memo holds obj itself, so its id cannot be
    reused while remembered; a remembered object must not be changed (the projector builds them once, then only
    reads them).
    """

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Any, Any]] = {}

    def remember(self, obj: Any) -> None:
        self._memo[id(obj)] = (obj, None)

    def forget(self, obj: Any) -> None:
        self._memo.pop(id(obj), None)

    def __len__(self) -> int:
        return len(self._memo)

    def to_json(self, obj: Any) -> bytes:
        """One event as JSON bytes (no newline), JSON-equal to `Serde.to_json(obj)`."""
        plain = self.to_dict(obj)
        try:
            return orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)
        except (orjson.JSONEncodeError, TypeError):
            return json.dumps(plain, sort_keys=True, default=_non_serializable).encode()

    def to_dict(self, obj: Any) -> Any:
        """What `Serde.to_dict(obj)` returns, for an attrs object, a dict, a list or a scalar."""
        cls = type(obj)
        if cls is str or cls is int or cls is float or cls is bool or obj is None:
            return obj
        names = _FIELDS.get(cls)
        if names is None:
            names = _fields(cls)
        if names is not False:  # an attrs instance: asdict, then drop None values
            memo = self._memo
            if memo:
                hit = memo.get(id(obj))
                if hit is not None and hit[0] is obj:
                    if hit[1] is None:
                        memo[id(obj)] = hit = (obj, self._attrs(obj, names))
                    return hit[1]
            return self._attrs(obj, names)
        if isinstance(obj, Enum):
            return obj.value
        if isinstance(obj, dict):
            out = {}
            for key, value in obj.items():
                kind = type(value)
                if not (kind is str or kind is int or kind is float or kind is bool):
                    value = self.to_dict(value)
                if value is not None:
                    out[key] = value
            return out
        if isinstance(obj, (list, tuple, set, frozenset)):  # asdict makes every such collection a list
            items = []
            for value in obj:
                if value is None:
                    continue
                value = self.to_dict(value)
                if value is None or (isinstance(value, dict) and not value):
                    continue
                items.append(value)
            return items
        if isinstance(obj, datetime.date):
            return obj.isoformat()
        if isinstance(obj, uuid.UUID):
            return str(obj)
        if isinstance(obj, _PLAIN):  # a subclass of a plain type (not an enum): as is, like Serde
            return obj
        if cls.__name__ == "int64":  # numpy.int64, as Serde does
            return int(obj)
        return obj

    def _attrs(self, obj: Any, names: Any) -> dict[str, Any]:
        out = {}
        for name in names:
            value = getattr(obj, name)
            if value is None:
                continue
            kind = type(value)
            if kind is str or kind is int or kind is float or kind is bool:  # the common leaf, without a call
                out[name] = value
                continue
            value = self.to_dict(value)
            if value is not None:
                out[name] = value
        return out


_DEFAULT = Serializer()


def to_dict(obj: Any) -> Any:
    """What `Serde.to_dict(obj)` returns (no memo)."""
    return _DEFAULT.to_dict(obj)


def to_json(obj: Any) -> bytes:
    """One event as JSON bytes (no newline), JSON-equal to `Serde.to_json(obj)` (no memo)."""
    return _DEFAULT.to_json(obj)


def _non_serializable(o: object) -> str:
    return f"<<non-serializable: {type(o).__qualname__}>>"
