"""bin/rerun (issue 14): exact reruns of a canary run, of a DVC-tracked folder at a past version, and refusals.

Acceptance 1: a temp git + DVC repo with a local remote; v1 run, v2 run, bin/diff names the data-version change,
bin/rerun of the v1 run reads v1 from the cache (the workspace is at v2) and reports reproduced. Acceptance 2: a
folder changed without DVC is refused, exit 2, naming the file, nothing written. Acceptance 5: canary rerun
reproduces; an unknown run id exits 2.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import polars as pl
import pytest

from bin.diff import main as diff_main
from bin.rerun import main as rerun_main
from bin.run_pipeline import main as run_main
from ledger import LEDGER_NAME, Ledger
from schemas.events import RunStarted
from schemas.settings import load_settings
from stages.sources.synthetic import generate
from tests.support.dvc_repo import DVC, init_repo, sh, track

ROOT = Path(__file__).resolve().parents[2]
V1, V2, DIRTY, NODVC = "20261201-000000-dvc1", "20261201-000000-dvc2", "20261201-000000-dirt", "20261201-000000-nodv"


def write_market(folder: Path) -> None:
    """A small canary-like market, one Parquet file per sector."""
    source = load_settings("canary").source.model_copy(update={"symbols": 12, "sessions": 300})
    frame = generate(source, 7)
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(frame.partition_by("sector", maintain_order=True)):
        part.write_parquet(folder / f"sector{i}.parquet")


def nudge(path: Path) -> None:
    """Change one file's prices a little (another data version)."""
    frame = pl.read_parquet(path)
    frame.with_columns(pl.col("close") * 1.01).write_parquet(path)


def start_of(home: Path, run_id: str) -> RunStarted:
    with Ledger.open(home, readonly=True) as ledger:
        return next(e for e in ledger.read() if isinstance(e, RunStarted) and e.run_id == run_id)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = run_main(["--quiet", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def dvc_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    if not DVC.exists():
        pytest.skip("dvc is in the test extra")
    base = tmp_path_factory.mktemp("rerun-dvc")
    repo = init_repo(base / "repo", base / "remote")
    write_market(repo / "market")
    commits = {"v1": track(repo, "market", "market v1")}
    home = base / "runs"
    assert run_main(["--quiet", "--home", str(home), "--source", str(repo / "market"), "--run-id", V1]) == 0
    nudge(repo / "market" / "sector1.parquet")
    commits["v2"] = track(repo, "market", "market v2")
    assert run_main(["--quiet", "--home", str(home), "--source", str(repo / "market"), "--run-id", V2]) == 0
    return repo, home, commits


def test_a_run_on_a_dvc_tracked_folder_records_its_version(dvc_home: tuple[Path, Path, dict[str, str]]) -> None:
    repo, home, commits = dvc_home
    one, two = start_of(home, V1).data.inputs[0].dvc, start_of(home, V2).data.inputs[0].dvc
    assert one is not None and two is not None
    assert (one.repo_commit, one.path, one.matches) == (commits["v1"], "market", True)
    assert two.repo_commit == commits["v2"] and two.md5 != one.md5 and two.md5.endswith(".dir")


def test_diff_names_the_data_version_change(
    dvc_home: tuple[Path, Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, home, commits = dvc_home
    assert diff_main(["--home", str(home), V1, V2]) == 1
    out = capsys.readouterr().out
    one, two = start_of(home, V1).data.inputs[0].dvc, start_of(home, V2).data.inputs[0].dvc
    line = next(x for x in out.splitlines() if "dvc market" in x)
    assert (
        f"md5 {one.md5} at commit {commits['v1'][:12]}" in line
        and f"md5 {two.md5} at commit {commits['v2'][:12]}" in line
    )
    assert "sector1.parquet" in out


def test_rerun_reads_the_recorded_dvc_version_though_the_workspace_moved_on(
    dvc_home: tuple[Path, Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, home, commits = dvc_home
    assert rerun_main(["--quiet", "--json", "--home", str(home), V1]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reproduced"] is True and report["rerun_of"] == V1
    assert start_of(home, V1).data.inputs[0].dvc.md5 in report["data_version"]
    again = start_of(home, report["run_id"]).data
    assert again.rerun_of == V1
    assert {i.name: i.sha256 for i in again.inputs} == {i.name: i.sha256 for i in start_of(home, V1).data.inputs}


def test_uncommitted_data_is_flagged_and_not_a_candidate(
    dvc_home: tuple[Path, Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, home, _ = dvc_home
    nudge(repo / "market" / "sector2.parquet")  # no dvc add: the workspace no longer matches market.dvc
    code, summary = run_json(capsys, "--home", str(home), "--source", str(repo / "market"), "--run-id", DIRTY)
    assert code == 0
    assert start_of(home, DIRTY).data.inputs[0].dvc.matches is False
    assert (
        "data: market does not match its DVC version (uncommitted changes; dvc add and commit it); not a candidate"
        in (summary["warnings"])
    )
    tagged = [n for n in summary["notes"] if n.startswith("tagged candidate=")]
    assert tagged and tagged[0].startswith("tagged candidate=false") and "do not match their DVC version" in tagged[0]
    sh(repo, DVC, "checkout", "-q", "--force", "market")  # back to v2 for the other tests


def test_make_run_pulls_a_tracked_folder_first(dvc_home: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    repo, _, _ = dvc_home
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", repo, clone)
    assert not (clone / "market").exists()
    dry = subprocess.run(
        ["make", "-n", "run", "DATA=" + str(clone / "market")], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert f"bin/_dvc_pull.sh {clone / 'market'}" in dry.stdout and f"--source {clone / 'market'}" in dry.stdout
    out = subprocess.run(
        [ROOT / "bin" / "_dvc_pull.sh", clone / "market"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (clone / "market").iterdir()) == sorted(p.name for p in (repo / "market").iterdir())
    untracked = subprocess.run([ROOT / "bin" / "_dvc_pull.sh", tmp_path], capture_output=True, text=True, timeout=60)
    assert untracked.returncode == 0 and untracked.stderr == ""


def test_a_folder_changed_without_dvc_is_refused_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, home = tmp_path / "market", tmp_path / "runs"
    write_market(folder)
    assert run_main(["--quiet", "--home", str(home), "--source", str(folder), "--run-id", NODVC]) == 0
    nudge(folder / "sector3.parquet")
    before = (home / LEDGER_NAME).read_bytes()
    capsys.readouterr()
    assert rerun_main(["--quiet", "--home", str(home), NODVC]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sector3.parquet (content changed)" in err and "no DVC version" in err
    assert (home / LEDGER_NAME).read_bytes() == before


def test_rerun_of_a_canary_run_is_reproduced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "runs"
    assert run_main(["--quiet", "--home", str(home), "--run-id", "20261201-000000-cana"]) == 0
    assert rerun_main(["--quiet", "--home", str(home), "20261201-000000-cana"]) == 0
    out = capsys.readouterr().out
    assert "reproduced: identical stage outputs" in out and "synthetic market, seed 7" in out
    assert "code version: the same" in out


def test_rerun_of_an_unknown_run_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rerun_main(["--home", str(tmp_path), "20261201-000000-none"]) == 2
    assert "unknown run id '20261201-000000-none'" in capsys.readouterr().err
    assert not (tmp_path / LEDGER_NAME).exists()
    assert rerun_main(["--home", str(tmp_path), "not-a-run-id"]) == 2


def test_a_divergent_rerun_names_the_first_divergent_stage_and_what_differs(two_runs: Path) -> None:
    from bin.rerun import _text, verdict
    from projectors import projection
    from projectors.runs.diff import diff_runs
    from tests.support.ledger_factory import RUN_A, RUN_B

    projection.catch_up(two_runs)
    report = verdict(diff_runs(two_runs, RUN_A, RUN_B))
    assert report["reproduced"] is False and report["first_divergent_stage"] == "ingest"
    text = _text(report, "the same files")
    assert "not reproduced: first divergent stage ingest" in text and "code version:" in text
