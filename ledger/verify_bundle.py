#!/usr/bin/env python3
"""Check a ledgerline evidence bundle with the Python standard library and `cryptography` only.

    python verify_bundle.py BUNDLE.zip [--vkey NAME+HEXID+BASE64]

A bundle (made by `bin/export RUN_ID --out BUNDLE.zip`) holds one run's ledger lines, their RFC 9162
inclusion proofs against a signed checkpoint (a C2SP signed note), the note, its verifier key(s),
the run's artifacts and a manifest. This script checks, and names the first thing that fails:
1. the note's signature, by the key given with --vkey (pin the key you trust) or else the bundled key;
2. every line's inclusion proof against the note's root and size, and that each proof's entry is
   the bundled line, byte for byte;
3. every artifact the run's ArtifactWritten lines name: present, with the recorded size and SHA-256;
4. every file against the manifest's SHA-256.
Exit 0 when all hold, 1 when one fails, 2 when the bundle cannot be read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
import zipfile

DASH = "\u2014"


class BundleError(Exception):
    """What failed, in one line."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2: the root an inclusion proof leads to, or None when the proof does not fit."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def parse_vkey(text: str) -> tuple[str, bytes, bytes]:
    try:
        name, hexid, data = text.strip().split("+", 2)
        raw = base64.b64decode(data, validate=True)
        kid = bytes.fromhex(hexid)
    except (ValueError, binascii.Error):
        raise BundleError(f"not a verifier key: {text.strip()[:60]!r}") from None
    if len(raw) != 33 or raw[0] != 1 or hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4] != kid:
        raise BundleError(f"verifier key {name!r}: malformed or its id does not match the key")
    return name, kid, raw[1:]


def check_signature(note: str, vkeys: list[str]) -> tuple[str, int, bytes, str]:
    """(origin, size, root, signer) of a checkpoint note signed by one of vkeys."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    cut = note.rfind("\n\n")
    if cut < 0:
        raise BundleError("checkpoint.note is not a signed note")
    text, sigs = note[: cut + 1], note[cut + 2 :].splitlines()
    for vkey in vkeys:
        name, kid, public = parse_vkey(vkey)
        for line in sigs:
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] != DASH or parts[1] != name:
                continue
            try:
                blob = base64.b64decode(parts[2], validate=True)
            except binascii.Error:
                continue
            if blob[:4] != kid:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())
            except InvalidSignature:
                continue
            lines = text.split("\n")
            try:
                return lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True), name
            except (IndexError, ValueError, binascii.Error):
                raise BundleError("checkpoint.note's text is not origin, size and root") from None
    raise BundleError("the checkpoint's signature does not verify with the verifier key")


def verify(path: str, pinned: str | None = None) -> list[str]:
    """Check the bundle at path; return the lines that say what holds (raise BundleError naming what fails)."""
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise OSError(f"cannot read {path}: {exc}") from None
    with z:
        names = set(z.namelist())
        for required in ("manifest.json", "checkpoint.note", "vkeys.txt", "lines.jsonl", "proofs.json"):
            if required not in names:
                raise BundleError(f"{required} is missing from the bundle")
        manifest = json.loads(z.read("manifest.json"))
        for name, digest in manifest["files"].items():
            if name not in names:
                raise BundleError(f"{name} (listed in the manifest) is missing")
            if hashlib.sha256(z.read(name)).hexdigest() != digest:
                raise BundleError(f"{name} does not match its SHA-256 in the manifest")
        note = z.read("checkpoint.note").decode()
        vkeys = [pinned] if pinned else [k for k in z.read("vkeys.txt").decode().splitlines() if k.strip()]
        origin, size, root, signer = check_signature(note, vkeys)
        lines = z.read("lines.jsonl").split(b"\n")
        lines = [line for line in lines if line]
        proofs = json.loads(z.read("proofs.json"))
        if len(proofs) != len(lines):
            raise BundleError(f"{len(lines)} lines but {len(proofs)} proofs")
        for line, proof in zip(lines, proofs):
            seq = proof["seq"]
            if proof["entry"].encode() != line:
                raise BundleError(f"seq {seq}: the proof's entry is not the bundled line")
            if proof["tree_size"] != size or base64.b64decode(proof["root"]) != root:
                raise BundleError(f"seq {seq}: the proof is not against the signed checkpoint")
            if proof["leaf_index"] != seq - 1:
                raise BundleError(f"seq {seq}: leaf index {proof['leaf_index']} is not seq - 1")
            got = root_from_inclusion(seq - 1, size, leaf_hash(line), [base64.b64decode(h) for h in proof["hashes"]])
            if got != root:
                raise BundleError(f"seq {seq}: its inclusion proof does not lead to the signed root")
        checked = 0
        for line in lines:
            event = json.loads(line)
            if event.get("type") != "ArtifactWritten":
                continue
            data = event["data"]
            member = "artifacts/" + data["path"].rsplit("/", 1)[-1]
            if member not in names:
                raise BundleError(f"artifact {data['name']} ({member}) named at seq {event['seq']} is missing")
            raw = z.read(member)
            if len(raw) != data["bytes"]:
                raise BundleError(
                    f"artifact {data['name']} ({member}) has {len(raw)} bytes, the ledger says {data['bytes']}"
                )
            expected = data.get("sha256") or (data["hash"] if data.get("format") == "json" else None)
            if expected is not None and hashlib.sha256(raw).hexdigest() != expected:
                raise BundleError(f"artifact {data['name']} ({member}) does not match its recorded SHA-256")
            checked += 1
    return [
        f"checkpoint {origin} at size {size} signed by {signer}"
        + ("" if pinned else " (the bundled key; pin yours with --vkey)"),
        f"{len(lines)} lines of run {manifest['run_id']} included in that tree",
        f"{checked} artifacts match their recorded SHA-256",
    ]


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--vkey"]
    pinned = argv[argv.index("--vkey") + 1] if "--vkey" in argv and argv.index("--vkey") + 1 < len(argv) else None
    if pinned:
        args.remove(pinned)
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(
            __doc__.strip().split("\n\n")[1]
            if args and args[0] in ("-h", "--help")
            else "usage: verify_bundle.py BUNDLE.zip [--vkey KEY]",
            file=sys.stderr,
        )
        return 2
    try:
        for line in verify(args[0], pinned):
            print(f"ok: {line}")
    except BundleError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except (OSError, KeyError, ValueError) as exc:
        print(f"verify_bundle: unusable bundle: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
