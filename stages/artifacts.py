"""Content-addressed artifacts: frames as Parquet and documents as JSON, named by their content hash."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson
import polars as pl

from ledger import write_atomic
from schemas.events import ArtifactRef, ArtifactWrittenData
from schemas.frames import frame_hash, parse_parquet
from stages.errors import ArtifactCorruptError

Format = Literal["parquet", "json"]

#: artifacts are written once and never modified: read-only for everyone
ARTIFACT_MODE = 0o444


class ArtifactStore:
    """artifacts/<hash>.parquet|json under a home folder; written once, read-only, checked on every load."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str, fmt: Format) -> Path:
        """Where an artifact with this hash and format lives."""
        return self.root / f"{digest}.{fmt}"

    def put_frame(self, name: str, df: pl.DataFrame) -> tuple[ArtifactRef, ArtifactWrittenData]:
        """Write df once under its content hash; return its ref and the ArtifactWritten payload.

        When the file already exists (an earlier run wrote the same content) it is checked first:
        a file whose bytes do not hold this content raises ArtifactCorruptError.
        """
        digest = frame_hash(df)
        path = self.path_for(digest, "parquet")
        buf = io.BytesIO()
        df.write_parquet(buf, statistics=False)
        raw = buf.getvalue()
        sha = hashlib.sha256(raw).hexdigest()
        if path.exists():
            sha = self._check_existing(name, digest, path, sha)
        else:
            self._write_atomic(path, raw)
        ref = ArtifactRef(name=name, hash=digest, rows=df.height, sha256=sha, bytes=path.stat().st_size)
        return ref, self._written(ref, "parquet", path)

    def put_json(self, name: str, document: Any) -> tuple[ArtifactRef, ArtifactWrittenData]:
        """Write a JSON document once under the hash of its canonical bytes."""
        raw = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha256(raw).hexdigest()
        path = self.path_for(digest, "json")
        if not path.exists():
            self._write_atomic(path, raw)
        else:
            self._read_checked(ArtifactRef(name=name, hash=digest, sha256=digest, bytes=len(raw)), "json")
        ref = ArtifactRef(name=name, hash=digest, sha256=digest, bytes=len(raw))
        return ref, self._written(ref, "json", path)

    def get_frame(self, ref: ArtifactRef) -> pl.DataFrame:
        """Load the frame a ref points to, after checking the file is what the ref says (ArtifactCorruptError)."""
        raw = self._read_checked(ref, "parquet")
        df = parse_parquet(raw)
        if ref.sha256 is None and (df is None or frame_hash(df) != ref.hash):
            raise ArtifactCorruptError(ref.name, ref.hash, "its content no longer hashes to its name")
        assert df is not None  # a file matching its recorded sha256 is the Parquet that was written
        return df

    def checked_path(self, ref: ArtifactRef) -> Path:
        """The path of a Parquet artifact whose bytes were checked against the ref, for a lazy or partial read."""
        if ref.sha256 is None:
            self.get_frame(ref)
        else:
            self._read_checked(ref, "parquet")
        return self.path_for(ref.hash, "parquet")

    def get_json(self, ref: ArtifactRef) -> Any:
        """Load the JSON document a ref points to (its hash is the SHA-256 of its bytes, checked)."""
        raw = self._read_checked(ref.model_copy(update={"sha256": ref.hash}), "json")
        return orjson.loads(raw)

    def _read_checked(self, ref: ArtifactRef, fmt: Format) -> bytes:
        """The file's bytes, after checking its size and SHA-256 where the ref records them."""
        path = self.path_for(ref.hash, fmt)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ArtifactCorruptError(ref.name, ref.hash, f"{path.name} is missing") from None
        if ref.bytes is not None and len(raw) != ref.bytes:
            raise ArtifactCorruptError(ref.name, ref.hash, f"it has {len(raw)} bytes, its ref says {ref.bytes}")
        if ref.sha256 is not None and hashlib.sha256(raw).hexdigest() != ref.sha256:
            raise ArtifactCorruptError(ref.name, ref.hash, "its bytes no longer match their recorded SHA-256")
        return raw

    def _check_existing(self, name: str, digest: str, path: Path, sha: str) -> str:
        """The SHA-256 of an existing file holding this content; ArtifactCorruptError when it does not."""
        raw = path.read_bytes()
        existing = hashlib.sha256(raw).hexdigest()
        if existing == sha:
            return sha
        df = parse_parquet(raw)  # another writer version may lay out the same content differently
        if df is None or frame_hash(df) != digest:
            raise ArtifactCorruptError(name, digest, "the existing file no longer holds the content it is named by")
        return existing

    def written(self, ref: ArtifactRef, fmt: Format) -> ArtifactWrittenData:
        """The ArtifactWritten payload of an artifact already in the store (written by a hook, recorded later)."""
        return self._written(ref, fmt, self.path_for(ref.hash, fmt))

    def _written(self, ref: ArtifactRef, fmt: Format, path: Path) -> ArtifactWrittenData:
        assert ref.bytes is not None
        return ArtifactWrittenData(
            name=ref.name, hash=ref.hash, format=fmt, rows=ref.rows, bytes=ref.bytes,
            path=str(Path(self.root.name) / path.name), sha256=ref.sha256,
        )  # fmt: skip

    def _write_atomic(self, path: Path, raw: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

        def write(f: BinaryIO) -> None:
            f.write(raw)
            os.fchmod(f.fileno(), ARTIFACT_MODE)

        write_atomic(path, write)
