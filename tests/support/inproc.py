"""Run a bin/ command through its main() in the test process: what its subprocess would print, without paying
an interpreter start and the imports (mlflow, polars, numba) for every case.

Each command keeps at least one test through the real bin/ shim; this is for the many bad-input and
damage cases whose subject is the command's own handling, not its start-up.
"""

from __future__ import annotations

import importlib
import subprocess

import pytest


def command(capsys: pytest.CaptureFixture[str], name: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """bin/<name> argv, called in-process: its exit status, stdout and stderr, as subprocess.run would give.

    An exception that escapes main() is not caught: it would have been a traceback, and fails the test.
    """
    main = importlib.import_module(f"bin.{name.replace('-', '_')}").main
    capsys.readouterr()  # what earlier code printed is not this command's
    message = ""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse (--help, usage errors), or sys.exit("message"): status 1 and the message
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        message = "" if isinstance(exc.code, int) or exc.code is None else f"{exc.code}\n"
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess([f"bin/{name}", *argv], code, out, err + message)
