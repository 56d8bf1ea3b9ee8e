"""Issue 12.3: artifacts are read-only, carry their file's SHA-256, and a tampered one is a named error, not a panic."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import polars as pl
import pytest

from ledger import Ledger
from ledger.upcasters import UPCASTERS, upcast_ArtifactWritten_v1_v2
from schemas.events import CURRENT_VERSIONS, ArtifactWritten
from stages.artifacts import ArtifactStore
from stages.errors import ArtifactCorruptError
from stages.runner import run_pipeline
from tests.support.contracts_kit import block, data_stages, events, of_type, settings, write_dir

ROOT = Path(__file__).resolve().parents[2]


def flip(path: Path, at: int | None = None) -> None:
    """Flip one byte of a (read-only) artifact in the middle of the file."""
    os.chmod(path, 0o644)
    raw = bytearray(path.read_bytes())
    i = len(raw) // 2 if at is None else at
    raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def frame() -> pl.DataFrame:
    return pl.DataFrame({"a": list(range(200)), "b": [f"s{i}" for i in range(200)], "c": [i / 7 for i in range(200)]})


def test_put_frame_writes_read_only_and_records_the_files_sha256(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    ref, written = store.put_frame("x", frame())
    path = store.path_for(ref.hash, "parquet")
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert written.sha256 == ref.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() != ref.hash
    assert written.bytes == ref.bytes == path.stat().st_size
    jref, jwritten = store.put_json("doc", {"k": 1})
    assert stat.S_IMODE(store.path_for(jref.hash, "json").stat().st_mode) == 0o444 and jwritten.sha256 == jref.hash


def test_a_flipped_byte_is_artifact_corrupt_before_polars_reads_it(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    ref, _ = store.put_frame("x", frame())
    flip(store.path_for(ref.hash, "parquet"))
    with pytest.raises(ArtifactCorruptError, match=r"artifact x \(.*\) is corrupt: its bytes no longer match"):
        store.get_frame(ref)
    # a ref from before v2 (no sha256, no size): the frame hash decides, and a polars panic stays off stderr
    with pytest.raises(ArtifactCorruptError, match="artifact x"):
        store.get_frame(ref.model_copy(update={"sha256": None, "bytes": None}))
    assert "panicked" not in capfd.readouterr().err
    path = store.path_for(ref.hash, "parquet")
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ArtifactCorruptError, match=r"has \d+ bytes, its ref says"):
        store.get_frame(ref)


def test_artifact_written_v1_reads_as_v2_with_unknown_sha256(tmp_path: Path) -> None:
    assert CURRENT_VERSIONS["ArtifactWritten"] == 2
    assert UPCASTERS[("ArtifactWritten", 1)] is upcast_ArtifactWritten_v1_v2
    data = {"name": "raw", "hash": "a" * 64, "format": "parquet", "rows": 3, "bytes": 10, "path": "artifacts/a.parquet"}
    assert upcast_ArtifactWritten_v1_v2(data) == {**data, "sha256": None}
    line = {"seq": 1, "id": "x", "ts": "2026-01-01T00:00:00Z", "run_id": None, "stage": "ingest", "prev": "0" * 64,
            "type": "ArtifactWritten", "v": 1, "data": data}  # fmt: skip
    body = orjson.dumps(line, option=orjson.OPT_SORT_KEYS)  # the writer's form: hash appended last, over the rest
    (tmp_path / "audit.jsonl").write_bytes(
        body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'
    )
    with Ledger.open(tmp_path) as ledger:
        read = list(ledger.read())
    assert len(read) == 1 and isinstance(read[0], ArtifactWritten) and read[0].v == 2 and read[0].data.sha256 is None


def _data(tmp_path: Path) -> Path:
    return write_dir(tmp_path / "data", {"SPY.parquet": block("SPY", 40), "AAA.csv": block("AAA", 40, seed=1)})


def test_a_rerun_over_a_tampered_artifact_fails_naming_the_artifact_run_and_stage(tmp_path: Path) -> None:
    home, s = tmp_path / "home", settings(source={"kind": "directory", "path": str(_data(tmp_path))})
    first = run_pipeline(s, home, stages=data_stages())
    assert first.status == "succeeded"
    (raw,) = [e for e in of_type(events(home), "ArtifactWritten") if e.data.name == "raw"]
    assert raw.data.sha256 == hashlib.sha256((home / raw.data.path).read_bytes()).hexdigest()
    flip(home / raw.data.path)
    second = run_pipeline(s, home, stages=data_stages())
    assert second.status == "failed"
    assert second.error is not None and "artifact raw" in second.error and "is corrupt" in second.error
    assert f"written by run {first.run_id} stage ingest" in second.error
    (failed,) = [e for e in of_type(events(home), "StageFailed") if e.run_id == second.run_id]
    assert failed.data.error_type == "ArtifactCorruptError" and failed.stage == "ingest"


def test_run_pipeline_over_a_tampered_artifact_is_one_line_no_panic(tmp_path: Path) -> None:
    home, data = tmp_path / "home", _data(tmp_path)
    cmd = [sys.executable, str(ROOT / "bin" / "run_pipeline.py"), "--home", str(home), "--source", str(data),
           "--no-project", "--quiet", "--set", "contracts.min_symbols=1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300).returncode == 0
    for path in (home / "artifacts").glob("*.parquet"):
        flip(path)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "panicked" not in done.stderr + done.stdout
    assert "failed (ingest: artifact raw" in done.stdout and "is corrupt" in done.stdout
