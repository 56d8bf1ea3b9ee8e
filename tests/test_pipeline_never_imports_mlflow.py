"""The pipeline (schemas/, ledger/, stages/) never imports mlflow: only projectors/, bench/ and tests/ may."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ("schemas", "ledger", "stages")

PROBE = """
import importlib, json, pkgutil, sys
names = []
for top in %r:
    package = importlib.import_module(top)
    names.append(top)
    for info in pkgutil.walk_packages(package.__path__, prefix=top + "."):
        importlib.import_module(info.name)
        names.append(info.name)
print(json.dumps({"modules": names, "mlflow": sorted(m for m in sys.modules if m == "mlflow" or m.startswith("mlflow."))}))
"""


def test_importing_every_pipeline_module_never_loads_mlflow() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE % (PIPELINE,)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"schemas.events", "ledger.store", "stages.runner"} <= set(result["modules"])
    assert result["mlflow"] == [], f"the pipeline imported mlflow: {result['mlflow'][:5]}"


def test_the_probe_would_notice_mlflow() -> None:
    """The same probe, pointed at the mirror, does see mlflow: the check above can fail."""
    probe = PROBE.replace("importlib.import_module(top)\n", "importlib.import_module(top)\n    import projectors.mirror.replay\n", 1)
    done = subprocess.run([sys.executable, "-c", probe % (("schemas",),)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mlflow" in json.loads(done.stdout.strip().splitlines()[-1])["mlflow"]
