"""bin/verify: re-hash the ledger chain and report whether it is intact."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bin._cli import EXIT_FOUND, EXIT_OK, UsageError, parser, run
from ledger import resolve_path, verify_file

PROG = "verify"


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(PROG, "Re-hash every line of audit.jsonl and check the chain.", "bin/verify --home runs")
    p.add_argument("path", nargs="?", type=Path, help="a ledger file or home folder (overrides --home)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)

    def body() -> int:
        target = resolve_path(args.path or args.home)
        if not target.is_file():
            raise UsageError(f"no ledger at {target}")
        report = verify_file(target)
        if args.json:
            print(json.dumps(dataclasses.asdict(report)))
        elif report.ok:
            print(f"ok: chain intact, {report.events} events, head seq {report.head_seq} {report.head_hash[:12]}")
        else:
            print(f"BROKEN at seq {report.first_bad_seq}: {report.problem}", file=sys.stderr)
        return EXIT_OK if report.ok else EXIT_FOUND

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
