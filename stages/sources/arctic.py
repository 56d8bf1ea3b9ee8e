"""The ArcticDB source: libraries named by `arcticdb+lmdb:///PATH?library=NAME` (or S3) URIs, read as of a snapshot,
a version or a timestamp; the only module that imports arcticdb (inside functions: it is an optional extra).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
import polars as pl

from schemas.errors import LedgerlineError
from schemas.events import ArcticVersion, ArtifactRef, DataInput
from schemas.settings import ArcticSettings, parse_arctic_uri

#: symbol versions up to this many are recorded inline in RunStarted; more go to a JSON artifact
INLINE_SYMBOLS = 20
_MB = 1_000_000


class ArcticUnavailableError(LedgerlineError, ImportError):
    """Raised when an ArcticDB source is used and the arctic extra is not installed."""


class ArcticSourceError(LedgerlineError, ValueError):
    """Raised when ArcticDB data cannot be read as configured or recorded (an as-of with no version, a pruned version)."""


class JsonStore(Protocol):
    """Where a long symbol-version list is written (stages.artifacts.ArtifactStore)."""

    def put_json(self, name: str, document: Any) -> tuple[ArtifactRef, Any]: ...


def adb() -> Any:
    """The arcticdb module, quiet below warnings, or ArcticUnavailableError naming the extra."""
    try:
        import arcticdb  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ArcticUnavailableError("ArcticDB is not installed: pip install '.[arctic]'") from exc
    arcticdb.config.set_log_level("WARN")
    return arcticdb


@dataclasses.dataclass(frozen=True)
class Location:
    """One library of the source: its position in the settings, the URI as recorded, the URI ArcticDB takes."""

    index: int
    uri: str
    arctic_uri: str
    library: str

    @property
    def store(self) -> str:
        """The store part, for messages (no query string)."""
        return self.arctic_uri.split("?")[0]


def locations(cfg: ArcticSettings) -> list[Location]:
    """The libraries of an ArcticDB source, in settings order."""
    return [Location(i, uri, *parse_arctic_uri(uri)) for i, uri in enumerate(cfg.uris)]


def lmdb_path(arctic_uri: str) -> Path | None:
    """The folder of an LMDB store (None for S3)."""
    if not arctic_uri.startswith("lmdb://"):
        return None
    return Path(os.path.abspath(arctic_uri.removeprefix("lmdb://").split("?")[0]))


def fitting_map_size(path: Path, incoming_bytes: int = 0) -> str:
    """An LMDB map size that fits what the store holds plus what is about to be written, with room to spare."""
    existing = sum(p.stat().st_size for p in path.rglob("*.mdb")) if path.is_dir() else 0
    need = 2 * (existing + 4 * incoming_bytes) + 64 * _MB
    return f"{math.ceil(need / _MB)}MB"


#: one Arctic instance per LMDB path per process: LMDB does not support a second environment over the same path
_STORES: dict[str, Any] = {}


def open_store(arctic_uri: str, *, incoming_bytes: int = 0) -> Any:
    """The process's Arctic instance for this store (created on first use; an LMDB store gets a map size that fits)."""
    path = lmdb_path(arctic_uri)
    key = f"lmdb:{path}" if path is not None else arctic_uri
    if key not in _STORES:
        uri = arctic_uri
        if path is not None and "map_size=" not in uri:
            uri += ("&" if "?" in uri else "?") + f"map_size={fitting_map_size(path, incoming_bytes)}"
        _STORES[key] = adb().Arctic(uri)
    return _STORES[key]


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300] if lines else 'no message'}"


# ------------------------------------------------------------------ preflight


def _store_problem(loc: Location) -> str | None:
    """Why an LMDB store cannot be opened without creating one (Arctic() would create a missing folder)."""
    path = lmdb_path(loc.arctic_uri)
    if path is None:
        return None
    if not path.is_dir():
        return f"ArcticDB store {loc.store} is unreadable: {path} is not a folder"
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        return f"ArcticDB store {loc.store} is unreadable: no read/write access to {path} (LMDB needs both)"
    if not (path / "_arctic_cfg").is_dir():
        return f"ArcticDB store {loc.store} is unreadable: {path} holds no ArcticDB store (no _arctic_cfg)"
    return None


def open_library(loc: Location) -> tuple[Any, str | None]:
    """(the library, None), or (None, why it cannot be used): the store opens and the library exists."""
    problem = _store_problem(loc)
    if problem is not None:
        return None, problem
    try:
        names = open_store(loc.arctic_uri).list_libraries()
    except ArcticUnavailableError:
        raise
    except Exception as exc:  # the store itself failed (bad map size, S3 unreachable, corrupt LMDB)
        return None, f"ArcticDB store {loc.store} does not open: {_first_line(exc)}"
    if loc.library not in names:
        held = ", ".join(sorted(names)) or "no libraries"
        return None, f"library {loc.library} does not exist in ArcticDB store {loc.store} (it holds: {held})"
    return open_store(loc.arctic_uri).get_library(loc.library), None


def preflight_problems(cfg: ArcticSettings, benchmark: str) -> list[str]:
    """Every problem with the source before any data is read: stores open, libraries exist, the as-of resolves,
    the frame symbol and the benchmark symbol exist, no ticker comes from two libraries."""
    try:
        adb()
    except ArcticUnavailableError as exc:
        return [str(exc)]
    problems: list[str] = []
    seen: dict[str, str] = {}
    checked: list[str] = []
    listed: set[str] | None = set() if cfg.layout == "frame" else None
    for loc in locations(cfg):
        lib, problem = open_library(loc)
        if problem is not None:
            problems.append(problem)
            continue
        try:
            versions, _ = resolve_versions(lib, cfg, loc.index)
        except ArcticSourceError as exc:
            problems.append(f"library {loc.library}: {exc}")
            continue
        checked.append(loc.library)
        if listed is not None:
            problems += _frame_problems(lib, cfg, loc, versions, listed)
            continue
        problems += [
            f"symbol {s} is in libraries {seen[s]} and {loc.library}: a ticker must come from one"
            for s in versions
            if s in seen
        ]
        seen.update({s: loc.library for s in versions if s not in seen})
    # checked once a library could be read; for a frame only when its metadata lists the tickers (else ingest sees)
    tickers = set(seen) if listed is None else listed
    if checked and (listed is None or listed) and benchmark not in tickers:
        problems.append(
            f"benchmark symbol {benchmark} is in none of the ArcticDB libraries read ({', '.join(checked)})"
        )
    return problems


def _frame_problems(
    lib: Any, cfg: ArcticSettings, loc: Location, versions: dict[str, int], tickers: set[str] | None
) -> list[str]:
    """The frame symbol exists; its metadata's ticker list (written by bin/load-arctic) joins the benchmark check."""
    if cfg.frame_symbol not in versions:
        return [f"frame symbol {cfg.frame_symbol} is not in library {loc.library}" + _as_of_text(cfg)]
    meta = lib.read_metadata(cfg.frame_symbol, as_of=versions[cfg.frame_symbol]).metadata
    if tickers is not None and isinstance(meta, dict) and isinstance(meta.get("symbols"), list):
        tickers.update(str(s) for s in meta["symbols"])
    return []


def _as_of_text(cfg: ArcticSettings) -> str:
    return f" as of {cfg.as_of}" if cfg.as_of is not None else ""


# ------------------------------------------------------------------ versions


def _as_of_point(as_of: str) -> int | datetime:
    """A version number or an ISO timestamp (a snapshot name was tried first)."""
    if as_of.isdigit():
        return int(as_of)
    try:
        return datetime.fromisoformat(as_of)
    except ValueError:
        raise ArcticSourceError(
            f"as-of {as_of!r} is neither a snapshot of the library, a version number nor an ISO timestamp"
        ) from None


def resolve_versions(lib: Any, cfg: ArcticSettings, index: int) -> tuple[dict[str, int], str | None]:
    """{symbol: version} to read from one library, and the snapshot they come from (None for a version or time)."""
    if cfg.versions is not None:
        return {s: v for i, s, v in cfg.versions if i == index}, None
    wanted = [cfg.frame_symbol] if cfg.layout == "frame" else None
    as_of = cfg.as_of
    if as_of is not None and as_of in lib.list_snapshots(load_metadata=False):
        listed = {sv.symbol: sv.version for sv in lib.list_versions(snapshot=as_of, skip_snapshots=True)}
        return ({s: v for s, v in listed.items() if s in wanted} if wanted else listed), as_of
    point = None if as_of is None else _as_of_point(as_of)
    symbols = [s for s in wanted if lib.has_symbol(s)] if wanted is not None else sorted(lib.list_symbols())
    requests = [adb().ReadInfoRequest(s, as_of=point) for s in symbols]
    out: dict[str, int] = {}
    for symbol, item in zip(symbols, lib.read_metadata_batch(requests) if requests else [], strict=True):
        if hasattr(item, "version"):
            out[symbol] = int(item.version)
        elif isinstance(point, int):  # a version number every symbol must have
            raise ArcticSourceError(f"symbol {symbol} has no version {point}")
    return out, None


def versions_sha256(versions: dict[str, int]) -> str:
    """The content hash of a symbol-version list: sha256 of its canonical JSON [[symbol, version], ...], sorted."""
    return hashlib.sha256(orjson.dumps(sorted([s, v] for s, v in versions.items()))).hexdigest()


def recorded_versions(version: ArcticVersion, load_json: Any = None) -> dict[str, int]:
    """The {symbol: version} a run recorded: inline, or from its artifact (load_json(ref)), checked against its hash."""
    if version.symbols is not None:
        listed = dict(version.symbols)
    elif version.symbols_ref is not None and load_json is not None:
        listed = {str(s): int(v) for s, v in load_json(version.symbols_ref)}
    else:
        raise ArcticSourceError(f"library {version.library}: the run recorded no symbol versions")
    if versions_sha256(listed) != version.symbols_sha256:
        raise ArcticSourceError(f"library {version.library}: the recorded symbol versions do not match their hash")
    return listed


# ------------------------------------------------------------------ describe and read


def _library(loc: Location) -> Any:
    lib, problem = open_library(loc)
    if problem is not None:
        raise ArcticSourceError(problem)
    return lib


def describe(cfg: ArcticSettings, store: JsonStore | None = None) -> list[DataInput]:
    """One DataInput per library: rows, the snapshot or as-of, each symbol's version (inline when few, else an artifact)."""
    inputs = []
    for loc in locations(cfg):
        lib = _library(loc)
        versions, snapshot = resolve_versions(lib, cfg, loc.index)
        requests = [adb().ReadInfoRequest(s, as_of=v) for s, v in sorted(versions.items())]
        rows = sum(int(d.row_count or 0) for d in lib.get_description_batch(requests) if hasattr(d, "row_count"))
        digest = versions_sha256(versions)
        ref = None
        if len(versions) > INLINE_SYMBOLS and store is not None:
            ref, _ = store.put_json(f"arctic_versions_{loc.library}", sorted([s, v] for s, v in versions.items()))
        version = ArcticVersion(
            uri=loc.uri,
            library=loc.library,
            snapshot=snapshot,
            as_of=None if snapshot is not None or cfg.versions is not None else cfg.as_of,
            layout=cfg.layout,
            pinned=cfg.versions is not None,
            count=len(versions),
            symbols_sha256=digest,
            symbols=None if ref is not None else dict(sorted(versions.items())),
            symbols_ref=ref,
        )
        inputs.append(
            DataInput(name=f"arcticdb:{loc.library}", sha256=digest, rows=rows, format="arcticdb", arctic=version)
        )
    return inputs


def load(cfg: ArcticSettings) -> list[tuple[str, pl.DataFrame]]:
    """(input name, frame) per symbol read (per ticker) or per library (frame layout), at the resolved versions."""
    out: list[tuple[str, pl.DataFrame]] = []
    for loc in locations(cfg):
        lib = _library(loc)
        versions, _ = resolve_versions(lib, cfg, loc.index)
        symbols = sorted(versions)
        requests = [adb().ReadRequest(s, as_of=versions[s]) for s in symbols]
        items = lib.read_batch(requests, output_format="polars") if requests else []
        for symbol, item in zip(symbols, items, strict=True):
            if not hasattr(item, "data"):
                raise ArcticSourceError(
                    f"library {loc.library}: symbol {symbol} version {versions[symbol]} cannot be read "
                    f"({getattr(item, 'exception_string', item)})"
                )
            out.append((f"arcticdb:{loc.library}/{symbol}@v{versions[symbol]}", _bars(item.data, symbol, cfg)))
    return out


def _bars(df: pl.DataFrame, symbol: str, cfg: ArcticSettings) -> pl.DataFrame:
    """A symbol's frame in the long bar format: the ticker column named symbol (added for one symbol per ticker)."""
    if cfg.layout == "frame":
        if cfg.symbol_column != "symbol" and cfg.symbol_column in df.columns:
            df = df.rename({cfg.symbol_column: "symbol"})
        return df
    if "symbol" not in df.columns:
        df = df.with_columns(pl.lit(symbol, dtype=pl.String).alias("symbol"))
    return df


# ------------------------------------------------------------------ rerun


def _pinned_problem(lib: Any, library: str, versions: dict[str, int]) -> str | None:
    """Why recorded versions can no longer be read (pruned or deleted), else None; reads metadata only."""
    symbols = sorted(versions)
    items = lib.read_metadata_batch([adb().ReadInfoRequest(s, as_of=versions[s]) for s in symbols]) if symbols else []
    gone = [f"{s} v{versions[s]}" for s, item in zip(symbols, items, strict=True) if not hasattr(item, "version")]
    return f"library {library} no longer holds {', '.join(gone[:5])}" if gone else None


def rerun_settings(cfg: ArcticSettings, recorded: list[ArcticVersion], load_json: Any) -> tuple[ArcticSettings, str]:
    """Settings that read exactly the recorded symbol versions: the recorded snapshot while it still holds them,
    else those versions pinned one by one; and how, for the verdict. ArcticSourceError when they are gone."""
    pins: list[tuple[int, str, int]] = []
    how: list[str] = []
    snapshot_ok = True
    for loc, version in zip(locations(cfg), recorded, strict=True):
        lib = _library(loc)
        wanted = recorded_versions(version, load_json)
        if version.snapshot is not None:
            as_snapshot = cfg.model_copy(update={"as_of": version.snapshot, "versions": None})
            try:
                holds = resolve_versions(lib, as_snapshot, loc.index) == (wanted, version.snapshot)
            except ArcticSourceError:
                holds = False
            if holds:
                how.append(f"ArcticDB snapshot {version.snapshot} of library {loc.library}")
                pins += [(loc.index, s, v) for s, v in sorted(wanted.items())]
                continue
        snapshot_ok = False
        problem = _pinned_problem(lib, loc.library, wanted)
        if problem is not None:
            raise ArcticSourceError(f"cannot reproduce the data: {problem}")
        pins += [(loc.index, s, v) for s, v in sorted(wanted.items())]
        how.append(f"the recorded versions of {len(wanted)} symbols of ArcticDB library {loc.library}")
    return (cfg if snapshot_ok else cfg.model_copy(update={"versions": pins})), "; ".join(how)
