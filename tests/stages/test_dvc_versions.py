"""The DVC version of a folder, read without the dvc package: matches real `dvc add` output, notices uncommitted changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stages.sources import directory
from stages.sources.dvc import dir_md5, materialize, version_of
from tests.support.dvc_repo import DVC, init_repo, sh, track

pytestmark = pytest.mark.skipif(not DVC.exists(), reason="dvc is in the test extra")


def _write(folder: Path) -> None:
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    (folder / "a.csv").write_text("date,symbol,close\n2021-01-04,SPY,1.0\n")
    (folder / "sub" / "b.csv").write_text("date,symbol,close\n2021-01-04,AAA,2.0\n")


def test_folder_md5_matches_dvc_add_and_is_recorded_with_the_commit(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "repo", tmp_path / "remote")
    _write(root / "data")
    commit = track(root, "data", "data v1")
    out = yaml.safe_load((root / "data.dvc").read_text())["outs"][0]
    assert dir_md5(root / "data") == out["md5"]
    inputs = directory.describe(root / "data" / "sub")  # a subfolder of the tracked folder
    version = inputs[0].dvc
    assert version is not None and version.repo_commit == commit
    assert (version.path, version.md5, version.matches, version.file) == ("data", out["md5"], True, "data.dvc")

    (root / "data" / "a.csv").write_text("date,symbol,close\n2021-01-04,SPY,9.0\n")  # not dvc-added
    assert version_of(root / "data").matches is False

    into = tmp_path / "out"
    got = materialize(
        root / "data" / "sub", version, into
    )  # the v1 files, from the cache, though the workspace moved on
    assert (got / "b.csv").read_text().endswith("AAA,2.0\n")
    assert (got.parent / "a.csv").read_text().endswith("SPY,1.0\n")


def test_a_dvc_lock_output_is_a_version_too(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "repo", tmp_path / "remote")
    sh(
        root,
        DVC,
        "stage",
        "add",
        "-q",
        "-n",
        "make",
        "-o",
        "data",
        "mkdir -p data/sub && printf 'x\\n' > data/a.csv && printf 'y\\n' > data/sub/b.csv",
    )
    sh(root, DVC, "repro", "-q")
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    version = version_of(root / "data")
    assert version is not None and version.file == "dvc.lock" and version.matches
    assert version.md5 == lock["stages"]["make"]["outs"][0]["md5"]


def test_a_folder_outside_dvc_has_no_version(tmp_path: Path) -> None:
    _write(tmp_path / "data")
    assert version_of(tmp_path / "data") is None
    assert directory.describe(tmp_path / "data")[0].dvc is None
