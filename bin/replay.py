"""bin/replay: project the ledger into DuckDB or mirror it into MLflow (incremental, or --rebuild, or --follow)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bin._cli import EXIT_OK, UsageError, parser, run

PROG = "replay"


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _until_interrupted(name: str, follow: Callable[[], object]) -> int:
    """Run a --follow loop until Ctrl-C, which is how it is meant to end."""
    try:
        follow()
    except KeyboardInterrupt:
        _progress(f"{name}: stopped")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Replay audit.jsonl into a read model: the DuckDB projection or the MLflow mirror.",
        "bin/replay --to duckdb --home runs            # catch up\n"
        "  bin/replay --to duckdb --rebuild              # blue/green rebuild from scratch\n"
        "  bin/replay --to duckdb --follow               # project new events as they land (Ctrl-C stops)\n"
        "  bin/replay --to mlflow --tracking-uri sqlite:///runs/mlflow.db",
    )
    p.add_argument("--to", required=True, choices=["duckdb", "mlflow"], help="which read model to replay into")
    p.add_argument("--rebuild", action="store_true", help="throw the read model away and rebuild it from the ledger")
    p.add_argument("--follow", action="store_true", help="keep replaying new events until interrupted")
    p.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (mlflow only; default sqlite under --home)")
    args = p.parse_args(argv)

    def body() -> int:
        if args.rebuild and args.follow:
            raise UsageError("--rebuild and --follow cannot be combined; rebuild first, then follow")
        if args.to == "duckdb":
            return _duckdb(args)
        return _mlflow(args)

    return run(PROG, body)


def _duckdb(args: argparse.Namespace) -> int:
    from projectors.duckdb import catch_up, checkpoint, rebuild
    from projectors.duckdb_follow import follow

    home = args.home
    if args.follow:
        return _until_interrupted("duckdb", lambda: follow(home, progress=_progress))
    applied = rebuild(home, progress=_progress) if args.rebuild else catch_up(home, progress=_progress)
    cp = checkpoint(home)
    print(f"duckdb: {applied:,} events applied, checkpoint seq {cp.seq if cp else 0} ({home}/projections.duckdb)")
    return EXIT_OK


def _mlflow(args: argparse.Namespace) -> int:
    from projectors import mlflow as mirror  # mlflow is imported only inside projectors/

    home, uri = args.home, args.tracking_uri
    if args.follow:
        return _until_interrupted("mlflow", lambda: mirror.follow(home, tracking_uri=uri, progress=_progress))
    summary = mirror.replay(home, tracking_uri=uri, rebuild=args.rebuild, progress=_progress)
    print(summary)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
