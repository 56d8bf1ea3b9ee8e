"""The one shape of every read model (DuckDB projection, MLflow mirror, ...): position, catch up, rebuild; one follow loop.

Progress: every read-model operation takes `progress`, a callable receiving one `Step` per report.
A Step is a `str` (the human line, so `print` or `list.append` are valid callbacks) that also
carries the model's name and, when known, `done` and `total` counts (of `unit`, events unless said),
so a richer display (a progress bar) can be driven from the same calls. A tick (`tick=True`) is a
count reported from inside a long loop every TICK_EVERY events or so; a display may show it or not
(bin/_progress.py throttles them by the clock). A callback may raise to interrupt the operation: a
read model leaves its store consistent (at its old or a new position) either way.
"""

from __future__ import annotations

import abc
import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

from ledger import LEDGER_NAME

#: events (or lines) between two ticks of a long loop: one callback call per this many, so a display costs nothing
TICK_EVERY = 4096


class Step(str):
    """One progress report: the line to show, the model it is about, and (when known) units done of total."""

    model: str
    done: int | None
    total: int | None
    unit: str
    tick: bool
    phase: str

    def __new__(
        cls,
        text: str,
        *,
        model: str = "",
        done: int | None = None,
        total: int | None = None,
        unit: str = "events",
        tick: bool = False,
        phase: str = "",
    ) -> Step:
        step = super().__new__(cls, text)
        step.model, step.done, step.total, step.unit, step.tick, step.phase = model, done, total, unit, tick, phase
        return step


def tick(model: str, what: str, done: int, total: int | None, unit: str = "events") -> Step:
    """A count from inside a long loop: `model: what done/total unit`."""
    of = f"/{total:,}" if total is not None else ""
    text = f"{model}: {what} {done:,}{of} {unit}"
    return Step(text, model=model, done=done, total=total, unit=unit, tick=True, phase=what)


#: a progress callback: receives Steps (which are strings); its return value is ignored
Progress = Callable[[str], None]


def quiet(step: str) -> None:
    """The progress callback that reports nothing."""
    return None


@dataclasses.dataclass(frozen=True)
class Position:
    """How far a read model has read the ledger: the seq and hash of the last line it applied."""

    seq: int
    hash: str


class ReadModel(abc.ABC):
    """A store derived from the ledger alone: it knows its position and can catch up from it or be rebuilt."""

    #: the registry name of the model (`bin/replay --to NAME`)
    name: str
    #: how reports name the model's position (e.g. "duckdb checkpoint")
    title: str
    #: the home folder whose audit.jsonl the model reads
    home: Path
    #: errors that mean "the store is unreachable for now": follow() reports them and retries
    transient_errors: tuple[type[BaseException], ...] = ()

    @abc.abstractmethod
    def position(self) -> Position | None:
        """The (seq, hash) of the last ledger line the store reflects; None when it has none (absent or empty)."""

    @abc.abstractmethod
    def catch_up(self, *, progress: Progress = quiet) -> int:
        """Apply the ledger lines after the position (refusing a ledger that no longer holds it); return events applied."""

    @abc.abstractmethod
    def rebuild(self, *, progress: Progress = quiet) -> int:
        """Throw the store away and build it again from the whole ledger; return events applied."""

    @abc.abstractmethod
    def where(self) -> str:
        """A human description of where the store lives (a path or a URI)."""

    def report(self, applied: int) -> str:
        """One line saying what the last catch_up or rebuild did."""
        pos = self.position()
        return f"{self.name}: {applied:,} events applied, position seq {pos.seq if pos else 0} ({self.where()})"

    def step(self, text: str, *, done: int | None = None, total: int | None = None, tick: bool = False) -> Step:
        """A progress Step about this model (a tick when reported from inside a long loop)."""
        return Step(text, model=self.name, done=done, total=total, tick=tick)


def follow(
    model: ReadModel,
    *,
    progress: Progress = quiet,
    stop: threading.Event | None = None,
    poll_s: float = 1.0,
) -> int:
    """Catch up now and again after every change to audit.jsonl (polling every poll_s too) until stopped; return events applied.

    An error in model.transient_errors does not end the loop: it is reported and retried at the next poll.
    """
    import watchfiles  # here: commands that never follow do not load it

    home = Path(model.home)
    ledger = home / LEDGER_NAME
    total, behind = _attempt(model, progress)
    size = _size(ledger)
    progress(model.step(f"{model.name}: following {ledger} (Ctrl-C to stop)"))
    for _ in watchfiles.watch(
        home,
        watch_filter=lambda _change, path: Path(path).name == LEDGER_NAME,  # not the model's own writes
        debounce=50,
        step=20,
        rust_timeout=max(1, int(poll_s * 1000)),
        yield_on_timeout=True,
        stop_event=stop,
    ):
        # also polled on timeout: file systems without change notification still get caught up
        now = _size(ledger)
        if behind or now != size:
            applied, behind = _attempt(model, progress)
            total += applied
            size = now
    return total


def _attempt(model: ReadModel, progress: Progress) -> tuple[int, bool]:
    """One catch-up for follow(): (events applied, whether the store was unreachable and must be retried)."""
    try:
        applied = model.catch_up(progress=progress)
    except model.transient_errors as exc:
        progress(model.step(f"{exc} (retrying)"))
        return 0, True
    return applied, False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1
