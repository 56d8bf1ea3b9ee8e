"""The hash-chain check over a byte range of raw ledger lines; stdlib only, so a helper process starts fast."""

from __future__ import annotations

import json
import os
import sys
from hashlib import sha256
from typing import NamedTuple

#: `,"hash":"<64 hex>"}` closes every line; the hashed body is the line with that replaced by `}`
HASH_SUFFIX = b',"hash":"'
HASH_SUFFIX_LEN = len(HASH_SUFFIX) + 64 + 2
START = b'{"data":'
CHUNK = 1 << 18


class Scan(NamedTuple):
    """What a scan of complete lines found: counts and hashes at both ends, and the first problem."""

    lines: int
    first_seq: int
    first_prev: str
    last_hash: str
    bad_index: int  # index of the first bad line within the range, -1 if none
    problem: str


def line_problem(line: bytes, seq: int, prev: bytes) -> str | None:
    """What is wrong with a line expected at seq after a line hashed prev, or None if it checks out."""
    end = len(line) - HASH_SUFFIX_LEN
    if end < 8 or line[end : end + 9] != HASH_SUFFIX or line[-2:] != b'"}' or not line.startswith(START):
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


def _head_of(line: bytes) -> tuple[int, bytes]:
    """(seq, prev) a line claims, or (0, b"") when it is not shaped like a record."""
    end = len(line) - HASH_SUFFIX_LEN
    p = line.rfind(b',"prev":"', 0, end)
    s = line.rfind(b',"seq":', p, end)
    t = line.find(b',"stage":', s, end)
    try:
        return (int(line[s + 7 : t]), line[p + 9 : p + 73]) if min(p, s, t) >= 0 else (0, b"")
    except ValueError:
        return 0, b""


def scan(fd: int, start: int, end: int, seq: int | None = None, prev: bytes = b"") -> Scan:
    """Check every complete line in [start, end): hash, shape, seq + 1 each line, prev = hash before.

    With seq None the first line's own seq and prev are taken as given (and reported), for a range
    whose predecessor another process checks. Lines are checked in place in small chunks: making a
    bytes object per line costs page faults that dwarf the hashing on some virtual machines.
    """
    n, first_seq, first_prev, pos, rest = 0, -1, b"", start, b""
    known, seq_at = seq is not None, seq or 0
    while pos < end:
        data = os.pread(fd, min(CHUNK, end - pos), pos)
        if not data:
            break
        pos += len(data)
        buf, j = rest + data if rest else data, 0
        if not known and (i := buf.find(b"\n")) >= 0:
            first_seq, first_prev = _head_of(buf[:i])
            seq_at, prev, known = first_seq - 1, first_prev, True
        while (i := buf.find(b"\n", j)) >= 0:
            seq_at += 1
            # inline fast path of line_problem (it runs once per event); keys are sorted and every
            # top-level key after "prev" holds a scalar, so the last ,"prev":" and ,"seq": are top-level
            e = i - HASH_SUFFIX_LEN
            digest = sha256(buf[j:e] + b"}").hexdigest().encode()
            if (
                not buf.startswith(b',"hash":"%b"}' % digest, e)
                or not buf.startswith(prev, buf.rfind(b',"prev":"', j, e) + 9)
                or not buf.startswith(b'%d,"stage":' % seq_at, buf.rfind(b',"seq":', j, e) + 7)
                or not buf.startswith(START, j)
                or e < j + 8
            ):
                problem = line_problem(buf[j:i], seq_at, prev)
                if problem is not None:
                    return Scan(n, first_seq, first_prev.decode(), prev.decode(), n, problem)
            n, prev, j = n + 1, digest, i + 1
        rest = buf[j:]
    return Scan(n, first_seq, first_prev.decode(), prev.decode(), -1, "")


def main() -> None:
    """Helper-process entry: `python chain.py PATH START END` prints the Scan of that range as JSON."""
    path, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    fd = os.open(path, os.O_RDONLY)
    print(json.dumps(scan(fd, start, end)._asdict()))


if __name__ == "__main__":
    main()
