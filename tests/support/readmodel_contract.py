"""The contract every read model keeps, as an abstract test class to subclass per model.

A subclass provides `make_model(home) -> ReadModel` and `snapshot(model) -> comparable` (a
normalised dump of the store's contents: no store-generated ids or wall-clock times), and may
override `history()` (batches of events appended one after another). The model must report
progress at least once while it applies events: the kill test interrupts it from the callback.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger import Ledger
from projectors.readmodel import Position, ReadModel
from schemas.errors import LedgerlineError
from schemas.events import (
    CodeVersion,
    Envelope,
    MetricLoggedData,
    RunCompletedData,
    RunStartedData,
    RunTaggedData,
    StageCompletedData,
    StageStartedData,
    envelope,
)

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


class Killed(Exception):
    """Raised from a progress callback to stop a catch-up midway, as a kill would."""


def contract_run(n: int, metrics: int = 4, minute: int = 0) -> list[Envelope]:
    """One small run: started, one stage with metrics, completed."""
    run_id = f"20260202-0900{n:02d}-{n:04x}"
    clock = iter(T0 + timedelta(minutes=minute, seconds=s) for s in range(1000))
    out = [
        envelope(
            RunStartedData(
                pipeline="contract",
                profile="canary",
                params={"k": n},
                config_hash="c" * 64,
                code_version=CodeVersion(git_sha="abc", dirty=False),
                packages={},
                inputs=[],
                seed=n,
            ),
            run_id=run_id,
            ts=next(clock),
        ),
        envelope(StageStartedData(inputs=[]), run_id=run_id, stage="metrics", ts=next(clock)),
    ]
    out += [
        envelope(
            MetricLoggedData(key="pnl", value=float(n * 10 + i), step=i), run_id=run_id, stage="metrics", ts=next(clock)
        )
        for i in range(metrics)
    ]
    out.append(envelope(MetricLoggedData(key="sharpe", value=n / 10), run_id=run_id, stage="metrics", ts=next(clock)))
    out.append(
        envelope(
            StageCompletedData(rows_in=1, rows_out=1, duration_s=0.1, outputs=[], changed=[]),
            run_id=run_id,
            stage="metrics",
            ts=next(clock),
        )
    )
    out.append(envelope(RunCompletedData(status="succeeded", duration_s=1.0), run_id=run_id, ts=next(clock)))
    return out


def contract_tag(n: int, key: str, value: str, minute: int) -> Envelope:
    """A RunTagged event for contract_run(n)."""
    return envelope(
        RunTaggedData(key=key, value=value, reason="contract", by="test"),
        run_id=f"20260202-0900{n:02d}-{n:04x}",
        ts=T0 + timedelta(minutes=minute),
    )


def rehash_from(path: Path, seq: int, edit: Any) -> None:
    """What a forger with write access does: edit the event at seq, then re-hash the whole chain after it."""
    prev, out = "0" * 64, b""
    for line in path.read_bytes().splitlines():
        obj = orjson.loads(line)
        obj.pop("hash")
        if obj["seq"] == seq:
            edit(obj)
        obj["prev"] = prev
        body = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        prev = hashlib.sha256(body).hexdigest()
        out += body[:-1] + b',"hash":"' + prev.encode() + b'"}\n'
    path.write_bytes(out)


def _killer(after: int) -> Any:
    """A progress callback that raises Killed at its report number `after` (0: the first)."""
    seen = [0]

    def report(step: str) -> None:
        seen[0] += 1
        if seen[0] > after:
            raise Killed(step)

    return report


class ReadModelContract:
    """Replay twice equals once; killed and resumed equals clean; rebuild equals incremental; a rewritten ledger is refused."""

    _batches: list[list[Envelope]] | None = None

    def make_model(self, home: Path) -> ReadModel:
        """The read model under test for the ledger in home (a fresh, empty store)."""
        raise NotImplementedError

    def snapshot(self, model: ReadModel) -> object:
        """A normalised, comparable dump of everything the model's store holds."""
        raise NotImplementedError

    def history(self) -> list[list[Envelope]]:
        """Batches appended one after another (the first one before the model's first catch-up)."""
        return [
            contract_run(1),
            contract_run(2, minute=1) + [contract_tag(1, "note", "first", 2)],
            contract_run(3, minute=3) + [contract_tag(3, "note", "third", 4)],
        ]

    # ------------------------------------------------------------ helpers

    def batches(self) -> list[list[Envelope]]:
        """history(), built once per test: every home of a test holds the very same events (ids included)."""
        if getattr(self, "_batches", None) is None:
            self._batches = self.history()
        return self._batches

    def home_with(self, home: Path, batches: list[list[Envelope]]) -> Path:
        home.mkdir(parents=True, exist_ok=True)
        with Ledger.open(home) as ledger:
            for batch in batches:
                ledger.append(batch)
        return home

    def append(self, home: Path, batch: list[Envelope]) -> None:
        with Ledger.open(home) as ledger:
            ledger.append(batch)

    def clean(self, tmp_path: Path) -> object:
        """The snapshot of a model that read the whole history in one catch-up."""
        model = self.make_model(self.home_with(tmp_path / "clean", self.batches()))
        model.catch_up()
        return self.snapshot(model)

    @staticmethod
    def head(home: Path) -> Position:
        with Ledger.open(home, readonly=True) as ledger:
            return Position(*ledger.head())

    # ------------------------------------------------------------ the contract

    def test_position_is_none_before_and_the_head_after(self, tmp_path: Path) -> None:
        home = self.home_with(tmp_path / "home", self.batches())
        model = self.make_model(home)
        assert model.position() is None
        assert model.catch_up() == self.head(home).seq
        assert model.position() == self.head(home)
        assert isinstance(model.where(), str) and model.where()

    def test_replay_twice_equals_once(self, tmp_path: Path) -> None:
        home = self.home_with(tmp_path / "home", self.batches())
        model = self.make_model(home)
        model.catch_up()
        once = self.snapshot(model)
        assert model.catch_up() == 0
        assert self.snapshot(model) == once
        assert model.position() == self.head(home)

    def test_killed_and_resumed_equals_clean(self, tmp_path: Path) -> None:
        home, _, rest = self.caught_up_on_first(tmp_path)
        for batch in rest:
            self.append(home, batch)

        kills = 0
        while True:  # killed at its first report, resumed and killed at its second, ... until one run ends
            try:
                resumed = self.make_model(home)  # a new process after each kill
                resumed.catch_up(progress=_killer(after=kills))
                break
            except Killed:
                kills += 1
        assert kills >= 1, "the model never reported progress while applying events"
        assert resumed.position() == self.head(home)
        assert self.snapshot(resumed) == self.clean(tmp_path)

    def caught_up_on_first(self, tmp_path: Path) -> tuple[Path, ReadModel, list[list[Envelope]]]:
        """A home holding the first batch, a model caught up on it, and the batches still to append."""
        first, *rest = self.batches()
        home = self.home_with(tmp_path / "home", [first])
        model = self.make_model(home)
        model.catch_up()
        return home, model, rest

    def test_rebuild_equals_incremental(self, tmp_path: Path) -> None:
        home, model, rest = self.caught_up_on_first(tmp_path)
        for batch in rest:
            self.append(home, batch)
            model.catch_up()
        incremental = self.snapshot(model)
        assert model.rebuild() == self.head(home).seq
        assert self.snapshot(model) == incremental
        assert model.position() == self.head(home)
        assert incremental == self.clean(tmp_path)

    def test_a_rewritten_ledger_is_refused(self, tmp_path: Path) -> None:
        home = self.home_with(tmp_path / "home", self.batches())
        model = self.make_model(home)
        model.catch_up()
        before, position = self.snapshot(model), model.position()
        rehash_from(home / "audit.jsonl", 3, lambda obj: obj["data"].update(value=-1.0))
        with pytest.raises(LedgerlineError):
            model.catch_up()
        assert self.snapshot(model) == before and model.position() == position
