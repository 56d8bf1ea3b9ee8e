"""Paths that are not what they seem: --home naming a file, an impossible --home, an empty LEDGERLINE_HOME."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bin._cli import DEFAULT_HOME, default_home

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "verify": [],
    "query": ["select 1"],
    "replay": ["--to", "duckdb"],
    "diff": ["a", "b"],
    "tag": ["x", "--evaluate"],
    "run-pipeline": ["--profile", "canary"],
}


def _run(name: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "bin" / name), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("content", [b"", b"not a ledger\n"])
def test_a_home_that_is_a_file_is_refused_and_nothing_is_created(tmp_path: Path, name: str, content: bytes) -> None:
    home = tmp_path / "afile"
    home.write_bytes(content)
    out = _run(name, "--home", str(home), *COMMANDS[name], cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"{name}: argument --home: {home} exists and is not a folder; give a folder (it is created if missing) (see {name} --help)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"] and home.read_bytes() == content


def test_a_5000_character_home_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    out = _run("verify", "--home", "x" * 5000, cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "not a usable path" in out.stderr


def test_an_empty_ledgerline_home_means_the_default_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERLINE_HOME", "")
    assert default_home() == DEFAULT_HOME
    monkeypatch.setenv("LEDGERLINE_HOME", "/tmp/elsewhere")
    assert default_home() == "/tmp/elsewhere"


def test_an_empty_ledgerline_home_does_not_verify_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").write_bytes(b"")
    out = _run("verify", cwd=tmp_path, env={**os.environ, "LEDGERLINE_HOME": ""})
    assert "runs" in out.stdout + out.stderr and not (tmp_path / "audit.lock").exists()
