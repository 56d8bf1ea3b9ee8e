"""A from-scratch build of the tree's leaf and level files in two processes, when that pays.

A helper process (ledger/merkle.py run as a script, standard library only) builds the left complete subtree: the
first split(n) leaves, whose entries are a prefix of every level file. This process builds the rest, which is
aligned at every level, so no entry is shared and each writes its own byte ranges. Without a helper, or when it
fails, this process builds both halves. It pays only for a large ledger on a machine with a core to spare.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from ledger import merkle
from ledger.merkle import hash_file_lines, level_files, split, write_levels

#: below this many bytes of ledger a from-scratch build stays in one process (a helper costs more than it saves)
PARALLEL_MIN_BYTES = 32 << 20


def pays(end: int) -> bool:
    """Whether building the tree of the ledger's first end bytes in two processes beats one."""
    return end >= PARALLEL_MIN_BYTES and _idle_core()


def build_two(ledger: Path, end: int, leaves_file: Path, prefix: Path) -> int:
    """Write the leaf file and the level files (prefix<k>) of the lines in bytes [0, end) of ledger; their count."""
    paths = level_files(str(leaves_file), str(prefix))
    fd = os.open(ledger, os.O_RDONLY)
    helper: subprocess.Popen[bytes] | None = None
    try:
        n, left, cut = _split_lines(fd, end)
        with contextlib.suppress(OSError):
            helper = subprocess.Popen(
                [sys.executable, "-S", merkle.__file__, str(ledger), "0", str(cut), "0", str(leaves_file), str(prefix)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": ""},
            )
        write_levels(left, hash_file_lines(fd, cut, end), paths)
        out = helper.communicate()[0] if helper is not None else b""
        if helper is None or helper.returncode != 0 or out.strip() != str(left).encode():
            write_levels(0, hash_file_lines(fd, 0, cut), paths)
    finally:
        os.close(fd)
        if helper is not None and helper.poll() is None:  # this process failed: the helper must not write on
            helper.kill()
            helper.wait()
    return n


def _idle_core() -> bool:
    """Whether a helper process would get a core of its own (on a busy machine it only adds its overhead)."""
    cores = os.cpu_count() or 1
    return cores >= 2 and os.getloadavg()[0] <= cores - 1


def _split_lines(fd: int, end: int, chunk: int = 4 << 20) -> tuple[int, int, int]:
    """(lines in [0, end), split(lines), the byte after line split(lines)): one counting pass, no copies kept."""
    counts, buf, pos = [], bytearray(chunk), 0
    while pos < end:
        got = min(os.preadv(fd, [buf], pos), end - pos)
        if got <= 0:
            break
        counts.append((pos, got, buf.count(b"\n", 0, got)))
        pos += got
    n = sum(c for _, _, c in counts)
    left = split(n) if n >= 2 else n
    before = 0
    for pos, got, c in counts:
        if before + c >= left:
            data = os.pread(fd, got, pos)
            cut = -1
            for _ in range(left - before):
                cut = data.index(b"\n", cut + 1)
            return n, left, pos + cut + 1
        before += c
    return n, left, end
