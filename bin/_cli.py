"""What every command shares: --home, exit codes, and one clear line on stderr for user errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from ledger.errors import EvidenceError
from projectors.errors import (
    CheckpointMismatchError,
    LineageDivergedError,
    MirrorDivergedError,
    MirrorStoreIncompleteError,
    ProjectionBusyError,
    ProjectionDisagreesError,
)
from schemas.errors import LedgerlineError

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
DEFAULT_HOME = "runs"


class UsageError(LedgerlineError):
    """Raised for bad command-line input; reported as one line, exit 2."""


#: library errors that mean "a check found a problem" (exit 1); every other LedgerlineError is exit 2
FOUND_ERRORS: tuple[type[LedgerlineError], ...] = (
    CheckpointMismatchError,
    MirrorDivergedError,
    MirrorStoreIncompleteError,
    ProjectionBusyError,
    ProjectionDisagreesError,
    LineageDivergedError,
    EvidenceError,
)


def exit_code(exc: LedgerlineError) -> int:
    """The exit status a library error becomes: 1 when a check found a problem, else 2."""
    return EXIT_FOUND if isinstance(exc, FOUND_ERRORS) else EXIT_USAGE


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (the usage itself is in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def home_arg(value: str) -> Path:
    """--home as given: a folder (existing or to be created), never an existing file or an impossible path."""
    path = Path(value)
    if not value:
        raise argparse.ArgumentTypeError("empty; give a folder (default: ./runs)")
    too_long = [part for part in path.parts if len(part.encode()) > 255]
    if too_long or len(os.fsencode(value)) >= 4096:
        raise argparse.ArgumentTypeError(
            f"not a usable path (a name or the whole path is too long: {len(value):,} characters)"
        )
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{value} exists and is not a folder; give a folder (it is created if missing)"
        )
    return path


def default_home() -> str:
    """$LEDGERLINE_HOME, or ./runs when it is unset or empty."""
    return os.environ.get("LEDGERLINE_HOME") or DEFAULT_HOME


def parser(prog: str, description: str, example: str, *, home: bool = True) -> argparse.ArgumentParser:
    """An ArgumentParser with --home (unless the command never touches a home) and an example in --help."""
    p = _Parser(
        prog=prog,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if not home:
        return p
    p.add_argument(
        "--home",
        type=home_arg,
        default=default_home(),
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
        if debugging():
            raise
        print(f"{prog}: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a dependency or the system failed: one line, the traceback only when debugging
        if debugging():
            raise
        print(f"{prog}: {describe_failure(exc)} (LEDGERLINE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_FOUND


def debugging() -> bool:
    """Whether LEDGERLINE_DEBUG asks for tracebacks instead of one-line errors."""
    return os.environ.get("LEDGERLINE_DEBUG", "") not in ("", "0")


def describe_failure(exc: BaseException) -> str:
    """One line naming what failed: the library the error comes from, its type and the first line of its message."""
    origin = (type(exc).__module__ or "").split(".")[0]
    where = "" if origin in ("builtins", "") else f"{origin}: "
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    else:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else "no message"
    return f"{where}{type(exc).__name__}: {text[:500]}"
