"""Issue 12.13: own data without a sector column is warned about, and each symbol counts as its own sector."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from projectors.runs.summary import summarize_run
from schemas.settings import SelectionSettings, load_settings
from stages.artifacts import ArtifactStore
from stages.registry import PIPELINE
from stages.runner import run_pipeline
from stages.selection import rank_candidates
from stages.sources import synthetic
from tests.support.contracts_kit import events, of_type

TOP_K, CAP = 10, 4


@pytest.fixture(scope="module")
def no_sector_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The canary's synthetic market (no toxicity) written as one Parquet file per symbol without a sector column."""
    settings = load_settings("canary", {"source.toxicity": "{}", "source.symbols": "24", "source.sessions": "300"})
    bars = synthetic.generate(settings.source, settings.seed).drop("sector")
    folder = tmp_path_factory.mktemp("nosector")
    for (symbol,), frame in bars.partition_by("symbol", as_dict=True).items():
        frame.write_parquet(folder / f"{symbol}.parquet")
    return folder


def _run(folder: Path, home: Path, cap: str) -> tuple[object, pl.DataFrame]:
    overrides = {"source.kind": '"directory"', "source.path": f'"{folder}"', "selection.top_k": str(TOP_K),
                 "selection.max_per_sector": cap, "contracts.min_symbols": "1"}  # fmt: skip
    settings = load_settings("canary", overrides)
    outcome = run_pipeline(
        settings, home, stages=[s for s in PIPELINE if s.name in ("ingest", "validate", "audit", "features", "select")]
    )
    assert outcome.context.selection is not None, outcome.error
    return outcome, ArtifactStore(home / "artifacts").get_frame(outcome.context.selection)


def test_no_sector_column_keeps_top_k_names_per_rebalance(no_sector_folder: Path, tmp_path: Path) -> None:
    _, capped = _run(no_sector_folder, tmp_path / "capped", str(CAP))
    per_date = capped.group_by("date").len()
    assert per_date.get_column("len").max() == TOP_K  # the cap of 4 per sector does not shrink the portfolio
    # where at least TOP_K assets are eligible the names are the same as with no sector cap at all
    uncapped = rank_candidates(capped.drop("rank"), SelectionSettings(top_k=TOP_K, max_per_sector=None))
    assert (
        capped.sort("date", "rank").get_column("symbol").to_list()
        == uncapped.sort("date", "rank").get_column("symbol").to_list()
    )


def test_no_sector_column_is_a_warned_contract_check_and_a_summary_line(no_sector_folder: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    outcome, _ = _run(no_sector_folder, home, str(CAP))
    (warned,) = [e for e in of_type(events(home), "DataContractChecked") if e.data.check == "sector_present"]
    assert warned.stage == "ingest" and warned.data.status == "warned" and warned.data.severity == "warning"
    assert warned.data.action == "reported" and warned.data.failed == warned.data.total > 0
    summary = summarize_run(home, outcome.run_id, outcome.status, outcome.first_seq, outcome.last_seq)  # type: ignore[attr-defined]
    (line,) = [w for w in summary.warnings if w.startswith("market_bars.sector_present: ")]
    assert line.startswith("market_bars.sector_present: no sector column: each of its symbols counts as its own sector")
    assert line in summary.as_dict()["warnings"]  # type: ignore[operator]


def test_a_source_with_sectors_has_no_sector_warning(tmp_path: Path) -> None:
    settings = load_settings("canary", {"source.symbols": "6", "source.sessions": "60", "source.toxicity": "{}"})
    run_pipeline(settings, tmp_path, stages=[s for s in PIPELINE if s.name == "ingest"])
    assert not [e for e in of_type(events(tmp_path), "DataContractChecked") if e.data.check == "sector_present"]
