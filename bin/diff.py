"""bin/diff: compare two runs from the projections and show only what differs (exit 1 when anything does)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bin._cli import EXIT_FOUND, EXIT_OK, parser, run
from projectors.runs.diff import diff_runs

PROG = "diff"


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Forensic diff of two runs: code version, params, config, data inputs, per-stage output hashes (with the "
        "first divergent stage), contract outcomes, dropped rows, metrics (delta, better/worse) and tags. "
        "Exit 0 when nothing differs, 1 when something does, 2 on bad input.",
        "bin/diff 20260105-090000-aaaa 20260105-100000-bbbb --home runs",
    )
    p.add_argument("run_a", help="the baseline run id")
    p.add_argument("run_b", help="the run compared with it")
    p.add_argument("--json", action="store_true", help="print the structured diff as JSON")
    p.add_argument("--all", action="store_true", help="also show what is the same")
    p.add_argument(
        "--as-of", type=int, default=None, metavar="SEQ", help="compare the runs as they were right after SEQ"
    )
    args = p.parse_args(argv)

    def body() -> int:
        diff = diff_runs(args.home, args.run_a, args.run_b, include_same=args.all, seq=args.as_of)
        print(diff.model_dump_json(indent=2) if args.json else diff.text())
        return EXIT_FOUND if diff.differs else EXIT_OK

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
