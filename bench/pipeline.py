"""Benchmark: the production profile end to end (wall time, peak RSS, share of time spent appending events), by stage."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOAL_WALL_S, GOAL_RSS_MB, GOAL_APPEND_SHARE = 60.0, 3072.0, 0.05
USAGE = """examples:
  .venv/bin/python bench/pipeline.py            # production: 2,000 symbols x 2,520 sessions
  .venv/bin/python bench/pipeline.py --quick    # production settings on 400 symbols x 2,520 sessions

Each run happens in a fresh child process (a cold start, as `make run` would be) into a temporary home;
peak RSS is the child's ru_maxrss. The baseline, measured in the same invocation, is a child that only
imports the pipeline and exits (interpreter + polars + numba + pydantic start-up).
"""

CHILD = """
import json, sys, time
from pathlib import Path
started = time.perf_counter()
from ledger import Ledger
from schemas.settings import load_settings
from stages.runner import run_pipeline
imported = time.perf_counter()
if sys.argv[1] == "--import-only":
    print(json.dumps({"import_s": imported - started}))
    sys.exit(0)
home, profile, overrides = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
appending = [0.0]
original = Ledger.append
def timed_append(self, *args, **kwargs):
    t = time.perf_counter()
    try:
        return original(self, *args, **kwargs)
    finally:
        appending[0] += time.perf_counter() - t
Ledger.append = timed_append
outcome = run_pipeline(load_settings(profile, overrides), home)
finished = time.perf_counter()
with Ledger.open(home, readonly=True) as ledger:
    events = [e for e in ledger.read() if e.run_id == outcome.run_id]
stages = {e.stage: e.data.duration_s for e in events if e.type == "StageCompleted"}
print(json.dumps({"status": outcome.status, "error": outcome.error, "import_s": imported - started,
                  "run_s": finished - imported, "append_s": appending[0], "events": len(events), "stages": stages,
                  "headline": outcome.context.headline}))
"""


def child(args: list[str]) -> tuple[dict[str, Any], float, float, float]:
    """Run the child script; return its JSON report, its wall time, its peak RSS in MB and its CPU seconds."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, cwd=ROOT, timeout=3600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if usage.ru_maxrss <= before:
        print("  (warning: peak RSS not above an earlier child's; the figure below is a lower bound)")
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    return json.loads(done.stdout.strip().splitlines()[-1]), wall, usage.ru_maxrss / 1024.0, cpu


def main(argv: list[str] | None = None) -> int:
    """Measure the baseline and the production run, then print the figures, the ratios and the goals."""
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="400 symbols instead of 2,000")
    parser.add_argument("--profile", default="production")
    args = parser.parse_args(argv)
    overrides = {"source.symbols": "400"} if args.quick else {}
    _, base_wall, base_rss, _ = child(["--import-only"])
    with tempfile.TemporaryDirectory() as tmp:
        report, wall, rss, cpu = child([str(Path(tmp) / "runs"), args.profile, json.dumps(overrides)])
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} after the run (other work inflates wall times)"
    )
    label = args.profile + (" (--quick: source.symbols=400)" if args.quick else "")
    print(
        f"pipeline benchmark: profile {label}, status {report['status']}"
        + (f" ({report['error']})" if report["error"] else "")
    )
    print(f"  baseline (import the pipeline and exit): {base_wall:6.2f} s wall, {base_rss:7.0f} MB peak RSS")
    print(
        f"  end to end (fresh process)              : {wall:6.2f} s wall, {rss:7.0f} MB peak RSS"
        f"   = {wall / base_wall:5.1f}x / {rss / base_rss:4.1f}x the baseline"
    )
    print(
        f"  CPU (user + sys) of that process      : {cpu:6.2f} s  (on an idle 2-core machine wall >= {cpu / 2:.1f} s)"
    )
    print(
        f"  goal: wall <= {GOAL_WALL_S:.0f} s -> {wall / GOAL_WALL_S:.2f} of goal ({'MET' if wall <= GOAL_WALL_S else 'NOT MET'});"
        f" peak RSS <= {GOAL_RSS_MB:.0f} MB -> {rss / GOAL_RSS_MB:.2f} of goal ({'MET' if rss <= GOAL_RSS_MB else 'NOT MET'})"
    )
    run_s, append_s = float(report["run_s"]), float(report["append_s"])
    share = append_s / run_s
    print(
        f"  appending {report['events']} events: {append_s:.3f} s of a {run_s:.2f} s run = {share:.1%}"
        f" (goal <= {GOAL_APPEND_SHARE:.0%}: {'MET' if share <= GOAL_APPEND_SHARE else 'NOT MET'})"
    )
    print(f"  imports {float(report['import_s']):.2f} s; by stage (StageCompleted.duration_s):")
    for stage, seconds in report["stages"].items():
        print(f"    {stage:<10} {seconds:7.2f} s  {seconds / run_s:6.1%}")
    return 0 if report["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
