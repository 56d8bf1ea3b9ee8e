"""Do the artifacts the ledger names still hold what the ledger says? (bin/verify's artifact check.)

Every `ArtifactWritten` names a file under the home (`artifacts/<hash>.<format>`), its size and, from
v2 on, the SHA-256 of its bytes. A file that is missing, has another size or other bytes is reported
with the run and stage that wrote it. Events written before v2 carry no file SHA-256: a JSON
document is checked by its name (the SHA-256 of its bytes), a Parquet frame by re-reading it and
recomputing its frame hash (the only check that needs polars, imported then).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from ledger import Ledger
from projectors.readmodel import TICK_EVERY, Progress, quiet, tick
from schemas.events import ArtifactWritten

#: artifacts checked between two progress ticks (a small file is checked in well under a millisecond)
ARTIFACT_TICK = 256


@dataclasses.dataclass(frozen=True)
class ArtifactProblem:
    """One artifact that is not what the ledger says."""

    run_id: str | None
    stage: str | None
    name: str
    path: str
    problem: str

    def line(self) -> str:
        return f"artifact {self.name} ({self.path}) of run {self.run_id}, stage {self.stage}: {self.problem}"


def artifact_problems(home: Path, progress: Progress = quiet) -> tuple[int, list[ArtifactProblem]]:
    """(artifacts checked, problems): each file named by an ArtifactWritten event, checked once.

    progress ticks every TICK_EVERY events read, then every ARTIFACT_TICK artifacts checked.
    """
    home = Path(home)
    first: dict[str, ArtifactWritten] = {}
    with Ledger.open(home, readonly=True) as ledger:
        total = ledger.head()[0]
        for n, event in enumerate(ledger.read(), start=1):
            if not n % TICK_EVERY:
                progress(tick("artifacts", "reading the ledger", n, total))
            if isinstance(event, ArtifactWritten):
                known = first.get(event.data.path)
                if known is None or (known.data.sha256 is None and event.data.sha256 is not None):
                    first[event.data.path] = event
    problems = []
    for n, event in enumerate(first.values()):
        if not n % ARTIFACT_TICK:
            progress(tick("artifacts", "checking files", n, len(first), "artifacts"))
        if (found := _check(home, event)) is not None:
            problems.append(found)
    progress(tick("artifacts", "checking files", len(first), len(first), "artifacts"))
    return len(first), problems


def _check(home: Path, event: ArtifactWritten) -> ArtifactProblem | None:
    d = event.data

    def problem(text: str) -> ArtifactProblem:
        return ArtifactProblem(event.run_id, event.stage, d.name, d.path, text)

    path = home / d.path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return problem("missing")
    except OSError as exc:
        return problem(f"unreadable ({exc.strerror or exc})")
    if len(raw) != d.bytes:
        return problem(f"has {len(raw)} bytes, the ledger says {d.bytes}")
    digest = hashlib.sha256(raw).hexdigest()
    if d.sha256 is not None:
        return None if digest == d.sha256 else problem("its bytes no longer match the recorded SHA-256")
    if d.format == "json":
        return None if digest == d.hash else problem("its bytes no longer hash to its name")
    from schemas.frames import frame_hash, parse_parquet  # only for artifacts recorded before ArtifactWritten v2

    df = parse_parquet(raw)
    if df is None or frame_hash(df) != d.hash:
        return problem("its frame no longer hashes to its recorded frame hash")
    return None
