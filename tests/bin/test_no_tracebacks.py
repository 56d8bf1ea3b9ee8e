"""Every command meets the failures it can provoke with one line and a documented exit code, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.inproc import command as run_command
from tests.support.ledger_factory import RUN_A, RUN_B

ROOT = Path(__file__).resolve().parents[2]
DEAD_URI = "http://127.0.0.1:9"  # the discard port: nothing listens there

COMMANDS: dict[str, list[str]] = {
    "verify": [],
    "verify --deep": ["--deep"],
    "query": ["select count(*) from runs"],
    "replay duckdb": ["--to", "duckdb"],
    "replay mlflow": ["--to", "mlflow"],
    "diff": [RUN_A, RUN_B],
    "tag": [RUN_A, "--evaluate"],
}


def _damage_projection(home: Path) -> None:
    (home / "projections.duckdb").write_bytes(b"this is not a duckdb file" * 100)


def _damage_mirror(home: Path) -> None:
    (home / "mlflow.db").write_bytes(b"this is not a sqlite file" * 100)


def _damage_ledger(home: Path) -> None:
    data = bytearray((home / "audit.jsonl").read_bytes())
    data[10:20] = b"##########"
    (home / "audit.jsonl").write_bytes(bytes(data))


def _missing_ledger(home: Path) -> None:
    (home / "audit.jsonl").unlink()


def _ledger_is_a_folder(home: Path) -> None:
    (home / "audit.jsonl").unlink()
    (home / "audit.jsonl").mkdir()


DAMAGE = {
    "corrupt projection": _damage_projection,
    "corrupt mirror store": _damage_mirror,
    "corrupt ledger": _damage_ledger,
    "missing ledger": _missing_ledger,
    "ledger is a folder": _ledger_is_a_folder,
}


def _one_line_and_documented(name: str, out: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    assert out.returncode in (0, 1, 2), out.stderr
    problem = [line for line in out.stderr.strip().splitlines() if not line.startswith(f"{name}: note:")]
    if out.returncode == 2 or (out.returncode == 1 and not out.stdout.strip()):
        assert problem and problem[-1].startswith(f"{name}: "), out.stderr  # earlier lines are progress


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_damage_gives_one_line_and_a_documented_exit_code(
    two_runs: Path,
    tmp_path: Path,
    mlflow_template: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    damage: str,
) -> None:
    """Every command against every damage, through its main() (an escaping exception fails the test)."""
    home = tmp_path / "home"
    shutil.copytree(two_runs, home)
    if command == "replay mlflow":  # a mirror that exists: creating MLflow's tables is not what this tests
        shutil.copyfile(mlflow_template, home / "mlflow.db")
    DAMAGE[damage](home)
    name = command.split()[0]
    _one_line_and_documented(name, run_command(capsys, name, "--home", str(home), *COMMANDS[command]))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_through_the_shim_a_damaged_home_is_one_line(two_runs: Path, tmp_path: Path, command: str) -> None:
    """The same through each real bin/ command: what its own process prints, start-up included."""
    home = tmp_path / "home"
    shutil.copytree(two_runs, home)
    _damage_ledger(home)
    name = command.split()[0]
    out = subprocess.run(
        [str(ROOT / "bin" / name), "--home", str(home), *COMMANDS[command]], capture_output=True, text=True, timeout=240
    )
    _one_line_and_documented(name, out)
    assert out.returncode != 0, out.stdout


def test_a_store_uri_where_nothing_listens_is_one_line(two_runs: Path) -> None:
    out = subprocess.run(
        [str(ROOT / "bin" / "replay"), "--home", str(two_runs), "--to", "mlflow", "--tracking-uri", DEAD_URI],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode in (1, 2) and "Traceback" not in out.stderr
    assert DEAD_URI.split("//")[1] in out.stderr.strip().splitlines()[-1]
