"""bin/prove: RFC 9162 inclusion proofs of ledger lines (one seq, or every event of a run) and consistency proofs."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bin._cli import EXIT_OK, UsageError, parser, run

PROG = "prove"


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Prove that ledger lines are in the tree a checkpoint signs (inclusion), or that the tree only grew "
        "between two checkpoints (consistency); the proofs are RFC 9162's, hashes in base64.",
        "bin/prove --run 20261203-090000-abcd --checkpoint runs/checkpoints/latest.note --json",
    )
    p.add_argument("seq", nargs="?", type=int, help="the seq of the line to prove")
    p.add_argument("--run", metavar="RUN_ID", help="prove every line of this run")
    p.add_argument(
        "--checkpoint",
        type=Path,
        metavar="NOTE",
        help="prove against this note's tree size (default the ledger's head)",
    )
    p.add_argument(
        "--consistency",
        type=Path,
        nargs="+",
        metavar="NOTE",
        help="OLD.note [NEW.note]: the consistency proof from OLD's tree to NEW's (default the head)",
    )
    p.add_argument("--json", action="store_true", help="print the proofs as JSON")
    args = p.parse_args(argv)

    def body() -> int:
        from ledger import LEDGER_NAME, checkpoints
        from ledger.notes import Checkpoint
        from ledger.tree import Tree

        if not (args.home / LEDGER_NAME).exists():
            raise UsageError(f"no ledger at {args.home / LEDGER_NAME}")
        tree = Tree(args.home)
        head, head_root = tree.root()
        if args.consistency:
            if len(args.consistency) > 2:
                raise UsageError("--consistency takes OLD.note and at most one NEW.note")
            old = Checkpoint.parse(checkpoints.read_note(args.consistency[0]).text)
            new = (
                Checkpoint.parse(checkpoints.read_note(args.consistency[1]).text)
                if len(args.consistency) == 2
                else None
            )
            n, new_root = (new.size, new.root) if new else (head, head_root)
            if old.size > n or n > head:
                raise UsageError(f"sizes {old.size} -> {n} do not fit a ledger of {head} lines")
            hashes = [b64(h) for h in tree.consistency(old.size, n)]
            doc: Any = {
                "old_size": old.size,
                "new_size": n,
                "old_root": b64(old.root),
                "new_root": b64(new_root),
                "hashes": hashes,
            }
            _print(args.json, doc, f"consistency proof {old.size} -> {n}: {len(hashes)} hashes")
            return EXIT_OK
        size, root = head, head_root
        if args.checkpoint:
            cp = Checkpoint.parse(checkpoints.read_note(args.checkpoint).text)
            if cp.size > head:
                raise UsageError(f"the checkpoint covers {cp.size} lines; the ledger has {head}")
            size, root = cp.size, cp.root
        run_found = _run_lines(args.home, args.run, size) if args.run else {}
        seqs = list(run_found) if args.run else [args.seq] if args.seq is not None else []
        if not seqs:
            raise UsageError("give a SEQ, --run RUN_ID or --consistency OLD.note")
        for seq in seqs:
            if not 1 <= seq <= size:
                raise UsageError(f"seq {seq} is not in a tree of {size} lines")
        lines = run_found or _lines(args.home, set(seqs))
        paths = tree.inclusions(seqs, size)
        proofs: list[dict[str, Any]] = [
            {
                "seq": s,
                "leaf_index": s - 1,
                "tree_size": size,
                "root": b64(root),
                "entry": lines[s],
                "hashes": [b64(h) for h in path],
            }
            for s, path in zip(seqs, paths, strict=True)
        ]
        out: Any = proofs if args.run else proofs[0]
        _print(
            args.json,
            out,
            "\n".join(
                f"seq {d['seq']}: included in the tree of size {size} ({len(d['hashes'])} hashes)" for d in proofs
            ),
        )
        return EXIT_OK

    return run(PROG, body)


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _run_lines(home: Path, run_id: str, size: int) -> dict[int, str]:
    """{seq: line} of the run's lines in the first size lines (one scan of the raw bytes)."""
    from ledger import LEDGER_NAME
    from ledger.bundles import run_lines
    from schemas.context import check_run_id

    check_run_id(run_id)
    found = {seq: line.decode() for seq, line in run_lines(home / LEDGER_NAME, run_id, size)}
    if not found:
        raise UsageError(f"no events of run {run_id} in the first {size} lines")
    return found


def _lines(home: Path, seqs: set[int]) -> dict[int, str]:
    from ledger import LEDGER_NAME, iter_lines

    found: dict[int, str] = {}
    for n, (_, line) in enumerate(iter_lines(home / LEDGER_NAME), start=1):
        if n in seqs:
            found[n] = line.decode()
        if n >= max(seqs):
            break
    return found


def _print(as_json: bool, doc: Any, text: str) -> None:
    print(json.dumps(doc, indent=2) if as_json else text)


if __name__ == "__main__":
    sys.exit(main())
