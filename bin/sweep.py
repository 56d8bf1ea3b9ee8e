"""bin/sweep: run a grid of settings (times seeds) as one recorded sweep, rank the runs, name the best."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bin._cli import EXIT_FOUND, EXIT_OK, UsageError, parser, run

PROG = "sweep"
EXAMPLE = (
    "bin/sweep --profile canary --grid selection.top_k=5,10 --grid features.hurst_window=64,128\n"
    "  bin/sweep --profile canary --grid selection.top_k=5,10 --seeds 1,2 --executor local --workers 2\n"
    "  bin/sweep --resume sweep-20261203-120000-abcd"
)
#: auto, HOST:PORT or ray://HOST:PORT (a host name or IPv4 address, a port 1-65535)
_ADDRESS = re.compile(r"^(?:ray://)?(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(?P<port>[0-9]{1,5})$")


def check_ray_address(value: str) -> str:
    """--ray-address: auto, HOST:PORT or ray://HOST:PORT; UsageError otherwise."""
    if value == "auto":
        return value
    match = _ADDRESS.match(value)
    if match is None or not 0 < int(match.group("port")) < 65536:
        raise UsageError(f"--ray-address {value!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    return value


def _build_parser() -> Any:
    p = parser(PROG, "Run a grid of settings (times seeds) as one recorded sweep of ordinary runs.", EXAMPLE)
    p.add_argument(
        "--pipeline",
        default=None,
        metavar="PATH.py:NAME",
        help="the pipeline: PATH.py:NAME or package.module:NAME (default the quant reference)",
    )
    p.add_argument("--profile", default=None, help="profile name (quant default canary)")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a swept setting and its values; repeat for more keys (the points are their product)",
    )
    p.add_argument("--seeds", default=None, metavar="1,2,3", help="run every grid point once per seed")
    p.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="a fixed override for every point"
    )
    p.add_argument("--executor", choices=("local", "ray"), default="local", help="local (default) or ray")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local: N worker processes (default 1: in this process); ray: num_cpus of the local cluster",
    )
    p.add_argument(
        "--ray-address", default=None, metavar="ADDR", help="with --executor ray: join this cluster (auto, HOST:PORT)"
    )
    p.add_argument("--rank", default=None, metavar="METRIC", help="rank the runs by this metric (default sharpe)")
    p.add_argument("--resume", default=None, metavar="SWEEP_ID", help="run only the points without a succeeded run")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def _plan(args: Any) -> Any:
    """The plan and sweep id (a fresh id, or the resumed sweep's recorded plan); nothing is written."""
    from stages.sweep import check_sweep_id, make_plan, new_sweep_id, parse_grid, parse_seeds, parse_sets, rank_of

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give at least 1")
    if args.ray_address is not None:
        check_ray_address(args.ray_address)
        if args.executor != "ray":
            raise UsageError("--ray-address needs --executor ray")
    if args.resume is not None:
        from stages.sweep import read_sweep

        sweep_id = check_sweep_id(args.resume)
        if args.grid or args.seeds or args.sets or args.pipeline or args.profile:
            raise UsageError("--resume runs the sweep's recorded plan; drop --grid/--seeds/--set/--pipeline/--profile")
        record = read_sweep(args.home, sweep_id)
        if record.plan is None:
            raise UsageError(f"--resume {sweep_id}: no run of that sweep in {args.home}")
        plan = record.plan
        if args.rank is not None:
            plan = plan.model_copy(update={"rank": rank_of(args.rank)})
        return plan, sweep_id, record
    from stages.sweep import SweepRecord

    target = args.pipeline or "stages.registry:QUANT_REFERENCE"
    if target.partition(":")[0].endswith(".py"):  # workers load it from anywhere: make the path absolute
        path, _, attr = target.partition(":")
        target = f"{Path(path).expanduser().resolve()}" + (f":{attr}" if attr else "")
    plan = make_plan(
        target,
        args.profile,
        parse_grid(args.grid),
        parse_seeds(args.seeds),
        parse_sets(args.sets),
        rank_of(args.rank or "sharpe"),
    )
    sweep_id = new_sweep_id()
    return plan, sweep_id, SweepRecord(sweep_id)


def _print(table: list[dict[str, Any]], summary: dict[str, Any], promote: str | None, notes: list[str]) -> None:
    metric = summary["rank_metric"]
    print(
        f"\nsweep {summary['sweep_id']}: {summary['succeeded']}/{summary['points']} points succeeded"
        + (f", {summary['failed']} failed" if summary["failed"] else "")
    )
    print(f"  {'rank':>4}  {'run':<20}  {'status':<10}  {metric:>12}  point")
    for row in table:
        value = row["rank_value"]
        shown = f"{value:12.4f}" if isinstance(value, float) else f"{'-':>12}"
        rank = row["rank"] if row["rank"] is not None else "-"
        print(f"  {rank:>4}  {row['run_id']:<20}  {row['status']:<10}  {shown}  {row['point_text']}")
    for note in notes:
        print(note)
    if promote:
        print(f"\npromote the best as challenger:\n  {promote}")


def _execute(args: Any, plan: Any, sweep_id: str, pipeline: Any, resolved: Any, already: int, progress: Any) -> Any:
    """Open the executor, run the points through the driver (the one writer), close the executor."""
    from stages.executors import open_executor
    from stages.sweep import run_sweep, specs_for

    executor = open_executor(args.executor, args.workers, args.ray_address)  # a missing extra: one line
    try:
        specs = specs_for(plan, sweep_id, args.home, executor.info, resolved)
        progress(f"sweep {sweep_id}: {len(specs)} of {plan.points} points on {executor.info.name}")
        return run_sweep(
            args.home,
            specs,
            resolved,
            executor.run(specs),
            pipeline=pipeline,
            total_points=plan.points,
            already=already,
            progress=progress,
        )
    finally:
        executor.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = _build_parser()
    args = p.parse_args(argv)

    def body() -> int:
        from projectors.runs.sweeps import promote_command, sweep_summary, sweep_table
        from projectors.runs.workflow import after_run
        from schemas.settings import Settings, TaggingPolicy
        from stages.sweep import load_for, points, resolve_points

        plan, sweep_id, record = _plan(args)
        pipeline = load_for(plan)
        done = record.succeeded()
        todo = [pt for pt in points(plan) if pt.key not in done]
        resolved = resolve_points(pipeline, plan, todo)

        def progress(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        notes: list[str] = []
        if todo:
            # stdout is for the summary: engines that print (Ray's worker-death notices) go to stderr with the progress
            with contextlib.redirect_stdout(sys.stderr):
                outcome = _execute(args, plan, sweep_id, pipeline, resolved, len(done), progress)
            settings = resolved[0][1]
            policy = settings.tagging if isinstance(settings, Settings) else pipeline.policy
            if policy is not None and not isinstance(policy, TaggingPolicy):
                policy = TaggingPolicy.model_validate(policy if isinstance(policy, dict) else vars(policy))
            own = None if isinstance(settings, Settings) else policy  # quant runs: each run's own [tagging]
            after = after_run(args.home, outcome.runs[0][0], policy=own, tag=policy is not None, progress=progress)
            notes = after.notes()
        else:
            notes = [f"sweep {sweep_id}: every point already has a succeeded run; nothing to run"]
        table = sweep_table(args.home, sweep_id)
        summary = sweep_summary(args.home, sweep_id)
        promote = promote_command(args.home, summary)
        if args.json:
            print(json.dumps({**summary, "runs": table, "promote": promote, "notes": notes}, default=str))
        else:
            _print(table, summary, promote, notes)
        return EXIT_OK if summary["succeeded"] == summary["points"] else EXIT_FOUND

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
