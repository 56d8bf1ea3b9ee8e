"""Progress of long commands on stderr: a rich bar on a terminal, plain periodic lines elsewhere, never on stdout.

Library loops report a tick (a `Step` with `tick=True`, see projectors.readmodel) every few thousand
events or one chunk of bytes; this display reads the monotonic clock once per tick and draws at most every
`REFRESH_S` on a terminal, or prints one line every `LINE_S` elsewhere; `$LEDGERLINE_PROGRESS_S` sets
either interval (0: every tick). Work shorter than one interval shows no count; a count shown once is
shown again when it completes. Any other report is a milestone line and is always shown. `--quiet`
shows nothing.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import IO, Any

#: how often a terminal bar is redrawn at most
REFRESH_S = 0.5
#: how often a non-terminal stream gets a plain progress line at most (overridden by $LEDGERLINE_PROGRESS_S)
LINE_S = 5.0
INTERVAL_ENV = "LEDGERLINE_PROGRESS_S"


def interval(tty: bool) -> float:
    """Seconds between two draws of the bar (tty) or two plain lines: $LEDGERLINE_PROGRESS_S, else REFRESH_S or LINE_S."""
    default = REFRESH_S if tty else LINE_S
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV) or default))
    except ValueError:
        return default


class Reporter:
    """A progress callback for the read models, the ledger verifier and the runner: use it as a context manager.

    Called with a string (a `Step`, a runner `StageTick` or a plain line). `update(label, done, total, unit)`
    reports a count directly. While a stage runs longer than one interval, a heartbeat thread redraws the bar
    (on a terminal) or prints "run R: stage S running for N s (k of n)" once per interval (elsewhere).
    """

    #: the runner sends StageTick counts only to callbacks that say they take them
    ticks = True

    def __init__(self, prog: str, *, quiet: bool = False, stream: IO[str] | None = None) -> None:
        self.prog, self.quiet = prog, quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream)
        self.interval = interval(self.tty)
        self._next = time.monotonic() + self.interval  # work shorter than one interval shows no progress at all
        self._shown: set[str] = set()
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._stage: tuple[Any, float] | None = None  # the StageTick running and when it started
        self._lock = threading.RLock()  # the heartbeat thread draws too
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __call__(self, step: str) -> None:
        if self.quiet:
            return
        done, total = getattr(step, "done", None), getattr(step, "total", None)
        label = getattr(step, "model", "") or self.prog
        if getattr(step, "phase", ""):
            label = f"{label}: {step.phase}"  # type: ignore[attr-defined]
        if not getattr(step, "tick", False):
            with self._lock:
                self._stage = None  # a stage's completion (or failure) line: nothing is running any more
            self.line(str(step))
            return
        assert done is not None
        if getattr(step, "stage", None) is not None:
            self._stage_started(step)
        self.update(label, done, total, getattr(step, "unit", "events"))

    def line(self, text: str) -> None:
        """Show one milestone line (above the bar on a terminal)."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self.stream, flush=True)

    def update(self, label: str, done: int, total: int | None, unit: str = "events") -> None:
        """Report done of total units: drawn (or printed) only when the interval has passed, or at the end."""
        if self.quiet:
            return
        now = time.monotonic()
        final = total is not None and done >= total and label in self._shown  # a shown count always ends at 100%
        if now < self._next and not final:
            return
        self._next = now + self.interval
        self._shown.add(label)
        if self.tty:
            with self._lock:
                self._draw(label, done, total, unit)
        elif total:
            print(f"{label}: {done:,}/{total:,} {unit} ({100 * done / total:.0f}%)", file=self.stream, flush=True)
        else:
            print(f"{label}: {done:,} {unit}", file=self.stream, flush=True)

    def _stage_started(self, tick: Any) -> None:
        with self._lock:
            self._stage = (tick, time.monotonic())
        if self._beat is None and self.interval > 0:
            self._beat = threading.Thread(target=self._heartbeat, name="ledgerline-progress", daemon=True)
            self._beat.start()

    def _heartbeat(self) -> None:
        """While one stage runs longer than an interval, show it once per interval."""
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._stage is None:
                    continue
                tick, since = self._stage
                running = time.monotonic() - since
                if running < self.interval:
                    continue
                if self.tty:
                    self._draw(tick.model, tick.done, tick.total, "stages")
                else:
                    print(
                        f"{tick.model}: stage {tick.stage} running for {running:.0f} s ({tick.done + 1} of {tick.total})",
                        file=self.stream,
                        flush=True,
                    )

    def close(self) -> None:
        """Stop the heartbeat and the bar (leaving its last state on the terminal)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        with self._lock:
            self._stage = None
        if self._bar is not None:
            self._bar.stop()
            self._bar, self._tasks = None, {}

    def _draw(self, label: str, done: int, total: int | None, unit: str) -> None:
        if self._bar is None:
            self._bar = _make_bar(self.stream)
            self._bar.start()
        key = f"{label} {unit}"
        if key not in self._tasks:
            self._tasks[key] = self._bar.add_task(label, total=total, unit=unit)
        self._bar.update(self._tasks[key], completed=done, total=total, refresh=True)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _make_bar(stream: IO[str]) -> Any:
    """A rich Progress drawing on stream (imported here: commands without a terminal never load rich)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        console=Console(file=stream, force_terminal=True),
        auto_refresh=False,
        redirect_stdout=False,  # stdout is the command's data (--json): never captured into the bar
        redirect_stderr=False,
    )
