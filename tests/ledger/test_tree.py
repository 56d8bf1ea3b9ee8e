"""The derived Merkle tree file: equal to the tree over the ledger's lines, incremental, rebuilt after a rewrite."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ledger import LEDGER_NAME, merkle, tree_build
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


def _append_lines(home: Path, start: int, count: int) -> None:
    """count ledger-shaped lines (seq start+1 ...; only seq and the hash suffix matter to the tree)."""
    with open(home / LEDGER_NAME, "ab") as f:
        for seq in range(start + 1, start + count + 1):
            f.write(b'{"seq":%d,"type":"X","data":{"n":%d},"hash":"%s"}\n' % (seq, seq * 7, b"%064x" % seq))


def _level_files_equal_the_reference(tree: Tree, hashes: list[bytes]) -> None:
    level, k = hashes, 0
    while len(level) >= 1:
        assert tree.level_path(k).read_bytes()[: 32 * len(level)] == b"".join(level), k
        if len(level) < 2:
            break
        raw = merkle.hash_pairs(b"".join(level))
        level, k = [raw[i : i + 32] for i in range(0, len(raw), 32)], k + 1


def _check_proofs(tree: Tree, lines: list[bytes], rng: random.Random, count: int | None = None) -> None:
    hashes = [leaf_hash(line) for line in lines]
    n = len(hashes)
    assert tree.root() == (n, merkle.root_of_hashes(hashes))
    picks = range(n) if count is None else [rng.randrange(n) for _ in range(count)] + [0, n - 1]
    for i in picks:
        assert tree.inclusion(i + 1, n) == merkle.inclusion_path(i, hashes), (i, n)
        assert tree.consistency(i + 1, n) == merkle.consistency_path(i + 1, hashes), (i + 1, n)
    assert tree.inclusions([i + 1 for i in picks], n) == [merkle.inclusion_path(i, hashes) for i in picks]
    m = rng.randrange(1, n + 1)  # a proof at an older size, as against a checkpoint
    assert tree.inclusion(m, m) == merkle.inclusion_path(m - 1, hashes[:m])
    assert tree.root(m) == (m, merkle.root_of_hashes(hashes[:m]))


def test_proofs_from_the_tree_files_equal_proofs_from_the_leaves(tmp_path: Path) -> None:
    rng = random.Random(17)
    for n in range(1, 65):  # one line per update: every way a level can gain a node
        _append_lines(tmp_path, n - 1, 1)
        tree = Tree(tmp_path)
        _check_proofs(tree, _lines(tmp_path), rng)
    _level_files_equal_the_reference(Tree(tmp_path), [leaf_hash(line) for line in _lines(tmp_path)])
    size = 64
    for _ in range(6):  # random larger sizes, reached in random steps
        step = rng.randrange(1, 700)
        _append_lines(tmp_path, size, step)
        size += step
        _check_proofs(Tree(tmp_path), _lines(tmp_path), rng, count=20)
    _level_files_equal_the_reference(Tree(tmp_path), [leaf_hash(line) for line in _lines(tmp_path)])


def _tree_of(tmp_path: Path, n: int) -> tuple[Tree, list[bytes]]:
    _append_lines(tmp_path, 0, n)
    tree = Tree(tmp_path)
    tree.update()
    return tree, [leaf_hash(line) for line in _lines(tmp_path)]


def test_a_torn_or_missing_level_is_detected_and_rebuilt(tmp_path: Path) -> None:
    tree, hashes = _tree_of(tmp_path, 300)
    good = {k: tree.level_path(k).read_bytes() for k in range(9)}
    with open(tree.level_path(3), "r+b") as f:
        f.truncate(len(good[3]) - 5)  # a torn tail
    tree.level_path(6).unlink()
    assert Tree(tmp_path).root() == (300, merkle.root_of_hashes(hashes))
    assert {k: tree.level_path(k).read_bytes() for k in range(9)} == good
    _check_proofs(Tree(tmp_path), _lines(tmp_path), random.Random(1), count=10)


def test_a_corrupt_level_entry_is_caught_by_the_proof_check_and_rebuilt(tmp_path: Path) -> None:
    tree, hashes = _tree_of(tmp_path, 300)
    raw = bytearray(tree.level_path(2).read_bytes())
    raw[32 * 5] ^= 1  # entry 5 of level 2 (leaves 20-23): on the path of leaf 16, not on the root's own path
    tree.level_path(2).write_bytes(bytes(raw))
    fresh = Tree(tmp_path)
    assert fresh.inclusion(17, 300) == merkle.inclusion_path(16, hashes)
    assert tree.level_path(2).read_bytes()[32 * 5 : 32 * 6] != bytes(raw[32 * 5 : 32 * 6])


def test_corrupt_leaves_under_a_recorded_root_are_re_hashed_from_the_ledger(tmp_path: Path) -> None:
    tree, hashes = _tree_of(tmp_path, 100)
    raw = bytearray(tree.leaves_path.read_bytes())
    raw[32 * 40] ^= 1
    tree.leaves_path.write_bytes(bytes(raw))
    assert Tree(tmp_path).inclusion(41, 100) == merkle.inclusion_path(40, hashes)
    assert tree.leaves_path.read_bytes() == b"".join(hashes)


def test_stale_levels_are_rebuilt_from_the_leaves(tmp_path: Path) -> None:
    tree, hashes = _tree_of(tmp_path, 200)
    state = json.loads(tree.state_path.read_text())
    for key in ("levels", "root"):  # a tree.json written before the levels existed
        del state[key]
    tree.state_path.write_text(json.dumps(state))
    for k in range(1, 8):
        tree.level_path(k).unlink()
    assert Tree(tmp_path).root() == (200, merkle.root_of_hashes(hashes))
    assert json.loads(tree.state_path.read_text())["levels"] == 200
    _level_files_equal_the_reference(tree, hashes)


def test_bytes_past_the_recorded_state_are_cut_before_appending(tmp_path: Path) -> None:
    tree, _ = _tree_of(tmp_path, 100)
    before = tree.state_path.read_bytes()
    _append_lines(tmp_path, 100, 50)
    Tree(tmp_path).update()
    tree.state_path.write_bytes(before)  # a crash after the files were appended, before tree.json was replaced
    _append_lines(tmp_path, 150, 23)
    _check_proofs(Tree(tmp_path), _lines(tmp_path), random.Random(2), count=10)
    _level_files_equal_the_reference(tree, [leaf_hash(line) for line in _lines(tmp_path)])
    assert tree.leaves_path.stat().st_size == 173 * 32


@pytest.mark.parametrize("helper", ["python", "failing"])
def test_a_from_scratch_build_in_two_processes_equals_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helper: str
) -> None:
    monkeypatch.setattr(tree_build, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(tree_build, "_idle_core", lambda: True)
    if helper == "failing":  # no helper: this process builds both halves
        monkeypatch.setattr(tree_build.sys, "executable", "/bin/false")
    here: list[int] = []  # the first leaf of each part this process wrote
    write = tree_build.write_levels
    monkeypatch.setattr(tree_build, "write_levels", lambda first, *a: (here.append(first), write(first, *a)))
    _append_lines(tmp_path, 0, 777)
    tree = Tree(tmp_path)
    hashes = [leaf_hash(line) for line in _lines(tmp_path)]
    assert tree.root() == (777, merkle.root_of_hashes(hashes))
    assert here == ([512] if helper == "python" else [512, 0]), "the helper built the first 512 leaves"
    _level_files_equal_the_reference(tree, hashes)
    _append_lines(tmp_path, 777, 300)  # and it goes on incrementally from there
    _check_proofs(Tree(tmp_path), _lines(tmp_path), random.Random(3), count=10)


def test_the_split_point_is_after_the_largest_power_of_two_below_the_line_count(tmp_path: Path) -> None:
    _append_lines(tmp_path, 0, 100)
    data = (tmp_path / LEDGER_NAME).read_bytes()
    with open(tmp_path / LEDGER_NAME, "rb") as f:
        for chunk in (37, 64, 1000, 1 << 20):
            assert tree_build._split_lines(f.fileno(), len(data), chunk) == (
                100,
                64,
                len(b"".join(line + b"\n" for line in data.splitlines()[:64])),
            )


def test_run_lines_finds_every_line_of_a_run_and_only_those(tmp_path: Path) -> None:
    from ledger.bundles import run_lines

    write_run(tmp_path, RUN_A)
    write_run(tmp_path, RUN_B)
    lines = _lines(tmp_path)
    for run_id in (RUN_A, RUN_B):
        expected = [(i, line) for i, line in enumerate(lines, start=1) if json.loads(line).get("run_id") == run_id]
        for chunk in (100, 4096, 1 << 22):  # chunks without the run are only counted
            assert expected and run_lines(tmp_path / LEDGER_NAME, run_id, chunk=chunk) == expected
            cut = expected[len(expected) // 2][0]
            assert run_lines(tmp_path / LEDGER_NAME, run_id, cut, chunk=chunk) == [e for e in expected if e[0] <= cut]
    assert run_lines(tmp_path / LEDGER_NAME, "20990101-000000-none") == []


def test_a_garbled_or_empty_state_file_means_a_rebuild(tmp_path: Path) -> None:
    tree, hashes = _tree_of(tmp_path, 90)
    for garbage in (b"", b'{"size": 90, "offs', b'{"size": "x"}'):
        tree.state_path.write_bytes(garbage)  # what a crash can leave of a file written without fsync
        assert Tree(tmp_path).root() == (90, merkle.root_of_hashes(hashes))
        assert json.loads(tree.state_path.read_text())["size"] == 90
