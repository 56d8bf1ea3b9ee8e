"""Benchmark: the Merkle tree state of a 1M-line ledger, an incremental update, one inclusion proof, one export.

examples:
  .venv/bin/python bench/merkle.py                 # 1,000,000 lines
  .venv/bin/python bench/merkle.py --lines 200000

Baseline in the same run: bare SHA-256 of the same lines (hashlib, no framing, no file). Goals (issue 17):
from scratch within 2x of that; an incremental update after one canary-sized run (~450 lines) <= 20 ms;
one inclusion proof <= 5 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for ledger/

from ledger import LEDGER_NAME  # noqa: E402
from ledger.tree import Tree  # noqa: E402


def fake_ledger(path: Path, n: int) -> list[bytes]:
    """n lines shaped like ledger records (seq and a 64-hex hash suffix), ~300 bytes each."""
    lines = []
    prev = "0" * 64
    for seq in range(1, n + 1):
        body = f'{{"seq":{seq},"type":"MetricLogged","data":{{"key":"equity","value":{seq * 0.001:.6f},"step":{seq}}},"prev":"{prev}"'
        h = hashlib.sha256(body.encode()).hexdigest()
        lines.append(f'{body},"hash":"{h}"}}'.encode())
        prev = h
    path.write_bytes(b"\n".join(lines) + b"\n")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=1_000_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="ll-bench-merkle-") as d:
        home = Path(d)
        lines = fake_ledger(home / LEDGER_NAME, args.lines)
        t = time.perf_counter()
        for line in lines:
            hashlib.sha256(line).digest()
        bare = time.perf_counter() - t
        t = time.perf_counter()
        tree = Tree(home)
        size, _ = tree.root()
        scratch = time.perf_counter() - t
        extra = fake_ledger(home / "extra", 450)
        with open(home / LEDGER_NAME, "ab") as f:  # a canary run's worth of lines (their seqs restated)
            for i, line in enumerate(extra, start=size + 1):
                f.write(line.replace(f'"seq":{i - size}'.encode(), f'"seq":{i}'.encode(), 1) + b"\n")
        t = time.perf_counter()
        tree.update()
        incremental = time.perf_counter() - t
        t = time.perf_counter()
        tree.inclusion(size // 2, size)
        proof = time.perf_counter() - t
    print(f"lines: {args.lines:,}")
    print(f"bare SHA-256 of the lines (baseline)  {bare:8.3f} s")
    print(f"tree state from scratch               {scratch:8.3f} s   {scratch / bare:5.2f}x the baseline (goal <= 2x)")
    print(f"incremental update, 450 lines         {incremental * 1000:8.1f} ms  (goal <= 20 ms)")
    print(f"one inclusion proof                   {proof * 1000:8.1f} ms  (goal <= 5 ms)")


if __name__ == "__main__":
    main()
