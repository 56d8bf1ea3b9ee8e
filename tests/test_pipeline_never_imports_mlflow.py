"""The pipeline (schemas/, ledger/, stages/) never imports mlflow, prefect or ray at import time: only adapters, when used."""

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
loaded = lambda top: sorted(m for m in sys.modules if m == top or m.startswith(top + "."))
print(json.dumps({"modules": names, "mlflow": loaded("mlflow"), "prefect": loaded("prefect"), "ray": loaded("ray")}))
"""


def test_importing_every_pipeline_module_never_loads_mlflow() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (PIPELINE,)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"schemas.events", "ledger.store", "stages.runner"} <= set(result["modules"])
    assert result["mlflow"] == [], f"the pipeline imported mlflow: {result['mlflow'][:5]}"
    # the Prefect adapter (stages/orchestrators/prefect_flow.py) imports prefect only when a flow runs
    assert "stages.orchestrators.prefect_flow" in result["modules"]
    assert result["prefect"] == [], f"the pipeline imported prefect: {result['prefect'][:5]}"
    assert result["ray"] == [], f"the pipeline imported ray: {result['ray'][:5]}"


def test_the_probe_would_notice_prefect() -> None:
    """Running the adapter's import of prefect is seen by the probe: the prefect check above can fail."""
    probe = PROBE.replace("importlib.import_module(top)\n", "importlib.import_module(top)\n    import prefect\n", 1)
    done = subprocess.run(
        [sys.executable, "-c", probe % (("schemas",),)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "prefect" in json.loads(done.stdout.strip().splitlines()[-1])["prefect"]


def test_the_probe_would_notice_mlflow() -> None:
    """The same probe, pointed at the mirror, does see mlflow: the check above can fail."""
    probe = PROBE.replace(
        "importlib.import_module(top)\n", "importlib.import_module(top)\n    import projectors.mirror.replay\n", 1
    )
    done = subprocess.run(
        [sys.executable, "-c", probe % (("schemas",),)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mlflow" in json.loads(done.stdout.strip().splitlines()[-1])["mlflow"]
