"""bin/export and verify_bundle.py: a canary-sized run's bundle checks in a fresh venv with only cryptography;
one changed line, proof hash, artifact byte or signature fails, naming what."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bin.checkpoint import main as checkpoint
from bin.export import main as export
from bin.verify import main as verify
from stages.runner import run_pipeline
from tests.support.quant_market import small_settings
from tests.support.venvs import fresh_venv


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    base = tmp_path_factory.mktemp("export")
    home = base / "home"
    outcome = run_pipeline(small_settings(), home)
    assert checkpoint(["--home", str(home), "--keygen", "auditee", "--key-dir", str(base / "keys")]) == 0
    out = base / "evidence.zip"
    assert (
        export([outcome.run_id, "--home", str(home), "--out", str(out), "--key", str(base / "keys" / "auditee.key")])
        == 0
    )
    return out, outcome.run_id, (base / "keys" / "auditee.vkey").read_text().strip()


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only cryptography installed (what an auditor needs)."""
    env = tmp_path_factory.mktemp("auditor-venv")
    failed = fresh_venv(env, "cryptography")
    if failed is not None:
        pytest.skip(f"cannot install cryptography into a fresh venv here: {failed.stderr.strip()[-300:]}")
    return env / "bin" / "python"


def _run_verifier(py: Path, bundle: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    workdir = bundle.parent / f"unzipped-{bundle.stem}"
    with zipfile.ZipFile(bundle) as z:
        z.extract("verify_bundle.py", workdir)
    return subprocess.run(
        [str(py), str(workdir / "verify_bundle.py"), str(bundle), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workdir,
    )


def _rewrite(src: Path, dst: Path, name: str, change) -> Path:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            zout.writestr(item, change(data) if item == name else data)
    return dst


def test_the_bundle_holds_what_an_auditor_needs(bundle: tuple[Path, str, str]) -> None:
    out, run_id, _ = bundle
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        proofs = json.loads(z.read("proofs.json"))
    assert {"lines.jsonl", "proofs.json", "checkpoint.note", "vkeys.txt", "manifest.json", "verify_bundle.py"} <= names
    assert manifest["run_id"] == run_id and any(n.startswith("artifacts/") for n in names)
    assert set(proofs[0]) == {"seq", "leaf_index", "tree_size", "root", "entry", "hashes"}


def test_a_fresh_venv_with_only_cryptography_says_ok(bundle: tuple[Path, str, str], clean_python: Path) -> None:
    out, _, vkey = bundle
    done = _run_verifier(clean_python, out, "--vkey", vkey)
    assert done.returncode == 0, done.stderr
    assert "signed by auditee" in done.stdout and "artifacts match" in done.stdout


def _flip_line(data: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[1] = lines[1].replace(b'"stage":', b'"stage" :', 1) if b'"stage":' in lines[1] else lines[1] + b" "
    return b"\n".join(lines)


def _flip_proof_hash(data: bytes) -> bytes:
    proofs = json.loads(data)
    h = bytearray(base64.b64decode(proofs[2]["hashes"][0]))
    h[0] ^= 1
    proofs[2]["hashes"][0] = base64.b64encode(bytes(h)).decode()
    return json.dumps(proofs).encode()


def _flip_byte(data: bytes) -> bytes:
    raw = bytearray(data)
    raw[len(raw) // 2] ^= 1
    return bytes(raw)


def _flip_signature(data: bytes) -> bytes:
    text = data.decode()
    head, sig = text.rsplit(" ", 1)
    blob = bytearray(base64.b64decode(sig))
    blob[10] ^= 1
    return (head + " " + base64.b64encode(bytes(blob)).decode() + "\n").encode()


@pytest.mark.parametrize(
    ("member", "change", "named"),
    [
        ("lines.jsonl", _flip_line, "seq"),
        ("proofs.json", _flip_proof_hash, "inclusion proof does not lead to the signed root"),
        ("artifact", _flip_byte, "does not match its recorded SHA-256"),
        ("checkpoint.note", _flip_signature, "signature does not verify"),
    ],
)
def test_a_tampered_bundle_fails_naming_what(
    bundle: tuple[Path, str, str],
    clean_python: Path,
    tmp_path: Path,
    member: str,
    change,
    named: str,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, _, vkey = bundle
    if member == "artifact":
        with zipfile.ZipFile(out) as z:
            member = sorted(n for n in z.namelist() if n.startswith("artifacts/"))[0]
    bad = _rewrite(out, tmp_path / "bad.zip", member, change)
    # the manifest would catch any change; drop the changed file's entry so the deeper check is the one that speaks
    manifest_fixed = _rewrite(
        bad,
        tmp_path / "bad2.zip",
        "manifest.json",
        lambda d: json.dumps(
            {**json.loads(d), "files": {k: v for k, v in json.loads(d)["files"].items() if k != member}}
        ).encode(),
    )
    done = _run_verifier(clean_python, manifest_fixed, "--vkey", vkey)
    assert done.returncode == 1 and named in done.stderr, done.stderr
    done = _run_verifier(clean_python, bad, "--vkey", vkey)
    assert done.returncode == 1 and "FAILED" in done.stderr
    capsys.readouterr()
    assert verify(["--bundle", str(manifest_fixed), "--vkey", vkey]) == 1
    assert named in capsys.readouterr().err


def test_bin_verify_bundle_says_ok(bundle: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    out, _, vkey = bundle
    assert verify(["--bundle", str(out), "--vkey", vkey, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_export_without_a_checkpoint_or_of_an_unknown_run_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.ledger_factory import RUN_A, run_events, write

    write(tmp_path, run_events(RUN_A))
    assert export([RUN_A, "--home", str(tmp_path), "--out", str(tmp_path / "x.zip")]) == 2
    assert export(["20990101-000000-zzzz", "--home", str(tmp_path), "--out", str(tmp_path / "x.zip")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "bin/checkpoint" in err[0] and not (tmp_path / "x.zip").exists()
    assert sys.executable
