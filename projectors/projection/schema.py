"""DuckDB column types derived from the event models: the staging spec, table DDL and per-type inserts."""

from __future__ import annotations

import dataclasses
import re
import types
from datetime import datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import orjson
from pydantic import BaseModel

from schemas.events import EVENT_TYPES, Envelope

SCHEMA = "ledger"
#: envelope fields every per-type table starts with (prev/hash stay in the ledger; the checkpoint keeps the head)
ENVELOPE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "BIGINT NOT NULL"),
    ("id", "VARCHAR NOT NULL"),
    ("ts", "TIMESTAMP NOT NULL"),
    ("run_id", "VARCHAR"),
    ("stage", "VARCHAR"),
)


@dataclasses.dataclass(frozen=True)
class Scalar:
    """A DuckDB scalar type such as BIGINT or JSON."""

    sql: str

    def render(self) -> str:
        return self.sql


@dataclasses.dataclass(frozen=True)
class ListOf:
    """A DuckDB LIST of one element type."""

    elem: DType

    def render(self) -> str:
        return f"{self.elem.render()}[]"


@dataclasses.dataclass(frozen=True)
class MapOf:
    """A DuckDB MAP."""

    key: DType
    value: DType

    def render(self) -> str:
        return f"MAP({self.key.render()}, {self.value.render()})"


@dataclasses.dataclass(frozen=True)
class StructOf:
    """A DuckDB STRUCT with named, ordered fields."""

    fields: tuple[tuple[str, DType], ...]

    def render(self) -> str:
        return "STRUCT(" + ", ".join(f"{quote(n)} {t.render()}" for n, t in self.fields) + ")"


DType = Union[Scalar, ListOf, MapOf, StructOf]  # noqa: UP007 - a runtime alias inspected with get_origin
JSON = Scalar("JSON")
_SCALARS: dict[Any, str] = {str: "VARCHAR", int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN", datetime: "TIMESTAMP"}


def quote(name: str) -> str:
    """A DuckDB identifier, always quoted (check, count, key, value … are SQL words)."""
    return '"' + name.replace('"', '""') + '"'


def dtype_of(annotation: Any) -> DType:
    """The DuckDB type for a Pydantic field annotation."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return dtype_of(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return dtype_of(options[0]) if len(options) == 1 else JSON
    if origin is Literal:
        kinds = {type(v) for v in get_args(annotation)}
        return Scalar(_SCALARS[kinds.pop()]) if len(kinds) == 1 else JSON
    if origin is list:
        return ListOf(dtype_of(get_args(annotation)[0]))
    if origin is dict:
        key, value = get_args(annotation)
        return MapOf(dtype_of(key), dtype_of(value))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_struct(annotation)
    if annotation in _SCALARS:
        return Scalar(_SCALARS[annotation])
    raise TypeError(f"no DuckDB type for annotation {annotation!r}")


def model_struct(model: type[BaseModel]) -> StructOf:
    """A STRUCT with one field per model field, in declaration order."""
    return StructOf(tuple((name, dtype_of(f.annotation)) for name, f in model.model_fields.items()))


@dataclasses.dataclass(frozen=True)
class EventTable:
    """One typed table per event type: envelope columns, then one column per payload field."""

    type_name: str
    table: str
    payload: StructOf
    required: frozenset[str] = frozenset()

    def columns(self) -> list[tuple[str, str]]:
        payload = (
            (column_name(n), t.render() + (" NOT NULL" if n in self.required else "")) for n, t in self.payload.fields
        )
        return [*ENVELOPE_COLUMNS, *payload]

    def ddl(self) -> str:
        cols = ", ".join(f"{quote(n)} {t}" for n, t in self.columns())
        return f"CREATE TABLE {SCHEMA}.{quote(self.table)} ({cols})"

    def insert_from(self, staging: str) -> str:
        """INSERT … SELECT of this type's rows from the staging relation (ts as text, data as JSON text).

        A rebuild and a catch-up both end here, so they type every value with the same SQL. json_transform
        maps absent keys (fields added later with a default) and values that do not convert (an integer
        beyond BIGINT) to NULL; NOT NULL then refuses a required field left empty. The writer has already
        validated every payload against its model, so the latter cannot come from the ledger writer.
        """
        shape = orjson.dumps({n: t.render() for n, t in self.payload.fields}).decode().replace("'", "''")
        payload = ", ".join(f"p.{quote(n)}" for n, _ in self.payload.fields)
        return (
            f"INSERT INTO {SCHEMA}.{quote(self.table)} SELECT seq, id, {TS_AS_UTC}, run_id, stage, {payload} "
            f"FROM (SELECT *, json_transform(data, '{shape}') AS p FROM {staging} WHERE type = '{self.type_name}')"
        )


#: the staged ts text as a UTC TIMESTAMP: the writer always writes Z, but a line with an explicit
#: offset (+02:00) is an instant too and must not be stored as its local wall time
TS_AS_UTC = (
    "CASE WHEN ts[-6] IN ('+', '-') THEN timezone('UTC', CAST(ts AS TIMESTAMPTZ)) ELSE CAST(ts AS TIMESTAMP) END"
)


def column_name(field: str) -> str:
    """Payload field name as a column, prefixed when it would collide with an envelope column."""
    return f"data_{field}" if field in dict(ENVELOPE_COLUMNS) else field


def snake(name: str) -> str:
    """RunStarted -> run_started."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def event_tables(catalog: tuple[type[Envelope], ...] = EVENT_TYPES) -> list[EventTable]:
    """The typed table of every event type in the catalog."""
    out = []
    for cls in catalog:
        type_name = cls.model_fields["type"].default
        data_model = cls.model_fields["data"].annotation
        assert isinstance(data_model, type) and issubclass(data_model, BaseModel)
        required = frozenset(
            n for n, f in data_model.model_fields.items() if f.is_required() and not _admits_none(f.annotation)
        )
        out.append(EventTable(type_name, snake(type_name), model_struct(data_model), required))
    return out


def _admits_none(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _admits_none(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(a is type(None) or _admits_none(a) for a in get_args(annotation))
    return annotation is type(None) or annotation is Any


def staging_columns() -> dict[str, str]:
    """The explicit read_ndjson column spec of the staging relation: envelope, type, version, hash and data as text.

    Typing happens per event type afterwards (EventTable.insert_from), so the reader only splits lines.
    """
    return dict(STAGING_COLUMNS)


#: the staging table's columns: the reader splits each line into these, typing comes after (insert_from)
STAGING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "BIGINT"),
    ("id", "VARCHAR"),
    ("ts", "VARCHAR"),
    ("type", "VARCHAR"),
    ("v", "INTEGER"),
    ("run_id", "VARCHAR"),
    ("stage", "VARCHAR"),
    ("hash", "VARCHAR"),
    ("data", "VARCHAR"),
)
