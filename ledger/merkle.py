"""RFC 9162 Merkle tree hashing and proofs: pure functions over leaf entries or leaf hashes (SHA-256)."""

from __future__ import annotations

import hashlib
import os
import struct
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter

EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = 32
_digest = type(hashlib.sha256()).digest  # unbound: map() calls it in C, no Python frame per hash
_leaf_prefix = b"\x00".__add__
_node_prefix = b"\x01".__add__
_pair = struct.Struct(f"{2 * HASH_SIZE}s")


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def hash_leaves(entries: Iterable[bytes]) -> bytes:
    """The leaf hashes of entries, concatenated (32 bytes each): the same as leaf_hash per entry, in bulk."""
    return b"".join(map(_digest, map(hashlib.sha256, map(_leaf_prefix, entries))))


def hash_pairs(hashes: bytes | memoryview) -> bytes:
    """The node hashes of consecutive pairs of concatenated 32-byte hashes (an odd last one is left out), concatenated.

    One level up of a complete-subtree level: node i = node_hash(hashes[2i], hashes[2i + 1]).
    """
    whole = len(hashes) - len(hashes) % (2 * HASH_SIZE)
    pairs = map(itemgetter(0), _pair.iter_unpack(hashes[:whole]))
    return b"".join(map(_digest, map(hashlib.sha256, map(_node_prefix, pairs))))


def complete_levels(leaves: bytes) -> Iterator[bytes]:
    """The leaf hashes, then level by level the roots of the complete subtrees they form (concatenated hashes).

    Level k of leaves that start at a multiple of 2**k (the caller's to ensure) are that level's entries
    from index first >> k of the whole tree's.
    """
    level = leaves
    while level:
        yield level
        level = hash_pairs(level) if len(level) >= 2 * HASH_SIZE else b""


def hash_file_lines(fd: int, start: int, end: int, chunk: int = 4 << 20) -> bytes:
    """The leaf hashes of the complete lines in bytes [start, end) of the open file fd (start at a line start)."""
    parts, pos, rest = [], start, b""
    while pos < end:
        data = os.pread(fd, min(chunk, end - pos), pos)
        if not data:
            break
        pos += len(data)
        buf = rest + data if rest else data
        cut = buf.rfind(b"\n") + 1
        rest = buf[cut:]
        lines = buf[:cut].split(b"\n")
        lines.pop()
        parts.append(hash_leaves(lines))
    return b"".join(parts)


def write_levels(first: int, leaves: bytes, level_path: Callable[[int], str]) -> None:
    """pwrite leaves and the complete subtrees they form (see complete_levels) at their place in each level file."""
    for k, level in enumerate(complete_levels(leaves)):
        fd = os.open(level_path(k), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            view, off = memoryview(level), (first >> k) * HASH_SIZE
            while view:
                n = os.pwrite(fd, view, off)
                view, off = view[n:], off + n
        finally:
            os.close(fd)


def level_files(leaves_file: str, prefix: str) -> Callable[[int], str]:
    """The file of each level of a tree: level 0 is leaves_file, level k >= 1 is prefix<k>."""
    return lambda k: leaves_file if k == 0 else f"{prefix}{k}"


def split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    """The tree head over leaf hashes (level by level; an odd last node is promoted, never duplicated)."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf entries (RFC 9162 2.1.1)."""
    return root_of_hashes([leaf_hash(e) for e in leaves])


def inclusion_path(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) over leaf hashes (RFC 9162 2.1.3.1), leaf-to-root order."""
    n = len(hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} outside a tree of {n}")
    if n == 1:
        return []
    k = split(n)
    if index < k:
        return inclusion_path(index, hashes[:k]) + [root_of_hashes(hashes[k:])]
    return inclusion_path(index - k, hashes[k:]) + [root_of_hashes(hashes[:k])]


def inclusion_path_by(index: int, size: int, subtree: Callable[[int, int], bytes]) -> list[bytes]:
    """PATH(index, D[size]) given subtree(a, b) = MTH(D[a:b]): only O(log n) subtree roots are asked for.

    Every range asked for either is a complete subtree (b - a a power of two, a a multiple of it) or ends at size.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} outside a tree of {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index < lo + k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo += k
    return path[::-1]


def consistency_path_by(m: int, n: int, subtree: Callable[[int, int], bytes]) -> list[bytes]:
    """PROOF(m, D[n]) given subtree(a, b) = MTH(D[a:b]), as inclusion_path_by."""
    if not 0 < m <= n:
        raise ValueError(f"old size {m} outside 1..{n}")
    path: list[bytes] = []
    lo, hi, complete = 0, n, True
    while m != hi - lo:
        k = split(hi - lo)
        if m <= k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        path.append(subtree(lo, hi))
    return path[::-1]


def subtree_root_by(a: int, b: int, complete: Callable[[int, int], bytes]) -> bytes:
    """MTH(D[a:b]) from complete(level, index), the root of the complete subtree of 2**level leaves at index.

    a must be a multiple of the largest power of two not above b - a (true of every range the proofs ask for).
    """
    if a >= b:
        return EMPTY_ROOT
    roots = []
    while a < b:
        level = (b - a).bit_length() - 1
        roots.append(complete(level, a >> level))
        a += 1 << level
    r = roots.pop()
    while roots:
        r = node_hash(roots.pop(), r)
    return r


class Levels:
    """Every complete-subtree root of a sequence of leaf hashes, in memory: roots and proofs of any prefix
    in O(log n) after one O(n) pass (what the tree files hold, for leaves re-hashed from the lines)."""

    def __init__(self, leaves: bytes | Sequence[bytes]) -> None:
        raw = leaves if isinstance(leaves, bytes) else b"".join(leaves)
        self.size = len(raw) // HASH_SIZE
        self.levels = list(complete_levels(raw))

    def complete(self, level: int, index: int) -> bytes:
        """The root of the complete subtree of 2**level leaves at index."""
        if level >= len(self.levels) or (index + 1) * HASH_SIZE > len(self.levels[level]):
            raise IndexError(f"no complete subtree {index} of 2**{level} leaves in a tree of {self.size}")
        return self.levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE]

    def subtree(self, a: int, b: int) -> bytes:
        """MTH(D[a:b]) (a aligned as subtree_root_by needs)."""
        return subtree_root_by(a, b, self.complete)

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first size leaves (all when None)."""
        return self.subtree(0, self.size if size is None else size)

    def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_path_by(index, self.size if size is None else size, self.subtree)

    def consistency(self, m: int, n: int | None = None) -> list[bytes]:
        return consistency_path_by(m, self.size if n is None else n, self.subtree)


def first_difference_in(recorded: Levels, actual: Levels, size: int) -> int | None:
    """The 0-based index of the first leaf below size where two trees differ, descending from the root
    through subtree roots (O(log n) of them, each O(log n) reads); None when their prefixes are equal."""
    if recorded.root(size) == actual.root(size):
        return None
    lo, hi = 0, size  # the subtree [lo, hi) differs, every leaf before lo is equal
    while hi - lo > 1:
        k = split(hi - lo)
        if recorded.subtree(lo, lo + k) != actual.subtree(lo, lo + k):
            hi = lo + k
        else:
            lo += k
    return lo


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The inclusion proof of leaf `index` over leaf entries."""
    return inclusion_path(index, [leaf_hash(e) for e in leaves])


def consistency_path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) over leaf hashes (RFC 9162 2.1.4.1, SUBPROOF)."""
    n = len(hashes)
    if not 0 < m <= n:
        raise ValueError(f"old size {m} outside 1..{n}")
    return _subproof(m, hashes, True)


def _subproof(m: int, hashes: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [root_of_hashes(hashes)]
    k = split(n)
    if m <= k:
        return _subproof(m, hashes[:k], complete) + [root_of_hashes(hashes[k:])]
    return _subproof(m - k, hashes[k:], False) + [root_of_hashes(hashes[:k])]


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The consistency proof from size m to len(leaves), over leaf entries."""
    return consistency_path(m, [leaf_hash(e) for e in leaves])


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root the proof leads to (RFC 9162 2.1.3.2), or None when the proof has the wrong shape."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """Whether `proof` shows leaf hash `leaf` at `index` in the tree of `size` with `expected_root`."""
    return root_from_inclusion(index, size, leaf, proof) == expected_root


def verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: whether `proof` shows the tree of size m with old_root is a prefix of size n's new_root."""
    if not 0 < m <= n:
        return m == 0 and not proof and old_root == EMPTY_ROOT  # the empty tree is a prefix of every tree
    if m == n:
        return not proof and old_root == new_root
    path = list(proof)
    if m & (m - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def main(argv: list[str]) -> int:
    """`python -S merkle.py LEDGER START END FIRST LEAVES_FILE LEVEL_PREFIX`: a helper process of a tree build.

    Hashes the lines in bytes [START, END) of LEDGER (leaf FIRST onwards, FIRST a multiple of the largest
    power of two not above their count) and writes them and their complete subtrees into LEAVES_FILE and
    LEVEL_PREFIX<k>; prints how many leaves. Standard library only, so it starts fast.
    """
    ledger, start, end, first, leaves_file, prefix = argv
    fd = os.open(ledger, os.O_RDONLY)
    try:
        leaves = hash_file_lines(fd, int(start), int(end))
    finally:
        os.close(fd)
    write_levels(int(first), leaves, level_files(leaves_file, prefix))
    print(len(leaves) // HASH_SIZE)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
