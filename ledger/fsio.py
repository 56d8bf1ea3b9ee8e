"""Durable file helpers every package uses: fsync a folder, write all bytes, atomic temp-then-rename, flock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


def fsync_dir(path: Path) -> None:
    """Make a directory entry (a created, renamed or removed file) durable; on a file, fsync the file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write every byte of data to fd (os.write may write fewer than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_atomic(
    path: Path, write: Callable[[BinaryIO], object], prefix: str = ".tmp-", *, durable: bool = False
) -> None:
    """Write path atomically: write(f) into a temp file beside it (named prefix...), flush, fsync, rename over path.

    The temp file is removed when anything fails. With durable, the folder is fsynced too so the
    rename itself survives a crash; otherwise the caller does that when it needs to.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def write_bytes_atomic(path: Path, payload: bytes, *, durable: bool = False) -> None:
    """write_atomic for a bytes payload."""
    write_atomic(path, lambda f: f.write(payload), prefix=f".{path.name}.", durable=durable)


def write_file(path: Path, data: bytes | bytearray | memoryview, mode: int = 0o600) -> None:
    """Create or truncate path and write data to it (no fsync: for scratch files)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


@contextlib.contextmanager
def flocked(fd: int, *, shared: bool = False) -> Iterator[None]:
    """Hold an flock on an open descriptor (exclusive unless shared) for the body."""
    fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def lock_file(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an flock on the file at path (created if missing) for the body."""
    with open(path, "a+b") as f, flocked(f.fileno(), shared=shared):
        yield
