"""Where each run starts: the RunStarted lines of a ledger file, found by a byte search (no full decode)."""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator

import orjson

#: how a RunStarted line spells its type (the writer's canonical JSON has no spaces)
_MARKER = b'"type":"RunStarted"'


def run_starts(fd: int, start: int, end: int) -> Iterator[tuple[int, str]]:
    """(seq, run_id) of every RunStarted line that begins in [start, end) of an open ledger file, in file order."""
    if end <= start:
        return
    with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as view:
        pos = view.find(_MARKER, start, end)
        while pos != -1:
            begin = view.rfind(b"\n", 0, pos) + 1
            stop = view.find(b"\n", pos, end)
            if stop == -1:
                return  # a torn tail is not a start
            record = orjson.loads(view[begin:stop])
            if record.get("type") == "RunStarted":
                yield int(record["seq"]), str(record["run_id"])
            pos = view.find(_MARKER, stop, end)


def second_starts(path: os.PathLike[str] | str, end: int | None = None) -> Iterator[tuple[int, str, int]]:
    """(seq, run_id, seq of its first RunStarted) of every RunStarted that repeats a run id already started."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size if end is None else end
        first: dict[str, int] = {}
        for seq, run_id in run_starts(fd, 0, size):
            if run_id in first:
                yield seq, run_id, first[run_id]
            else:
                first[run_id] = seq
    finally:
        os.close(fd)
