"""bin/verify checks every artifact the ledger names: a changed byte or a deleted file is named with its run and stage."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bin.verify import main as verify
from ledger import ARTIFACTS_DIR
from stages.runner import run_pipeline
from tests.support.quant_market import small_settings


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("verify-artifacts")
    assert run_pipeline(small_settings(), home).status == "succeeded"
    return home


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_an_intact_home_verifies(ran: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert verify(["--home", str(ran), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


@pytest.mark.parametrize("damage", ["flip", "delete"])
def test_a_changed_or_deleted_artifact_is_named(
    ran: Path, tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _copy(ran, tmp_path / "home")
    victim = sorted((home / ARTIFACTS_DIR).glob("*.parquet"))[0]
    if damage == "delete":
        victim.unlink()
    else:
        os.chmod(victim, 0o644)
        raw = bytearray(victim.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        victim.write_bytes(bytes(raw))
    capsys.readouterr()
    assert verify(["--home", str(home)]) == 1
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "ARTIFACT" in x)
    assert victim.name in line and "of run " in line and ", stage " in line
    assert ("missing" if damage == "delete" else "no longer match") in line
