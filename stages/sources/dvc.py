"""DVC versions of a data folder, read without the dvc package: the `.dvc` file or `dvc.lock` output tracking it,
the repo's git commit, and whether the files on disk still hash to DVC's md5 (recomputed the way DVC 3 does).

Also materializes a recorded version from the local DVC cache into a plain folder, for `bin/rerun`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from schemas.errors import LedgerlineError
from schemas.events import DvcVersion

_CHUNK = 1 << 20
_SKIP_DIRS = {".git", ".dvc"}


class DvcVersionError(LedgerlineError):
    """A recorded DVC version cannot be materialized (not in the cache, an unknown layout)."""


def repo_root(folder: Path) -> Path | None:
    """The nearest folder at or above folder holding a `.dvc/` directory (the DVC repo root), else None."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".dvc").is_dir():
            return candidate
    return None


def md5_file(path: Path) -> str:
    """md5 hex of a file's bytes (DVC 3's `hash: md5`)."""
    digest = hashlib.md5()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def dir_entries(folder: Path) -> list[dict[str, str]]:
    """DVC's `.dir` listing of a folder: {"md5", "relpath"} per file, sorted by relpath (.git/.dvc skipped)."""
    entries = [
        {"md5": md5_file(p), "relpath": p.relative_to(folder).as_posix()}
        for p in folder.rglob("*")
        if p.is_file() and not (set(p.relative_to(folder).parts[:-1]) & _SKIP_DIRS)
    ]
    return sorted(entries, key=lambda e: e["relpath"])


def dir_md5(folder: Path) -> str:
    """DVC's md5 of a folder: md5 of the JSON listing (json.dumps, sort_keys, default separators) plus `.dir`."""
    listing = json.dumps(dir_entries(folder), sort_keys=True).encode("utf-8")
    return hashlib.md5(listing).hexdigest() + ".dir"


def _outs_of_dvc_file(dvc_file: Path) -> list[dict[str, Any]]:
    try:
        doc = yaml.safe_load(dvc_file.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []
    return [o for o in doc.get("outs", []) or [] if isinstance(o, dict)]


def _outs_of_lock(lock: Path) -> list[dict[str, Any]]:
    try:
        doc = yaml.safe_load(lock.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []
    stages = doc.get("stages", {}) or {}
    return [
        o for st in stages.values() if isinstance(st, dict) for o in st.get("outs", []) or [] if isinstance(o, dict)
    ]


def _tracking(root: Path, folder: Path) -> tuple[Path, str, Path] | None:
    """(tracked path, DVC md5, the .dvc file or dvc.lock) for folder or its nearest tracked parent inside root."""
    for tracked in (folder, *folder.parents):
        candidates: list[tuple[Path, Callable[[Path], list[dict[str, Any]]]]] = [
            (tracked.parent / f"{tracked.name}.dvc", _outs_of_dvc_file)
        ]
        candidates += [
            (d / "dvc.lock", _outs_of_lock) for d in (tracked.parent, *tracked.parent.parents) if d.is_relative_to(root)
        ]
        for meta, outs in candidates:
            if not meta.is_file():
                continue
            for out in outs(meta):
                if "path" in out and "md5" in out and (meta.parent / str(out["path"])).resolve() == tracked:
                    return tracked, str(out["md5"]), meta
        if tracked == root:
            break
    return None


def git_commit(root: Path) -> str | None:
    """HEAD's sha of the git repository holding root, or None."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def version_of(folder: Path) -> DvcVersion | None:
    """The DVC version of folder when it (or a parent) is tracked by a `.dvc` file or a `dvc.lock` output, else None."""
    folder = folder.resolve()
    root = repo_root(folder)
    if root is None:
        return None
    found = _tracking(root, folder)
    if found is None:
        return None
    tracked, md5, meta = found
    actual = dir_md5(tracked) if md5.endswith(".dir") else md5_file(tracked) if tracked.is_file() else None
    return DvcVersion(
        repo_commit=git_commit(root),
        path=tracked.relative_to(root).as_posix() or ".",
        md5=md5,
        matches=actual == md5,
        file=meta.relative_to(root).as_posix(),
    )


def _cache_object(root: Path, md5: str) -> Path:
    """Where DVC 3 keeps an object in the repo's default local cache."""
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def materialize(folder: Path, version: DvcVersion, into: Path) -> Path:
    """Copy the files of a recorded DVC version of folder (the folder a run read) from the local cache into `into`.

    Returns the folder inside `into` that corresponds to `folder` (a tracked parent is materialized whole).
    """
    folder = folder.resolve()
    root = repo_root(folder)
    if root is None:
        raise DvcVersionError(f"{folder} is no longer inside a DVC repository; cannot read DVC version {version.md5}")
    if not version.md5.endswith(".dir"):
        raise DvcVersionError(f"DVC version {version.md5} of {version.path} is a file, not a folder")
    listing = _cache_object(root, version.md5)
    if not listing.is_file():
        raise DvcVersionError(
            f"DVC version {version.md5} of {version.path} is not in the local cache; run: dvc fetch {version.path}"
        )
    target = into / Path(version.path).name
    for entry in json.loads(listing.read_text()):
        source = _cache_object(root, str(entry["md5"]))
        if not source.is_file():
            raise DvcVersionError(
                f"{version.path}/{entry['relpath']} ({entry['md5']}) is not in the local DVC cache; run: dvc fetch"
            )
        dest = target / entry["relpath"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    tracked = root / version.path
    return target / folder.relative_to(tracked) if folder != tracked else target


def _remote_configured(root: Path) -> bool:
    """Whether the repo's DVC config (or its local override) names a default remote (core.remote)."""
    import configparser

    for name in ("config", "config.local"):
        parser = configparser.ConfigParser()
        try:
            parser.read(root / ".dvc" / name)
        except configparser.Error:
            continue
        if parser.get("core", "remote", fallback="").strip():
            return True
    return False


def pull_target(folder: Path) -> tuple[Path, str] | None:
    """(repo root, tracked path) for `dvc pull` when folder is DVC-tracked and a default remote is configured, else None.

    The orchestration side (`make run DATA=DIR`) pulls; the pipeline itself never calls dvc.
    """
    folder = folder.resolve()
    root = repo_root(folder)
    if root is None or not _remote_configured(root):
        return None
    found = _tracking(root, folder)
    return None if found is None else (root, found[0].relative_to(root).as_posix())
