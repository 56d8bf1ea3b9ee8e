"""What every command shares: --home, exit codes, and one clear line on stderr for user errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from projectors.errors import CheckpointMismatchError, MirrorDivergedError
from schemas.errors import LedgerlineError

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
DEFAULT_HOME = "runs"


class UsageError(LedgerlineError):
    """Raised for bad command-line input; reported as one line, exit 2."""


#: library errors that mean "a check found a problem" (exit 1); every other LedgerlineError is exit 2
FOUND_ERRORS: tuple[type[LedgerlineError], ...] = (CheckpointMismatchError, MirrorDivergedError)


def exit_code(exc: LedgerlineError) -> int:
    """The exit status a library error becomes: 1 when a check found a problem, else 2."""
    return EXIT_FOUND if isinstance(exc, FOUND_ERRORS) else EXIT_USAGE


def parser(prog: str, description: str, example: str) -> argparse.ArgumentParser:
    """An ArgumentParser with --home and an example in --help."""
    p = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--home",
        type=Path,
        default=Path(os.environ.get("LEDGERLINE_HOME", DEFAULT_HOME)),
        help="home folder holding audit.jsonl and everything derived from it (default: $LEDGERLINE_HOME or ./runs)",
    )
    return p


def run(prog: str, body: Callable[[], int]) -> int:
    """Call body; turn ledgerline errors into one line on stderr and their exit code (exit_code)."""
    try:
        return body()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except LedgerlineError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exit_code(exc)
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"{prog}: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return EXIT_USAGE

