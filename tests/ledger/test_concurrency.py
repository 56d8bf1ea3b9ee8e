"""Guarantee 4: many processes append to one ledger; seqs stay gapless, batches contiguous, readers see no partial line."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

from ledger import Ledger, WrongExpectedSeqError
from schemas.events import MetricLogged, MetricLoggedData

#: 16 writers x 500 appends keep every interleaving busy in make test; LEDGERLINE_SOAK_APPENDS=2000 for a soak
WRITERS, APPENDS, MAX_BATCH = 16, int(os.environ.get("LEDGERLINE_SOAK_APPENDS", "500")), 6


def _fork(fn: Callable[[int], bytes]) -> tuple[int, int]:
    """Run fn(write_fd) in a forked child; return (pid, read end of its report pipe)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        code = 1
        try:
            os.write(wfd, fn(wfd))
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    return pid, rfd


def _collect(pid: int, rfd: int) -> bytes:
    out = b""
    while chunk := os.read(rfd, 1 << 16):
        out += chunk
    os.close(rfd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out[-500:]
    return out


def _event(writer: int, n: int, j: int) -> MetricLogged:
    return MetricLogged(
        id=f"w{writer}-{n}-{j}", run_id=None, data=MetricLoggedData(key=f"w{writer}", value=float(n), step=j)
    )


def _writer(home: Path, writer: int) -> Callable[[int], bytes]:
    def run(_: int) -> bytes:
        rng, report = random.Random(writer), []
        with Ledger.open(home) as ledger:
            for n in range(APPENDS):
                recorded = ledger.append([_event(writer, n, j) for j in range(rng.randint(1, MAX_BATCH))])
                report.append(f"{recorded[0].seq} {len(recorded)} {writer} {n}")
        return "\n".join(report).encode()

    return run


def _tailer(home: Path, done: int) -> Callable[[int], bytes]:
    def run(_: int) -> bytes:
        last, reads = 0, 0
        with Ledger.open(home, readonly=True) as ledger:
            while True:
                finished = os.path.exists(done)  # one more pass after the writers are done
                for event in ledger.read(after=last):
                    assert event.seq == last + 1, f"gap: {last} -> {event.seq}"
                    last = event.seq
                reads += 1
                if finished:
                    return f"{last} {reads}".encode()

    return run  # type: ignore[return-value]


def test_sixteen_writers_and_a_tailing_reader(tmp_path: Path) -> None:
    home, done = tmp_path / "home", tmp_path / "done"
    Ledger.open(home).close()
    reader = _fork(_tailer(home, done))  # type: ignore[arg-type]
    writers = [_fork(_writer(home, w)) for w in range(WRITERS)]
    reports = [_collect(*w).decode().splitlines() for w in writers]
    done.touch()
    tail_last, tail_reads = map(int, _collect(*reader).split())

    batches = sorted(tuple(map(int, line.split())) for r in reports for line in r)
    assert len(batches) == WRITERS * APPENDS
    total = sum(count for _, count, _, _ in batches)
    expected = 1
    for first, count, _, _ in batches:  # exactly 1..N, no overlap, no gap
        assert first == expected
        expected += count
    with Ledger.open(home, readonly=True) as ledger:
        assert ledger.verify().ok and ledger.head()[0] == total
        by_seq = {e.seq: e.id for e in ledger.read()}
    for first, count, writer, n in batches:  # every batch is contiguous: no interleaved lines
        assert [by_seq[first + j] for j in range(count)] == [f"w{writer}-{n}-{j}" for j in range(count)]
    assert tail_last == total and tail_reads > 1


def _racer(home: Path, racer: int, attempts: int) -> Callable[[int], bytes]:
    def run(_: int) -> bytes:
        wins = losses = 0
        with Ledger.open(home) as ledger:
            for n in range(attempts):
                seen = ledger.head()[0]
                try:
                    recorded = ledger.append([_event(racer, n, 0)], expected_seq=seen)
                except WrongExpectedSeqError as exc:
                    assert exc.expected == seen and exc.actual > seen
                    losses += 1
                    continue
                assert recorded[0].seq == seen + 1
                wins += 1
        return f"{wins} {losses}".encode()

    return run


def test_expected_seq_losers_get_wrong_expected_seq(tmp_path: Path) -> None:
    Ledger.open(tmp_path).close()
    racers = [_fork(_racer(tmp_path, r, 150)) for r in range(8)]
    results = [tuple(map(int, _collect(*r).split())) for r in racers]
    wins, losses = sum(w for w, _ in results), sum(lost for _, lost in results)
    with Ledger.open(tmp_path, readonly=True) as ledger:
        assert ledger.verify().ok and ledger.head()[0] == wins
    assert wins + losses == 8 * 150 and losses > 0
