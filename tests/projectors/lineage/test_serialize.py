"""The fast serializer equals openlineage-python's Serde on every event kind the projector emits, and on the edges."""

from __future__ import annotations

import datetime
import enum
import json
import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import attr
import pytest
from openlineage.client.serde import Serde

from ledger import LEDGER_NAME, Ledger, read_events
from projectors.lineage.mapping import Fold
from projectors.lineage.serialize import Serializer, to_dict, to_json
from projectors.registry import open_model
from schemas.events import RunCompletedData, StageCompletedData, envelope
from tests.projectors.lineage.test_openlineage import lineage_home
from tests.support.openlineage_kit import read_jsonl, validate
from tests.support.readmodel_contract import contract_run


def _kind(event: Any) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """What distinguishes the events the projector emits: type, job kind, run facets, dataset facets."""
    run_facets = tuple(sorted(event.run.facets))
    ds = sorted(
        {f"{side}.{k}" for side in ("inputs", "outputs") for d in getattr(event, side) for k in (d.facets or {})}
        | {f"in.{k}" for d in event.inputs for k in (d.inputFacets or {})}
        | {f"out.{k}" for d in event.outputs for k in (d.outputFacets or {})}
    )
    return event.eventType.value, event.job.facets["jobType"].jobType, run_facets, tuple(ds)


def _failed(status: str) -> list[Any]:
    """A run that ends with `status` (preflight_failed, postflight_failed)."""
    events = contract_run(1)
    events[-1] = envelope(
        RunCompletedData(status=status, duration_s=1.0, error="x"), run_id=events[0].run_id, ts=events[-1].ts
    )
    return events


@pytest.fixture
def corpus(tmp_path: Path, two_runs: Path) -> list[Path]:
    """Homes whose ledgers make the projector emit every kind of event it has."""
    ledgers = {
        "preflight_failed": _failed("preflight_failed"),
        "postflight_failed": _failed("postflight_failed"),
        # a stage the run never ended: its terminal FAIL comes from the RunCompleted
        "open-stage": [e for e in contract_run(2) if not isinstance(e.data, StageCompletedData)],
    }
    homes = [lineage_home(tmp_path / "lineage"), two_runs]
    for name, events in ledgers.items():
        home = tmp_path / name
        home.mkdir()
        with Ledger.open(home) as ledger:
            ledger.append(events)
        homes.append(home)
    return homes


def _fold_events(home: Path, serializer: Serializer | None) -> list[tuple[Any, bytes | None]]:
    """(event, its fast JSON at emission time) for every event the fold emits, converted as the file sink does."""
    fold = Fold(home, serializer=serializer)
    out = []
    for event in read_events(home / LEDGER_NAME):
        for ol in fold.apply(event):
            out.append((ol, serializer.to_json(ol) if serializer is not None else None))
    return out


def test_equal_to_serde_for_every_event_kind_the_projector_emits(corpus: list[Path]) -> None:
    kinds: Counter[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = Counter()
    checked = 0
    for home in corpus:
        serializer = Serializer()  # with the memo, exactly as a replay uses it
        for event, fast in _fold_events(home, serializer):
            slow = Serde.to_json(event)
            assert json.loads(fast) == json.loads(slow)
            assert to_dict(event) == Serde.to_dict(event)  # without the memo too
            assert json.loads(to_json(event)) == json.loads(slow)
            kinds[_kind(event)] += 1
            checked += 1
    seen = {(t, j) for t, j, _, _ in kinds}
    assert seen == {("START", "PIPELINE"), ("START", "STAGE"), ("COMPLETE", "PIPELINE"), ("COMPLETE", "STAGE")} | {
        ("FAIL", "PIPELINE"),
        ("FAIL", "STAGE"),
    }
    run_facets = {f for _, _, facets, _ in kinds for f in facets}
    assert run_facets == {"ledgerline", "parent", "errorMessage", "ledgerlineRowsDropped"}
    dataset_facets = {f for _, _, _, ds in kinds for f in ds}
    assert {
        "inputs.version",
        "inputs.schema",
        "outputs.schema",
        "in.dataQualityMetrics",
        "in.dataQualityAssertions",
        "out.outputStatistics",
    } <= dataset_facets
    assert checked > 40


def test_the_file_the_replay_writes_is_serde_line_for_line_and_valid(corpus: list[Path]) -> None:
    for home in corpus:
        open_model("openlineage", home).catch_up()
        written = read_jsonl(home / "openlineage.jsonl")
        assert written == [json.loads(Serde.to_json(e)) for e, _ in _fold_events(home, None)]
        validate(written)


def test_the_memo_is_released_when_a_run_ends(corpus: list[Path]) -> None:
    serializer = Serializer()
    fold = Fold(corpus[0], serializer=serializer)
    sizes = []
    for event in read_events(corpus[0] / LEDGER_NAME):
        for ol in fold.apply(event):
            serializer.to_json(ol)
        sizes.append(len(serializer))
    assert max(sizes) > len(fold._jobs)  # a run's shared facets and datasets were remembered while it was open
    assert not fold.runs and len(serializer) == len(fold._jobs)  # only the jobs (one per job name) stay


class Color(enum.Enum):
    RED = "red"
    NONE = None


@attr.define
class Leaf:
    a: Any = None
    b: Any = None


@attr.define
class Empty:
    pass


@attr.define
class Node:
    _private: Any = None
    items: Any = attr.field(factory=list)
    mapping: Any = attr.field(factory=dict)


@pytest.mark.parametrize(
    "obj",
    [
        Node(items=[None, Leaf(), Leaf(a=1), {}, {"x": None}, [], Empty()], mapping={"k": Leaf(), "n": None}),
        Node(private=Color.RED, items=(Leaf(a=Color.NONE, b="é ✓ \u2028"), {1, 2}), mapping={"e": Empty()}),
        Node(items=[datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC), datetime.date(2026, 3, 1)]),
        Node(items=[uuid.UUID(int=7), 1.5, -0.0, 1e300, True, False, 0, "", "\x00"]),
        Node(mapping={"big": 2**70, "neg": -(2**64)}),  # beyond orjson's 64-bit ints: the stdlib fallback
        Node(mapping={"odd": object(), "path": Path("/x")}),  # Serde's non-serializable label
        Node(mapping={"plain": [Leaf(a={"deep": [None, Leaf(b=2)]})]}),
    ],
)
def test_equal_to_serde_on_the_edges(obj: Any) -> None:
    assert to_dict(obj) == Serde.to_dict(obj)
    assert json.loads(to_json(obj)) == json.loads(Serde.to_json(obj))


def test_a_remembered_object_is_converted_once_and_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    serializer = Serializer()
    shared = Leaf(a=1, b=[Leaf(a=2)])
    serializer.remember(shared)
    first = serializer.to_dict(Node(items=[shared]))
    calls = []
    real = serializer._attrs
    monkeypatch.setattr(serializer, "_attrs", lambda obj, names: calls.append(obj) or real(obj, names))
    assert serializer.to_dict(Node(items=[shared, shared])) == Serde.to_dict(Node(items=[shared, shared]))
    assert not any(c is shared for c in calls) and first["items"] == [Serde.to_dict(shared)]
    serializer.forget(shared)
    assert len(serializer) == 0
    serializer.to_dict(shared)
    assert any(c is shared for c in calls)  # converted again once forgotten


def test_artifact_paths_resolve_as_path_resolve_does(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "artifacts").mkdir(parents=True)
    home = tmp_path / "home"
    home.mkdir()
    (home / "artifacts").symlink_to(real / "artifacts")  # a symlinked folder
    (real / "artifacts" / "a.parquet").write_bytes(b"x")
    (real / "elsewhere.parquet").write_bytes(b"y")
    os.symlink(real / "elsewhere.parquet", real / "artifacts" / "b.parquet")  # a symlinked file
    fold = Fold(home)
    for rel in ("artifacts/a.parquet", "artifacts/b.parquet", "artifacts/missing.json", "artifacts/../x", "."):
        assert fold.files.resolve(home / rel) == (home / rel).resolve(), rel
        assert fold.files.resolve(home / rel) == (home / rel).resolve(), rel  # again, from the remembered folder
