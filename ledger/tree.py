"""The RFC 9162 Merkle tree over the ledger's lines, kept as a derived, incrementally updated file in the home.

Leaf i (0-based) is line seq = i + 1; its entry is the exact bytes of the line without the newline.
`<home>/tree.leaves` holds the 32-byte leaf hashes in order; `<home>/tree.json` says how many, where
the last one's line ends and its stated hash, so an update reads only the lines appended since, and a
ledger rewritten under the tree (the last covered line no longer where and what it was) is noticed
and the tree rebuilt. Both files are derived: deleting them costs one full pass, never a fact.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

from ledger.chain import seq_and_hash
from ledger.fsio import write_bytes_atomic
from ledger.home import LEDGER_NAME, TREE_STATE_NAME
from ledger.lines import iter_chunks
from ledger.merkle import consistency_path, inclusion_path, leaf_hash, root_of_hashes
from ledger.reader import line_at, snapshot_end

LEAVES_NAME = "tree.leaves"
HASH_SIZE = 32


@dataclasses.dataclass(frozen=True)
class TreeState:
    """How much of the ledger the leaf file covers: lines, the byte after the last, where it starts, its hash."""

    size: int = 0
    offset: int = 0
    line_offset: int = 0
    hash: str = ""


class Tree:
    """The leaf hashes of the ledger under home (call update() to cover lines appended since)."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.ledger = self.home / LEDGER_NAME
        self.state_path = self.home / TREE_STATE_NAME
        self.leaves_path = self.home / LEAVES_NAME

    def _state(self) -> TreeState:
        try:
            state = TreeState(**json.loads(self.state_path.read_text()))
            have = self.leaves_path.stat().st_size
        except (OSError, ValueError, TypeError):
            return TreeState()
        if have < state.size * HASH_SIZE:
            return TreeState()
        if state.size and line_at(self.ledger, state.line_offset, state.offset) != (state.size, state.hash):
            return TreeState()  # the ledger no longer holds the last covered line where it was: rebuild
        return state

    def update(self) -> int:
        """Hash the lines appended since the last update (all of them when the state is absent or stale); return the size."""
        state = self._state()
        end = snapshot_end(self.ledger) if self.ledger.exists() else 0
        if state.size == 0:
            self.leaves_path.unlink(missing_ok=True)
        if end <= state.offset:
            if state.size == 0:
                self._save(state, b"")
            return state.size
        hashes = bytearray()
        size, last_start, last = state.size, state.line_offset, b""
        for offset, _, lines in iter_chunks(self.ledger, state.offset, end):
            for line in lines:
                hashes += leaf_hash(line)
                size, last_start, last = size + 1, offset, line
                offset += len(line) + 1
        stated = seq_and_hash(last)
        if stated is None or stated[0] != size:
            raise ValueError(f"line {size} of {self.ledger} does not state seq {size}")
        self._save(TreeState(size, end, last_start, stated[1]), bytes(hashes))
        return size

    def _save(self, state: TreeState, new: bytes) -> None:
        with open(self.leaves_path, "ab") as f:
            f.truncate((state.size - len(new) // HASH_SIZE) * HASH_SIZE)
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        write_bytes_atomic(self.state_path, json.dumps(dataclasses.asdict(state)).encode())

    def leaves(self, size: int | None = None) -> list[bytes]:
        """The first size leaf hashes (all covered ones when None), after an update."""
        n = self.update() if size is None else size
        data = self.leaves_path.read_bytes()
        if len(data) < n * HASH_SIZE:
            raise ValueError(f"the ledger has {len(data) // HASH_SIZE} lines, not {n}")
        return [data[i : i + HASH_SIZE] for i in range(0, n * HASH_SIZE, HASH_SIZE)]

    def root(self, size: int | None = None) -> tuple[int, bytes]:
        """(size, root) of the tree of the first size lines (the whole ledger when None)."""
        self.update()
        hashes = self.leaves(size) if size is not None else self.leaves()
        return len(hashes), root_of_hashes(hashes)

    def inclusion(self, seq: int, size: int) -> list[bytes]:
        """The inclusion proof of line seq in the tree of the first size lines."""
        self.update()
        return inclusion_path(seq - 1, self.leaves(size))

    def consistency(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from the tree of old lines to the tree of new lines."""
        self.update()
        return consistency_path(old, self.leaves(new))


def first_difference(recorded: Sequence[bytes], actual: Sequence[bytes]) -> int | None:
    """The 0-based index of the first leaf that differs, by bisection on subtree roots (None when equal)."""
    n = min(len(recorded), len(actual))
    if root_of_hashes(recorded[:n]) == root_of_hashes(actual[:n]):
        return None if len(recorded) == len(actual) else n
    lo, hi = 0, n  # the prefix of length lo agrees, the prefix of length hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if root_of_hashes(recorded[:mid]) == root_of_hashes(actual[:mid]):
            lo = mid
        else:
            hi = mid
    return lo
