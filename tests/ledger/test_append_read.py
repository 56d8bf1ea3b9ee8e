"""Append, read, head and expected_seq through the public interface."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger import Ledger, LedgerError, WrongExpectedSeqError
from schemas.events import GENESIS_HASH, MetricLogged
from tests.support.ledgerkit import events, metric, write_ledger


def test_append_assigns_seq_prev_hash_and_reads_back(tmp_path: Path) -> None:
    batch = events(12)
    with Ledger.open(tmp_path) as ledger:
        assert ledger.head() == (0, GENESIS_HASH)
        recorded = ledger.append(batch[:5]) + ledger.append(batch[5:])
        assert [r.seq for r in recorded] == list(range(1, 13))
        assert ledger.head() == (12, recorded[-1].hash)
        read = list(ledger.read())
    assert [e.seq for e in read] == list(range(1, 13))
    assert [e.hash for e in read] == [r.hash for r in recorded]
    assert read[0].prev == GENESIS_HASH and all(b.prev == a.hash for a, b in zip(read, read[1:]))
    assert [e.model_dump(exclude={"seq", "prev", "hash"}) for e in read] == [
        e.model_dump(exclude={"seq", "prev", "hash"}) for e in batch
    ]


def test_read_after_and_until(tmp_path: Path) -> None:
    write_ledger(tmp_path, 20)
    with Ledger.open(tmp_path, readonly=True) as ledger:
        assert [e.seq for e in ledger.read(after=7, until=11)] == [8, 9, 10, 11]
        assert [e.seq for e in ledger.read(after=19)] == [20]
        assert list(ledger.read(after=20)) == []
        assert list(ledger.read(after=25)) == []
        assert list(ledger.read(after=5, until=5)) == []


def test_expected_seq_mismatch_raises_and_writes_nothing(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as a, Ledger.open(tmp_path) as b:
        a.append([metric(1)], expected_seq=0)
        seen = b.head()[0]
        a.append([metric(2)])
        size = (tmp_path / "audit.jsonl").stat().st_size
        with pytest.raises(WrongExpectedSeqError) as err:
            b.append([metric(3), metric(4)], expected_seq=seen)
        assert (err.value.expected, err.value.actual) == (1, 2)
        assert (tmp_path / "audit.jsonl").stat().st_size == size
        assert [r.seq for r in b.append([metric(3)], expected_seq=2)] == [3]


def test_two_handles_interleave_without_gaps(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as a, Ledger.open(tmp_path) as b:
        for i in range(10):
            (a if i % 2 else b).append([metric(i)])
        assert a.head() == b.head()
    assert Ledger.open(tmp_path, readonly=True).verify().ok


def test_readonly_needs_no_write_permission_and_cannot_append() -> None:
    home = Path(tempfile.mkdtemp(prefix="ledger-ro-"))  # outside root's private pytest folder
    try:
        write_ledger(home, 3)
        with open(home / "audit.jsonl", "ab") as f:
            f.write(b'{"data":')  # a torn tail a reader must leave alone
        before = {p.name: p.read_bytes() for p in home.iterdir() if p.is_file()}
        os.chmod(home, 0o755)
        for p in home.iterdir():
            os.chmod(p, 0o444)
        report = _as_nobody(lambda: _read_only_tour(home))
        assert report == "3 3 False PermissionError read-only", report
        assert {p.name: p.read_bytes() for p in home.iterdir() if p.is_file()} == before
        assert not (home / "quarantine").exists()
    finally:
        shutil.rmtree(home)


def _read_only_tour(home: Path) -> str:
    with Ledger.open(home, readonly=True) as ledger:
        seq = ledger.head()[0]
        events = len(list(ledger.read()))
        ok = ledger.verify().ok  # the torn tail is reported, not repaired
        try:
            Ledger.open(home)
            writer = "opened"
        except OSError as exc:
            writer = type(exc).__name__
        try:
            ledger.append([metric(4)])
            refused = "appended"
        except LedgerError as exc:
            refused = "read-only" if "read-only" in str(exc) else str(exc)
    return f"{seq} {events} {ok} {writer} {refused}"


def _as_nobody(fn: Callable[[], str]) -> str:
    """Run fn in a forked child without root's powers (as nobody when we are root)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            os.write(wfd, fn().encode())
        except BaseException as exc:  # report, never return into pytest
            os.write(wfd, f"child failed: {exc!r}".encode())
        finally:
            os._exit(0)
    os.close(wfd)
    out = b""
    while chunk := os.read(rfd, 4096):
        out += chunk
    os.waitpid(pid, 0)
    return out.decode()


def test_open_without_create_refuses_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Ledger.open(tmp_path / "nope.jsonl", create=False)
    with pytest.raises(FileNotFoundError):
        Ledger.open(tmp_path / "nope.jsonl", readonly=True)


def test_read_returns_current_model_classes(tmp_path: Path) -> None:
    write_ledger(tmp_path, 3)
    first = next(iter(Ledger.open(tmp_path, readonly=True).read()))
    assert isinstance(first, MetricLogged) and first.data.step == 1


def test_closed_ledger_refuses_append(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path)
    ledger.close()
    with pytest.raises(LedgerError, match="closed"):
        ledger.append([metric(1)])


def test_read_after_finds_its_start_by_bisection_on_a_big_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over 256 KiB the start is found by probing seqs, not by counting lines; the suffix is the same."""
    from ledger import lines as ledger_lines

    lines = write_ledger(tmp_path, 6_000)  # about 2 MB
    path = tmp_path / "audit.jsonl"
    end = path.stat().st_size
    counted: list[int] = []
    real = ledger_lines.offset_after
    monkeypatch.setattr(ledger_lines, "offset_after", lambda *a: counted.append(a[1]) or real(*a))
    with Ledger.open(tmp_path, readonly=True) as ledger:
        for after in (0, 1, 2_999, 3_000, 5_998, 5_999, 6_000, 7_000):
            expected = sum(len(x) for x in lines[:after]) if after <= 6_000 else None
            if expected is not None:
                assert ledger_lines.offset_of_line(path, after, end) == expected
            before = len(counted)
            got = [e.seq for e in ledger.read(after=after, until=after + 3)]
            assert got == list(range(after + 1, min(after + 3, 6_000) + 1))
            if after > 6_000:
                del counted[before:]  # past the end, the last window is counted to find there is nothing
    window = ledger_lines.READ_CHUNK // min(map(len, lines)) + 1
    assert max(counted) <= window < 2_000, "bisection left more than one read window of lines to count"


def test_bisection_falls_back_to_counting_where_a_line_does_not_parse(tmp_path: Path) -> None:
    from ledger.lines import offset_of_line

    lines = write_ledger(tmp_path, 4_000)
    garbled = [b"not a ledger line\n" if 1_000 <= i < 3_000 else x for i, x in enumerate(lines)]
    path = tmp_path / "garbled.jsonl"
    path.write_bytes(b"".join(garbled))
    for after in (10, 1_500, 3_500):
        assert offset_of_line(path, after, path.stat().st_size) == sum(len(x) for x in garbled[:after])
