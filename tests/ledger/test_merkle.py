"""RFC 9162 tree: the RFC 6962 reference roots, and every proof of sizes 1-64 verifies while any tampering fails."""

from __future__ import annotations

import pytest

from ledger import merkle

# RFC 6962 reference inputs and roots (google/certificate-transparency merkle_tree_test, transparency-dev/merkle testonly)
REF_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
REF_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
REF_INCLUSION_8 = {
    0: [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    5: [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
REF_CONSISTENCY_2_8 = [
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]

LEAVES = [f"line {i}".encode() for i in range(64)]
HASHES = [merkle.leaf_hash(e) for e in LEAVES]


def flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


@pytest.mark.parametrize("n", range(9))
def test_roots_equal_the_rfc6962_reference_vectors(n: int) -> None:
    assert merkle.root(REF_LEAVES[:n]).hex() == REF_ROOTS[n]


def test_reference_proofs_of_the_size_8_tree() -> None:
    for index, expected in REF_INCLUSION_8.items():
        assert [h.hex() for h in merkle.inclusion_proof(index, REF_LEAVES)] == expected
    assert [h.hex() for h in merkle.consistency_proof(2, REF_LEAVES)] == REF_CONSISTENCY_2_8


def test_the_split_is_the_largest_power_of_two_below_n() -> None:
    assert [merkle.split(n) for n in (2, 3, 4, 5, 8, 9, 1000)] == [1, 2, 2, 4, 4, 8, 512]

    # the level-by-level root agrees with the recursive definition
    def mth(h: list[bytes]) -> bytes:
        if len(h) == 1:
            return h[0]
        k = merkle.split(len(h))
        return merkle.node_hash(mth(h[:k]), mth(h[k:]))

    for n in range(1, 65):
        assert merkle.root_of_hashes(HASHES[:n]) == mth(HASHES[:n])


@pytest.mark.parametrize("n", range(1, 65))
def test_every_inclusion_proof_verifies_and_tampering_fails(n: int) -> None:
    tree, head = HASHES[:n], merkle.root_of_hashes(HASHES[:n])
    for i in range(n):
        proof = merkle.inclusion_path(i, tree)
        assert merkle.verify_inclusion(i, n, tree[i], proof, head)
        assert not merkle.verify_inclusion(i, n, flip(tree[i]), proof, head)
        assert not merkle.verify_inclusion(i, n, tree[i], proof, flip(head))
        for j in range(len(proof)):
            bad = list(proof)
            bad[j] = flip(bad[j])
            assert not merkle.verify_inclusion(i, n, tree[i], bad, head)
        for wrong in (i - 1, i + 1):
            if 0 <= wrong < n and tree[wrong] != tree[i]:
                assert not merkle.verify_inclusion(wrong, n, tree[i], proof, head)
        for size in {n * 2, n // 2} - {n}:  # wrong tree sizes (as transparency-dev/merkle's corrupt probes)
            assert not merkle.verify_inclusion(i, size, tree[i], proof, head)
        assert not merkle.verify_inclusion(i, n, tree[i], proof + [tree[i]], head)
        if proof:
            assert not merkle.verify_inclusion(i, n, tree[i], proof[:-1], head)


@pytest.mark.parametrize("n", range(1, 65))
def test_every_consistency_proof_verifies_and_tampering_fails(n: int) -> None:
    new = merkle.root_of_hashes(HASHES[:n])
    for m in range(1, n + 1):
        old = merkle.root_of_hashes(HASHES[:m])
        proof = merkle.consistency_path(m, HASHES[:n])
        assert merkle.verify_consistency(m, n, old, new, proof), (m, n)
        assert not merkle.verify_consistency(m, n, flip(old), new, proof)
        assert not merkle.verify_consistency(m, n, old, flip(new), proof)
        for j in range(len(proof)):
            bad = list(proof)
            bad[j] = flip(bad[j])
            assert not merkle.verify_consistency(m, n, old, new, bad)
        for m2, n2 in {(m - 1, n), (m + 1, n), (m ^ 2, n), (m, n * 2), (m, n // 2)} - {(m, n)}:
            if 0 < m2 <= n2:  # wrong sizes
                assert not merkle.verify_consistency(m2, n2, old, new, proof), (m, n, m2, n2)


def test_a_fork_is_not_consistent() -> None:
    forked = HASHES[:10] + [merkle.leaf_hash(b"other")] + HASHES[11:20]
    proof = merkle.consistency_path(12, forked)
    assert not merkle.verify_consistency(
        12, 20, merkle.root_of_hashes(HASHES[:12]), merkle.root_of_hashes(forked), proof
    )


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_path(3, HASHES[:3])
    with pytest.raises(ValueError):
        merkle.consistency_path(4, HASHES[:3])


def _levels(hashes: list[bytes]) -> list[list[bytes]]:
    """The complete-subtree roots per level, as the tree files hold them (level 0 the leaves)."""
    levels = [hashes]
    while len(levels[-1]) >= 2:
        raw = merkle.hash_pairs(b"".join(levels[-1]))
        levels.append([raw[i : i + 32] for i in range(0, len(raw), 32)])
    return levels


def test_bulk_hashing_equals_one_hash_at_a_time() -> None:
    assert merkle.hash_leaves(LEAVES) == b"".join(HASHES)
    assert merkle.hash_leaves([]) == b""
    joined = b"".join(HASHES[:9])  # an odd last hash is left out
    assert merkle.hash_pairs(joined) == b"".join(merkle.node_hash(HASHES[i], HASHES[i + 1]) for i in range(0, 8, 2))
    assert merkle.hash_pairs(memoryview(joined)[32:]) == merkle.hash_pairs(b"".join(HASHES[1:9]))


@pytest.mark.parametrize("n", [*range(1, 65), 100, 257, 1000, 1023, 1025])
def test_proofs_from_complete_subtree_roots_equal_proofs_from_the_leaves(n: int) -> None:
    hashes = [merkle.leaf_hash(b"%d" % i) for i in range(n)]
    levels = _levels(hashes)
    asked: list[tuple[int, int]] = []

    def subtree(a: int, b: int) -> bytes:
        asked.append((a, b))
        return merkle.subtree_root_by(a, b, lambda level, index: levels[level][index])

    assert subtree(0, n) == merkle.root_of_hashes(hashes)
    indexes = range(n) if n <= 64 else sorted({0, 1, n // 3, n // 2, n - 2, n - 1})
    for i in indexes:
        asked.clear()
        assert merkle.inclusion_path_by(i, n, subtree) == merkle.inclusion_path(i, hashes), (i, n)
        assert len(asked) <= n.bit_length(), "one subtree root per proof hash"
        m = i + 1
        asked.clear()
        assert merkle.consistency_path_by(m, n, subtree) == merkle.consistency_path(m, hashes), (m, n)
        assert len(asked) <= 2 * n.bit_length()
    with pytest.raises(ValueError):
        merkle.inclusion_path_by(n, n, subtree)
    with pytest.raises(ValueError):
        merkle.consistency_path_by(0, n, subtree)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 64, 100, 1000])
def test_in_memory_levels_give_the_roots_and_proofs_of_every_prefix(n: int) -> None:
    hashes = [merkle.leaf_hash(b"%d" % i) for i in range(n)]
    levels = merkle.Levels(hashes)
    for size in sorted({1, n // 2 or 1, n - 1 or 1, n}):
        assert levels.root(size) == merkle.root_of_hashes(hashes[:size])
        assert levels.inclusion(size - 1, size) == merkle.inclusion_path(size - 1, hashes[:size])
        assert levels.consistency(size, n) == merkle.consistency_path(size, hashes)
    assert merkle.Levels(b"").root() == merkle.EMPTY_ROOT
    with pytest.raises(IndexError):
        levels.complete(0, n)


def test_the_first_difference_is_found_by_descending_the_tree() -> None:
    hashes = [merkle.leaf_hash(b"%d" % i) for i in range(1000)]
    for bad in (0, 1, 511, 512, 700, 999):
        changed = list(hashes)
        for i in range(bad, 1000, 97):  # later leaves differ too: the first one is named
            changed[i] = merkle.leaf_hash(b"x%d" % i)
        for size in (bad + 1, 1000):
            assert merkle.first_difference_in(merkle.Levels(hashes), merkle.Levels(changed), size) == bad
    assert merkle.first_difference_in(merkle.Levels(hashes), merkle.Levels(hashes), 1000) is None
