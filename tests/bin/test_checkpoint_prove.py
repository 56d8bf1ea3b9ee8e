"""bin/checkpoint and bin/prove: signed checkpoints, inclusion and consistency proofs, a tampered ledger, a fork."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bin.checkpoint import main as checkpoint
from bin.prove import main as prove
from ledger import LEDGER_NAME
from ledger.checkpoints import check_note, known_verifiers, read_note
from ledger.errors import EvidenceError
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.notes import Checkpoint, Note
from tests.support.ledger_factory import RUN_A, RUN_B, run_events, write


def b64(text: str) -> bytes:
    return base64.b64decode(text)


@pytest.fixture
def keyed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    home = tmp_path / "home"
    write(home, run_events(RUN_A))
    assert checkpoint(["--home", str(home), "--keygen", "alice", "--key-dir", str(tmp_path / "keys")]) == 0
    key = tmp_path / "keys" / "alice.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "verifier key: alice+" in capsys.readouterr().out
    return home, key


def test_keygen_refuses_a_folder_inside_the_home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    write(home, run_events(RUN_A))
    assert checkpoint(["--home", str(home), "--keygen", "bob", "--key-dir", str(home / "keys")]) == 2
    assert "inside the home" in capsys.readouterr().err and not (home / "keys").exists()


def test_sign_append_prove_consistency_and_inclusion(
    keyed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    home, key = keyed
    assert checkpoint(["--home", str(home), "--key", str(key)]) == 0
    old = home / "checkpoints" / "latest.note"
    old_copy = home.parent / "old.note"
    old_copy.write_bytes(old.read_bytes())
    cp_old = Checkpoint.parse(read_note(old_copy).text)
    assert cp_old.origin == f"ledgerline/{home.resolve()}" and (home / "checkpoints" / f"{cp_old.size}.note").exists()
    write(home, run_events(RUN_B))
    capsys.readouterr()
    assert prove(["--home", str(home), "--consistency", str(old_copy), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"old_size", "new_size", "old_root", "new_root", "hashes"} and doc["old_size"] == cp_old.size
    assert verify_consistency(
        doc["old_size"], doc["new_size"], b64(doc["old_root"]), b64(doc["new_root"]), [b64(h) for h in doc["hashes"]]
    )
    assert prove(["--home", str(home), "--run", RUN_A, "--checkpoint", str(old_copy), "--json"]) == 0
    proofs = json.loads(capsys.readouterr().out)
    assert proofs and all(set(p) == {"seq", "leaf_index", "tree_size", "root", "entry", "hashes"} for p in proofs)
    for p in proofs:
        assert p["leaf_index"] == p["seq"] - 1 and p["tree_size"] == cp_old.size
        assert verify_inclusion(
            p["leaf_index"], p["tree_size"], leaf_hash(p["entry"].encode()), [b64(h) for h in p["hashes"]], cp_old.root
        )
    check = check_note(home, read_note(old_copy), known_verifiers(home))
    assert check.head_size > cp_old.size


def test_an_edited_earlier_byte_is_named_by_its_seq(keyed: tuple[Path, Path]) -> None:
    home, key = keyed
    assert checkpoint(["--home", str(home), "--key", str(key)]) == 0
    note = read_note(home / "checkpoints" / "latest.note")
    path = home / LEDGER_NAME
    lines = path.read_bytes().split(b"\n")
    lines[4] = lines[4][:-3] + bytes([lines[4][-3] ^ 1]) + lines[4][-2:]  # one bit of line seq 5
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(EvidenceError, match="the first line that differs is seq 5"):
        check_note(home, note, known_verifiers(home))


def test_a_note_with_a_changed_size_or_root_fails_its_signature(keyed: tuple[Path, Path]) -> None:
    home, key = keyed
    assert checkpoint(["--home", str(home), "--key", str(key)]) == 0
    text = (home / "checkpoints" / "latest.note").read_text()
    cp = Checkpoint.parse(text)
    for forged in (
        text.replace(f"\n{cp.size}\n", f"\n{cp.size - 1}\n", 1),
        text.replace(base64.b64encode(cp.root).decode(), base64.b64encode(bytes(32)).decode()),
    ):
        with pytest.raises(EvidenceError, match="signature does not verify"):
            check_note(home, Note.parse(forged), known_verifiers(home))


def test_a_cosigner_refuses_a_fork(
    keyed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, key = keyed
    assert checkpoint(["--home", str(home), "--keygen", "witness", "--key-dir", str(tmp_path / "wkeys")]) == 0
    wkey = tmp_path / "wkeys" / "witness.key"
    assert checkpoint(["--home", str(home), "--key", str(key)]) == 0
    first = home / "checkpoints" / "latest.note"
    assert checkpoint(["--home", str(home), "--cosign", str(first), "--key", str(wkey)]) == 0
    assert [s.name for s in read_note(first).signatures] == ["alice", "witness"]
    write(home, run_events(RUN_B))
    assert checkpoint(["--home", str(home), "--key", str(key)]) == 0
    assert checkpoint(["--home", str(home), "--cosign", str(first), "--key", str(wkey)]) == 0  # grown: consistent
    # a fork: the log rewrites its history (drops the last run and appends another) and signs the new head
    path = home / LEDGER_NAME
    keep = path.read_bytes().split(b"\n")[:10]
    path.write_bytes(b"\n".join(keep) + b"\n")
    write(home, run_events(RUN_B, toxic=3))
    write(home, run_events("20260105-110000-cccc"))
    assert checkpoint(["--home", str(home), "--key", str(key)]) == 0
    capsys.readouterr()
    assert (
        checkpoint(["--home", str(home), "--cosign", str(home / "checkpoints" / "latest.note"), "--key", str(wkey)])
        == 1
    )
    assert "fork" in capsys.readouterr().err


def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    write(home, run_events(RUN_A))
    assert prove(["--home", str(home)]) == 2
    assert prove(["--home", str(home), "99999"]) == 2
    assert checkpoint(["--home", str(home)]) == 2
    bad = tmp_path / "bad.note"
    bad.write_text("not a note")
    assert prove(["--home", str(home), "--consistency", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and "Traceback" not in "".join(err)


def test_verify_checks_the_latest_checkpoint_and_a_given_one(
    keyed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from bin.verify import main as verify

    home, key = keyed
    assert checkpoint(["--home", str(home), "--key", str(key)]) == 0
    old = home.parent / "old.note"
    old.write_bytes((home / "checkpoints" / "latest.note").read_bytes())
    write(home, run_events(RUN_B))
    capsys.readouterr()
    assert verify(["--home", str(home), "--no-witnesses", "--checkpoint", str(old)]) == 0
    capsys.readouterr()
    assert verify(["--home", str(home), "--no-witnesses", "--checkpoint", str(old), "--json"]) == 0
    assert any("checkpoint at size" in n for n in json.loads(capsys.readouterr().out)["notes"])
    stranger = home.parent / "stranger.vkey"
    assert checkpoint(["--home", str(home), "--keygen", "mallory", "--key-dir", str(home.parent / "mk")]) == 0
    stranger.write_text((home.parent / "mk" / "mallory.vkey").read_text())
    capsys.readouterr()
    assert verify(["--home", str(home), "--no-witnesses", "--checkpoint", str(old), "--vkey", str(stranger)]) == 1
    assert "signature does not verify" in capsys.readouterr().err
    path = home / LEDGER_NAME
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2][:-3] + bytes([lines[2][-3] ^ 1]) + lines[2][-2:]
    path.write_bytes(b"\n".join(lines))
    assert verify(["--home", str(home), "--no-witnesses", "--checkpoint", str(old)]) == 1
    assert "the first line that differs is seq 3" in capsys.readouterr().err


def test_run_pipeline_signs_after_each_run_when_a_key_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bin.run_pipeline import main as run_pipeline

    home = tmp_path / "home"
    assert checkpoint(["--home", str(home), "--keygen", "ci", "--key-dir", str(tmp_path / "keys")]) == 0
    monkeypatch.setenv("LEDGERLINE_SIGNING_KEY", str(tmp_path / "keys" / "ci.key"))
    small = ["--no-project", "--json"]
    assert run_pipeline(["--home", str(home), *small]) == 0
    note = read_note(home / "checkpoints" / "latest.note")
    lines = (home / LEDGER_NAME).read_bytes().count(b"\n")
    assert Checkpoint.parse(note.text).size == lines and check_note(home, note, known_verifiers(home)).signers == ["ci"]
