"""Keep the projection caught up while the ledger grows: watch audit.jsonl, apply new lines as they land."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import watchfiles

from ledger import LEDGER_NAME
from projectors.duckdb import catch_up

Progress = Callable[[str], None]


def follow(home: Path, *, progress: Progress, stop: threading.Event | None = None) -> int:
    """Catch up now and again after every change to the ledger (polling each second too) until stopped."""
    home = Path(home)
    ledger = home / LEDGER_NAME
    total = catch_up(home, progress=progress)  # raises ProjectionMissingError when there is no ledger
    size = ledger.stat().st_size
    progress(f"duckdb: following {ledger} (Ctrl-C to stop)")
    for _ in watchfiles.watch(
        home,
        watch_filter=lambda _change, path: Path(path).name == LEDGER_NAME,
        debounce=50,
        step=20,
        rust_timeout=1000,
        yield_on_timeout=True,
        stop_event=stop,
    ):
        # also polled on timeout: file systems without change notification still get caught up
        if ledger.stat().st_size != size:
            total += catch_up(home, progress=progress)
            size = ledger.stat().st_size
    return total
