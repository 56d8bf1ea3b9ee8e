"""The derived Merkle tree file: equal to the tree over the ledger's lines, incremental, rebuilt after a rewrite."""

from __future__ import annotations

from pathlib import Path

from ledger import LEDGER_NAME
from ledger.merkle import leaf_hash, root, root_of_hashes, verify_consistency, verify_inclusion
from ledger.tree import Tree, first_difference
from tests.support.ledger_factory import RUN_A, RUN_B, run_events, write


def write_run(home: Path, run_id: str) -> None:
    write(home, run_events(run_id))


def _lines(home: Path) -> list[bytes]:
    return (home / LEDGER_NAME).read_bytes().splitlines()


def test_the_tree_is_the_rfc9162_tree_of_the_lines_and_updates_incrementally(tmp_path: Path) -> None:
    write_run(tmp_path, RUN_A)
    tree = Tree(tmp_path)
    n1, r1 = tree.root()
    assert n1 == len(_lines(tmp_path)) and r1 == root(_lines(tmp_path))
    write_run(tmp_path, RUN_B)
    before = tree.leaves_path.read_bytes()
    n2, r2 = tree.root()
    lines = _lines(tmp_path)
    assert n2 == len(lines) > n1 and r2 == root(lines)
    assert tree.leaves_path.read_bytes()[: len(before)] == before, "an update only appends leaves"
    assert verify_consistency(n1, n2, r1, r2, tree.consistency(n1, n2))
    for seq in (1, n1, n2):
        assert verify_inclusion(seq - 1, n2, leaf_hash(lines[seq - 1]), tree.inclusion(seq, n2), r2)
    assert tree.root(n1) == (n1, r1)


def test_a_rewritten_ledger_rebuilds_the_tree(tmp_path: Path) -> None:
    write_run(tmp_path, RUN_A)
    tree = Tree(tmp_path)
    tree.update()
    path = tmp_path / LEDGER_NAME
    lines = _lines(tmp_path)
    path.write_bytes(b"\n".join(lines[:-1]) + b"\n")  # the last covered line is gone
    assert tree.root() == (len(lines) - 1, root(lines[:-1]))


def test_deleted_state_is_rebuilt_the_same(tmp_path: Path) -> None:
    write_run(tmp_path, RUN_A)
    tree = Tree(tmp_path)
    first = tree.root()
    tree.state_path.unlink()
    tree.leaves_path.unlink()
    assert tree.root() == first


def test_first_difference_finds_the_first_changed_leaf() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(37)]
    for bad in (0, 1, 17, 36):
        changed = list(leaves)
        changed[bad] = leaf_hash(b"x")
        assert first_difference(leaves, changed) == bad
    assert first_difference(leaves, leaves) is None
    assert root_of_hashes(leaves) != root_of_hashes(leaves[:-1])
