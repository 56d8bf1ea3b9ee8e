"""The OpenLineage replay as a ReadModel: events to a JSON-lines file or an HTTP endpoint, with a position beside it.

The position is {seq, hash} of the last ledger line whose events are all out, plus what a resume needs:
`open_from` (the earliest RunStarted of a run still open: the fold re-reads from there, emitting nothing up to
seq), `events` (events emitted through seq), `sent` (events posted, a POST ahead of seq when killed mid-line),
and for a file `bytes`, its length after the last complete write (a resume truncates a torn tail back to it).
This module imports no openlineage: position() and witnesses work without the extra.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ledger import (
    LEDGER_NAME,
    OPENLINEAGE_HTTP_STATE,
    OPENLINEAGE_NAME,
    OPENLINEAGE_POSITION_SUFFIX,
    fsync_dir,
    line_hash,
    lock_file,
    read_events,
    write_bytes_atomic,
)
from projectors.errors import LineageDivergedError, LineageError, LineageUnavailableError
from projectors.readmodel import Position, Progress, ReadModel, quiet

INSTALL_HINT = "pip install -e '.[openlineage]'"
REBUILD_HINT = "rebuild it with: bin/replay --to openlineage --rebuild"
#: ledger lines per committed batch (one fsync and position update each, one progress report)
BATCH_LINES = 5000
BATCH_ENV = "LEDGERLINE_OPENLINEAGE_BATCH"
#: HTTP: attempts after the first, and the backoff factor between them (env overrides for operators and tests)
RETRIES_ENV, BACKOFF_ENV = "LEDGERLINE_OPENLINEAGE_RETRIES", "LEDGERLINE_OPENLINEAGE_BACKOFF"
DEFAULT_RETRIES, DEFAULT_BACKOFF, HTTP_TIMEOUT_S = 5, 0.5, 10.0
ENDPOINT = "api/v1/lineage"


@dataclasses.dataclass(frozen=True)
class LineageState:
    """The position file's content."""

    seq: int
    hash: str
    open_from: int
    events: int
    sent: int
    bytes: int = 0

    def to_json(self) -> builtins.bytes:
        return json.dumps(dataclasses.asdict(self), sort_keys=True).encode() + b"\n"


def require_openlineage() -> None:
    """Raise one clear line when the openlineage extra is not installed."""
    try:
        import openlineage.client  # noqa: F401
    except ImportError as exc:
        raise LineageError(f"the openlineage read model needs openlineage-python: {INSTALL_HINT}") from exc


def read_state(path: Path) -> LineageState | None:
    """The position stored at path; None when there is none."""
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LineageError(f"unreadable openlineage position {path}: {exc}; {REBUILD_HINT}") from exc
    try:
        return LineageState(
            **{k: raw[k] for k in ("seq", "hash", "open_from", "events", "sent")}, bytes=int(raw.get("bytes", 0))
        )
    except (KeyError, TypeError) as exc:
        raise LineageError(f"unreadable openlineage position {path}: missing {exc}; {REBUILD_HINT}") from exc


class OpenLineageModel(ReadModel):
    """OpenLineage RunEvents for every pipeline and stage run of the ledger: idempotent, resumable, witnessed."""

    name = "openlineage"
    title = "openlineage position"
    transient_errors = (LineageUnavailableError,)

    def __init__(
        self,
        home: Path,
        *,
        file: Path | None = None,
        url: str | None = None,
        namespace: str | None = None,
        batch_lines: int = BATCH_LINES,
        retries: int | None = None,
        backoff: float | None = None,
    ) -> None:
        if file is not None and url is not None:
            raise LineageError("give --file or --url, not both")
        self.home = Path(home)
        self.url = url.rstrip("/") if url else None
        self.file = None if url else Path(file) if file is not None else self.home / OPENLINEAGE_NAME
        self.namespace = namespace or "ledgerline"
        self.batch_lines = max(1, batch_lines)
        self.retries = int(os.environ.get(RETRIES_ENV, DEFAULT_RETRIES)) if retries is None else retries
        self.backoff = float(os.environ.get(BACKOFF_ENV, DEFAULT_BACKOFF)) if backoff is None else backoff
        self.last_sent = 0

    # ------------------------------------------------------------ the ReadModel shape

    @property
    def state_path(self) -> Path:
        """The position file: beside --file, or in the home for --url."""
        if self.file is not None:
            return self.file.with_name(self.file.name + OPENLINEAGE_POSITION_SUFFIX)
        return self.home / OPENLINEAGE_HTTP_STATE

    def position(self) -> Position | None:
        state = read_state(self.state_path)
        return None if state is None or state.seq == 0 else Position(state.seq, state.hash)

    def catch_up(self, *, progress: Progress = quiet) -> int:
        """Emit the events of the ledger lines after the position (refusing a ledger that no longer holds it)."""
        return self._replay(False, progress)

    def rebuild(self, *, progress: Progress = quiet) -> int:
        """Emit every event again: a fresh file swapped in, or every event posted again (same run ids)."""
        return self._replay(True, progress)

    def where(self) -> str:
        return f"{self.url}/{ENDPOINT}" if self.url else str(self.file)

    def report(self, applied: int) -> str:
        pos = self.position()
        return (
            f"openlineage: {applied:,} ledger events replayed, {self.last_sent:,} OpenLineage events sent, "
            f"position seq {pos.seq if pos else 0} ({self.where()})"
        )

    # ------------------------------------------------------------ the replay

    def _replay(self, rebuild: bool, progress: Progress) -> int:
        require_openlineage()
        ledger = self.home / LEDGER_NAME
        if not ledger.is_file():
            raise FileNotFoundError(2, "no ledger to replay", str(ledger))
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_file(self.state_path.with_name(self.state_path.name + ".lock")):
            state = None if rebuild else read_state(self.state_path)
            if state is not None and state.seq and line_hash(ledger, state.seq) != state.hash:
                raise LineageDivergedError(
                    f"openlineage position seq {state.seq} hash {state.hash[:12]} ({self.state_path}) no longer matches "
                    f"the ledger (rewritten or truncated?); {REBUILD_HINT}"
                )
            sink = _FileSink(self, state, rebuild) if self.file is not None else _HttpSink(self, state)
            try:
                return self._run(ledger, state, sink, progress)
            finally:
                sink.close()

    def _run(self, ledger: Path, state: LineageState | None, sink: _Sink, progress: Progress) -> int:
        from projectors.lineage.mapping import Fold

        fold = Fold(self.home, self.namespace, serializer=sink.serializer)
        start = state.seq if state else 0
        emitted = state.events if state else 0
        sent = state.sent if state else 0
        done = state  # the last line whose events are all out
        applied = lines = 0
        self.last_sent = 0
        progress(self.step(f"openlineage: replaying the ledger after seq {start} into {self.where()}", done=0))
        for event in read_events(ledger, after=(state.open_from - 1) if state else 0):
            out = fold.apply(event)
            seq = int(event.seq or 0)
            if seq <= start:
                continue  # re-read to rebuild the open runs' state; their events are already out
            for ol_event in out:
                emitted += 1
                if emitted <= sent:
                    continue  # posted before a kill, after the position's line
                sink.emit(ol_event, done)
                sent = emitted
                self.last_sent += 1
            open_from = fold.open_from()
            done = LineageState(seq, str(event.hash), open_from if open_from is not None else seq + 1, emitted, sent)
            applied += 1
            lines += 1
            if lines >= self.batch_lines:
                sink.commit(done)
                lines = 0
                progress(self.step(f"openlineage: seq {seq}, {self.last_sent:,} events sent", done=applied, tick=True))
        if done is not None and (applied or sink.pending()):
            sink.commit(done)
            progress(
                self.step(f"openlineage: seq {done.seq}, {self.last_sent:,} events sent", done=applied, total=applied)
            )
        return applied


class _Sink:
    #: the sink's serializer, if it has one: the fold tells it which objects later events share
    serializer: Any = None

    def emit(self, event: Any, done: LineageState | None) -> None:
        raise NotImplementedError

    def commit(self, state: LineageState) -> None:
        raise NotImplementedError

    def pending(self) -> bool:
        return False

    def close(self) -> None:
        return None


class _FileSink(_Sink):
    """Append one JSON line per event (as openlineage's FileTransport in append mode writes them), buffered per batch.

    Events are serialized by projectors.lineage.serialize (JSON-equal to the client's Serde.to_json, several times
    faster) and kept in memory until the batch commits: then they are written in one go, the file is fsynced, and
    only then the position moves (atomically). A kill before that leaves at most a torn tail past the position's
    `bytes`, which the next run cuts off.
    """

    def __init__(self, model: OpenLineageModel, state: LineageState | None, rebuild: bool) -> None:
        from projectors.lineage.serialize import Serializer

        assert model.file is not None
        self.model, self.final, self.rebuild = model, model.file, rebuild
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.target = self.final.with_name(f".{self.final.name}.rebuild") if rebuild else self.final
        keep = 0 if state is None else state.bytes
        size = self.target.stat().st_size if self.target.exists() else 0
        if size < keep:
            raise LineageError(
                f"{self.target} is shorter ({size:,} bytes) than its position says ({keep:,}); {REBUILD_HINT}"
            )
        self.out = open(self.target, "ab")  # noqa: SIM115 (held for the whole replay, closed in close())
        self.out.truncate(keep)  # drop a torn tail (or, with no position, everything) before appending
        self.serializer = Serializer()
        self.to_json = self.serializer.to_json
        self.buffer: list[builtins.bytes] = []
        self.dirty = False
        self.swapped = not rebuild

    def emit(self, event: Any, done: LineageState | None) -> None:
        self.buffer.append(self.to_json(event) + b"\n")
        self.dirty = True

    def commit(self, state: LineageState) -> None:
        if self.buffer:
            self.out.write(b"".join(self.buffer))
            self.buffer.clear()
        self.out.flush()
        os.fsync(self.out.fileno())
        size = os.fstat(self.out.fileno()).st_size
        if self.rebuild:  # the rebuilt file is swapped in at the end only: the old one stays whole until then
            self.last = dataclasses.replace(state, bytes=size)
            return
        write_bytes_atomic(self.model.state_path, dataclasses.replace(state, bytes=size).to_json(), durable=True)
        self.dirty = False

    def pending(self) -> bool:
        return self.dirty or self.rebuild

    def close(self) -> None:
        self.buffer.clear()  # events of an unfinished batch: their lines are replayed again from the position
        self.out.close()
        if not self.rebuild:
            return
        last = getattr(self, "last", None)
        if last is None or not self.target.exists():  # interrupted (or nothing to write): the old output stays
            self.target.unlink(missing_ok=True)
            return
        os.replace(self.target, self.final)
        fsync_dir(self.final.parent)
        write_bytes_atomic(self.model.state_path, last.to_json(), durable=True)


class _HttpSink(_Sink):
    """POST each event through openlineage's HttpTransport (bounded retries with backoff); the state moves after each."""

    def __init__(self, model: OpenLineageModel, state: LineageState | None) -> None:
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        assert model.url is not None
        self.model = model
        retry = {
            "total": model.retries,
            "connect": model.retries,
            "read": model.retries,
            "status": model.retries,
            "backoff_factor": model.backoff,
            "status_forcelist": [429, 500, 502, 503, 504],
            "allowed_methods": ["POST"],
            "raise_on_status": True,
        }
        self.transport = HttpTransport(
            HttpConfig(url=model.url + "/", endpoint=ENDPOINT, timeout=HTTP_TIMEOUT_S, retry=retry)
        )
        self.sent = state.sent if state else 0

    def emit(self, event: Any, done: LineageState | None) -> None:
        import requests

        try:
            self.transport.emit(event)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise LineageError(
                f"openlineage endpoint {self.model.where()} refused an event (HTTP {status}); nothing after it was sent"
            ) from exc
        except requests.RequestException as exc:
            raise LineageUnavailableError(self.model.where(), f"{type(exc).__name__}: {exc}") from exc
        self.sent += 1
        base = done or LineageState(0, "", 1, 0, 0)
        write_bytes_atomic(self.model.state_path, dataclasses.replace(base, sent=self.sent).to_json(), durable=True)

    def commit(self, state: LineageState) -> None:
        write_bytes_atomic(self.model.state_path, state.to_json(), durable=True)

    def close(self) -> None:
        self.transport.close()


def open_lineage(home: Path, options: Mapping[str, object]) -> OpenLineageModel:
    """Registry factory: options `file`, `url`, `namespace` (and `batch_lines`, `retries`, `backoff` for tuning)."""
    opt: dict[str, Any] = dict(options)
    return OpenLineageModel(
        home,
        file=Path(str(opt["file"])) if opt.get("file") else None,
        url=str(opt["url"]) if opt.get("url") else None,
        namespace=str(opt["namespace"]) if opt.get("namespace") else None,
        batch_lines=int(opt.get("batch_lines") or os.environ.get(BATCH_ENV) or BATCH_LINES),
        retries=None if opt.get("retries") is None else int(opt["retries"]),
        backoff=None if opt.get("backoff") is None else float(opt["backoff"]),
    )
