"""Checks an event passes before it is encoded: envelope fields in Python, the payload through its model."""

from __future__ import annotations

import dataclasses
import math
import re
import types
from datetime import datetime
from typing import Annotated, Any, Union, get_args, get_origin

import orjson
from pydantic import BaseModel
from pydantic_core import SchemaValidator

from ledger.errors import EventRejectedError
from schemas.events import EVENT_TYPES, RUN_ID_PATTERN, Envelope

_RUN_ID = re.compile(RUN_ID_PATTERN)
_SCALARS = (str, int, float, bool, type(None), datetime)


#: exact runtime types a strict validator accepts for each plain annotation (JSON numbers: int is a float)
Kinds = tuple[type, ...]
_PLAIN: dict[Any, Kinds] = {str: (str,), int: (int,), float: (float, int), bool: (bool,), type(None): (type(None),)}


@dataclasses.dataclass(frozen=True)
class Spec:
    """What the writer needs to know about one event class."""

    type: str
    version: int
    data_validator: SchemaValidator
    #: a NaN in this payload could be encoded as null and still validate, so look for it first
    nan_prone: bool
    #: field -> accepted exact types, when every field is a plain scalar without constraints (else None)
    plain_fields: dict[str, Kinds] | None = None

    def plainly_valid(self, values: Any) -> bool:
        """True when values (a payload's field dict) certainly pass the model: the writer may skip pydantic.

        False only means "ask pydantic", which gives the verdict and the error message.
        """
        fields = self.plain_fields
        if fields is None or not isinstance(values, dict) or values.keys() != fields.keys():
            return False
        for name, kinds in fields.items():
            value = values[name]
            if type(value) not in kinds or (type(value) is float and not math.isfinite(value)):
                return False
        return True


def _plain_fields(model: type[BaseModel]) -> dict[str, Kinds] | None:
    out: dict[str, Kinds] = {}
    for name, field in model.model_fields.items():
        origin = get_origin(field.annotation)
        parts = get_args(field.annotation) if origin in (Union, types.UnionType) else (field.annotation,)
        if field.metadata or any(part not in _PLAIN for part in parts):
            return None
        out[name] = tuple(kind for part in parts for kind in _PLAIN[part])
    return out


def _nan_prone(tp: Any) -> bool:
    """True when some float in this annotation sits beside None (orjson writes NaN as null)."""
    if tp is Any:
        return True
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return _nan_prone(args[0])
    if origin in (Union, types.UnionType) and float in args and type(None) in args:
        return True
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return any(_nan_prone(f.annotation) for f in tp.model_fields.values())
    return any(_nan_prone(a) for a in args)


def _spec(cls: type[BaseModel]) -> Spec:
    data_cls = cls.model_fields["data"].annotation
    assert isinstance(data_cls, type) and issubclass(data_cls, BaseModel)
    return Spec(
        type=cls.model_fields["type"].default,
        version=cls.model_fields["v"].default,
        data_validator=data_cls.__pydantic_validator__,  # type: ignore[arg-type]
        nan_prone=_nan_prone(data_cls),
        plain_fields=_plain_fields(data_cls),
    )


#: event class -> what the writer checks it against (built once from the catalog)
SPECS: dict[type[Envelope], Spec] = {cls: _spec(cls) for cls in EVENT_TYPES}


def rejected(event: Any, field: str, why: str) -> EventRejectedError:
    """The error for an event refused before anything was written, naming the field."""
    return EventRejectedError(
        f"{getattr(event, 'type', type(event).__name__)}: {field}: {why}; nothing was written", field=field
    )


def check_unrecorded(event: Any, run_ids: set[str]) -> Spec:
    """Check the envelope of an event the ledger has not recorded yet; return its class's spec.

    run_ids holds run ids already found well-formed in this batch (most events of a batch share one).
    """
    spec = SPECS.get(type(event))
    if spec is None:
        raise EventRejectedError(f"not an event: {type(event).__name__}; nothing was written", field="")
    if event.seq is not None or event.prev is not None or event.hash is not None:
        name = next(n for n in ("seq", "prev", "hash") if getattr(event, n) is not None)
        raise rejected(event, name, "is assigned by the ledger and must be unset")
    if event.type != spec.type or event.v != spec.version:
        raise rejected(event, "v", f"{event.type} v{event.v} is not the current {spec.type} v{spec.version}")
    if not isinstance(event.id, str) or not event.id:
        raise rejected(event, "id", "must be a non-empty string")
    if not isinstance(event.ts, datetime):
        raise rejected(event, "ts", f"must be a datetime, got {type(event.ts).__name__}")
    run_id, stage = event.run_id, event.stage
    if run_id is not None and run_id not in run_ids:
        if not isinstance(run_id, str) or _RUN_ID.fullmatch(run_id) is None:
            raise rejected(event, "run_id", f"{run_id!r} is not a run id (YYYYMMDD-HHMMSS-xxxx)")
        run_ids.add(run_id)
    if stage is not None and not isinstance(stage, str):
        raise rejected(event, "stage", f"must be a string or null, got {type(stage).__name__}")
    return spec


def _children(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, BaseModel):
        return [(k, v) for k, v in value.__dict__.items() if k not in ("seq", "prev", "hash")]
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [(str(i), v) for i, v in enumerate(value)]
    return []


def _bad_scalar(value: Any) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return f"{value} does not fit in 64 bits"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"not valid UTF-8 text ({exc.reason} at index {exc.start})"
    if not isinstance(value, (_SCALARS, BaseModel, dict, list, tuple)):
        return f"{type(value).__name__} cannot be written as JSON"
    if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
        return "has a key that is not a string"
    return None


def _first_bad(value: Any, path: str) -> tuple[str, str]:
    why = _bad_scalar(value)
    if why is not None:
        return path, why
    for key, child in _children(value):
        found = _first_bad(child, f"{path}.{key}" if path else key)
        if found[0]:
            return found
    return "", ""


def _size(value: Any) -> int:
    return len(orjson.dumps(value, default=lambda m: m.__dict__ if isinstance(m, BaseModel) else str(m)))


def _biggest(value: Any, path: str) -> str:
    children = _children(value)
    if not children:
        return path
    sizes = [(_size(v), k, v) for k, v in children]
    size, key, child = max(sizes, key=lambda t: t[0])
    if size * 2 < sum(s for s, _, _ in sizes):
        return path
    return _biggest(child, f"{path}.{key}" if path else key)


def locate_bad_value(event: Any, *, biggest: bool = False) -> tuple[str, str]:
    """(dotted field path, why) of the first value that cannot be written faithfully, or of the bulkiest field."""
    if biggest:
        return _biggest(event, ""), "too large"
    return _first_bad(event, "")
