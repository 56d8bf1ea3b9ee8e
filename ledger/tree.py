"""The RFC 9162 Merkle tree over the ledger's lines, kept as derived, incrementally updated files in the home.

Leaf i (0-based) is line seq = i + 1; its entry is the exact bytes of the line without the newline.
`<home>/tree.leaves` holds the 32-byte leaf hashes in order; `<home>/tree.level-K` (K = 1, 2, ...) the
roots of the complete subtrees of 2**K leaves, in order (entry j covers leaves j*2**K .. (j+1)*2**K - 1),
so a root or a proof reads O(log n) hashes and never the whole leaf file. `<home>/tree.json` says how
many leaves, where the last one's line ends and its stated hash, the size the levels cover and the root
at that size. An update reads only the lines appended since and appends to each file; a ledger rewritten
under the tree (the last covered line no longer where and what it was) is noticed and the tree rebuilt;
levels that are missing, torn or stale (tree.json's size is not theirs, or the root they give is not the
one recorded), or that give a proof which does not verify against the root, are rebuilt from the leaves;
leaves that then give another root than the recorded one are re-hashed from the ledger. So the files are
written without fsync (one each would cost more than a 450-line update): tree.json, written last (in
place, under the tree lock every reader holds), is the commit point; a crash leaves at worst a missing
or garbled tree.json (a rebuild) or short or garbled tree files, which these checks find and rebuild;
bytes past where tree.json points are cut off before appending. All of it is derived: deleting the
files costs one full pass, never a fact.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from ledger import tree_build
from ledger.chain import seq_and_hash
from ledger.fsio import lock_file
from ledger.home import LEDGER_NAME, TREE_STATE_NAME
from ledger.lines import iter_chunks
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Levels,
    consistency_path_by,
    first_difference_in,
    hash_leaves,
    hash_pairs,
    inclusion_path_by,
    subtree_root_by,
    verify_consistency,
    verify_inclusion,
)
from ledger.reader import head_at, line_at, snapshot_end

T = TypeVar("T")
LEAVES_NAME = "tree.leaves"
LEVEL_PREFIX = "tree.level-"
LOCK_NAME = "tree.lock"

__all__ = ["HASH_SIZE", "LEAVES_NAME", "Tree", "TreeCacheError", "TreeState", "first_difference"]


class TreeCacheError(ValueError):
    """A derived tree file is shorter than tree.json says, or gives a root other than the recorded one."""


@dataclasses.dataclass(frozen=True)
class TreeState:
    """What the tree files cover: lines, the byte after the last, where it starts, its hash; the levels' size and root."""

    size: int = 0
    offset: int = 0
    line_offset: int = 0
    hash: str = ""
    levels: int = 0
    root: str = ""


def level_count(size: int) -> int:
    """How many levels above the leaves have at least one complete subtree in a tree of size leaves."""
    return max(size.bit_length() - 1, 0)


class _Reader:
    """Reads single hashes of the level files with pread, keeping each file open while the reader is."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.fds: dict[int, int] = {}

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def get(self, level: int, index: int) -> bytes:
        fd = self.fds.get(level)
        if fd is None:
            try:
                fd = self.fds[level] = os.open(self.tree.level_path(level), os.O_RDONLY)
            except FileNotFoundError:
                raise TreeCacheError(f"{self.tree.level_path(level).name} is missing") from None
        data = os.pread(fd, HASH_SIZE, index * HASH_SIZE)
        if len(data) != HASH_SIZE:
            raise TreeCacheError(f"{self.tree.level_path(level).name} has no entry {index}")
        return data

    def subtree(self, a: int, b: int) -> bytes:
        return subtree_root_by(a, b, self.get)


class Tree:
    """The Merkle tree of the ledger under home (update() covers lines appended since; proofs read O(log n) hashes)."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.ledger = self.home / LEDGER_NAME
        self.state_path = self.home / TREE_STATE_NAME
        self.leaves_path = self.home / LEAVES_NAME
        self._covered: TreeState | None = None  # the state after this object's last update
        self._roots: dict[int, bytes] = {}  # roots of older sizes computed (and checked) by this object

    def level_path(self, level: int) -> Path:
        """The file of level `level` (0 is tree.leaves)."""
        return self.leaves_path if level == 0 else self.home / f"{LEVEL_PREFIX}{level}"

    def _level_paths(self) -> list[Path]:
        return [self.leaves_path, *sorted(self.home.glob(f"{LEVEL_PREFIX}*"))]

    # -- state -----------------------------------------------------------------------------------------------

    def _state(self) -> TreeState:
        """The recorded state when the leaf file and the ledger still agree with it, else TreeState() (rebuild)."""
        try:
            state = TreeState(**json.loads(self.state_path.read_text()))
            have = self.leaves_path.stat().st_size
        except (OSError, ValueError, TypeError):
            return TreeState()
        if any(type(getattr(state, f.name)) is not type(f.default) for f in dataclasses.fields(state)):
            return TreeState()  # garbled: a field of the wrong type
        if have < state.size * HASH_SIZE:
            return TreeState()
        if state.size and line_at(self.ledger, state.line_offset, state.offset) != (state.size, state.hash):
            return TreeState()  # the ledger no longer holds the last covered line where it was: rebuild
        return state

    def _levels_fresh(self, state: TreeState) -> bool:
        """Whether the level files cover state.size and give the root recorded for it."""
        if state.levels != state.size or not state.root:
            return False
        try:
            for level in range(1, level_count(state.size) + 1):
                if self.level_path(level).stat().st_size < (state.size >> level) * HASH_SIZE:
                    return False
            with _Reader(self) as r:
                return r.subtree(0, state.size).hex() == state.root
        except (OSError, TreeCacheError):
            return False

    def _write_state(self, state: TreeState) -> None:
        """Overwrite tree.json in place, without fsync or rename (a rename over it cost ~12 ms on a busy disk).

        Every reader holds the tree lock, so none sees it half written; a crash that garbles it means a
        rebuild, and a stale or mixed one is caught by the checks on load like any other stale state.
        """
        data = json.dumps(dataclasses.asdict(state)).encode()
        fd = os.open(self.state_path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)

    def _append(self, level: int, keep: int, new: bytes) -> None:
        """Cut the level's file to its first keep hashes and append new (no fsync: see the module's docstring)."""
        with open(self.level_path(level), "ab") as f:
            f.truncate(keep * HASH_SIZE)
            f.write(new)

    def _extend_levels(self, old: int, new: int, leaves_from: int, leaves: bytes) -> None:
        """Append to every level the complete subtrees that growing from old to new leaves completes.

        leaves holds the leaf hashes from index leaves_from (<= old) to new; an entry a level needs from
        before that is read from its file (at most one per level).
        """
        start, data = leaves_from, leaves  # the entries of the level below, from index start
        with _Reader(self) as r:
            for level in range(1, level_count(new) + 1):
                have, want = old >> level, new >> level
                if want == have:
                    break  # no level above gains a node either
                need = 2 * have
                while need < start:  # an entry of the level below from before this update
                    start -= 1
                    data = r.get(level - 1, start) + data
                off = (need - start) * HASH_SIZE
                nodes = hash_pairs(memoryview(data)[off : off + 2 * (want - have) * HASH_SIZE])
                self._append(level, have, nodes)
                start, data = have, nodes

    def _rebuild_levels(self, size: int) -> bytes:
        """Recompute every level from the first size leaf hashes; return the root they give."""
        with open(self.leaves_path, "rb") as f:
            leaves = f.read(size * HASH_SIZE)
        if len(leaves) != size * HASH_SIZE:
            raise TreeCacheError(f"{self.leaves_path.name} holds fewer than {size} leaves")
        for path in self._level_paths()[1:]:
            path.unlink(missing_ok=True)
        self._extend_levels(0, size, 0, leaves)
        with _Reader(self) as r:
            return r.subtree(0, size)

    # -- update ----------------------------------------------------------------------------------------------

    def update(self) -> int:
        """Hash the lines appended since the last update (all of them when the state is absent or stale); return the size."""
        with lock_file(self.home / LOCK_NAME):
            state = self._update()
        self._covered = state
        return state.size

    def _update(self) -> TreeState:
        state = self._state()
        if state.size and not self._levels_fresh(state):
            root = self._rebuild_levels(state.size)
            if state.root and state.root != root.hex():
                state = TreeState()  # the leaves no longer give the recorded root either: re-hash the ledger
            else:
                state = dataclasses.replace(state, levels=state.size, root=root.hex())
                self._write_state(state)
        end = snapshot_end(self.ledger) if self.ledger.exists() else 0
        if state.size == 0:
            for path in self._level_paths():
                path.unlink(missing_ok=True)
        if end <= state.offset:
            if state.size == 0:
                self._append(0, 0, b"")
                self._write_state(state)
            return state
        if state.size == 0 and tree_build.pays(end):
            return self._build_two(end)
        parts: list[bytes] = []
        size, last_start, last = state.size, state.line_offset, b""
        for _, chunk_end, lines in iter_chunks(self.ledger, state.offset, end):
            if not lines:
                continue
            parts.append(hash_leaves(lines))
            size += len(lines)
            last = lines[-1]
            last_start = chunk_end - len(last) - 1
        stated = seq_and_hash(last)
        if stated is None or stated[0] != size:
            raise ValueError(f"line {size} of {self.ledger} does not state seq {size}")
        new = b"".join(parts)
        self._append(0, state.size, new)
        self._extend_levels(state.size, size, state.size, new)
        with _Reader(self) as r:
            root = r.subtree(0, size)
        state = TreeState(size, end, last_start, stated[1], size, root.hex())
        self._write_state(state)
        return state

    def _build_two(self, end: int) -> TreeState:
        """Build the tree of the lines in [0, end) from scratch in two processes (ledger/tree_build.py)."""
        n = tree_build.build_two(self.ledger, end, self.leaves_path, self.home / LEVEL_PREFIX)
        head = head_at(self.ledger, end)
        if head.seq != n:
            raise ValueError(f"line {n} of {self.ledger} does not state seq {n}")
        with _Reader(self) as r:
            root = r.subtree(0, n)
        state = TreeState(n, end, head.line_offset, head.hash, n, root.hex())
        self._write_state(state)
        return state

    def _cover(self, size: int) -> int:
        """Make sure the files cover at least size leaves (one update per object, more only when asked beyond it).

        Returns the size they cover.
        """
        if self._covered is None or self._covered.size < size:
            self.update()
        assert self._covered is not None
        if self._covered.size < size:
            raise ValueError(f"the ledger has {self._covered.size} lines, not {size}")
        return self._covered.size

    # -- reading ---------------------------------------------------------------------------------------------

    def leaves(self, size: int | None = None) -> list[bytes]:
        """The first size leaf hashes (all covered ones when None), after an update. O(n): for checks, not proofs."""
        n = self.update() if size is None else size
        with open(self.leaves_path, "rb") as f:
            data = f.read(n * HASH_SIZE)
        if len(data) < n * HASH_SIZE:
            raise ValueError(f"the ledger has {len(data) // HASH_SIZE} lines, not {n}")
        return [data[i : i + HASH_SIZE] for i in range(0, n * HASH_SIZE, HASH_SIZE)]

    def root(self, size: int | None = None) -> tuple[int, bytes]:
        """(size, root) of the tree of the first size lines (the whole ledger when None), from O(log n) hashes."""
        head = self.update() if size is None else self._cover(size)
        if size is None or size == head or size == 0:
            assert self._covered is not None
            return (head, bytes.fromhex(self._covered.root)) if head and size != 0 else (size or 0, EMPTY_ROOT)

        def build() -> bytes:
            with _Reader(self) as r:
                return self._root_of(r, size)

        return size, self._checked(build)

    def inclusion(self, seq: int, size: int) -> list[bytes]:
        """The inclusion proof of line seq in the tree of the first size lines, checked against that tree's root."""
        return self.inclusions([seq], size)[0]

    def inclusions(self, seqs: Sequence[int], size: int) -> list[list[bytes]]:
        """inclusion() of each of seqs, reading through one set of open files (a run's proofs, say)."""
        self._cover(size)

        def build() -> list[list[bytes]]:
            proofs = []
            with _Reader(self) as r:
                head = self._root_of(r, size)
                for seq in seqs:
                    proof = inclusion_path_by(seq - 1, size, r.subtree)
                    if not verify_inclusion(seq - 1, size, r.get(0, seq - 1), proof, head):
                        raise TreeCacheError(
                            f"the tree files give an inclusion proof for seq {seq} that does not verify"
                        )
                    proofs.append(proof)
            return proofs

        return self._checked(build)

    def consistency(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from the tree of old lines to the tree of new lines, checked against both roots."""
        self._cover(new)

        def build() -> list[bytes]:
            with _Reader(self) as r:
                proof = consistency_path_by(old, new, r.subtree)
                old_root, new_root = r.subtree(0, old), self._root_of(r, new)
            if not verify_consistency(old, new, old_root, new_root, proof):
                raise TreeCacheError(f"the tree files give a consistency proof {old} -> {new} that does not verify")
            return proof

        return self._checked(build)

    def _root_of(self, r: _Reader, size: int) -> bytes:
        """The root at size: the recorded one for the covered size, else computed once and checked by a consistency
        proof to the recorded head (TreeCacheError when it fails)."""
        assert self._covered is not None
        head = self._covered.size
        head_root = bytes.fromhex(self._covered.root) if head else EMPTY_ROOT
        if size == head or size == 0:
            return head_root if size else EMPTY_ROOT
        if size not in self._roots:
            old_root = r.subtree(0, size)
            if not verify_consistency(size, head, old_root, head_root, consistency_path_by(size, head, r.subtree)):
                raise TreeCacheError(f"the tree files give a root at size {size} not consistent with the head")
            self._roots[size] = old_root
        return self._roots[size]

    def _checked(self, build: Callable[[], T]) -> T:
        """build(); when the files turn out torn or inconsistent, rebuild the levels from the leaves and build again."""
        try:
            return build()
        except (OSError, TreeCacheError):
            self._roots.clear()
            with lock_file(self.home / LOCK_NAME):
                state = self._state()
                self._write_state(dataclasses.replace(state, levels=0))  # stale: the next update rebuilds them
            self.update()
            return build()


def first_difference(recorded: Sequence[bytes], actual: Sequence[bytes]) -> int | None:
    """The 0-based index of the first leaf that differs (None when equal), descending through subtree roots.

    Each side's levels are built once (O(n)); the descent compares O(log n) subtree roots.
    """
    n = min(len(recorded), len(actual))
    index = first_difference_in(Levels(recorded[:n]), Levels(actual[:n]), n) if n else None
    if index is None:
        return None if len(recorded) == len(actual) else n
    return index
