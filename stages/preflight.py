"""Preflight: every problem with the settings, the inputs and the home folder, found before any data is read."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import exchange_calendars as xcals  # type: ignore[import-untyped]
import polars as pl

from schemas.settings import ContractSettings, Settings, SourceSettings
from stages.sources.directory import SUFFIXES, data_files, is_data_file
from stages.sources.sessions import sessions_from
from stages.sources.synthetic import TOXICITIES


def preflight(settings: Settings, home: Path) -> list[str]:
    """Problems found (empty when the run may start); never reads the market data itself."""
    return [
        *source_problems(settings.source),
        *contract_problems(settings.contracts),
        *input_problems(settings.source),
        *home_problems(home, settings.contracts.min_free_disk_mb),
    ]


def _iso(name: str, value: str | None) -> list[str]:
    if value is None:
        return []
    try:
        date.fromisoformat(value)
    except ValueError:
        return [f"{name} {value!r} is not an ISO date (YYYY-MM-DD)"]
    return []


def source_problems(source: SourceSettings) -> list[str]:
    """Required and well-formed [source] settings."""
    problems = [*_iso("source.start", source.start), *_iso("source.as_of", source.as_of)]
    if not source.benchmark.strip():
        problems.append("source.benchmark is empty")
    if source.calendar not in xcals.get_calendar_names():
        problems.append(f"source.calendar {source.calendar!r} is not a known exchange calendar")
    if source.kind == "directory" and not source.path:
        problems.append("source.path is required when source.kind is 'directory'")
    if source.kind == "synthetic":
        problems.extend(_synthetic_problems(source, clean=not problems))
    return problems


def _synthetic_problems(source: SourceSettings, *, clean: bool) -> list[str]:
    problems = [
        f"source.toxicity.{k} is not one of {', '.join(TOXICITIES)}" for k in source.toxicity if k not in TOXICITIES
    ]
    problems += [f"source.toxicity.{k} must be >= 0" for k, v in source.toxicity.items() if v < 0]
    if source.symbols < 1:
        problems.append("source.symbols must be >= 1")
    if source.sessions < 20:
        problems.append("source.sessions must be >= 20")
    if clean and not problems:
        try:
            sessions_from(source.calendar, date.fromisoformat(source.start), source.sessions)
        except ValueError as exc:
            problems.append(f"source.sessions: {exc}")
    return problems


def contract_problems(contracts: ContractSettings) -> list[str]:
    """Thresholds inside their meaningful ranges."""
    rules = {
        "contracts.max_abs_return must be > 0": contracts.max_abs_return > 0,
        "contracts.min_symbols must be >= 1": contracts.min_symbols >= 1,
        "contracts.sample_size must be >= 0": contracts.sample_size >= 0,
        "contracts.inline_keys_max must be >= 0": contracts.inline_keys_max >= 0,
        "contracts.stale_run_sessions must be >= 2": contracts.stale_run_sessions >= 2,
        "contracts.split_tolerance must be in (0, 0.2)": 0 < contracts.split_tolerance < 0.2,
        "contracts.split_ratios must all be > 1": all(k > 1 for k in contracts.split_ratios),
        "contracts.max_lag_sessions must be >= 0": contracts.max_lag_sessions >= 0,
        "contracts.postflight_sample must be >= 0": contracts.postflight_sample >= 0,
        "contracts.min_free_disk_mb must be >= 0": contracts.min_free_disk_mb >= 0,
    }
    return [message for message, ok in rules.items() if not ok]


def input_problems(source: SourceSettings) -> list[str]:
    """A directory source: the folder (or single file) exists, is readable, and holds readable Parquet/CSV files.

    An ArcticDB source: every store opens, every library exists, the benchmark symbol exists (no data read).
    """
    if source.kind == "arcticdb" and source.arctic is not None:
        from stages.sources.arctic import preflight_problems

        return preflight_problems(source.arctic, source.benchmark)
    if source.kind != "directory" or not source.path:
        return []
    folder = Path(source.path)
    if not folder.exists():
        return [f"source.path {folder} does not exist"]
    if is_data_file(folder):
        return [problem] if (problem := _unreadable(folder)) else []
    if not folder.is_dir():
        return [f"source.path {folder} is not a directory or a .parquet or .csv file"]
    if not os.access(folder, os.R_OK | os.X_OK):
        return [f"source.path {folder} is not readable"]
    files = data_files(folder)
    if not files:
        return [f"source.path {folder} holds no .parquet or .csv files"]
    return [problem for p in files if (problem := _unreadable(p))]


def _unreadable(path: Path) -> str | None:
    """Why a data file cannot be used, from its first bytes or its Parquet footer (never its rows)."""
    try:
        with path.open("rb") as f:
            f.read(1)
        if SUFFIXES[path.suffix.lower()] == "parquet":
            pl.read_parquet_schema(path)
    except OSError as exc:
        return f"input file {path} is not readable: {exc.strerror or exc}"
    except pl.exceptions.PolarsError as exc:
        return f"input file {path} is not valid Parquet: {type(exc).__name__}"
    return None


def home_problems(home: Path, min_free_mb: int) -> list[str]:
    """The home folder is (or can become) a writable directory with enough free disk."""
    if home.exists() and not home.is_dir():
        return [f"home {home} is not a directory"]
    anchor = home if home.exists() else next((p for p in home.parents if p.exists()), Path("/"))
    if not anchor.is_dir():
        return [f"home {home}: {anchor} is not a directory"]
    problems = [] if _writable(anchor) else [f"home {home} is not writable"]
    free_mb = shutil.disk_usage(anchor).free // (1 << 20)
    if free_mb < min_free_mb:
        problems.append(f"home {home} has {free_mb} MB free, contracts.min_free_disk_mb is {min_free_mb}")
    return problems


def _writable(folder: Path) -> bool:
    """Probe by creating a file: os.access says yes to root even on read-only mounts."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False
