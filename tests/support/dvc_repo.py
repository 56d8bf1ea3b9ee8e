"""A temporary git + DVC repository with a local directory remote, driven through the venv's `dvc` and `git` binaries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DVC = Path(sys.executable).parent / "dvc"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "ledgerline tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "ledgerline tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "DVC_NO_ANALYTICS": "1",
}


def sh(cwd: Path, *args: str | Path) -> str:
    """Run a command in cwd (git identity from the environment); its stdout, or an AssertionError with its stderr."""
    env = {**os.environ, **GIT_ENV}
    out = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{args}: {out.stderr}"
    return out.stdout


def init_repo(root: Path, remote: Path) -> Path:
    """git init + dvc init + a default local remote at remote; returns root."""
    root.mkdir(parents=True, exist_ok=True)
    remote.mkdir(parents=True, exist_ok=True)
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, DVC, "init", "-q")
    sh(root, DVC, "config", "core.autostage", "false")
    sh(root, DVC, "remote", "add", "-d", "local", remote)
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "dvc init")
    return root


def track(root: Path, folder: str, message: str) -> str:
    """dvc add folder, commit the .dvc file, dvc push; the new commit's sha."""
    sh(root, DVC, "add", "-q", folder)
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", message)
    sh(root, DVC, "push", "-q")
    return sh(root, "git", "rev-parse", "HEAD").strip()
