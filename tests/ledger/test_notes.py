"""C2SP signed notes: Go's known-answer example, the checkpoint body, and every way a note can fail to verify."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ledger.merkle import root
from ledger.notes import Checkpoint, Note, NoteError, Signer, Verifier, key_id, sign

# the example of golang.org/x/mod/sumdb/note's documentation (ed25519 signatures are deterministic)
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_go_known_answer() -> None:
    signer = Signer.parse(GO_SKEY)
    assert str(signer) == GO_SKEY and str(signer.verifier) == GO_VKEY
    assert str(sign(GO_TEXT, signer)) == GO_NOTE
    note = Note.parse(GO_NOTE)
    assert note.text == GO_TEXT and note.signed_by(Verifier.parse(GO_VKEY))


def test_key_id_is_the_first_four_bytes_of_the_named_key_hash() -> None:
    verifier = Verifier.parse(GO_VKEY)
    raw = base64.b64decode(GO_VKEY.split("+")[2])
    assert key_id("PeterNeumann", raw[1:]) == hashlib.sha256(b"PeterNeumann\n" + raw).digest()[:4] == verifier.id


def test_a_checkpoint_round_trips_and_its_signature_covers_size_and_root() -> None:
    signer = Signer.generate("auditor")
    cp = Checkpoint("ledgerline/tmp/home", 448, root([b"a", b"b", b"c"]))
    note = sign(cp.text(), signer)
    parsed = Note.parse(str(note))
    assert Checkpoint.parse(parsed.text) == cp and parsed.signed_by(signer.verifier)
    assert parsed.text.count("\n") == 3 and str(parsed).split("\n")[4].startswith("\u2014 auditor ")
    other_root = Checkpoint(cp.origin, cp.size, bytes(32)).text()
    for forged in (str(note).replace("\n448\n", "\n449\n"), str(note).replace(cp.text(), other_root)):
        assert not Note.parse(forged).signed_by(signer.verifier)


def test_a_wrong_key_or_a_flipped_signature_fails() -> None:
    signer, stranger = Signer.generate("a"), Signer.generate("a")
    note = sign("log\n1\n" + base64.b64encode(bytes(32)).decode() + "\n", signer)
    assert note.signed_by(signer.verifier) and not note.signed_by(stranger.verifier)
    line = str(note).splitlines()[-1]
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[10] ^= 1
    flipped = str(note).replace(line, f"\u2014 a {base64.b64encode(bytes(blob)).decode()}")
    assert not Note.parse(flipped).signed_by(signer.verifier)


def test_cosigning_adds_a_second_line() -> None:
    a, b = Signer.generate("first"), Signer.generate("second")
    note = sign(GO_TEXT, a).add(b)
    parsed = Note.parse(str(note))
    assert [s.name for s in parsed.signatures] == ["first", "second"]
    assert parsed.signed_by(a.verifier) and parsed.signed_by(b.verifier)


@pytest.mark.parametrize(
    "bad",
    [
        GO_TEXT,  # no signatures
        GO_TEXT + "\n- PeterNeumann abc=\n",  # a hyphen, not an em dash
        GO_TEXT + "\n\u2014 PeterNeumann !!!\n",  # not base64
    ],
)
def test_malformed_notes_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        Note.parse(bad)


@pytest.mark.parametrize("bad", ["name+c74f20a3", "PeterNeumann+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"])
def test_malformed_or_mismatched_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        Verifier.parse(bad)


def test_malformed_checkpoints_are_refused() -> None:
    for text in (
        "origin\n-1\nAAAA\n",
        "origin\n3\nnotbase64!\n",
        "\n3\n" + base64.b64encode(bytes(32)).decode() + "\n",
    ):
        with pytest.raises(NoteError):
            Checkpoint.parse(text)
