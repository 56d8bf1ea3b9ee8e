"""Signed checkpoints of the ledger's Merkle tree: keys, signing the head, checking a note, cosigning as a witness.

A checkpoint is a C2SP signed note (ledger/notes.py) whose text is `<origin>\\n<size>\\n<base64 root>\\n`,
kept as `<home>/checkpoints/<size>.note` and `latest.note`; the verifier keys that signed them are
listed in `<home>/checkpoints/keys`. Signer keys live outside the home (default
`~/.config/ledgerline/keys/`, mode 0600): whoever can edit the home must not be able to sign.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ledger.errors import EvidenceError
from ledger.fsio import write_bytes_atomic
from ledger.home import CHECKPOINTS_DIR, LEDGER_NAME
from ledger.lines import iter_chunks
from ledger.merkle import Levels, first_difference_in, hash_leaves, verify_consistency
from ledger.notes import Checkpoint, Note, NoteError, Signer, Verifier, sign
from ledger.reader import snapshot_end
from ledger.tree import HASH_SIZE, LEAVES_NAME, Tree

LATEST_NOTE = "latest.note"
KEYS_NAME = "keys"
SIGNING_KEY_ENV = "LEDGERLINE_SIGNING_KEY"


def default_key_dir() -> Path:
    """~/.config/ledgerline/keys (or $XDG_CONFIG_HOME/ledgerline/keys)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ledgerline" / "keys"


def keygen(name: str, key_dir: Path, *, home: Path | None = None) -> tuple[Path, Verifier]:
    """Write a new ed25519 signer key `<key_dir>/<name>.key` (mode 0600) and `<name>.vkey`; refuse a folder in the home."""
    key_dir = Path(key_dir).expanduser().absolute()
    if home is not None and key_dir.resolve().is_relative_to(Path(home).resolve()):
        raise NoteError(f"--key-dir {key_dir} is inside the home {home}: whoever can edit the home could sign")
    signer = Signer.generate(name)
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = key_dir / f"{name}.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise NoteError(f"{path} exists already; choose another name or key folder") from None
    with os.fdopen(fd, "w") as f:
        f.write(str(signer) + "\n")
    (key_dir / f"{name}.vkey").write_text(str(signer.verifier) + "\n")
    return path, signer.verifier


def load_signer(path: Path) -> Signer:
    """The signer key in the file at path."""
    try:
        return Signer.parse(Path(path).expanduser().read_text())
    except OSError as exc:
        raise NoteError(f"cannot read signer key {path}: {exc.strerror or exc}") from None


def default_origin(home: Path) -> str:
    return f"ledgerline/{Path(home).resolve()}"


def checkpoints_dir(home: Path) -> Path:
    return Path(home) / CHECKPOINTS_DIR


def known_verifiers(home: Path) -> list[Verifier]:
    """The verifier keys listed in <home>/checkpoints/keys (one per line)."""
    path = checkpoints_dir(home) / KEYS_NAME
    if not path.exists():
        return []
    return [Verifier.parse(line) for line in path.read_text().splitlines() if line.strip()]


def read_note(path: Path) -> Note:
    try:
        return Note.parse(Path(path).read_bytes())
    except OSError as exc:
        raise NoteError(f"cannot read note {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise NoteError(f"{path} is not a signed note (not UTF-8)") from None


def sign_head(home: Path, signer: Signer, *, origin: str | None = None) -> tuple[Path, Note]:
    """Sign the ledger's current tree head into <home>/checkpoints/<size>.note and latest.note; return the path and note."""
    home = Path(home)
    size, root = Tree(home).root()
    cp = Checkpoint(origin or default_origin(home), size, root)
    folder = checkpoints_dir(home)
    folder.mkdir(exist_ok=True)
    path = folder / f"{size}.note"
    note = sign(cp.text(), signer)
    if path.exists():  # the same head signed before (by another key, say): keep its signatures
        earlier = read_note(path)
        if earlier.text == note.text:
            note = earlier.add(signer)
    payload = str(note).encode()
    write_bytes_atomic(path, payload, durable=True)
    write_bytes_atomic(folder / LATEST_NOTE, payload, durable=True)
    keys = folder / KEYS_NAME
    listed = keys.read_text().splitlines() if keys.exists() else []
    if str(signer.verifier) not in listed:
        write_bytes_atomic(keys, ("\n".join([*listed, str(signer.verifier)]) + "\n").encode(), durable=True)
    return path, note


@dataclasses.dataclass(frozen=True)
class NoteCheck:
    """What checking a checkpoint against the ledger found."""

    checkpoint: Checkpoint
    signers: list[str]
    head_size: int

    def line(self) -> str:
        cp = self.checkpoint
        return f"checkpoint at size {cp.size} signed by {', '.join(self.signers)}: the ledger's tree has that root" + (
            f" and is consistent with it up to size {self.head_size}" if self.head_size > cp.size else ""
        )


def check_note(home: Path, note: Note, verifiers: list[Verifier]) -> NoteCheck:
    """Check note's signature (by one of verifiers), that the ledger's tree at its size has its root, and consistency to now."""
    home = Path(home)
    if not verifiers:
        raise EvidenceError(
            "no verifier key to check the checkpoint with (give --vkey, or list keys in checkpoints/keys)"
        )
    signers = [v.name for v in verifiers if note.signed_by(v)]
    if not signers:
        raise EvidenceError(f"the checkpoint's signature does not verify with {', '.join(str(v) for v in verifiers)}")
    cp = Checkpoint.parse(note.text)
    actual = ledger_levels(home)  # re-hashed from the lines: the derived tree files are not evidence
    head = actual.size
    if cp.size > head:
        raise EvidenceError(f"the checkpoint covers {cp.size} lines but the ledger has only {head}: it was truncated")
    if actual.root(cp.size) != cp.root:
        bad = _first_bad_seq(home, cp, actual)
        where = f"; the first line that differs is seq {bad}" if bad is not None else ""
        raise EvidenceError(f"the ledger's tree at size {cp.size} does not have the checkpoint's root{where}")
    head_root = actual.root()
    if not verify_consistency(cp.size, head, cp.root, head_root, actual.consistency(cp.size)):
        raise EvidenceError(f"the ledger now is not consistent with the checkpoint at size {cp.size}")
    return NoteCheck(cp, signers, head)


def ledger_levels(home: Path) -> Levels:
    """The tree of every complete line of the ledger (leaves and complete subtrees), computed from the lines now."""
    path = Path(home) / LEDGER_NAME
    if not path.exists():
        return Levels(b"")
    return Levels(b"".join(hash_leaves(lines) for _, _, lines in iter_chunks(path, 0, snapshot_end(path))))


def _first_bad_seq(home: Path, cp: Checkpoint, actual: Levels) -> int | None:
    """The first seq whose line no longer hashes as when the checkpoint was made (descending through subtree roots).

    Needs the tree file as it was (the leaves hashed when the lines were appended); without it, None.
    """
    path = Path(home) / LEAVES_NAME
    stored_raw = path.read_bytes()[: cp.size * HASH_SIZE] if path.exists() else b""
    if len(stored_raw) != cp.size * HASH_SIZE:
        return None
    stored = Levels(stored_raw)
    if stored.root() != cp.root:
        return None
    index = first_difference_in(stored, actual, cp.size)
    return None if index is None else index + 1


def cosign(home: Path, note: Note, signer: Signer, witness_dir: Path) -> Note:
    """Add signer's (a witness's) signature to note, after checking consistency with the last note it signed.

    The witness keeps the last note it signed per origin in witness_dir; a note that does not extend it
    (smaller, or not consistent with it: a fork) is refused.
    """
    cp = Checkpoint.parse(note.text)
    verifiers = known_verifiers(home)
    if not any(note.signed_by(v) for v in verifiers):
        raise EvidenceError("the note is not signed by any key listed in the home's checkpoints/keys")
    actual = ledger_levels(home)
    if cp.size > actual.size or actual.root(cp.size) != cp.root:
        raise EvidenceError(f"the ledger's tree at size {cp.size} does not have the note's root")
    witness_dir = Path(witness_dir)
    last_path = witness_dir / f"{signer.name}.{_safe(cp.origin)}.last.note"
    if last_path.exists():
        last = Checkpoint.parse(read_note(last_path).text)
        if cp.size < last.size:
            raise EvidenceError(
                f"the note's tree ({cp.size}) is smaller than the one {signer.name} signed before ({last.size})"
            )
        proof = actual.consistency(last.size, cp.size)
        if not verify_consistency(last.size, cp.size, last.root, cp.root, proof):
            raise EvidenceError(
                f"fork: the note at size {cp.size} is not consistent with the tree at size {last.size} "
                f"that {signer.name} signed before"
            )
    cosigned = note.add(signer)
    witness_dir.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(last_path, str(cosigned).encode(), durable=True)
    return cosigned


def _safe(origin: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in origin)[-120:]
