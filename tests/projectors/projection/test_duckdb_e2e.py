"""End to end with the real pipeline: two small runs differing in one param and one toxic row, diffed from the projection."""

from __future__ import annotations

from pathlib import Path

import pytest

from bin.diff import main as diff
from projectors import projection as proj
from projectors.runs.tagging import tag_run
from schemas.settings import load_settings
from stages.runner import run_pipeline
from tests.support.venvs import fresh_venv

SMALL = {
    "source.symbols": "12",
    "source.sessions": "300",
    "source.toxicity": "{}",
    "selection.top_k": "5",
    "backtest.warmup": "130",
}
RUN_A, RUN_B = "20260105-090000-aaaa", "20260105-100000-bbbb"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("e2e")
    a = run_pipeline(load_settings("canary", SMALL), home, run_id=RUN_A)
    b = run_pipeline(
        load_settings("canary", {**SMALL, "selection.top_k": "6", "source.toxicity": "{extreme_return = 1}"}),
        home,
        run_id=RUN_B,
    )
    assert (a.status, b.status) == ("succeeded", "succeeded"), (a.error, b.error)
    return home


def test_projection_of_real_runs(home: Path) -> None:
    assert proj.catch_up(home) > 0
    con = proj.connect(home)
    try:
        runs = con.execute(
            "SELECT run_id, status, sharpe IS NOT NULL, cagr IS NOT NULL FROM runs ORDER BY run_id"
        ).fetchall()
        assert runs == [(RUN_A, "succeeded", True, True), (RUN_B, "succeeded", True, True)]
        reasons = con.execute(
            "SELECT reason, sum(count) FROM rows_dropped WHERE run_id = ? GROUP BY reason", [RUN_B]
        ).fetchall()
        assert "extreme_return" in {r for r, _ in reasons}
    finally:
        con.close()


def test_diff_of_real_runs_names_param_toxic_row_and_first_stage(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert diff(["--home", str(home), RUN_A, RUN_B]) == 1
    out = capsys.readouterr().out
    assert "stages (first divergence: ingest)" in out
    assert "~ selection.top_k: 5 -> 6" in out
    assert "extreme_return: (absent) -> 1  +1 rows:" in out
    assert diff(["--home", str(home), RUN_B, RUN_B]) == 0


def test_policy_tags_real_runs(home: Path) -> None:
    settings = load_settings("canary", SMALL)
    (rec,) = tag_run(home, RUN_A, settings.tagging)
    assert rec.event.data.key == "candidate" and rec.event.data.reason.startswith(("candidate", "not a candidate"))  # type: ignore[attr-defined]


#: a DuckDB 1.x client, installed once into its own environment (the test venv has DuckDB 2)
OLD_CLIENT = "duckdb>=1.5,<2"
_OLD_CLIENT_SCRIPT = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
for v in views:
    con.execute(f'SELECT * FROM "{v}"').fetchall()
print(duckdb.__version__, len(views))
"""


def _old_duckdb_python(root: Path) -> Path:
    """The python of a venv holding a DuckDB 1.x client, made under .cache/ on first use (from the registry)."""
    venv = root / ".cache" / "duckdb1-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        failed = fresh_venv(venv, OLD_CLIENT)
        assert failed is None, f"cannot install {OLD_CLIENT}: {failed.stderr[-500:]}"
    return python


def test_a_duckdb_1x_client_opens_the_projection_and_queries_every_view(home: Path) -> None:
    import subprocess

    from projectors.projection.store import view_names

    proj.catch_up(home)
    python = _old_duckdb_python(Path(__file__).resolve().parents[3])
    out = subprocess.run(
        [str(python), "-c", _OLD_CLIENT_SCRIPT, str(proj.projection_path(home))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    version, count = out.stdout.split()
    assert version.startswith("1.") and int(count) == len(view_names())
