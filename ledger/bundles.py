"""Evidence bundles: one run's ledger lines, their inclusion proofs against a signed checkpoint, its artifacts.

The zip holds `lines.jsonl`, `proofs.json` (the `bin/prove --json` shape), `checkpoint.note`,
`vkeys.txt`, `artifacts/<file>` for every ArtifactWritten of the run, `manifest.json` (the SHA-256
of every other file) and `verify_bundle.py`, which checks all of it with the standard library and
`cryptography` only (ledger/verify_bundle.py, copied as is).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zipfile
from pathlib import Path

from ledger.chain import whole_lines
from ledger.checkpoints import LATEST_NOTE, checkpoints_dir, known_verifiers, read_note, sign_head
from ledger.errors import ExportError
from ledger.home import LEDGER_NAME
from ledger.notes import Checkpoint, Note, Signer
from ledger.reader import snapshot_end
from ledger.tree import Tree

VERIFIER_SOURCE = Path(__file__).with_name("verify_bundle.py")


def export_run(home: Path, run_id: str, out: Path, *, signer: Signer | None = None) -> dict[str, object]:
    """Write the evidence bundle of run_id to out (signing the head first when signer is given); return the manifest."""
    home = Path(home)
    entries = run_lines(home / LEDGER_NAME, run_id)
    if not entries:
        raise ExportError(f"no events of run {run_id} in {home / LEDGER_NAME}")
    if signer is not None:
        _, note = sign_head(home, signer)
    else:
        latest = checkpoints_dir(home) / LATEST_NOTE
        if not latest.exists():
            raise ExportError(
                "no signed checkpoint to prove against: sign one with bin/checkpoint --key KEY "
                "(or set LEDGERLINE_SIGNING_KEY)"
            )
        note = read_note(latest)
    cp = Checkpoint.parse(note.text)
    if cp.size < entries[-1][0]:
        raise ExportError(
            f"the latest checkpoint (size {cp.size}) predates the run's last line (seq {entries[-1][0]}): "
            "sign a new one with bin/checkpoint"
        )
    tree = Tree(home)
    tree.update()
    paths = tree.inclusions([s for s, _ in entries], cp.size)
    proofs = [
        {
            "seq": s,
            "leaf_index": s - 1,
            "tree_size": cp.size,
            "root": b64(cp.root),
            "entry": line.decode(),
            "hashes": [b64(h) for h in path],
        }
        for (s, line), path in zip(entries, paths, strict=True)
    ]
    files: dict[str, bytes] = {
        "lines.jsonl": b"".join(line + b"\n" for _, line in entries),
        "proofs.json": json.dumps(proofs, indent=1).encode(),
        "checkpoint.note": str(note).encode(),
        "vkeys.txt": "".join(f"{v}\n" for v in _signers_of(note, home)).encode(),
    }
    for _, line in entries:
        event = json.loads(line)
        if event.get("type") == "ArtifactWritten":
            rel = event["data"]["path"]
            files[f"artifacts/{Path(rel).name}"] = (home / rel).read_bytes()
    manifest = {
        "run_id": run_id,
        "origin": cp.origin,
        "tree_size": cp.size,
        "root": b64(cp.root),
        "lines": len(entries),
        "files": {n: hashlib.sha256(b).hexdigest() for n, b in sorted(files.items())},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(files.items()):
            z.writestr(name, data)
        z.writestr("manifest.json", json.dumps(manifest, indent=1))
        z.writestr("verify_bundle.py", VERIFIER_SOURCE.read_text())
    tmp.replace(out)
    return manifest


def run_lines(path: Path, run_id: str, until: int | None = None, *, chunk: int = 4 << 20) -> list[tuple[int, bytes]]:
    """(seq, line) of every line of run_id (up to seq until), from one pass over the raw bytes.

    A chunk without the run's id is only counted, not split: the scan runs at about memchr speed.
    """
    needle = f'"run_id":"{run_id}"'.encode()
    found: list[tuple[int, bytes]] = []
    seq = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        for buf in whole_lines(fd, 0, snapshot_end(path), chunk):
            if until is not None and seq >= until:
                break
            if needle not in buf:
                seq += buf.count(b"\n")
                continue
            for line in buf.split(b"\n")[:-1]:
                seq += 1
                if needle in line and json.loads(line).get("run_id") == run_id:
                    found.append((seq, line))
    finally:
        os.close(fd)
    return [(s, line) for s, line in found if until is None or s <= until]


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _signers_of(note: Note, home: Path) -> list[str]:
    return [str(v) for v in known_verifiers(home) if note.signed_by(v)]
