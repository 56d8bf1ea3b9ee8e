"""The hash-chain check over a byte range of raw ledger lines, and slicing a line's chain fields; stdlib only, so a helper process starts fast."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from hashlib import sha256
from itertools import repeat
from operator import itemgetter
from typing import NamedTuple

#: `,"hash":"<64 hex>"}` closes every line; the hashed body is the line with that replaced by `}`
HASH_SUFFIX = b',"hash":"'
HASH_SUFFIX_LEN = len(HASH_SUFFIX) + 64 + 2
START = b'{"data":'
#: small enough to stay in the CPU cache (32-256 KiB measure alike; 1 MiB is slower)
CHUNK = 1 << 16
#: chunks between two progress reports of a scan (4 MiB)
TICK_CHUNKS = 64
_TAIL = itemgetter(slice(-HASH_SUFFIX_LEN, None))
_BODY = itemgetter(slice(None, -HASH_SUFFIX_LEN))
_HEXDIGEST = type(sha256()).hexdigest
_UPDATE = type(sha256()).update
_NEXT_START = b"\n" + START
_PREV = b',"prev":"'
_SEQ = b',"seq":'
_STAGE = b',"stage":'
#: what follows a record's 64-hex prev: keys are sorted and run_id comes next
_AFTER_PREV = b'","run_id":'
_SEQ_FMT = b',"seq":%d,"stage":'


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
    p = line.rfind(_PREV, 0, end)
    s = line.rfind(_SEQ, p, end)
    t = line.find(_STAGE, s, end)
    if p < 0 or s < 0 or t < 0:
        return "not a ledger record (no prev/seq)"
    stated = line[s + 7 : t]
    if stated != b"%d" % seq:
        return f"seq is {stated.decode('ascii', 'replace')}, expected {seq} (line deleted, duplicated, swapped or inserted)"
    if line[p + 9 : p + 73] != prev:
        return "prev does not match the hash of the line before (chain broken)"
    return None


def chain_fields(line: bytes) -> tuple[int, bytes, bytes] | None:
    """(seq, prev, stated hash) sliced from a line without decoding it, or None if it is not shaped like one.

    Keys are sorted and every top-level key after `prev` holds a scalar, so the last `,"prev":"`
    and `,"seq":` in the body are the top-level ones (a JSON string cannot hold an unescaped quote).
    """
    end = len(line) - HASH_SUFFIX_LEN
    if end < 8 or line[end : end + 9] != HASH_SUFFIX or not line.endswith(b'"}'):
        return None
    claimed = _claimed(line)
    if claimed is None or line[claimed[2] + 73 : claimed[2] + 84] != _AFTER_PREV:
        return None
    return claimed[0], claimed[1], line[end + 9 : end + 73]


def seq_and_hash(line: bytes) -> tuple[int, str] | None:
    """(seq, stated hash) of one ledger line (no newline), or None when it is not shaped like one: the one parser of both."""
    fields = chain_fields(line)
    if fields is not None:
        return fields[0], fields[2].decode("ascii", "replace")
    end = len(line) - HASH_SUFFIX_LEN  # another JSON layout (spaces, key order): the hash suffix is still last
    if end < 1 or line[end : end + 9] != HASH_SUFFIX or not line.endswith(b'"}'):
        return None
    try:
        seq = json.loads(line[:end] + b"}").get("seq")
    except (ValueError, AttributeError):
        return None
    if not isinstance(seq, int) or isinstance(seq, bool):
        return None
    return seq, line[end + 9 : end + 73].decode("ascii", "replace")


def _claimed(line: bytes) -> tuple[int, bytes, int] | None:
    """(seq, prev, offset of `,"prev":"`) a line states before its hash suffix, or None when they are missing."""
    end = len(line) - HASH_SUFFIX_LEN
    p = line.rfind(_PREV, 0, end)
    s = line.rfind(_SEQ, p, end)
    t = line.find(_STAGE, s, end)
    if p < 0 or s < 0 or t < 0:
        return None
    try:
        return int(line[s + 7 : t]), line[p + 9 : p + 73], p
    except ValueError:
        return None


def _head_of(line: bytes) -> tuple[int, bytes]:
    """(seq, prev) a line claims, or (0, b"") when it has none: laxer than chain_fields, as line_problem is."""
    claimed = _claimed(line)
    return (claimed[0], claimed[1]) if claimed is not None else (0, b"")


def bulk_check(buf: bytes, seq: int, prev: bytes) -> bytes | None:
    """Hash of the last line when every line of buf (whole lines, each ending in a newline) checks out, else None.

    The same checks as line_problem, done a chunk at a time by C-level maps and joins, because the
    per-line Python loop is the cost. None only means "check line by line": that also happens for
    good lines holding a nested `,"prev":"` (a payload key named prev).
    """
    lines = buf.split(b"\n")
    lines.pop()
    n = len(lines)
    hashes = list(map(sha256, map(_BODY, lines)))
    any(map(_UPDATE, hashes, repeat(b"}")))  # update() returns None, so any() consumes every one
    hexes = list(map(_HEXDIGEST, hashes))
    # every line ends `,"hash":"<its digest>"}`: one comparison of the joined tails checks them all
    tails = "".join([HASH_SUFFIX.decode(), '"},"hash":"'.join(hexes), '"}']).encode()
    if b"".join(map(_TAIL, lines)) != tails or not buf.startswith(START) or buf.count(_NEXT_START) != n - 1:
        return None
    after_prev = buf.split(_PREV)
    after_prev[:1] = []
    if len(after_prev) != n or len(prev) != 64 or not _chained(after_prev, lines, hexes, seq, prev):
        return None
    return hexes[-1].encode()


def _chained(after_prev: list[bytes], lines: list[bytes], hexes: list[str], seq: int, prev: bytes) -> bool:
    """True when each line's prev is the hash before it and its seq counts up from seq + 1.

    after_prev holds what follows each line's one `,"prev":"`. Lines of one run share the run_id
    between prev and seq, so one expected prefix per line checks both; else each is checked alone.
    """
    prevs = [prev, *map(str.encode, hexes[:-1])]
    first = after_prev[0]
    mid = first[64 : first.find(_SEQ, 64) + len(_SEQ)].replace(b"%", b"%%")
    heads = map((b"%b" + mid + b'%d,"stage":').__mod__, zip(prevs, range(seq + 1, seq + 1 + len(lines))))
    if mid.endswith(_SEQ) and all(map(bytes.startswith, after_prev, heads)):
        return True
    if not all(map(bytes.startswith, after_prev, prevs)):
        return False
    seqs = map(_SEQ_FMT.__mod__, range(seq + 1, seq + 1 + len(lines)))
    return all(map(bytes.startswith, lines, seqs, map(bytes.rfind, lines, repeat(_SEQ))))


def _slow_check(buf: bytes, seq: int, prev: bytes) -> tuple[int, bytes, str]:
    """(good lines, hash of the last good one, problem or "") for whole lines, one at a time: finds the first bad line."""
    j, n = 0, 0
    while (i := buf.find(b"\n", j)) >= 0:
        problem = line_problem(buf[j:i], seq + n + 1, prev)
        if problem is not None:
            return n, prev, problem
        prev, n, j = buf[i - 66 : i - 2], n + 1, i + 1
    return n, prev, ""


def whole_lines(fd: int, start: int, end: int, chunk: int) -> Iterator[bytes]:
    """The bytes of [start, end) read chunk bytes at a time, cut after their last newline (a line longer than a chunk is joined up).

    A partial last line (no newline yet: a writer mid-append or a torn tail) is never yielded.
    """
    pos, rest = start, b""
    while pos < end:
        data = os.pread(fd, min(chunk, end - pos), pos)
        if not data:
            return
        pos += len(data)
        buf = rest + data if rest else data
        cut = buf.rfind(b"\n") + 1
        rest = buf[cut:]
        if cut:
            yield buf[:cut]


def _check(buf: bytes, seq: int, prev: bytes) -> tuple[int, bytes, str]:
    """(good lines, hash of the last good one, problem or "") for a chunk of whole lines: fast path first."""
    last = bulk_check(buf, seq, prev)
    return (buf.count(b"\n"), last, "") if last is not None else _slow_check(buf, seq, prev)


def scan(
    fd: int,
    start: int,
    end: int,
    seq: int | None = None,
    prev: bytes = b"",
    progress: Callable[[int], None] | None = None,
) -> Scan:
    """Check every complete line in [start, end): hash, shape, seq + 1 each line, prev = hash before.

    With seq None the first line's own seq and prev are taken as given (and reported), for a range
    whose predecessor another process checks. progress gets the bytes checked every TICK_CHUNKS chunks.
    """
    n, first_seq, first_prev, checked = 0, -1, b"", 0
    for chunks, buf in enumerate(whole_lines(fd, start, end, CHUNK), start=1):
        checked += len(buf)
        if progress is not None and not chunks % TICK_CHUNKS:
            progress(checked)
        if seq is None:
            first_seq, first_prev = _head_of(buf[: buf.find(b"\n")])
            seq, prev = first_seq - 1, first_prev
        good, last, problem = _check(buf, seq + n, prev)
        n, prev = n + good, last
        if problem:
            return Scan(n, first_seq, _text(first_prev), _text(prev), n, problem)
    return Scan(n, first_seq, _text(first_prev), _text(prev), -1, "")


def _text(digest: bytes) -> str:
    return digest.decode("ascii", "replace")


def main() -> None:
    """Helper-process entry: `python chain.py PATH START END` prints the Scan of that range as JSON."""
    path, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    fd = os.open(path, os.O_RDONLY)
    print(json.dumps(scan(fd, start, end)._asdict()))


if __name__ == "__main__":
    main()
