"""Verify a ledger file: re-hash the chain from raw bytes (two processes on big files), name the first bad seq."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ledger import chain
from ledger.codec import decode
from ledger.lines import complete_end, iter_lines, torn_bytes
from ledger.runstarts import second_starts
from schemas.events import GENESIS_HASH

#: below this many bytes a helper process costs more than it saves
PARALLEL_MIN_BYTES = 32 << 20
#: decoded lines between two progress reports of the deep check
DEEP_TICK_LINES = 4096


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """Outcome of re-hashing the whole chain."""

    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    torn_tail_bytes: int = 0


#: a verify progress callback: (bytes checked, bytes to check, what is being checked)
VerifyProgress = Callable[[int, int, str], None]


def _no_progress(done: int, total: int, what: str) -> None:
    return None


def verify_file(
    path: Path, *, deep: bool = False, parallel: bool = True, progress: VerifyProgress = _no_progress
) -> VerifyReport:
    """Re-hash every complete line of a ledger file, without its lock and without modifying it.

    The fast check hashes raw bytes and checks seq and prev by slicing: every line the writer hashes
    was validated first, so any accidental change breaks a hash. deep=True also decodes every event
    (about 3x slower), which additionally catches a hand-forged line whose hash was recomputed.
    progress gets (bytes done, bytes in all, phase) every few MiB.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        end = complete_end(fd, 0, os.fstat(fd).st_size)
        split = _split_point(fd, end) if parallel and not deep else 0
        found = (
            _scan_two(path, fd, split, end, progress)
            if split
            else _as_report(chain.scan(fd, 0, end, 0, GENESIS_HASH.encode(), lambda n: progress(n, end, "hashing")), 0)
        )
    finally:
        os.close(fd)
    progress(end, end, "hashing")
    if not found.ok:
        return found
    if deep and (bad := _deep_check(path, end, progress)) is not None:
        seq, problem, prev = bad
        return VerifyReport(False, seq - 1, seq - 1, prev, first_bad_seq=seq, problem=problem)
    for seq, run_id, first in second_starts(path, end):
        problem = f"run {run_id} has a second RunStarted (the first is at seq {first}): two runs share one run id"
        return dataclasses.replace(found, ok=False, first_bad_seq=seq, problem=problem)
    torn = torn_bytes(path, end)
    if torn:
        problem = f"torn tail: {torn} bytes after the last complete line (a crash mid-append?); the next writer quarantines them"
        return dataclasses.replace(
            found, ok=False, first_bad_seq=found.head_seq + 1, problem=problem, torn_tail_bytes=torn
        )
    return found


def _as_report(scan: chain.Scan, before: int, prev: str = GENESIS_HASH) -> VerifyReport:
    seq = before + scan.lines
    head = scan.last_hash if scan.lines else prev
    if scan.bad_index >= 0:
        return VerifyReport(False, seq, seq, head, first_bad_seq=seq + 1, problem=scan.problem)
    return VerifyReport(True, seq, seq, head)


def _split_point(fd: int, end: int) -> int:
    """A line boundary near the middle of [0, end), or 0 when the file is too small to share out."""
    if end < PARALLEL_MIN_BYTES or (os.cpu_count() or 1) < 2:
        return 0
    return complete_end(fd, 0, end // 2)


def _scan_two(path: Path, fd: int, split: int, end: int, progress: VerifyProgress) -> VerifyReport:
    """Scan [split, end) in a helper process while this one scans [0, split); then check the seam.

    Progress is this process's share scaled to the whole: both halves are hashed at the same pace.
    """
    try:
        helper = subprocess.Popen(
            [sys.executable, "-S", chain.__file__, str(path), str(split), str(end)],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": ""},
        )
    except OSError:
        return _as_report(chain.scan(fd, 0, end, 0, GENESIS_HASH.encode()), 0)
    first = _as_report(
        chain.scan(fd, 0, split, 0, GENESIS_HASH.encode(), lambda n: progress(n * end // split, end, "hashing")), 0
    )
    out, _ = helper.communicate()
    if not first.ok:
        return first
    if helper.returncode != 0:  # no helper: do the second half here
        return _as_report(
            chain.scan(fd, split, end, first.head_seq, first.head_hash.encode()), first.head_seq, first.head_hash
        )
    second = chain.Scan(**json.loads(out))
    if second.lines and (second.first_seq != first.head_seq + 1 or second.first_prev != first.head_hash):
        line = next(iter_lines(path, split))[1]
        problem = chain.line_problem(line, first.head_seq + 1, first.head_hash.encode()) or "chain broken"
        return VerifyReport(
            False, first.head_seq, first.head_seq, first.head_hash, first_bad_seq=first.head_seq + 1, problem=problem
        )
    return _as_report(second, first.head_seq, first.head_hash)


def _deep_check(path: Path, end: int, progress: VerifyProgress) -> tuple[int, str, str] | None:
    """(seq, problem, hash before it) of the first line before byte end that hashes right but does not decode to a valid event."""
    prev = GENESIS_HASH
    for seq, (offset, line) in enumerate(iter_lines(path, 0, end), start=1):
        if not seq % DEEP_TICK_LINES:
            progress(offset, end, "decoding")
        try:
            event = decode(line)
        except Exception as exc:  # any decode failure is a finding of the audit, not a crash
            return seq, f"hashes right but does not decode: {exc}", prev
        if event.seq != seq:
            return seq, f"decodes to seq {event.seq}, expected {seq}", prev
        prev = event.hash or ""
    progress(end, end, "decoding")
    return None
