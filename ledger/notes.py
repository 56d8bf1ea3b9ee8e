"""C2SP signed notes with ed25519 keys, and the checkpoint body they carry (origin, tree size, root).

Formats (fixed; verifiers outside the project rely on them):
- note: the text, then an empty line, then one line per signature `— <key name> <base64(key id || signature)>`
  (U+2014 EM DASH), the signature over the text's bytes;
- key id: the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key) (0x01: the ed25519 algorithm);
- verifier key: `<name>+<8 hex digits of the key id>+<base64(0x01 || public key)>`;
- signer key (kept private, mode 0600): `PRIVATE+KEY+<name>+<8 hex>+<base64(0x01 || seed)>`, as Go's
  golang.org/x/mod/sumdb/note writes it;
- checkpoint text: `<origin>\\n<tree size>\\n<base64 root>\\n` (standard base64 with padding).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.errors import LedgerlineError

ALG_ED25519 = 0x01
DASH = "\u2014"


class NoteError(LedgerlineError):
    """A note, key or checkpoint that does not parse or does not verify."""


def key_id(name: str, public: bytes) -> bytes:
    """The 4-byte id of an ed25519 key: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public).digest()[:4]


def _check_name(name: str) -> str:
    if not name or any(c in name for c in "+ \n\t") or DASH in name:
        raise NoteError(f"key name {name!r}: must be non-empty, without '+', spaces or newlines")
    return name


@dataclasses.dataclass(frozen=True)
class Verifier:
    """A verifier key: its name, id and ed25519 public key."""

    name: str
    id: bytes
    public: bytes

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """Parse `<name>+<8 hex>+<base64(0x01 || public key)>`, checking the id matches the key."""
        try:
            name, hexid, data = text.strip().split("+", 2)
            raw = base64.b64decode(data, validate=True)
            kid = bytes.fromhex(hexid)
        except (ValueError, binascii.Error):
            raise NoteError(f"not a verifier key (want NAME+HEXID+BASE64): {text.strip()[:80]!r}") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519 or len(kid) != 4:
            raise NoteError(f"verifier key {name!r}: not an ed25519 key")
        if key_id(_check_name(name), raw[1:]) != kid:
            raise NoteError(f"verifier key {name!r}: its id {hexid} does not match its public key")
        return cls(name, kid, raw[1:])

    def __str__(self) -> str:
        return f"{self.name}+{self.id.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + self.public).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when signature is this key's ed25519 signature of message."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclasses.dataclass(frozen=True)
class Signer:
    """A signer key: its name and ed25519 seed (the private key)."""

    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A fresh ed25519 key named name."""
        seed = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return cls(_check_name(name), seed)

    @classmethod
    def parse(cls, text: str) -> Signer:
        """Parse `PRIVATE+KEY+<name>+<8 hex>+<base64(0x01 || seed)>`."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("not a signer key (want PRIVATE+KEY+NAME+HEXID+BASE64)")
        try:
            raw = base64.b64decode(parts[4], validate=True)
        except binascii.Error:
            raise NoteError(f"signer key {parts[2]!r}: bad base64") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError(f"signer key {parts[2]!r}: not an ed25519 key")
        signer = cls(_check_name(parts[2]), raw[1:])
        if signer.verifier.id.hex() != parts[3]:
            raise NoteError(f"signer key {parts[2]!r}: its id {parts[3]} does not match the key")
        return signer

    @property
    def public(self) -> bytes:
        return (
            Ed25519PrivateKey.from_private_bytes(self.seed)
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, key_id(self.name, self.public), self.public)

    def __str__(self) -> str:
        data = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id.hex()}+{data}"

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


@dataclasses.dataclass(frozen=True)
class Signature:
    """One signature line of a note: the key name, the key id and the signature bytes."""

    name: str
    id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{DASH} {self.name} {base64.b64encode(self.id + self.signature).decode()}\n"


@dataclasses.dataclass(frozen=True)
class Note:
    """A signed note: its text (ending in a newline) and its signatures."""

    text: str
    signatures: tuple[Signature, ...]

    @classmethod
    def parse(cls, raw: str | bytes) -> Note:
        """Parse a note's bytes: text, an empty line, then `— name base64` lines."""
        data = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        cut = data.rfind("\n\n")
        if cut < 0 or not data.endswith("\n"):
            raise NoteError("not a signed note: no empty line between the text and the signatures")
        text, lines = data[: cut + 1], data[cut + 2 :].splitlines()
        signatures = []
        for line in lines:
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] != DASH:
                raise NoteError(f"malformed signature line: {line[:80]!r}")
            try:
                blob = base64.b64decode(parts[2], validate=True)
            except binascii.Error:
                raise NoteError(f"signature of {parts[1]!r}: bad base64") from None
            if len(blob) < 5:
                raise NoteError(f"signature of {parts[1]!r}: too short")
            signatures.append(Signature(parts[1], blob[:4], blob[4:]))
        if not signatures:
            raise NoteError("the note has no signature")
        return cls(text, tuple(signatures))

    def __str__(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def signed_by(self, verifier: Verifier) -> bool:
        """True when one of the note's signatures is verifier's valid signature of the text."""
        return any(
            s.name == verifier.name and s.id == verifier.id and verifier.verify(self.text.encode(), s.signature)
            for s in self.signatures
        )

    def add(self, signer: Signer) -> Note:
        """The note with signer's signature added (replacing an earlier one by the same key)."""
        mine = Signature(signer.name, signer.verifier.id, signer.sign(self.text.encode()))
        others = tuple(s for s in self.signatures if (s.name, s.id) != (mine.name, mine.id))
        return Note(self.text, (*others, mine))


def sign(text: str, signer: Signer) -> Note:
    """A note of text signed by signer."""
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("a note's text ends with a newline and holds no empty line")
    return Note(text, ()).add(signer)


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """The body of a checkpoint note: which log (origin), its size and its Merkle root."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse `<origin>\\n<size>\\n<base64 root>\\n` (extension lines after the root are not used here)."""
        lines = text.split("\n")
        try:
            origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
        except (IndexError, ValueError, binascii.Error):
            raise NoteError("not a checkpoint: want origin, tree size and base64 root on three lines") from None
        if not origin or size < 0 or len(root) != 32 or str(size) != lines[1]:
            raise NoteError("not a checkpoint: empty origin, bad size or a root that is not 32 bytes")
        return cls(origin, size, root)
