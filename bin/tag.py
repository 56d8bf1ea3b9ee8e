"""bin/tag: promote a run to champion/challenger, roll an alias back, set a tag, or apply the candidate policy."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Sequence

from bin._cli import EXIT_OK, UsageError, parser, run
from ledger import Recorded
from projectors.runs import tagging

PROG = "tag"


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Append RunTagged events: aliases (champion/challenger) move between runs and keep their history "
        "(query it with: bin/query \"SELECT * FROM tag_history WHERE key = 'alias'\").",
        "bin/tag 20260105-090000-aaaa --promote champion --reason 'best sharpe'\n"
        "  bin/tag --rollback                         # champion goes back to the previous holder\n"
        "  bin/tag 20260105-090000-aaaa --set note=baseline\n"
        "  bin/tag 20260105-090000-aaaa --evaluate     # apply the run's own tagging policy (candidate true/false)",
    )
    p.add_argument("run_id", nargs="?", help="the run to tag (not with --rollback)")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--promote", choices=tagging.ALIASES, help="give this alias to the run")
    action.add_argument("--rollback", action="store_true", help="give the alias back to its previous holder")
    action.add_argument("--set", metavar="KEY=VALUE", help="set a per-run tag (last write wins)")
    action.add_argument(
        "--evaluate", action="store_true", help="apply the candidate policy the run was configured with"
    )
    p.add_argument(
        "--alias", choices=tagging.ALIASES, default="champion", help="alias for --rollback (default champion)"
    )
    p.add_argument("--reason", default=None, help="why (recorded in the ledger)")
    p.add_argument("--by", default=None, help="who (default user:<login name>)")
    p.add_argument("--json", action="store_true", help="print the appended events as JSON")
    args = p.parse_args(argv)

    def body() -> int:
        recorded = _apply(args, args.by or f"user:{getpass.getuser()}")
        _report(recorded, args.json)
        return EXIT_OK

    return run(PROG, body)


def _apply(args: argparse.Namespace, by: str) -> list[Recorded]:
    if args.rollback:
        if args.run_id:
            raise UsageError("--rollback takes no run id: the alias goes back to its previous holder")
        return tagging.rollback(args.home, args.alias, by=by)
    if not args.run_id:
        raise UsageError('give a run id (see: bin/query "SELECT run_id, status FROM runs")')
    if args.promote:
        return tagging.promote(args.home, args.run_id, args.promote, by=by, reason=args.reason)
    if args.set:
        key, sep, value = args.set.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got {args.set!r}")
        return tagging.set_tag(args.home, args.run_id, key, value, by=by, reason=args.reason or "set by hand")
    return tagging.tag_run(args.home, args.run_id)  # the run's own policy, read on the caught-up projection


def _report(recorded: list[Recorded], as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                [{"seq": r.seq, **r.event.model_dump(mode="json", exclude={"seq", "prev", "hash"})} for r in recorded]
            )
        )
        return
    if not recorded:
        print("nothing to do: the tag is already in force")
    for r in recorded:
        d = r.event.model_dump()["data"]
        print(f"seq {r.seq}: {r.event.run_id} {d['key']}={d['value']} by {d['by']} ({d['reason']})")


if __name__ == "__main__":
    sys.exit(main())
