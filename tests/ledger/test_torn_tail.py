"""Guarantee 1: a torn last line is quarantined and recorded on open; nothing acknowledged is lost."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from ledger import Ledger, LedgerCorruptError, verify_file
from schemas.events import LedgerRecovered
from tests.support.ledgerkit import metric, write_ledger


def test_cut_last_line_at_every_byte_offset(tmp_path: Path) -> None:
    lines = write_ledger(tmp_path / "src", 3)
    kept, last = b"".join(lines[:-1]), lines[-1]
    acked = [line.rsplit(b'"hash":"', 1)[1][:64].decode() for line in lines[:-1]]
    for cut in range(len(last)):  # cut == len(last) - 1 drops only the newline: still torn
        home = tmp_path / f"cut{cut}"
        home.mkdir()
        (home / "audit.jsonl").write_bytes(kept + last[:cut])
        report = verify_file(home / "audit.jsonl")
        assert report.ok is (cut == 0)
        if cut:
            assert report.first_bad_seq == 3 and report.torn_tail_bytes == cut and "torn tail" in (report.problem or "")
        with Ledger.open(home) as ledger:
            events = list(ledger.read())
            assert ledger.verify().ok
        assert [e.hash for e in events[:2]] == acked
        if cut == 0:
            assert len(events) == 2
            continue
        recovered = events[2]
        assert isinstance(recovered, LedgerRecovered) and recovered.seq == 3
        torn = last[:cut]
        digest = hashlib.sha256(torn).hexdigest()
        assert recovered.data.offset == len(kept) and recovered.data.length == cut
        assert recovered.data.sha256 == digest
        qfile = home / recovered.data.quarantine_path
        assert qfile == home / "quarantine" / f"torn-{len(kept)}-{digest}.bin"
        assert qfile.read_bytes() == torn


def test_readonly_open_and_verify_never_recover(tmp_path: Path) -> None:
    lines = write_ledger(tmp_path, 2)
    path = tmp_path / "audit.jsonl"
    path.write_bytes(lines[0] + lines[1][:40])
    with Ledger.open(tmp_path, readonly=True) as ledger:
        assert ledger.head()[0] == 1
        assert [e.seq for e in ledger.read()] == [1]
        assert not ledger.verify().ok
    assert path.read_bytes() == lines[0] + lines[1][:40]
    assert not (tmp_path / "quarantine").exists()


def test_append_after_recovery_continues_the_chain(tmp_path: Path) -> None:
    lines = write_ledger(tmp_path, 4)
    (tmp_path / "audit.jsonl").write_bytes(b"".join(lines[:3]) + lines[3][:100])
    with Ledger.open(tmp_path) as ledger:
        assert ledger.head()[0] == 4  # 3 kept + LedgerRecovered
        ledger.append([metric(9)])
        assert ledger.verify().ok and ledger.head()[0] == 5


def test_torn_tail_left_by_another_writer_is_recovered_by_a_live_one(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        ledger.append([metric(1)])
        with open(tmp_path / "audit.jsonl", "ab") as f:
            f.write(b'{"data":{"asset":null')  # a writer that died mid-append
        ledger.append([metric(2)])
        kinds = [e.type for e in ledger.read()]
    assert kinds == ["MetricLogged", "LedgerRecovered", "MetricLogged"]
    assert verify_file(tmp_path / "audit.jsonl").ok


def test_corrupt_last_complete_line_is_a_hard_error_not_a_repair(tmp_path: Path) -> None:
    lines = write_ledger(tmp_path, 3)
    bad = lines[2].replace(b'"step":3', b'"step":4')
    (tmp_path / "audit.jsonl").write_bytes(b"".join(lines[:2]) + bad)
    with pytest.raises(LedgerCorruptError) as err:
        Ledger.open(tmp_path)
    assert err.value.seq == 3
    assert (tmp_path / "audit.jsonl").read_bytes() == b"".join(lines[:2]) + bad


def _torn(tmp_path: Path) -> list[bytes]:
    lines = write_ledger(tmp_path, 3)
    (tmp_path / "audit.jsonl").write_bytes(b"".join(lines[:2]) + lines[2][:50])
    return lines


def test_crash_after_the_cut_before_the_event_is_finished_by_the_next_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The torn bytes are quarantined and cut, then the process dies before LedgerRecovered is appended."""
    _torn(tmp_path)

    def die(self: Ledger) -> None:
        raise KeyboardInterrupt  # stands in for SIGKILL right after quarantine_tail returned

    with monkeypatch.context() as m:
        m.setattr(Ledger, "_finish_pending", die)
        with pytest.raises(KeyboardInterrupt):
            Ledger.open(tmp_path)
    assert verify_file(tmp_path / "audit.jsonl").events == 2  # cut, and no event yet
    assert len(list((tmp_path / "quarantine").glob("*.pending"))) == 1
    with Ledger.open(tmp_path) as ledger:
        events = list(ledger.read())
    assert [e.type for e in events] == ["MetricLogged", "MetricLogged", "LedgerRecovered"]
    assert (tmp_path / events[2].data.quarantine_path).read_bytes() == _torn(tmp_path / "again")[2][:50]
    assert not list((tmp_path / "quarantine").glob("*.pending"))


def test_crash_after_the_event_before_the_marker_is_dropped_records_it_once(tmp_path: Path) -> None:
    _torn(tmp_path)
    with Ledger.open(tmp_path) as ledger:
        assert ledger.head()[0] == 3
    (qfile,) = (tmp_path / "quarantine").glob("torn-*.bin")
    marker = qfile.with_suffix(".pending")
    assert not marker.exists()
    digest = qfile.name.split("-")[2][:-4]
    data = {
        "offset": int(qfile.name.split("-")[1]),
        "length": 50,
        "sha256": digest,
        "quarantine_path": f"quarantine/{qfile.name}",
    }
    marker.write_bytes(orjson.dumps({"seq": 3, "data": data}))  # as a crash before clear_pending leaves it
    with Ledger.open(tmp_path) as ledger:
        assert [e.type for e in ledger.read()].count("LedgerRecovered") == 1 and ledger.head()[0] == 3
    assert not marker.exists()
    marker.write_bytes(orjson.dumps({"seq": 2, "data": data}))  # a marker that does not match the ledger is not ignored
    with pytest.raises(LedgerCorruptError, match="expects its LedgerRecovered at seq 2"):
        Ledger.open(tmp_path)
