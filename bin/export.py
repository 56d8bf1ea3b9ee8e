"""bin/export: an evidence bundle of one run that an auditor checks without ledgerline (verify_bundle.py inside)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bin._cli import EXIT_OK, UsageError, parser, run

PROG = "export"


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Write a zip with the run's ledger lines, their inclusion proofs against a signed checkpoint (a fresh one "
        "when a signing key is configured, else the latest), the note and verifier key, the run's artifacts, a "
        "manifest, and verify_bundle.py (needs only Python and cryptography).",
        "bin/export 20261203-090000-abcd --out evidence.zip && python evidence/verify_bundle.py evidence.zip",
    )
    p.add_argument("run_id", help="the run to export")
    p.add_argument("--out", type=Path, required=True, help="the zip file to write")
    p.add_argument("--key", type=Path, help="sign the head with this key first (default $LEDGERLINE_SIGNING_KEY)")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    args = p.parse_args(argv)

    def body() -> int:
        from ledger import LEDGER_NAME
        from ledger.bundles import export_run
        from ledger.checkpoints import SIGNING_KEY_ENV, load_signer
        from schemas.context import check_run_id

        check_run_id(args.run_id)
        if not (args.home / LEDGER_NAME).exists():
            raise UsageError(f"no ledger at {args.home / LEDGER_NAME}")
        key = args.key or (Path(os.environ[SIGNING_KEY_ENV]) if os.environ.get(SIGNING_KEY_ENV) else None)
        manifest = export_run(args.home, args.run_id, args.out, signer=load_signer(key) if key else None)
        if args.json:
            print(json.dumps(manifest, indent=2))
        else:
            print(
                f"wrote {args.out}: {manifest['lines']} lines, {len(manifest['files'])} files, proofs against the "  # type: ignore[arg-type]
                f"checkpoint at size {manifest['tree_size']}\ncheck it: unzip it, then python verify_bundle.py {args.out.name}"
            )
        return EXIT_OK

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
