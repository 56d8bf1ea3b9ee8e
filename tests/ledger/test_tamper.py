"""Guarantee 2: corruption anywhere but the tail is found by verify, which names the first bad seq."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from ledger import Ledger, LedgerCorruptError, verify_file
from tests.support.ledgerkit import write_ledger

N = 5


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    return write_ledger(tmp_path_factory.mktemp("src"), N)


def _check(path: Path, content: bytes, first_bad: int) -> None:
    path.write_bytes(content)
    report = verify_file(path)
    assert not report.ok and report.first_bad_seq == first_bad, (report, content)
    assert report.head_seq == first_bad - 1


def test_flip_every_byte(lines: list[bytes], tmp_path: Path) -> None:
    data = b"".join(lines)
    path = tmp_path / "audit.jsonl"
    starts = [sum(map(len, lines[:k])) for k in range(N)]
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        seq = max(k for k in range(N) if starts[k] <= i) + 1
        _check(path, bytes(flipped), seq)


def test_delete_swap_duplicate_insert(lines: list[bytes], tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    for k in range(N - 1):  # deleting the very last line needs a witness: see tests/bin/test_verify.py
        _check(path, b"".join(lines[:k] + lines[k + 1 :]), k + 1)
        _check(path, b"".join(lines[:k] + [lines[k + 1], lines[k]] + lines[k + 2 :]), k + 1)
    for k in range(N):
        _check(path, b"".join(lines[: k + 1] + [lines[k]] + lines[k + 1 :]), k + 2)
        _check(path, b"".join(lines[:k] + [lines[(k + 2) % N]] + lines[k:]), k + 1)


def _rehash(line: bytes, **changes: object) -> bytes:
    """A forger's line: content changed and its own hash recomputed."""
    obj = orjson.loads(line)
    obj.pop("hash")
    obj.update(changes)
    body = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


def test_edited_and_rehashed_line_breaks_the_next_link(lines: list[bytes], tmp_path: Path) -> None:
    forged = _rehash(lines[1], stage="forged")
    _check(tmp_path / "audit.jsonl", b"".join([lines[0], forged] + lines[2:]), 3)


def test_deep_mode_catches_a_rehashed_line_that_is_not_a_valid_event(lines: list[bytes], tmp_path: Path) -> None:
    forged = _rehash(lines[-1], data={"key": 5})  # hash and chain right, payload invalid
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"".join(lines[:-1]) + forged)
    assert verify_file(path).ok  # the fast check trusts what the writer validated
    report = verify_file(path, deep=True)
    assert not report.ok and report.first_bad_seq == N and "does not decode" in (report.problem or "")


def test_read_refuses_a_line_whose_seq_is_wrong(lines: list[bytes], tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").write_bytes(b"".join(lines[:2] + lines[3:]))
    with pytest.raises(LedgerCorruptError) as err:
        list(Ledger.open(tmp_path, readonly=True).read())
    assert err.value.seq == 3


def test_two_process_verify_names_the_same_first_bad_seq(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger import verify as verify_mod

    lines = write_ledger(tmp_path / "big", 40)
    monkeypatch.setattr(verify_mod, "PARALLEL_MIN_BYTES", 1)
    helpers: list[object] = []
    popen = verify_mod.subprocess.Popen
    monkeypatch.setattr(verify_mod.subprocess, "Popen", lambda *a, **k: helpers.append(a) or popen(*a, **k))
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"".join(lines))
    whole = verify_file(path, parallel=False)
    assert verify_file(path) == whole and whole.ok and whole.head_seq == 40
    for k in (0, 7, 19, 20, 21, 33, 39):  # both halves and the seam
        flipped = lines[:k] + [lines[k].replace(b'"v":1', b'"v":2')] + lines[k + 1 :]
        _check(path, b"".join(flipped), k + 1)
        if k < 39:
            _check(path, b"".join(lines[:k] + lines[k + 1 :]), k + 1)
        assert verify_file(path) == verify_file(path, parallel=False)
    assert helpers  # the second half really was checked by a helper process
