"""bin/replay: replay the ledger into a registered read model (incremental, or --rebuild, or --follow)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from bin._cli import EXIT_FOUND, EXIT_OK, UsageError, parser, run
from bin._progress import Reporter
from projectors import registry
from projectors.errors import LineageUnavailableError

PROG = "replay"


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Replay audit.jsonl into a read model: " + ", ".join(registry.names()) + ".",
        "bin/replay --to duckdb --home runs            # catch up\n"
        "  bin/replay --to duckdb --rebuild              # blue/green rebuild from scratch\n"
        "  bin/replay --to duckdb --follow               # project new events as they land (Ctrl-C stops)\n"
        "  bin/replay --to duckdb --snapshot             # and keep runs/projections.snapshot.duckdb for other clients\n"
        "  bin/replay --to mlflow --tracking-uri sqlite:///runs/mlflow.db\n"
        "  bin/replay --to openlineage --file runs/openlineage.jsonl --namespace ledgerline\n"
        "  bin/replay --to openlineage --url http://localhost:5000   # POST {url}/api/v1/lineage (Marquez)",
    )
    p.add_argument("--to", required=True, choices=registry.names(), help="which read model to replay into")
    p.add_argument("--rebuild", action="store_true", help="throw the read model away and rebuild it from the ledger")
    p.add_argument("--follow", action="store_true", help="keep replaying new events until interrupted")
    p.add_argument(
        "--tracking-uri", default=None, help="MLflow tracking URI (mlflow only; default sqlite under --home)"
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument(
        "--file",
        default=None,
        help="openlineage only: the JSON-lines file to write (default: <home>/openlineage.jsonl)",
    )
    out.add_argument(
        "--url", default=None, help="openlineage only: post events to {URL}/api/v1/lineage instead of a file"
    )
    p.add_argument("--namespace", default=None, help="openlineage only: the job namespace (default: ledgerline)")
    p.add_argument(
        "--snapshot",
        action="store_true",
        help="duckdb only: also write <home>/projections.snapshot.duckdb, a copy other DuckDB clients may keep open "
        "(refreshed by every later catch-up)",
    )
    p.add_argument("--json", action="store_true", help="print the result (events applied, position) as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr (errors and the result still shown)")
    args = p.parse_args(argv)

    def body() -> int:
        with Reporter(PROG, quiet=args.quiet) as progress:
            return replay(progress)

    def replay(progress: Reporter) -> int:
        if args.rebuild and args.follow:
            raise UsageError("--rebuild and --follow cannot be combined; rebuild first, then follow")
        options: dict[str, object] = {"tracking_uri": args.tracking_uri} if args.tracking_uri else {}
        lineage = {k: v for k, v in (("file", args.file), ("url", args.url), ("namespace", args.namespace)) if v}
        if lineage and args.to != "openlineage":
            raise UsageError(f"--{next(iter(lineage))} is for --to openlineage only")
        options.update(lineage)
        if args.snapshot and args.to != "duckdb":
            raise UsageError("--snapshot is for --to duckdb only")
        model = registry.open_model(args.to, args.home, options)
        if args.follow and args.snapshot:  # made now; the follow's catch-ups refresh it
            from projectors.projection import refresh_snapshot

            model.catch_up(progress=progress)
            refresh_snapshot(args.home, create=True)
        if args.follow:
            from projectors.readmodel import follow

            try:
                follow(model, progress=progress)
            except KeyboardInterrupt:  # how a follow is meant to end
                progress(f"{model.name}: stopped")
            return EXIT_OK
        try:
            applied = model.rebuild(progress=progress) if args.rebuild else model.catch_up(progress=progress)
        except LineageUnavailableError as exc:  # the OpenLineage endpoint still down after the retries: rerun resumes
            print(f"{PROG}: {exc}", file=sys.stderr)
            return EXIT_FOUND
        if args.snapshot:
            from projectors.projection import refresh_snapshot

            snap = refresh_snapshot(args.home, create=True)
            progress(f"duckdb: snapshot {snap}" if snap else "duckdb: snapshot not refreshed (projection busy)")
        if args.json:
            pos = model.position()
            doc = {
                "model": model.name,
                "applied": applied,
                "where": model.where(),
                "position": None if pos is None else {"seq": pos.seq, "hash": pos.hash},
            }
            print(json.dumps(doc))
        else:
            print(model.report(applied))
        return EXIT_OK

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
