"""The structured diff of two runs' states: what changed, section by section, and where the runs first diverge."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from projectors.runs.state import RunState, load_state, open_view
from schemas.context import check_run_id
from schemas.events import Model

#: sections reported but never a difference (bin/diff exits 0 when only they differ)
EXECUTION = "execution"
SECTIONS = (
    "status",
    "code_version",
    "config",
    "params",
    "inputs",
    "stages",
    "contracts",
    "drops",
    "metrics",
    "tags",
    EXECUTION,
)
HIGHER_IS_BETTER = frozenset(
    {
        "sharpe",
        "sortino",
        "cagr",
        "calmar",
        "hit_rate",
        "final_equity",
        "total_return",
        "alpha",
        "information_ratio",
        "equity",
    }
)
LOWER_IS_BETTER = frozenset({"volatility", "turnover", "total_cost", "tracking_error"})
SMALLER_MAGNITUDE_IS_BETTER = frozenset({"max_drawdown"})  # reported positive or negative, less is better
Verdict = Literal["better", "worse", "changed"]


class Change(Model):
    """One compared item: a's and b's values; for metrics the delta and verdict, for drops the keys added/removed."""

    section: str
    key: str
    a: Any = None
    b: Any = None
    same: bool = False
    delta: float | None = None
    rel_delta: float | None = None
    verdict: Verdict | None = None
    added: list[str] = []
    removed: list[str] = []
    note: str | None = None


class RunDiff(Model):
    """Run b compared with run a."""

    run_a: str
    run_b: str
    first_divergent_stage: str | None = None
    changes: list[Change] = []

    @property
    def differs(self) -> bool:
        """True when anything differs."""
        return any(not c.same for c in self.changes if c.section != EXECUTION)

    def section(self, name: str) -> list[Change]:
        """The items of one section, in order."""
        return [c for c in self.changes if c.section == name]

    def text(self) -> str:
        """Human-readable, one section heading per section with items."""
        head = f"--- {self.run_a}\n+++ {self.run_b}"
        if not self.differs:
            return head + "\nno differences" + _body(self)
        return head + _body(self)


def _body(d: RunDiff) -> str:
    out: list[str] = []
    for name in SECTIONS:
        items = d.section(name)
        if not items:
            continue
        title = (
            name
            if name != "stages" or not d.first_divergent_stage
            else f"stages (first divergence: {d.first_divergent_stage})"
        )
        out.append(title)
        out += [f"  {'=' if c.same else '~'} {_line(c)}" for c in items]
    return "\n" + "\n".join(out) if out else ""


def _line(c: Change) -> str:
    text = f"{c.key}: {_show(c.a)} -> {_show(c.b)}" if not c.same else f"{c.key}: {_show(c.a)}"
    if c.delta is not None:
        rel = f", {c.rel_delta:+.1%}" if c.rel_delta is not None else ""
        text += f"  ({c.delta:+.6g}{rel}{', ' + c.verdict if c.verdict else ''})"
    if c.added:
        text += f"  +{len(c.added)} rows: {', '.join(c.added[:5])}{' …' if len(c.added) > 5 else ''}"
    if c.removed:
        text += f"  -{len(c.removed)} rows: {', '.join(c.removed[:5])}{' …' if len(c.removed) > 5 else ''}"
    return text + (f"  [{c.note}]" if c.note else "")


def _show(value: Any) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, str) and len(value) == 64 and all(ch in "0123456789abcdef" for ch in value):
        return value[:12]
    if isinstance(value, dict) and {"status", "failed", "total", "action"} <= set(value):
        return f"{value['status']} {value['failed']}/{value['total']} (action {value['action']})"
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


# ------------------------------------------------------------------ comparing


def diff_states(a: RunState, b: RunState, *, include_same: bool = False) -> RunDiff:
    """Compare every section of a with b; keep only differences unless include_same."""
    mine, theirs = _stage_outputs(a), _stage_outputs(b)
    changes = [
        *_pairs("status", {"status": a.status}, {"status": b.status}),
        *_pairs("code_version", _code(a), _code(b)),
        *_pairs("config", _config(a), _config(b)),
        *_pairs("params", a.params, b.params),
        *_pairs("inputs", a.inputs, b.inputs),
        *_stage_changes(mine, theirs),
        *_pairs("contracts", _dumped(a.contracts), _dumped(b.contracts)),
        *_drop_changes(a, b),
        *_metric_changes(a, b),
        *_pairs("tags", a.tags, b.tags),
        *(c.model_copy(update={"note": "execution detail"}) for c in _pairs(EXECUTION, a.execution, b.execution)),
    ]
    kept = [c for c in changes if include_same or not c.same]
    return RunDiff(run_a=a.run_id, run_b=b.run_id, first_divergent_stage=_first_divergent(mine, theirs), changes=kept)


def _pairs(section: str, a: dict[str, Any], b: dict[str, Any]) -> Iterator[Change]:
    for key in _keys(a, b):
        yield Change(
            section=section,
            key=key,
            a=a.get(key),
            b=b.get(key),
            same=a.get(key) == b.get(key) and (key in a) == (key in b),
        )


def _keys(a: Iterable[str], b: Iterable[str]) -> list[str]:
    """a's keys in order, then b's new ones."""
    return list(dict.fromkeys([*a, *b]))


def _code(s: RunState) -> dict[str, Any]:
    return {"git_sha": s.git_sha, "git_dirty": s.git_dirty, **{f"package {k}": v for k, v in s.packages.items()}}


def _config(s: RunState) -> dict[str, Any]:
    return {"pipeline": s.pipeline, "profile": s.profile, "config_hash": s.config_hash}


def _dumped(items: Mapping[str, Model]) -> dict[str, Any]:
    return {k: v.model_dump() for k, v in items.items()}


def _stage_outputs(s: RunState) -> dict[str, dict[str, Any]]:
    return {st.name: {"status": st.status, **st.outputs} for st in s.stages}


def _first_divergent(mine: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]) -> str | None:
    return next((name for name in _keys(mine, theirs) if mine.get(name) != theirs.get(name)), None)


def _stage_changes(mine: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]) -> Iterator[Change]:
    """Per stage (of _stage_outputs), its status and each output hash."""
    for stage in _keys(mine, theirs):
        x, y = mine.get(stage, {}), theirs.get(stage, {})
        for field in _keys(x, y):
            key = f"{stage} {field}" if field == "status" else f"{stage} -> {field}"
            yield Change(section="stages", key=key, a=x.get(field), b=y.get(field), same=x.get(field) == y.get(field))


def _drop_changes(a: RunState, b: RunState) -> Iterator[Change]:
    for key in _keys(a.drops, b.drops):
        x, y = a.drops.get(key), b.drops.get(key)
        kx, ky = set(x.keys if x else []), set(y.keys if y else [])
        moved = x is not None and y is not None and x.artifact != y.artifact
        yield Change(
            section="drops",
            key=key,
            a=x.count if x else None,
            b=y.count if y else None,
            same=x == y,
            added=sorted(ky - kx),
            removed=sorted(kx - ky),
            note=f"dropped keys in artifacts {_show(x.artifact)} -> {_show(y.artifact)}" if moved and x and y else None,
        )


def _metric_changes(a: RunState, b: RunState) -> Iterator[Change]:
    for key in _keys(a.metrics, b.metrics):
        yield _metric(key, a.metrics.get(key), b.metrics.get(key))
    for key in _keys(a.series, b.series):
        x, y = a.series.get(key, {}), b.series.get(key, {})
        steps = set(x) | set(y)
        differing = sum(1 for s in steps if x.get(s) != y.get(s))
        change = _metric(f"{key} (series, last)", _last(x), _last(y), kind=key)
        yield change.model_copy(
            update={"same": differing == 0, "note": f"{differing} of {len(steps)} steps differ" if differing else None}
        )


def _last(series: dict[int, float]) -> float | None:
    return series[max(series)] if series else None


def _metric(key: str, x: float | None, y: float | None, kind: str | None = None) -> Change:
    if x is None or y is None or x == y:
        return Change(section="metrics", key=key, a=x, b=y, same=x == y)
    delta = y - x
    rel = delta / abs(x) if x != 0 else None
    return Change(section="metrics", key=key, a=x, b=y, delta=delta, rel_delta=rel, verdict=verdict(kind or key, x, y))


def verdict(key: str, a: float, b: float) -> Verdict:
    """Whether b is better or worse than a for this metric (by its base name before any @asset)."""
    base = key.split("@")[0]
    if base in SMALLER_MAGNITUDE_IS_BETTER:
        return "better" if abs(b) < abs(a) else "worse" if abs(b) > abs(a) else "changed"
    if base in HIGHER_IS_BETTER:
        return "better" if b > a else "worse"
    if base in LOWER_IS_BETTER:
        return "better" if b < a else "worse"
    return "changed"


def diff_runs(home: Path, run_a: str, run_b: str, *, include_same: bool = False, seq: int | None = None) -> RunDiff:
    """Diff run_a against run_b from one consistent view of the projection (now, or right after seq)."""
    check_run_id(run_a)
    check_run_id(run_b)
    con = open_view(home, seq)
    try:
        return diff_states(load_state(con, run_a), load_state(con, run_b), include_same=include_same)
    finally:
        con.close()
