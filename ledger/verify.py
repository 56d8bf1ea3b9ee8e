"""Re-hash the chain from raw bytes and name the first bad seq; optionally decode every event as well."""

from __future__ import annotations

import dataclasses
from hashlib import sha256
from pathlib import Path

from ledger.codec import HASH_SUFFIX, HASH_SUFFIX_LEN, decode
from ledger.lines import iter_chunks, torn_bytes
from schemas.events import GENESIS_HASH

_START = b'{"data":'


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


def line_problem(line: bytes, seq: int, prev: bytes) -> str | None:
    """What is wrong with a line expected at seq after a line hashed prev, or None if it checks out."""
    end = len(line) - HASH_SUFFIX_LEN
    if end < 8 or line[end : end + 9] != HASH_SUFFIX or line[-2:] != b'"}' or not line.startswith(_START):
        return "not a ledger record (bad shape or no trailing hash)"
    if sha256(line[:end] + b"}").hexdigest().encode() != line[end + 9 : end + 73]:
        return "hash does not match content (line edited)"
    p = line.rfind(b',"prev":"', 0, end)
    s = line.rfind(b',"seq":', p, end)
    t = line.find(b',"stage":', s, end)
    if p < 0 or s < 0 or t < 0:
        return "not a ledger record (no prev/seq)"
    stated = line[s + 7 : t]
    if stated != b"%d" % seq:
        return f"seq is {stated.decode('ascii', 'replace')}, expected {seq} (line deleted, duplicated, swapped or inserted)"
    if line[p + 9 : p + 73] != prev:
        return "prev does not match the hash of the line before (chain broken)"
    return None


def _deep_problem(line: bytes, seq: int) -> str | None:
    try:
        event = decode(line)
    except Exception as exc:  # any decode failure is a finding of the audit, not a crash
        return f"hashes right but does not decode: {exc}"
    return None if event.seq == seq else f"decodes to seq {event.seq}, expected {seq}"


def verify_file(path: Path, *, deep: bool = False) -> VerifyReport:
    """Re-hash every complete line of a ledger file, without its lock and without modifying it.

    The fast check hashes raw bytes and checks seq and prev by slicing: every line the writer hashes
    was validated first, so any accidental change breaks a hash. deep=True also decodes every event
    (about 3x slower), which additionally catches a hand-forged line whose hash was recomputed.
    """
    prev, seq, end = GENESIS_HASH.encode(), 0, 0
    for _, chunk_end, lines in iter_chunks(path):
        for line in lines:
            n = seq + 1
            # inline fast path of line_problem: this loop runs once per event
            e = len(line) - HASH_SUFFIX_LEN
            p = line.rfind(b',"prev":"', 0, e)
            s = line.rfind(b',"seq":', p, e)
            if (
                sha256(line[:e] + b"}").hexdigest().encode() != line[e + 9 : e + 73]
                or line[p + 9 : p + 73] != prev
                or line[s + 7 : line.find(b",", s + 7)] != b"%d" % n
                or line[e : e + 9] != HASH_SUFFIX
                or line[e + 73 :] != b'"}'
                or not line.startswith(_START)
                or (deep and _deep_problem(line, n) is not None)
            ):
                problem = line_problem(line, n, prev) or (_deep_problem(line, n) if deep else None)
                if problem is not None:
                    return VerifyReport(False, seq, seq, prev.decode(), first_bad_seq=n, problem=problem)
            seq, prev = n, line[e + 9 : e + 73]
        end = chunk_end
    torn = torn_bytes(path, end)
    if torn:
        problem = f"torn tail: {torn} bytes after the last complete line (a crash mid-append?); the next writer quarantines them"
        return VerifyReport(False, seq, seq, prev.decode(), first_bad_seq=seq + 1, problem=problem, torn_tail_bytes=torn)
    return VerifyReport(True, seq, seq, prev.decode())
