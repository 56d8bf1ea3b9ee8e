"""Guarantee 5: disk full and I/O errors raise LedgerWriteError, acknowledge nothing, and leave a ledger that verifies."""

from __future__ import annotations

import errno
import os
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import Ledger, LedgerWriteError, store, verify_file
from tests.support.ledgerkit import events, metric


def _in_child(fn: object) -> str:
    """Run fn() in a forked child (rlimits are per process); return what it reports, or raise its failure."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            os.write(wfd, b"ok " + fn().encode())  # type: ignore[operator]
        except BaseException as exc:  # report any failure to the parent
            os.write(wfd, f"fail {type(exc).__name__}: {exc}".encode())
        finally:
            os._exit(0)
    os.close(wfd)
    out = b""
    while chunk := os.read(rfd, 1 << 16):
        out += chunk
    os.waitpid(pid, 0)
    status, _, text = out.decode().partition(" ")
    assert status == "ok", text
    return text


def test_file_size_limit_raises_and_the_next_append_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"

    def scenario() -> str:
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        with Ledger.open(tmp_path) as ledger:
            ledger.append(events(5))
            size = path.stat().st_size
            resource.setrlimit(resource.RLIMIT_FSIZE, (size + 700, hard))
            try:
                ledger.append(events(50, start=6))
            except LedgerWriteError as exc:
                message, code = str(exc), exc.errno
            else:
                raise AssertionError("append past the file size limit was acknowledged")
            assert path.stat().st_size == size, "a failed append left bytes behind"
            assert verify_file(path).ok and ledger.head()[0] == 5
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space returns
            assert [r.seq for r in ledger.append(events(3, start=6))] == [6, 7, 8]
        return f"{code} {message}"

    code, message = _in_child(scenario).split(" ", 1)
    assert int(code) == errno.EFBIG and "nothing recorded" in message
    report = verify_file(path)
    assert report.ok and report.head_seq == 8


def test_fsync_error_rolls_back_and_acknowledges_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Ledger.open(tmp_path) as ledger:
        ledger.append([metric(1)])
        size = (tmp_path / "audit.jsonl").stat().st_size

        def failing(fd: int) -> None:
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(store.os, "fdatasync", failing)
        with pytest.raises(LedgerWriteError, match="Input/output error"):
            ledger.append([metric(2), metric(3)])
        monkeypatch.undo()
        assert (tmp_path / "audit.jsonl").stat().st_size == size
        assert [r.seq for r in ledger.append([metric(2)])] == [2]
    assert verify_file(tmp_path / "audit.jsonl").ok


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_real_full_file_system(tiny_fs: Path) -> None:
    ballast = tiny_fs / "ballast"
    ballast.write_bytes(b"x" * 16384)
    with Ledger.open(tiny_fs) as ledger:
        with pytest.raises(LedgerWriteError) as err:
            for i in range(1000):
                ledger.append(events(20, start=1 + 20 * i))
        assert err.value.errno == errno.ENOSPC
        head = ledger.head()
        report = verify_file(tiny_fs / "audit.jsonl")
        assert report.ok and report.head_seq == head[0] > 0
        ballast.unlink()  # space returns
        assert ledger.append(events(20))[-1].seq == head[0] + 20
    assert verify_file(tiny_fs / "audit.jsonl").ok
