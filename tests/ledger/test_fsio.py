"""The durable-write helpers every package uses, and the deprecated WrongExpectedSeq name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ledger
from ledger import fsync_dir, lock_file, write_all, write_atomic, write_bytes_atomic


def test_write_atomic_replaces_the_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    target.write_bytes(b"old")
    write_bytes_atomic(target, b"new", durable=True)
    assert target.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["doc.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    target.write_bytes(b"old")

    def boom(f: object) -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_atomic(target, boom)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["doc.json"]


def test_write_all_writes_every_byte(tmp_path: Path) -> None:
    data = os.urandom(1 << 20)
    fd = os.open(tmp_path / "blob", os.O_WRONLY | os.O_CREAT)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
    fsync_dir(tmp_path)
    assert (tmp_path / "blob").read_bytes() == data


def test_lock_file_is_exclusive(tmp_path: Path) -> None:
    import fcntl

    with lock_file(tmp_path / "x.lock"), open(tmp_path / "x.lock", "rb") as other, pytest.raises(BlockingIOError):
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(tmp_path / "x.lock", "rb") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on exit


def test_the_old_error_name_is_the_new_class() -> None:
    assert ledger.WrongExpectedSeq is ledger.WrongExpectedSeqError
    assert ledger.WrongExpectedSeqError.__name__ == "WrongExpectedSeqError"
