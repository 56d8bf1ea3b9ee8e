"""Benchmark: 16 canary points as a shell loop of bin/run-pipeline, and as bin/sweep local, local --workers 2, ray.

examples:
  .venv/bin/python bench/sweep.py            # 16 points: top_k 5,10 x hurst_window 64,128 x seeds 1-4
  .venv/bin/python bench/sweep.py --quick    # 4 points (top_k x hurst_window, one seed)

Every mode writes into its own fresh home and does the same work per point: the run, the projection
catch-up and the candidate decision (bin/run-pipeline does both after each run; bin/sweep once after the
sweep). Each mode is one child process tree; its peak RSS is the largest sum of the resident sets of the
whole tree (the Ray cluster's processes included), sampled every 0.1 s. Ratios are against the same run:
(b)/(a), and (c)/(b), (d)/(b). Goals on 2 cores: (b) >= 3x (a); (c) and (d) >= 1.6x (b).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
GRID = ["--grid", "selection.top_k=5,10", "--grid", "features.hurst_window=64,128"]


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants (those gone between the calls count 0)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(argv: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS of the process tree in bytes, exit code) of one command."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc, peak, stop = psutil.Process(child.pid), [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], tree_rss(proc))
            except psutil.Error:
                pass
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = child.communicate()
    stop.set()
    sampler.join()
    if child.returncode != 0:
        print(f"  exit {child.returncode}: {err.strip().splitlines()[-1] if err.strip() else ''}", file=sys.stderr)
    return time.perf_counter() - started, peak[0], child.returncode


def point_sets(seeds: list[int]) -> list[list[str]]:
    """The --set flags of every point, in the sweep's order."""
    out = []
    for k in (5, 10):
        for w in (64, 128):
            for s in seeds:
                out.append(["--set", f"selection.top_k={k}", "--set", f"features.hurst_window={w}", "--seed", str(s)])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="4 points instead of 16")
    args = ap.parse_args()
    seeds = [1] if args.quick else [1, 2, 3, 4]
    n = 4 * len(seeds)
    seed_flags = ["--seeds", ",".join(map(str, seeds))]
    sweep = [str(ROOT / "bin" / "sweep"), "--profile", "canary", *GRID, *seed_flags]
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ll-bench-sweep-") as tmp:
        loop = "\n".join(
            shlex.join([str(ROOT / "bin" / "run-pipeline"), "--home", f"{tmp}/a", "--profile", "canary", *s, "--quiet"])
            for s in point_sets(seeds)
        )
        modes = {
            "(a) shell loop of bin/run-pipeline": ["bash", "-ec", loop],
            "(b) bin/sweep --executor local": [*sweep, "--home", f"{tmp}/b", "--executor", "local"],
            "(c) bin/sweep --executor local --workers 2": [*sweep, "--home", f"{tmp}/c", "--workers", "2"],
            "(d) bin/sweep --executor ray --workers 2": [*sweep, "--home", f"{tmp}/d", "--executor", "ray", "--workers", "2"],
        }
        results: dict[str, tuple[float, int, int]] = {}
        for name, argv in modes.items():
            print(f"{name} ...", file=sys.stderr, flush=True)
            results[name] = measure(argv)
    print(f"\n{n} canary points, load average at start {load:.1f}, {os.cpu_count()} cores")
    print(f"{'mode':<44} {'wall s':>8} {'points/min':>11} {'peak RSS MB':>12} {'exit':>5}")
    for name, (wall, rss, rc) in results.items():
        print(f"{name:<44} {wall:8.1f} {n / wall * 60:11.1f} {rss / 2**20:12.0f} {rc:>5}")
    a, b, c, d = (results[k][0] for k in modes)
    print(f"\n(b) vs (a): {a / b:.2f}x faster (goal >= 3x)")
    print(f"(c) vs (b): {b / c:.2f}x faster (goal >= 1.6x)")
    print(f"(d) vs (b): {b / d:.2f}x faster (goal >= 1.6x)")
    return 0 if all(rc == 0 for _, _, rc in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
