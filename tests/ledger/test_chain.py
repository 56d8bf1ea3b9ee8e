"""The chunked hash-chain check agrees with the line-by-line one: fast path taken on good lines, exact fallback otherwise."""

from __future__ import annotations

import os
from pathlib import Path

from ledgerkit import RUN_ID, events, write_ledger

from ledger import Ledger, chain
from schemas.events import GENESIS_HASH, CodeVersion, RunStarted, RunStartedData


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


def test_nested_chain_keys_fall_back_to_the_line_check(tmp_path: Path) -> None:
    params: dict[str, str | int | float | bool | None] = {"a": 1, "prev": "0" * 64, "seq": 3, "stage": None}
    nested = RunStarted(
        run_id=RUN_ID,
        data=RunStartedData(
            pipeline="p", profile="x", params=params, config_hash="0" * 64,
            code_version=CodeVersion(git_sha=None, dirty=False), packages={}, inputs=[],
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
            chain.CHUNK, old = size, chain.CHUNK
            try:
                found = chain.scan(fd, 0, len(data), 0, GENESIS_HASH.encode())
            finally:
                chain.CHUNK = old
            assert (found.lines, found.bad_index, found.last_hash) == (11, -1, data[-67:-3].decode())
    finally:
        os.close(fd)
