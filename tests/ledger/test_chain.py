"""The chunked hash-chain check agrees with the line-by-line one: fast path taken on good lines, exact fallback otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledger import Ledger, chain, verify_file
from schemas.events import GENESIS_HASH, CodeVersion, LedgerRecovered, LedgerRecoveredData, RunStarted, RunStartedData
from tests.support.ledgerkit import RUN_ID, events, metric, write_ledger

RECOVERED = LedgerRecoveredData(offset=1, length=2, sha256="ab" * 32, quarantine_path="quarantine/x.bin")


def test_bulk_check_passes_good_lines_and_returns_the_last_hash(tmp_path: Path) -> None:
    lines = write_ledger(tmp_path, 40)
    assert chain.bulk_check(b"".join(lines), 0, GENESIS_HASH.encode()) == lines[-1][-67:-3]
    assert chain.bulk_check(b"".join(lines[10:]), 10, lines[9][-67:-3]) == lines[-1][-67:-3]


def test_bulk_check_refuses_what_the_line_check_refuses(tmp_path: Path) -> None:
    lines = write_ledger(tmp_path, 6)
    good = b"".join(lines)
    assert chain.bulk_check(good, 1, GENESIS_HASH.encode()) is None  # wrong starting seq
    assert chain.bulk_check(good, 0, b"1" * 64) is None  # wrong prev
    assert chain.bulk_check(b"".join(lines[:2] + lines[3:]), 0, GENESIS_HASH.encode()) is None  # deleted line
    assert chain.bulk_check(good.replace(b',"hash":"', b',"hasx":"', 1), 0, GENESIS_HASH.encode()) is None
    upper = lines[-1][:-67] + lines[-1][-67:-3].upper() + b'"}\n'
    assert chain.bulk_check(b"".join(lines[:-1]) + upper, 0, GENESIS_HASH.encode()) is None


def test_nested_chain_keys_fall_back_to_the_line_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params: dict[str, str | int | float | bool | None] = {"a": 1, "prev": "0" * 64, "seq": 3, "stage": None}
    nested = RunStarted(
        run_id=RUN_ID,
        data=RunStartedData(
            pipeline="p",
            profile="x",
            params=params,
            config_hash="0" * 64,
            code_version=CodeVersion(git_sha=None, dirty=False),
            packages={},
            inputs=[],
        ),
    )
    with Ledger.open(tmp_path) as ledger:
        ledger.append([*events(5), nested, *events(5, start=6)])
    data = (tmp_path / "audit.jsonl").read_bytes()
    assert b',"prev":"' + b"0" * 64 + b'","seq":3,"stage":null}' in data
    assert chain.bulk_check(data, 0, GENESIS_HASH.encode()) is None
    fd = os.open(tmp_path / "audit.jsonl", os.O_RDONLY)
    try:
        for size in (100, 1000, 1 << 16):  # chunks smaller than a line, a few lines, all of it
            monkeypatch.setattr(chain, "CHUNK", size)
            found = chain.scan(fd, 0, len(data), 0, GENESIS_HASH.encode())
            assert (found.lines, found.bad_index, found.last_hash) == (11, -1, data[-67:-3].decode())
    finally:
        os.close(fd)


@pytest.mark.parametrize("parallel", [False, True])
def test_verify_names_the_bad_seq_deep_inside_a_many_chunk_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    from ledger import verify as verify_mod

    monkeypatch.setattr(verify_mod, "PARALLEL_MIN_BYTES", 1)
    lines = write_ledger(tmp_path / "src", 3000)  # ~15 chunks of 64 KiB
    path = tmp_path / "audit.jsonl"
    edited = lines[1233].replace(b'"value":', b'"value":1', 1)
    cases = {
        1234: lines[:1233] + [edited] + lines[1234:],  # edited
        2501: lines[:2500] + lines[2501:],  # deleted
        2000: lines[:1999] + [lines[2000], lines[1999]] + lines[2001:],  # swapped
        3001: lines + [lines[-1]],  # duplicated at the end
    }
    for seq, content in cases.items():
        path.write_bytes(b"".join(content))
        report = verify_file(path, parallel=parallel)
        assert not report.ok and report.first_bad_seq == seq and report.head_seq == seq - 1, (seq, report)
    path.write_bytes(b"".join(lines))
    assert verify_file(path, parallel=parallel) == verify_file(path, parallel=False)
    assert verify_file(path, parallel=parallel).head_hash == lines[-1][-67:-3].decode()


def test_bulk_check_passes_lines_of_several_runs(tmp_path: Path) -> None:
    mixed = [metric(i, run_id=rid) for i, rid in enumerate([RUN_ID, "20261122-000001-othr", RUN_ID] * 4)]
    with Ledger.open(tmp_path) as ledger:
        ledger.append([*mixed, LedgerRecovered(run_id=None, data=RECOVERED), *events(3)])
    lines = (tmp_path / "audit.jsonl").read_bytes().splitlines(keepends=True)
    assert chain.bulk_check(b"".join(lines), 0, GENESIS_HASH.encode()) == lines[-1][-67:-3]
    swapped = lines[:4] + [lines[5], lines[4]] + lines[6:]
    assert chain.bulk_check(b"".join(swapped), 0, GENESIS_HASH.encode()) is None
