"""Filter and log for anyone's frames: a pandera (polars or pandas) schema given in @stage(contracts=...).

Before the stage runs, each contracted input is validated lazily; rows failing a row-level check are dropped
(each dropped row counted once, under the first check it fails, so kept + dropped = input), one
DataContractChecked per check and one RowsDropped per reason are recorded. A schema-level failure (a missing
column, a wrong dtype: pandera reports it with no row index) stops the stage with a named ContractBreachError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from schemas.events import DataContractCheckedData, JsonScalar, Model, RowsDroppedData
from stages.errors import ContractBreachError
from stages.spec import StageSpec

SAMPLE = 5


def contract_name(spec: StageSpec, field: str, schema: Any) -> str:
    """The schema's own name, else <stage>.<input>."""
    return str(getattr(schema, "name", None) or f"{spec.name}.{field}")


def _is_pandas_schema(schema: Any) -> bool:
    return "pandas" in type(schema).__module__


def _declared_checks(schema: Any) -> list[tuple[str | None, str]]:
    """(column, check) of every check the schema declares, in order: dtype, nullability, column checks, frame checks."""
    out: list[tuple[str | None, str]] = []
    for name, col in (getattr(schema, "columns", None) or {}).items():
        if getattr(col, "dtype", None) is not None:
            out.append((name, f"dtype('{col.dtype}')"))
        if not getattr(col, "nullable", True):
            out.append((name, "not_nullable"))
        out += [(name, str(getattr(c, "error", None) or c.name or c)) for c in getattr(col, "checks", [])]
    out += [(None, str(getattr(c, "error", None) or c.name or c)) for c in getattr(schema, "checks", [])]
    return out


def _failures(schema: Any, frame: pl.DataFrame) -> list[dict[str, Any]]:
    """pandera's failure cases as dicts (empty when the frame passes)."""
    if _is_pandas_schema(schema):
        from pandera.errors import SchemaErrors

        target: Any = frame.to_pandas()
    else:
        from pandera.errors import SchemaErrors

        target = frame
    try:
        schema.validate(target, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        rows = cases.to_dicts() if isinstance(cases, pl.DataFrame) else cases.to_dict("records")
        return [{k: (None if _missing(v) else v) for k, v in r.items()} for r in rows]
    return []


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(value != value)
    except (TypeError, ValueError):
        return False


def check_frame(contract: str, schema: Any, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Model]]:
    """Validate frame against schema: (kept rows, events); raises ContractBreachError on a schema-level failure."""
    total = frame.height
    cases = _failures(schema, frame)
    schema_level = [c for c in cases if c.get("index") is None]
    declared = _declared_checks(schema)
    if schema_level:
        first = schema_level[0]
        what = f"{first.get('check')} on {first.get('column') or 'the frame'} (found {first.get('failure_case')})"
        events: list[Model] = [
            DataContractCheckedData(
                contract=contract,
                tier=1,
                check=str(c.get("check")),
                column=_col(c),
                status="failed",
                failed=total,
                total=total,
                action="stopped",
                sample=[_sample(c)],
            )
            for c in schema_level
        ]
        raise ContractBreachError(contract, what, events)
    by_check: dict[tuple[str | None, str], list[int]] = {}
    for c in cases:
        by_check.setdefault((_col(c), str(c.get("check"))), []).append(int(c["index"]))
    for key in by_check:
        if key not in declared:
            declared.append(key)
    assigned: set[int] = set()
    events = []
    drops: list[Model] = []
    for column, check in declared:
        rows = sorted(set(by_check.get((column, check), [])))
        events.append(
            DataContractCheckedData(
                contract=contract,
                tier=1,
                check=check,
                column=column,
                status="failed" if rows else "passed",
                failed=len(rows),
                total=total,
                action="dropped" if rows else "none",
                sample=[_row(frame, i) for i in rows[:SAMPLE]],
            )
        )
        fresh = [i for i in rows if i not in assigned]
        assigned.update(fresh)
        if fresh:
            drops.append(
                RowsDroppedData(
                    contract=contract, check=check, count=len(fresh), reason=f"{column}: {check}" if column else check
                )
            )
    if not assigned:
        return frame, events
    keep = pl.Series([i not in assigned for i in range(total)], dtype=pl.Boolean)
    return frame.filter(keep), [*events, *drops]


def apply_contracts(spec: StageSpec, frames: Mapping[str, pl.DataFrame]) -> tuple[dict[str, pl.DataFrame], list[Model]]:
    """Every contracted input of spec checked, filtered and logged; the other inputs as they are."""
    out = dict(frames)
    events: list[Model] = []
    for field, schema in spec.contracts.items():
        try:
            out[field], found = check_frame(contract_name(spec, field, schema), schema, out[field])
        except ContractBreachError as exc:
            exc.events = [*events, *exc.events]
            raise
        events += found
    return out, events


def _col(case: Mapping[str, Any]) -> str | None:
    col = case.get("column")
    return None if col is None or col == case.get("schema_context") == "DataFrameSchema" else str(col)


def _sample(case: Mapping[str, Any]) -> dict[str, JsonScalar]:
    return {"failure_case": None if case.get("failure_case") is None else str(case.get("failure_case"))}


def _row(frame: pl.DataFrame, i: int) -> dict[str, JsonScalar]:
    return {
        k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v))
        for k, v in frame.row(i, named=True).items()
    }
