"""The canary golden file: run the real canary profile and store (or check) its headline metrics."""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

from schemas.settings import load_settings
from stages.runner import RunOutcome, run_pipeline

GOLDEN = Path(__file__).resolve().parents[1] / "stages" / "golden" / "canary_metrics.json"
TOLERANCE = 1e-6
USAGE = """Regenerate after an intended change to the canary numbers:
  .venv/bin/python -m tests.support.quant_golden --write
Check the current code against the stored file (exit 1 on a mismatch):
  .venv/bin/python -m tests.support.quant_golden
"""
RUN_ID = "20260101-000000-gold"


def run_canary(home: Path, run_id: str = RUN_ID) -> RunOutcome:
    """One run of the shipped canary profile into home."""
    return run_pipeline(load_settings("canary"), home, run_id=run_id)


def golden_document(outcome: RunOutcome) -> dict[str, object]:
    """What the golden file stores: the headline metrics and the settings they came from."""
    return {
        "profile": "canary",
        "config_hash": load_settings("canary").config_hash(),
        "tolerance": TOLERANCE,
        "metrics": dict(sorted(outcome.context.headline.items())),
    }


def mismatches(expected: dict[str, float], actual: dict[str, float]) -> list[str]:
    """Metrics missing on either side or further apart than TOLERANCE (absolute, or relative for large values)."""
    problems = [f"{k}: missing" for k in sorted(set(expected) ^ set(actual))]
    for key in sorted(set(expected) & set(actual)):
        if not math.isclose(expected[key], actual[key], rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            problems.append(f"{key}: golden {expected[key]!r} != run {actual[key]!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """--write stores a fresh golden file; without it, check the current code against it (exit 1 on mismatch)."""
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="overwrite the golden file with this run's metrics")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        outcome = run_canary(Path(tmp) / "runs")
    if outcome.status != "succeeded":
        print(f"canary run {outcome.status}: {outcome.error}", file=sys.stderr)
        return 2
    document = golden_document(outcome)
    if args.write:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN}")
        return 0
    problems = mismatches(json.loads(GOLDEN.read_text())["metrics"], document["metrics"])  # type: ignore[arg-type]
    print("\n".join(problems) or "canary metrics match the golden file")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
