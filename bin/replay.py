"""bin/replay: replay the ledger into a registered read model (incremental, or --rebuild, or --follow)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from bin._cli import EXIT_OK, UsageError, parser, run
from projectors import registry

PROG = "replay"


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Replay audit.jsonl into a read model: " + ", ".join(registry.names()) + ".",
        "bin/replay --to duckdb --home runs            # catch up\n"
        "  bin/replay --to duckdb --rebuild              # blue/green rebuild from scratch\n"
        "  bin/replay --to duckdb --follow               # project new events as they land (Ctrl-C stops)\n"
        "  bin/replay --to mlflow --tracking-uri sqlite:///runs/mlflow.db",
    )
    p.add_argument("--to", required=True, choices=registry.names(), help="which read model to replay into")
    p.add_argument("--rebuild", action="store_true", help="throw the read model away and rebuild it from the ledger")
    p.add_argument("--follow", action="store_true", help="keep replaying new events until interrupted")
    p.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (mlflow only; default sqlite under --home)")
    p.add_argument("--json", action="store_true", help="print the result (events applied, position) as JSON")
    args = p.parse_args(argv)

    def body() -> int:
        if args.rebuild and args.follow:
            raise UsageError("--rebuild and --follow cannot be combined; rebuild first, then follow")
        options = {"tracking_uri": args.tracking_uri} if args.tracking_uri else {}
        model = registry.open_model(args.to, args.home, options)
        if args.follow:
            from projectors.readmodel import follow

            try:
                follow(model, progress=_progress)
            except KeyboardInterrupt:  # how a follow is meant to end
                _progress(f"{model.name}: stopped")
            return EXIT_OK
        applied = model.rebuild(progress=_progress) if args.rebuild else model.catch_up(progress=_progress)
        if args.json:
            pos = model.position()
            doc = {"model": model.name, "applied": applied, "where": model.where(),
                   "position": None if pos is None else {"seq": pos.seq, "hash": pos.hash}}
            print(json.dumps(doc))
        else:
            print(model.report(applied))
        return EXIT_OK

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
