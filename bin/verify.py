"""bin/verify: re-hash the ledger chain, cross-check the projectors' witnesses, report whether it is intact."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bin._cli import EXIT_FOUND, EXIT_OK, UsageError, parser, run
from bin._progress import Reporter
from ledger import VerifyReport, resolve_path, verify_file
from projectors.readmodel import Progress, quiet
from projectors.witness import Witness, cross_check, witnesses

PROG = "verify"
EXAMPLE = """bin/verify --home runs          # chain + witnesses in runs/
  bin/verify runs/audit.jsonl --json --deep

exit status: 0 intact, 1 broken (first bad seq or a disagreeing witness named), 2 unusable input"""


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(PROG, "Re-hash every line of audit.jsonl, check the chain and the witnesses beside it.", EXAMPLE)
    p.add_argument("path", nargs="?", type=Path, help="a ledger file or home folder (overrides --home)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--deep",
        action="store_true",
        help="also decode every event and rebuild the projection in a temporary file to compare (slower)",
    )
    p.add_argument("--no-witnesses", action="store_true", help="check the chain only")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr (the report is still printed)")
    p.add_argument(
        "--checkpoint",
        type=Path,
        metavar="NOTE",
        help="check this signed checkpoint (default <home>/checkpoints/latest.note when present) and consistency to now",
    )
    p.add_argument(
        "--vkey",
        action="append",
        default=[],
        metavar="KEY",
        help="a verifier key (NAME+HEXID+BASE64, or a file holding one) to check checkpoints with "
        "(default the keys in <home>/checkpoints/keys); repeatable",
    )
    p.add_argument(
        "--bundle",
        type=Path,
        metavar="FILE.zip",
        help="check an evidence bundle made by bin/export instead of a ledger (as its verify_bundle.py does)",
    )
    args = p.parse_args(argv)

    def body() -> int:
        if args.bundle is not None:
            return _bundle(args.bundle, args.vkey, args.json)
        target = resolve_path(args.path or args.home)
        if not target.is_file():
            raise UsageError(f"no ledger at {target}")
        with Reporter(PROG, quiet=args.quiet) as progress:
            report = verify_file(
                target, deep=args.deep, progress=lambda n, of, what: progress.update(f"verify: {what}", n, of, "bytes")
            )
            notes: list[str] = []
            found = [] if args.no_witnesses else witnesses(target.parent, notes)
            disagree = cross_check(target, found)
            damaged = [] if args.no_witnesses else read_models(target.parent, args.deep, notes, progress)
            damaged += checkpoint_problems(target.parent, args.checkpoint, args.vkey, notes)
            damaged += artifacts(target.parent, notes, progress) if report.ok and not args.no_witnesses else []
        ok = report.ok and not disagree and not damaged
        if args.json:
            out = dataclasses.asdict(report) | {
                "ok": ok,
                "chain_ok": report.ok,
                "witnesses": [dataclasses.asdict(w) for w in found],
                "witness_problems": disagree,
                "read_model_problems": damaged,
                "notes": notes,
            }
            print(json.dumps(out))
        else:
            _print_human(report, found, disagree, notes, damaged)
        return EXIT_OK if ok else EXIT_FOUND

    return run(PROG, body)


def _bundle(path: Path, vkeys: list[str], as_json: bool) -> int:
    """Check an evidence bundle with the same code its verify_bundle.py runs."""
    from ledger.verify_bundle import BundleError, verify

    if not path.is_file():
        raise UsageError(f"no bundle at {path}")
    pinned = (Path(vkeys[0]).read_text() if Path(vkeys[0]).is_file() else vkeys[0]) if vkeys else None
    try:
        lines = verify(str(path), pinned)
    except BundleError as exc:
        print(
            json.dumps({"ok": False, "problem": str(exc)}) if as_json else f"{PROG}: BUNDLE FAILS: {exc}",
            file=sys.stdout if as_json else sys.stderr,
        )
        return EXIT_FOUND
    except (KeyError, ValueError) as exc:
        raise UsageError(f"{path} is not an evidence bundle: {exc}") from None
    print(json.dumps({"ok": True, "checks": lines}) if as_json else "\n".join(f"ok: {line}" for line in lines))
    return EXIT_OK


def artifacts(home: Path, notes: list[str], progress: Progress = quiet) -> list[str]:
    """Every artifact the ledger names, checked against its recorded size and SHA-256: one line per bad one.

    A ledger without an artifacts folder beside it (a copy of audit.jsonl alone) gets a note instead.
    """
    from ledger import ARTIFACTS_DIR
    from projectors.runs.artifacts import artifact_problems

    if not (home / ARTIFACTS_DIR).is_dir():
        notes.append(f"artifacts not checked: no {ARTIFACTS_DIR}/ folder beside the ledger")
        return []

    _, problems = artifact_problems(home, progress)
    return [p.line() for p in problems]


def checkpoint_problems(home: Path, note_path: Path | None, vkeys: list[str], notes: list[str]) -> list[str]:
    """The signed checkpoint's check (signature, root at its size, consistency to now): one line per problem."""
    from ledger.checkpoints import LATEST_NOTE, check_note, checkpoints_dir, known_verifiers, read_note
    from ledger.errors import EvidenceError
    from ledger.notes import Verifier

    path = note_path or checkpoints_dir(home) / LATEST_NOTE
    if note_path is None and not path.exists():
        return []
    note = read_note(path)  # a missing or malformed note the user named is bad input (exit 2)
    verifiers = [Verifier.parse(Path(k).read_text() if Path(k).is_file() else k) for k in vkeys] or known_verifiers(
        home
    )
    try:
        notes.append(check_note(home, note, verifiers).line())
    except EvidenceError as exc:
        return [f"checkpoint {path}: {exc}"]
    return []


def read_models(home: Path, deep: bool, notes: list[str], progress: Progress = quiet) -> list[str]:
    """The projection's integrity (its tables' digests; with deep, a rebuild compared table by table), one line each."""
    from projectors.projection import deep_compare, integrity

    try:
        found = integrity(home)
        if deep and not found:
            found = deep_compare(home, progress)
    except Exception as exc:  # a busy or unreadable projection is a note, as for its witness
        notes.append(
            f"duckdb projection not checked: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        return []
    out = [
        f"duckdb projection ({home / 'projections.duckdb'}): {problem}; rebuild it: bin/replay --to duckdb --rebuild"
        for problem in found
    ]
    db = home / "mlflow.db"
    if deep and db.is_file():
        from projectors.mirror.check import compare_sqlite_mirror

        try:
            out += [
                f"{p}; rebuild it: bin/replay --to mlflow --rebuild" for p in compare_sqlite_mirror(home, db, progress)
            ]
        except Exception as exc:
            notes.append(
                f"mlflow mirror not compared: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            )
    return out


def _print_human(
    report: VerifyReport, found: list[Witness], disagree: list[str], notes: list[str], damaged: list[str]
) -> None:
    for note in notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    if not report.ok:
        print(f"{PROG}: BROKEN at seq {report.first_bad_seq}: {report.problem}", file=sys.stderr)
    for problem in disagree:
        print(f"{PROG}: WITNESS DISAGREES: {problem}", file=sys.stderr)
    for problem in damaged:
        print(
            f"{PROG}: {'ARTIFACT' if problem.startswith('artifact ') else 'READ MODEL DAMAGED'}: {problem}",
            file=sys.stderr,
        )
    if report.ok and not disagree and not damaged:
        agreed = ", ".join(f"{w.name} at seq {w.seq}" for w in found) or "none found"
        print(
            f"ok: chain intact, {report.events} events, head seq {report.head_seq} {report.head_hash[:12]}; witnesses agree: {agreed}"
        )


if __name__ == "__main__":
    sys.exit(main())
