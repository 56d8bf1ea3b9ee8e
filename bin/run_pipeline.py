"""bin/run-pipeline: run the stages into the ledger, catch the projections up, tag, optionally mirror."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bin._cli import EXIT_FOUND, EXIT_OK, UsageError, parser, run
from bin._progress import Reporter
from projectors.runs.summary import RunSummary, summarize_run
from schemas.settings import Settings, TaggingPolicy, profile_names

PROG = "run-pipeline"


def _overrides(pairs: list[str], seed: int | None, sources: list[str] | None, as_of: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects key=value, got {pair!r}")
        out[key] = value
    if seed is not None:
        out["seed"] = str(seed)
    arctic = [s for s in sources or [] if s.startswith("arcticdb+")]
    if arctic:
        out.update(_arctic_overrides(sources or [], as_of))
    elif as_of is not None:
        raise UsageError("--as-of names an ArcticDB snapshot or version: give it with --source arcticdb+...")
    elif sources:
        if len(sources) > 1:
            raise UsageError("--source names one folder or file (several --source are for ArcticDB libraries)")
        source = Path(sources[0])
        _check_source(source)
        out["source.kind"] = '"directory"'
        out["source.path"] = json.dumps(str(source.resolve()))
    return out


def _arctic_overrides(sources: list[str], as_of: str | None) -> dict[str, str]:
    """source.kind and source.arctic.* for one or more `arcticdb+...?library=NAME` URIs (each checked, else exit 2)."""
    from schemas.settings import parse_arctic_uri

    for uri in sources:
        if not uri.startswith("arcticdb+"):
            raise UsageError(f"--source {uri}: several --source must all be ArcticDB URIs (arcticdb+...)")
        try:
            parse_arctic_uri(uri)
        except ValueError as exc:
            raise UsageError(f"--source {exc}") from exc
    out = {"source.kind": '"arcticdb"', "source.arctic.uris": json.dumps(sources)}
    if as_of is not None:
        out["source.arctic.as_of"] = json.dumps(as_of)
    return out


def _check_source(source: Path) -> None:
    """--source must name something that exists: a folder, or one Parquet/CSV file (else a usage error)."""
    from stages.sources.directory import SUFFIXES

    if not source.exists():
        raise UsageError(f"--source {source} does not exist (give a folder of Parquet/CSV files or one such file)")
    if not source.is_dir() and not (source.is_file() and source.suffix.lower() in SUFFIXES):
        raise UsageError(f"--source {source} is neither a folder nor a .parquet or .csv file")


def _print_summary(summary: RunSummary, notes: list[str], home: Path) -> None:
    from projectors.mirror.layout import default_tracking_uri  # names the store without importing mlflow

    print(f"\nrun {summary.run_id}: {summary.status}" + (f" ({summary.error})" if summary.error else ""))
    metrics = summary.metrics
    for key in sorted(metrics):
        print(f"  {key:<14} {metrics[key]: .4f}")
    drops = summary.rows_dropped
    print(f"rows dropped: {sum(drops.values())}" + ("" if drops else " (none)"))
    for reason, count in sorted(drops.items(), key=lambda kv: -kv[1]):
        print(f"  {count:>6}  {reason}")
    for warning in summary.warnings:
        print(f"warning: {warning}")
    for note in notes:
        print(note)
    h = "" if home == Path("runs") else f" --home {home}"
    print(
        "\nnext:\n"
        f"  bin/verify{h}\n"
        f'  bin/query{h} "select * from runs"\n'
        f"  bin/diff{h} RUN_A RUN_B\n"
        f"  .venv/bin/mlflow ui --backend-store-uri {default_tracking_uri(home)}"
    )


ORCHESTRATORS = ("plain", "prefect")


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Run a pipeline (default: the reference quant pipeline) into the ledger.",
        "bin/run-pipeline --profile canary --seed 7\n  bin/run-pipeline --pipeline examples/toy.py:PIPELINE --set n=5\n"
        "  bin/run-pipeline --source 'arcticdb+lmdb:///tmp/arctic?library=market' --as-of v1",
    )
    p.add_argument(
        "--pipeline",
        default="stages.registry:QUANT_REFERENCE",
        metavar="PATH.py:NAME",
        help="the pipeline to run: PATH.py:NAME or package.module:NAME (default the quant reference)",
    )
    p.add_argument(
        "--orchestrator",
        choices=ORCHESTRATORS,
        default=None,
        help="plain (default) or prefect: run the stages as a Prefect flow (or set LEDGERLINE_ORCHESTRATOR)",
    )
    p.add_argument(
        "--prefect-api",
        default=None,
        metavar="URL",
        help="with --orchestrator prefect: a running Prefect API (or PREFECT_API_URL); default the ephemeral API",
    )
    p.add_argument(
        "--profile",
        default=None,
        help=f"profile name (quant: {', '.join(profile_names())}, default canary; other pipelines: P.toml in their profiles folder)",
    )
    p.add_argument("--seed", type=int, help="random seed of the synthetic market (overrides the profile)")
    p.add_argument(
        "--source",
        action="append",
        metavar="DIR|URI",
        help="folder of Parquet/CSV market data (or one such file) instead of the synthetic market, or an ArcticDB "
        "library: arcticdb+lmdb:///PATH?library=NAME, arcticdb+s3://ENDPOINT:BUCKET?library=NAME&aws_auth=true "
        "(repeat for several libraries)",
    )
    p.add_argument(
        "--as-of",
        default=None,
        metavar="SNAPSHOT|VERSION",
        help="with an ArcticDB --source: read a snapshot, a version number or an ISO timestamp (default the latest)",
    )
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set backtest.cost_bps=10",
    )
    p.add_argument("--run-id", help="use this run id (YYYYMMDD-HHMMSS-xxxx) instead of a fresh one")
    p.add_argument("--mirror", action="store_true", help="also mirror the ledger into MLflow (sqlite under the home)")
    p.add_argument(
        "--tracking-uri", default=None, help="with --mirror: the MLflow tracking URI (default sqlite under --home)"
    )
    p.add_argument("--no-project", action="store_true", help="only run the stages; skip projections and tagging")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)

    def body() -> int:
        from stages.pipeline import load_pipeline
        from stages.registry import QUANT_REFERENCE

        orchestrator = args.orchestrator or os.environ.get("LEDGERLINE_ORCHESTRATOR") or "plain"
        if orchestrator not in ORCHESTRATORS:
            raise UsageError(f"LEDGERLINE_ORCHESTRATOR={orchestrator!r}: choose one of {', '.join(ORCHESTRATORS)}")
        pipeline = load_pipeline(args.pipeline)
        if args.source is not None and pipeline is not QUANT_REFERENCE:
            raise UsageError(f"--source is a setting of the quant reference pipeline, not of {pipeline.name}")
        pipeline.check_reads()
        settings = pipeline.resolve(args.profile, _overrides(args.sets, args.seed, args.source, args.as_of))
        with Reporter(PROG, quiet=args.quiet) as progress:
            outcome, notes = run_and_project(pipeline, settings, orchestrator, progress)
        key = os.environ.get("LEDGERLINE_SIGNING_KEY")
        if key:  # sign the head after the run (and its tags): an auditor's checkpoint
            from ledger.checkpoints import load_signer, sign_head

            path, _ = sign_head(args.home, load_signer(Path(key)))
            notes.append(f"checkpoint: signed the tree head into {path}")
        summary = summarize_run(
            args.home, outcome.run_id, outcome.status, outcome.first_seq, outcome.last_seq, outcome.error
        )
        if args.json:
            print(json.dumps({**summary.as_dict(), "notes": notes}))
        else:
            _print_summary(summary, notes, args.home)
        return EXIT_OK if outcome.status == "succeeded" else EXIT_FOUND

    def run_and_project(pipeline: Any, settings: Any, orchestrator: str, progress: Reporter) -> tuple[Any, list[str]]:
        """Run the stages, then (unless --no-project) catch the read models up and let the policy decide."""
        from stages.orchestrators import run_with

        outcome = run_with(
            orchestrator,
            pipeline,
            settings,
            args.home,
            run_id=args.run_id,
            progress=progress,
            prefect_api=args.prefect_api,
        )
        if args.no_project:
            return outcome, []
        from projectors.runs.workflow import after_run

        policy = settings.tagging if isinstance(settings, Settings) else pipeline.policy
        if policy is not None and not isinstance(policy, TaggingPolicy):
            policy = TaggingPolicy.model_validate(policy if isinstance(policy, dict) else vars(policy))
        done = after_run(
            args.home,
            outcome.run_id,
            policy=policy,
            tag=policy is not None,
            mirror=args.mirror,
            tracking_uri=args.tracking_uri,
            progress=progress,
        )
        return outcome, done.notes()

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
