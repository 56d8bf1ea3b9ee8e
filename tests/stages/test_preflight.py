"""Preflight: every problem listed in one PreflightError, the run ends preflight_failed, the data is never read."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.context import InvalidRunIdError
from stages import sources
from stages.preflight import home_problems, preflight
from stages.runner import run_pipeline
from stages.sources import directory, synthetic
from tests.support.contracts_kit import block, completed, data_stages, events, of_type, settings, write_dir


@pytest.fixture
def no_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every data reader fail the test if it is called."""

    def boom(*args: object, **kwargs: object) -> None:
        pytest.fail("the data reader was called despite a preflight problem")

    for module, name in (
        (sources, "load"),
        (sources, "describe_inputs"),
        (synthetic, "generate"),
        (directory, "read_file"),
    ):
        monkeypatch.setattr(module, name, boom)


def test_default_settings_pass(tmp_path: Path) -> None:
    assert preflight(settings(), tmp_path) == []


@pytest.mark.parametrize(
    ("source", "contracts", "fragment"),
    [
        ({"kind": "directory"}, {}, "source.path is required"),
        ({"benchmark": " "}, {}, "source.benchmark is empty"),
        ({"start": "2021-13-01"}, {}, "source.start"),
        ({"as_of": "yesterday"}, {}, "source.as_of"),
        ({"calendar": "XMARS"}, {}, "source.calendar"),
        ({"toxicity": {"gremlins": 1}}, {}, "source.toxicity.gremlins"),
        ({"symbols": 0}, {}, "source.symbols"),
        ({"sessions": 3}, {}, "source.sessions"),
        ({}, {"stale_run_sessions": 1}, "contracts.stale_run_sessions"),
        ({}, {"split_tolerance": 0.5}, "contracts.split_tolerance"),
        ({}, {"max_abs_return": 0}, "contracts.max_abs_return"),
    ],
)
def test_each_settings_problem_is_named(tmp_path: Path, source: dict, contracts: dict, fragment: str) -> None:  # type: ignore[type-arg]
    problems = preflight(settings(source=source, contracts=contracts), tmp_path)
    assert any(fragment in p for p in problems), problems


def test_directory_input_problems(tmp_path: Path) -> None:
    def problems(path: Path) -> list[str]:
        return preflight(settings(source={"kind": "directory", "path": str(path)}), tmp_path / "home")

    assert "does not exist" in problems(tmp_path / "nope")[0]
    (tmp_path / "file.txt").write_text("x")
    assert "is not a directory" in problems(tmp_path / "file.txt")[0]
    (tmp_path / "empty").mkdir()
    assert "holds no .parquet or .csv files" in problems(tmp_path / "empty")[0]
    unreadable = write_dir(tmp_path / "broken", {"a.parquet": block("AAA", 3)})
    (unreadable / "b.csv").symlink_to(tmp_path / "missing-target.csv")
    (unreadable / "b.csv").unlink()
    (unreadable / "c.csv").mkdir()  # a directory named like a data file is skipped, not read
    assert problems(unreadable) == []
    (unreadable / "torn.parquet").write_bytes(b"PAR1 torn")
    (torn,) = problems(unreadable)
    assert torn.startswith(f"input file {unreadable / 'torn.parquet'} is not valid Parquet")


def test_home_problems(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert home_problems(tmp_path / "file", 0) == [f"home {tmp_path / 'file'} is not a directory"]
    assert "is not a directory" in home_problems(tmp_path / "file" / "home", 0)[0]
    assert "MB free" in home_problems(tmp_path, 1 << 40)[0]
    assert home_problems(tmp_path / "new" / "home", 0) == []


def test_every_problem_is_listed_and_the_run_ends_preflight_failed_without_reading(
    tmp_path: Path, no_reading: None
) -> None:
    bad = settings(
        source={"kind": "directory", "path": str(tmp_path / "nowhere"), "calendar": "XMARS"},
        contracts={"min_free_disk_mb": 1 << 40},
    )
    outcome = run_pipeline(bad, tmp_path / "home", stages=data_stages())
    assert outcome.status == "preflight_failed"
    evts = events(tmp_path / "home")
    assert [e.type for e in evts] == ["RunStarted", "RunCompleted"]
    done = completed(evts)
    assert done.status == "preflight_failed"
    for fragment in ("source.calendar", "does not exist", "MB free"):
        assert fragment in done.error
    assert of_type(evts, "RunStarted")[0].data.inputs == []


@pytest.mark.parametrize(
    ("source", "contracts", "fragment"),
    [
        ({"kind": "directory"}, {}, "source.path is required"),
        ({"kind": "directory", "path": "/nonexistent/ledgerline-data"}, {}, "does not exist"),
        ({"toxicity": {"gremlins": 1}}, {}, "source.toxicity.gremlins"),
        ({}, {"min_free_disk_mb": 1 << 40}, "MB free"),
        ({}, {"split_ratios": [0.5]}, "contracts.split_ratios"),
    ],
)
def test_each_problem_kind_ends_the_run_preflight_failed(
    tmp_path: Path,
    no_reading: None,
    source: dict,
    contracts: dict,
    fragment: str,  # type: ignore[type-arg]
) -> None:
    outcome = run_pipeline(settings(source=source, contracts=contracts), tmp_path, stages=data_stages())
    assert outcome.status == "preflight_failed" and fragment in (outcome.error or "")
    done = completed(events(tmp_path))
    assert done.status == "preflight_failed" and done.error.startswith("preflight failed: ") and fragment in done.error


def test_a_clean_preflight_lets_the_run_read(tmp_path: Path) -> None:
    outcome = run_pipeline(settings(source={"symbols": 3, "sessions": 30}), tmp_path, stages=data_stages())
    assert outcome.status == "succeeded"
    (started,) = of_type(events(tmp_path), "RunStarted")
    assert started.data.inputs[0].format == "synthetic"


@pytest.mark.parametrize(
    "run_id",
    ["../20260101-000000-abcd", "20260101-000000-ab/c", "/tmp/x", "20260101-000000-ABCD", "20260101-000000-abcd\n"],
)
def test_bad_run_ids_are_rejected_before_any_filesystem_use(tmp_path: Path, run_id: str) -> None:
    home = tmp_path / "home"
    with pytest.raises(InvalidRunIdError, match="invalid run id"):
        run_pipeline(settings(), home, run_id=run_id, stages=data_stages())
    assert not home.exists()


def test_run_ids_have_a_timestamp_and_a_random_suffix(tmp_path: Path) -> None:
    import re

    first = run_pipeline(settings(source={"symbols": 2, "sessions": 20}), tmp_path, stages=data_stages()[:1])
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-z]{4}", first.run_id)
