"""SIGKILL an appending child at random moments; check every acknowledged event survived (used by tests and bench)."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

from ledger import Ledger, iter_lines, seq_and_hash
from schemas.events import LedgerRecovered
from tests.support.ledgerkit import events

#: batch sizes the child cycles through: big ones make a SIGKILL mid-write likely to tear a line
BATCHES = (1, 3, 10, 50, 400, 3000)


@dataclasses.dataclass
class CrashStats:
    """What a kill loop did."""

    kills: int = 0
    acked: int = 0
    recoveries: int = 0
    events: int = 0


def _child(home: Path, wfd: int, seed: int) -> None:
    rng = random.Random(seed)
    write = os.write
    # a real SIGKILL rarely lands inside write(2); a third of the children die there on purpose,
    # after a random prefix of one batch reached the file, to tear lines as a crash would
    tear_after = rng.randrange(2) if rng.random() < 0.33 else -1
    with Ledger.open(home) as ledger:
        for i in itertools.count():
            if i == tear_after:
                os.write = functools.partial(_dying_write, write, rng)  # type: ignore[assignment]
            recorded = ledger.append(events(rng.choice(BATCHES)))
            write(wfd, b"%d %s\n" % (recorded[-1].seq, recorded[-1].hash.encode()))


def _dying_write(write: Callable[[int, bytes], int], rng: random.Random, fd: int, data: bytes) -> int:
    write(fd, bytes(data[: rng.randrange(len(data))]))
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def _kill_one(home: Path, rng: random.Random) -> list[tuple[int, str]]:
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        os.close(rfd)
        try:
            _child(home, wfd, rng.randrange(1 << 30))
        finally:
            os._exit(0)
    os.close(wfd)
    time.sleep(rng.random() * 0.03)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    out = b""
    while chunk := os.read(rfd, 1 << 16):
        out += chunk
    os.close(rfd)
    return [(int(s), h.decode()) for s, h in (line.split() for line in out.splitlines())]


def _check(home: Path, acked: list[tuple[int, str]]) -> int:
    """Open for writing (recovering), then assert the chain verifies and holds every acked (seq, hash)."""
    with Ledger.open(home) as ledger:
        report = ledger.verify()
        assert report.ok, report
    wanted = dict(acked)
    for _, line in iter_lines(home / "audit.jsonl"):
        fields = seq_and_hash(line)
        assert fields is not None
        if fields[0] in wanted:
            assert fields[1] == wanted.pop(fields[0]), f"acked seq {fields[0]} changed"
    assert not wanted, f"acknowledged seqs lost: {sorted(wanted)[:5]}"
    return report.head_seq


def kill_loop(root: Path, kills: int, seed: int = 0, per_ledger: int = 25) -> CrashStats:
    """Run `kills` SIGKILLs against appending children, starting a fresh ledger every per_ledger kills."""
    rng, stats = random.Random(seed), CrashStats()
    for i in range(kills):
        home = root / f"ledger{i // per_ledger}"
        acked = _kill_one(home, rng)
        stats.kills += 1
        stats.acked += len(acked)
        if home.joinpath("audit.jsonl").exists():
            _check(home, acked)
    for home in root.glob("ledger*"):
        Ledger.open(home).close()  # a writer's open finishes any recovery a kill interrupted
        recorded = set()
        for event in Ledger.open(home, readonly=True).read():
            stats.events += 1
            if isinstance(event, LedgerRecovered):
                stats.recoveries += 1
                recorded.add(event.data.quarantine_path)
        quarantined = {f"quarantine/{p.name}" for p in home.glob("quarantine/torn-*.bin")}
        assert quarantined == recorded, (
            f"quarantine files without LedgerRecovered: {sorted(quarantined - recorded)[:3]}"
        )
        assert not list(home.glob("quarantine/*.pending")), "a recovery marker was left behind"
    return stats
