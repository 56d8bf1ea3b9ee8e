"""The post-run workflow (after_run) and the run summary as library calls, without argparse."""

from __future__ import annotations

from pathlib import Path

from ledger import Ledger
from projectors import projection
from projectors.runs.summary import summarize_run
from projectors.runs.workflow import after_run
from schemas.settings import TaggingPolicy
from tests.support.ledger_factory import RUN_A, RUN_B


def _seqs(home: Path, run_id: str) -> tuple[int, int]:
    with Ledger.open(home, readonly=True) as ledger:
        seqs = [e.seq for e in ledger.read() if e.run_id == run_id]
    assert seqs
    return min(s for s in seqs if s is not None), max(s for s in seqs if s is not None)


def test_after_run_projects_tags_and_projects_the_tags(two_runs: Path) -> None:
    done = after_run(two_runs, RUN_A, policy=TaggingPolicy())
    # RUN_A's verdict, plus the verdict of every other untagged succeeded run still pending (RUN_B here)
    assert done.projected > 0 and {r.event.data.key for r in done.tags} == {"candidate"}  # type: ignore[attr-defined]
    assert RUN_A in {r.event.run_id for r in done.tags}
    assert done.mirrored is None
    cp = projection.checkpoint(two_runs)
    with Ledger.open(two_runs, readonly=True) as ledger:
        assert cp is not None and cp.seq == ledger.head()[0]  # the tag itself is projected too
    assert done.notes()[0] == f"projections: {done.projected} events applied"
    assert done.notes()[1].startswith("tagged candidate=")
    again = after_run(two_runs, RUN_A, policy=TaggingPolicy())
    assert again.projected == 0 and again.tags == []  # an unchanged verdict is not recorded twice


def test_after_run_mirrors_when_asked(two_runs: Path, mlflow_template: Path) -> None:
    import shutil

    shutil.copyfile(mlflow_template, two_runs / "mlflow.db")
    done = after_run(two_runs, RUN_B, policy=TaggingPolicy(), mirror=True)
    assert done.mirrored is not None and "mirrored 2 runs" in done.mirrored
    assert done.notes()[-1] == f"mlflow: {done.mirrored}"


def test_summary_reads_headline_metrics_and_drops_of_one_run(two_runs: Path) -> None:
    first, last = _seqs(two_runs, RUN_B)
    summary = summarize_run(two_runs, RUN_B, "succeeded", first, last)
    doc = summary.as_dict()
    assert doc["run_id"] == RUN_B and doc["seqs"] == [first, last] and doc["error"] is None
    assert "sharpe" in summary.metrics and all("@" not in k for k in summary.metrics)
    assert sum(summary.rows_dropped.values()) == 1  # RUN_B has one toxic row
    clean = summarize_run(two_runs, RUN_A, "succeeded", *_seqs(two_runs, RUN_A))
    assert clean.rows_dropped == {}


def test_after_run_mirrors_into_the_tracking_uri_given(two_runs: Path, mlflow_template: Path) -> None:
    import shutil

    other = two_runs.parent / f"{two_runs.name}-store.db"
    shutil.copyfile(mlflow_template, other)
    done = after_run(two_runs, RUN_A, policy=TaggingPolicy(), mirror=True, tracking_uri=f"sqlite:///{other}")
    assert done.mirrored is not None and str(other) in done.mirrored
    assert not (two_runs / "mlflow.db").exists()
