"""Benchmark: the Merkle tree state of a 1M-line ledger, an incremental update, proofs, and one export.

examples:
  .venv/bin/python bench/merkle.py                 # 1,000,000 lines
  .venv/bin/python bench/merkle.py --lines 200000 --no-export
  .venv/bin/python bench/merkle.py --quick         # 100,000 lines

Baselines, measured in the same run: bare SHA-256 of the same lines (hashlib, one call per line, no
framing, no file); the tree's own hashing (the n leaf and n - 1 node hashes of merkle.hash_leaves and
merkle.complete_levels over the lines in memory, one process, no file); for the export, reading the ledger to pick the run's lines plus zipping the same lines and
artifacts (no proofs, no signature). Goals (issue 17): from scratch within 2x of bare SHA-256; an
incremental update after one canary-sized run (~450 lines) <= 20 ms; one inclusion proof <= 5 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for ledger/

from ledger import LEDGER_NAME, merkle, tree_build  # noqa: E402
from ledger.tree import Tree  # noqa: E402

CANARY_LINES = 450


def fake_ledger(path: Path, n: int, first: int = 1) -> list[bytes]:
    """n lines shaped like ledger records (seq from first, a 64-hex hash suffix), ~300 bytes each, appended."""
    lines = []
    prev = "0" * 64
    for seq in range(first, first + n):
        body = f'{{"seq":{seq},"type":"MetricLogged","data":{{"key":"equity","value":{seq * 0.001:.6f},"step":{seq}}},"prev":"{prev}"'
        h = hashlib.sha256(body.encode()).hexdigest()
        lines.append(f'{body},"hash":"{h}"}}'.encode())
        prev = h
    with open(path, "ab") as f:
        f.write(b"\n".join(lines) + b"\n")
    return lines


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def clear_tree(home: Path) -> None:
    for p in home.glob("tree.*"):
        p.unlink()


def tree_figures(n: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ll-bench-merkle-") as d:
        home = Path(d)
        lines = fake_ledger(home / LEDGER_NAME, n)
        bare = timed(lambda: [hashlib.sha256(line).digest() for line in lines])
        floor = timed(lambda: list(merkle.complete_levels(merkle.hash_leaves(lines))))
        lines.clear()  # the memory, before the tree builds
        idle, tree_build._idle_core = tree_build._idle_core, lambda: True  # a helper whatever the load and size
        tree_build.PARALLEL_MIN_BYTES, saved = 1, tree_build.PARALLEL_MIN_BYTES
        two = timed(lambda: Tree(home).update())
        tree_build._idle_core = idle
        clear_tree(home)
        tree_build.PARALLEL_MIN_BYTES = 1 << 62
        one = timed(lambda: Tree(home).update())
        tree_build.PARALLEL_MIN_BYTES = saved
        size = Tree(home).update()
        incremental = []
        for _ in range(repeats):  # a canary run's worth of lines, then the update bin/run-pipeline makes
            fake_ledger(home / LEDGER_NAME, CANARY_LINES, size + 1)
            incremental.append(timed(lambda: Tree(home).update()))
            size += CANARY_LINES
        rng = random.Random(17)
        warm = Tree(home)
        warm.update()
        picks = [rng.randrange(1, size + 1) for _ in range(200)]
        proof_warm = statistics.median(timed(lambda s=s: warm.inclusion(s, size)) for s in picks)  # type: ignore[misc]
        proof_cold = statistics.median(
            timed(lambda s=s: Tree(home).inclusion(s, size))  # type: ignore[misc]
            for s in picks[:50]
        )
        cons = statistics.median(
            timed(lambda s=s: warm.consistency(s, size))  # type: ignore[misc]
            for s in picks[:50]
        )
        hashes = len(warm.inclusion(picks[0], size))
        from ledger.checkpoints import check_note, sign_head
        from ledger.notes import Signer

        signer = Signer.generate("bench")
        _, note = sign_head(home, signer)
        fake_ledger(home / LEDGER_NAME, CANARY_LINES, size + 1)  # and the ledger grew since
        check = timed(lambda: check_note(home, note, [signer.verifier]))
    cores = os.cpu_count() or 1
    print(f"lines: {n:,}  (load average {os.getloadavg()[0]:.1f} on {cores} cores)")
    print(f"bare SHA-256 of the lines (baseline)           {bare:8.3f} s")
    print(f"the same hashes in memory, one process         {floor:8.3f} s   {floor / bare:5.2f}x the baseline")
    print(
        f"tree state from scratch, two processes         {two:8.3f} s   {two / bare:5.2f}x the baseline, "
        f"{two / floor:4.2f}x in memory (goal <= 2x the baseline)"
    )
    print(
        f"tree state from scratch, one process           {one:8.3f} s   {one / bare:5.2f}x the baseline, "
        f"{one / floor:4.2f}x in memory (the default on a busy machine)"
    )
    print(
        f"incremental update, {CANARY_LINES} lines, median of {repeats}   {statistics.median(incremental) * 1000:8.1f} ms  "
        f"(min {min(incremental) * 1000:.1f}, max {max(incremental) * 1000:.1f}; goal <= 20 ms)"
    )
    print(f"one inclusion proof ({hashes} hashes), warm tree   {proof_warm * 1000:8.2f} ms  (goal <= 5 ms)")
    print(f"one inclusion proof, fresh Tree (load checks)  {proof_cold * 1000:8.2f} ms  (what bin/prove does)")
    print(f"one consistency proof, warm tree               {cons * 1000:8.2f} ms")
    print(
        f"check a checkpoint (bin/verify: re-hash the lines, root, consistency to now)  {check:7.3f} s   "
        f"{check / bare:5.2f}x the baseline"
    )


def export_figures(n: int) -> None:
    """bin/export's work (export_run) for a canary run at the start of a ledger of n more synthetic events."""
    from bench.projections import Chain, write_ledger
    from ledger import LEDGER_NAME as LEDGER
    from ledger.bundles import export_run, run_lines
    from ledger.notes import Signer
    from ledger.reader import head_at
    from schemas.settings import load_settings
    from stages.runner import run_pipeline

    with tempfile.TemporaryDirectory(prefix="ll-bench-export-") as d:
        home = Path(d) / "home"
        outcome = run_pipeline(load_settings("canary", {}), home)
        head = head_at(home / LEDGER)
        write_ledger(home / LEDGER, n, Chain(head.seq, head.hash))
        total = head_at(home / LEDGER).seq
        Tree(home).update()  # as bin/run-pipeline leaves it; the export's own update is incremental
        signer = Signer.generate("bench")
        out = Path(d) / "evidence.zip"
        export = min(timed(lambda: export_run(home, outcome.run_id, out, signer=signer)) for _ in range(3))

        def floor() -> None:  # find the run's lines (the same scan), zip them and the artifacts: no proofs
            picked = [line for _, line in run_lines(home / LEDGER, outcome.run_id)]
            with zipfile.ZipFile(Path(d) / "floor.zip", "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("lines.jsonl", b"".join(line + b"\n" for line in picked))
                for name in zipfile.ZipFile(out).namelist():
                    if name.startswith("artifacts/"):
                        z.writestr(name, (home / "artifacts" / Path(name).name).read_bytes())

        base = min(timed(floor) for _ in range(3))
        with zipfile.ZipFile(out) as z:
            lines = z.read("lines.jsonl").count(b"\n")
            files = len(z.namelist())
        tree = Tree(home)
        proofs = timed(lambda: tree.inclusions(range(1, lines + 1), total))
    print(f"export of a canary run ({lines} lines, {files} files) out of a {total:,}-line ledger, best of 3:")
    print(f"  find the run's lines (one scan of the bytes) + zip them and its artifacts (baseline)  {base:7.3f} s")
    print(
        f"  export_run (sign the head, {lines} inclusion proofs, note, keys, manifest)    {export:7.3f} s   {export / base:5.2f}x"
    )
    print(f"  of which the {lines} inclusion proofs                                        {proofs:7.3f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=1_000_000, help="lines of the synthetic ledger (default 1,000,000)")
    p.add_argument("--repeats", type=int, default=7, help="incremental updates to take the median of")
    p.add_argument("--no-export", action="store_true", help="skip the export figure (it runs a canary pipeline)")
    p.add_argument("--quick", action="store_true", help="100,000 lines and 3 repeats")
    args = p.parse_args()
    if args.quick:
        args.lines, args.repeats = 100_000, 3
    tree_figures(args.lines, args.repeats)
    if not args.no_export:
        export_figures(args.lines)


if __name__ == "__main__":
    main()
