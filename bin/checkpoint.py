"""bin/checkpoint: make a signing key, sign the ledger's tree head as a C2SP checkpoint, or cosign one as a witness."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bin._cli import EXIT_OK, UsageError, parser, run

PROG = "checkpoint"


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Sign the ledger's Merkle tree head into <home>/checkpoints/<size>.note and latest.note (a C2SP signed note); "
        "--keygen makes an ed25519 key; --cosign adds a witness's signature after checking consistency.",
        "bin/checkpoint --keygen alice && bin/checkpoint --key ~/.config/ledgerline/keys/alice.key",
    )
    p.add_argument("--keygen", metavar="NAME", help="write a new ed25519 signer key NAME.key (mode 0600) and NAME.vkey")
    p.add_argument(
        "--key-dir",
        type=Path,
        help="with --keygen: the key folder (default ~/.config/ledgerline/keys; never inside the home)",
    )
    p.add_argument("--key", type=Path, help="the signer key file (default $LEDGERLINE_SIGNING_KEY)")
    p.add_argument("--origin", help="the checkpoint's origin line (default ledgerline/<home's absolute path>)")
    p.add_argument(
        "--cosign", type=Path, metavar="NOTE", help="add --key's signature to NOTE as a witness (refused for a fork)"
    )
    p.add_argument(
        "--witness-dir",
        type=Path,
        help="with --cosign: where the witness keeps the last note it signed (default the key's folder)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)

    def body() -> int:
        from ledger import checkpoints

        if args.keygen:
            path, verifier = checkpoints.keygen(
                args.keygen, args.key_dir or checkpoints.default_key_dir(), home=args.home
            )
            _out(
                args.json,
                {"key": str(path), "vkey": str(verifier)},
                f"wrote {path} (mode 0600)\nverifier key: {verifier}",
            )
            return EXIT_OK
        key = args.key or (
            Path(os.environ[checkpoints.SIGNING_KEY_ENV]) if os.environ.get(checkpoints.SIGNING_KEY_ENV) else None
        )
        if key is None:
            raise UsageError(f"give --key PATH (or set {checkpoints.SIGNING_KEY_ENV}); make one with --keygen NAME")
        signer = checkpoints.load_signer(key)
        if not (args.home / "audit.jsonl").exists():
            raise UsageError(f"no ledger at {args.home / 'audit.jsonl'}")
        if args.cosign:
            note = checkpoints.cosign(
                args.home, checkpoints.read_note(args.cosign), signer, args.witness_dir or Path(key).expanduser().parent
            )
            args.cosign.write_text(str(note))
            _out(
                args.json,
                {"note": str(args.cosign), "signers": [s.name for s in note.signatures]},
                f"cosigned {args.cosign} as {signer.name} (consistent with the last note it signed)",
            )
            return EXIT_OK
        path, note = checkpoints.sign_head(args.home, signer, origin=args.origin)
        size = note.text.split("\n")[1]
        _out(
            args.json,
            {"note": str(path), "size": int(size), "note_text": str(note)},
            f"signed tree head at size {size} into {path}",
        )
        return EXIT_OK

    return run(PROG, body)


def _out(as_json: bool, doc: dict[str, object], text: str) -> None:
    print(json.dumps(doc, indent=2) if as_json else text, file=sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
