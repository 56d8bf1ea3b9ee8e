"""ArcticDB as a source (issue 14): bin/load-arctic, --source arcticdb+lmdb://, preflight, data versions, bin/rerun.

Acceptance 3: LMDB in a temp folder; the canary market loaded with bin/load-arctic and snapshotted; a run on the
snapshot; rows appended to a symbol; a run on the latest versions; bin/diff names the ArcticDB data-version change;
bin/rerun of the first run uses the snapshot and reports reproduced (and, once the snapshot is gone, the recorded
symbol versions). Acceptance 4: an unreadable store, a missing library and a missing benchmark symbol named in one
PreflightError before any data is read; the run ends preflight_failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from bin.diff import main as diff_main
from bin.load_arctic import main as load_main
from bin.rerun import main as rerun_main
from bin.run_pipeline import main as run_main
from ledger import LEDGER_NAME, Ledger
from schemas.events import RunStarted, StageStarted
from schemas.settings import load_settings
from stages.sources.synthetic import generate

pytest.importorskip("arcticdb", reason="arcticdb is in the test extra")

SNAP, LATEST = "20261202-000000-arc1", "20261202-000000-arc2"


def canary_market() -> pl.DataFrame:
    """A small canary market: 12 tickers + SPY, 300 sessions, every toxicity once."""
    return generate(load_settings("canary").source.model_copy(update={"symbols": 12, "sessions": 300}), 7)


def write_market(folder: Path, frame: pl.DataFrame | None = None, *, drop: str | None = None) -> pl.DataFrame:
    """The market as Parquet files, one per sector; drop leaves one ticker out."""
    frame = canary_market() if frame is None else frame
    if drop is not None:
        frame = frame.filter(pl.col("symbol") != drop)
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(frame.partition_by("sector", maintain_order=True)):
        part.write_parquet(folder / f"sector{i}.parquet")
    return frame


def started(home: Path, run_id: str) -> RunStarted:
    with Ledger.open(home, readonly=True) as ledger:
        return next(e for e in ledger.read() if isinstance(e, RunStarted) and e.run_id == run_id)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = run_main(["--quiet", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def arctic_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A store loaded by bin/load-arctic and snapshotted, a run on the snapshot, SPY appended, a run on the latest."""
    from stages.sources.arctic import open_store

    base = tmp_path_factory.mktemp("arctic")
    market, store, home = base / "market", base / "lmdb", base / "runs"
    full = canary_market()
    last = full.get_column("date").max()
    write_market(market, full.filter(pl.col("date") < last))  # the last session arrives later
    assert (
        load_main([str(market), "--uri", f"lmdb://{store}", "--library", "market", "--snapshot", "v1", "--quiet"]) == 0
    )
    uri = f"arcticdb+lmdb://{store}?library=market"
    common = ["--home", str(home), "--source", uri, "--quiet", "--no-project"]
    assert run_main([*common, "--as-of", "v1", "--run-id", SNAP]) == 0
    spy = full.filter((pl.col("symbol") == "SPY") & (pl.col("date") == last)).drop("symbol")
    lib = open_store(f"lmdb://{store}").get_library("market")
    lib.append("SPY", spy.with_columns(pl.col("date").cast(pl.Datetime("ns"))).to_pandas())
    assert run_main([*common, "--run-id", LATEST]) == 0
    return home, store, uri


def test_load_arctic_writes_one_symbol_per_ticker_and_records_nothing(
    arctic_runs: tuple[Path, Path, str], tmp_path: Path
) -> None:
    from stages.sources.arctic import open_store

    home, store, _ = arctic_runs
    lib = open_store(f"lmdb://{store}").get_library("market")
    assert "SPY" in lib.list_symbols() and len(lib.list_symbols()) == 13
    assert lib.list_snapshots(load_metadata=False) == ["v1"]
    with Ledger.open(home, readonly=True) as ledger:
        assert {e.run_id for e in ledger.read()} == {SNAP, LATEST}  # load-arctic added no run


def test_run_started_records_library_snapshot_and_each_symbol_version(arctic_runs: tuple[Path, Path, str]) -> None:
    home, _, uri = arctic_runs
    first = started(home, SNAP).data.inputs[0]
    assert first.format == "arcticdb" and first.arctic is not None
    assert first.arctic.library == "market" and first.arctic.uri == uri and first.arctic.snapshot == "v1"
    assert first.arctic.symbols is not None and first.arctic.symbols["SPY"] == 0 and first.arctic.count == 13
    second = started(home, LATEST).data.inputs[0].arctic
    assert second is not None and second.snapshot is None and second.symbols is not None
    assert second.symbols["SPY"] == 1 and second.symbols["S0001"] == 0
    assert second.symbols_sha256 != first.arctic.symbols_sha256


def test_diff_names_the_arcticdb_data_version_change(
    arctic_runs: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    home, _, _ = arctic_runs
    diff_main(["--home", str(home), SNAP, LATEST])
    out = capsys.readouterr().out
    assert "arcticdb market" in out and "snapshot v1" in out and "as of latest" in out
    assert "arcticdb market SPY" in out and "v0" in out and "v1" in out


def test_rerun_of_the_snapshot_run_uses_the_snapshot_and_reproduces(
    arctic_runs: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    home, store, _ = arctic_runs
    assert rerun_main(["--home", str(home), SNAP, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ArcticDB snapshot v1 of library market" in out and "reproduced: identical stage outputs" in out


def test_rerun_without_the_snapshot_reads_the_recorded_versions(
    arctic_runs: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from stages.sources.arctic import open_store

    home, store, _ = arctic_runs
    lib = open_store(f"lmdb://{store}").get_library("market")
    held = {sv.symbol: sv.version for sv in lib.list_versions(snapshot="v1")}
    lib.delete_snapshot("v1")
    lib.snapshot("v1")  # the same name now holds SPY v1: no longer what the run read
    try:
        assert rerun_main(["--home", str(home), SNAP, "--quiet", "--json"]) == 0
    finally:
        lib.delete_snapshot("v1")
        lib.snapshot("v1", versions=held)
    report = json.loads(capsys.readouterr().out)
    assert report["reproduced"] and "recorded versions of 13 symbols" in report["data_version"]
    pinned = started(home, report["run_id"]).data
    assert pinned.rerun_of == SNAP and pinned.inputs[0].arctic is not None and pinned.inputs[0].arctic.pinned
    assert pinned.inputs[0].sha256 == started(home, SNAP).data.inputs[0].sha256  # the same symbol versions


def test_preflight_names_unreadable_store_missing_library_and_benchmark_in_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    market, store, home = tmp_path / "market", tmp_path / "lmdb", tmp_path / "runs"
    write_market(market, drop="SPY")
    assert load_main([str(market), "--uri", f"lmdb://{store}", "--library", "nospy", "--quiet"]) == 0
    capsys.readouterr()
    not_a_store = tmp_path / "not-a-store"
    not_a_store.write_text("plain file\n")
    sources = [
        f"arcticdb+lmdb://{not_a_store}?library=market",
        f"arcticdb+lmdb://{store}?library=missing",
        f"arcticdb+lmdb://{store}?library=nospy",
    ]
    code, summary = run_json(capsys, "--home", str(home), *[a for s in sources for a in ("--source", s)])
    assert code == 1 and summary["status"] == "preflight_failed"
    error = summary["error"]
    assert error.startswith("preflight failed: ")
    assert f"ArcticDB store lmdb://{not_a_store} is unreadable" in error
    assert "library missing does not exist in ArcticDB store" in error and "it holds: nospy" in error
    assert "benchmark symbol SPY is in none of the ArcticDB libraries read (nospy)" in error
    with Ledger.open(home, readonly=True) as ledger:
        events = list(ledger.read())
    assert not any(isinstance(e, StageStarted) for e in events)  # no stage read any data
    assert next(e for e in events if isinstance(e, RunStarted)).data.inputs == []


@pytest.mark.parametrize(
    "uri",
    [
        "lmdb:///tmp/x?library=m",  # no arcticdb+ prefix
        "arcticdb+lmdb:///tmp/x",  # no library
        "arcticdb+lmdb://relative/path?library=m",
        "arcticdb+mongo://host?library=m",
        "arcticdb+s3://s3.host:bucket?library=m&access=KEY&secret=SECRET",  # credentials would reach the ledger
    ],
)
def test_a_bad_uri_exits_2_and_writes_nothing(uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "runs"
    assert run_main(["--home", str(home), "--source", uri, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--source" in err
    assert not home.exists()


def test_as_of_without_an_arcticdb_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["--home", str(tmp_path / "runs"), "--as-of", "v1", "--quiet"]) == 2
    assert "--as-of" in capsys.readouterr().err
    assert not (tmp_path / "runs" / LEDGER_NAME).exists()


def test_load_arctic_bad_input_exits_2_and_creates_no_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "lmdb"
    empty = tmp_path / "empty"
    empty.mkdir()
    no_symbol = tmp_path / "nosym"
    no_symbol.mkdir()
    pl.DataFrame({"date": [1], "close": [1.0]}).write_parquet(no_symbol / "a.parquet")
    cases = [
        ([str(empty), "--uri", f"lmdb://{store}", "--library", "m"], "holds no .parquet or .csv files"),
        ([str(no_symbol), "--uri", f"lmdb://{store}", "--library", "m"], "has no symbol column"),
        ([str(tmp_path / "nope"), "--uri", f"lmdb://{store}", "--library", "m"], "does not exist"),
        ([str(no_symbol), "--uri", "mongodb://host", "--library", "m"], "is not an ArcticDB URI"),
    ]
    for argv, message in cases:
        assert load_main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert not store.exists()


def test_load_arctic_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        load_main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "bin/load-arctic data/market --uri lmdb://" in out and "Business Source License 1.1" in out


def test_frame_layout_reads_one_symbol_with_a_ticker_column(tmp_path: Path) -> None:
    from schemas.settings import ArcticSettings
    from stages.sources import arctic
    from stages.sources.arctic_load import load_folder

    market, store = tmp_path / "market", tmp_path / "lmdb"
    frame = write_market(market)
    loaded = load_folder(market, f"lmdb://{store}", "frames", layout="frame", snapshot="s")
    assert loaded.versions == {"bars": 0}
    cfg = ArcticSettings(uris=[f"arcticdb+lmdb://{store}?library=frames"], layout="frame", as_of="s")
    assert arctic.preflight_problems(cfg, "SPY") == []
    assert arctic.preflight_problems(cfg, "QQQ") == [
        "benchmark symbol QQQ is in none of the ArcticDB libraries read (frames)"
    ]
    [(name, read)] = arctic.load(cfg)
    assert name == "arcticdb:frames/bars@v0" and read.height == frame.height
    assert set(read.get_column("symbol").unique()) == set(frame.get_column("symbol").unique())


def test_many_symbols_are_recorded_as_a_hash_and_an_artifact(tmp_path: Path) -> None:
    from schemas.settings import ArcticSettings
    from stages.artifacts import ArtifactStore
    from stages.sources import arctic

    store = tmp_path / "lmdb"
    lib = arctic.open_store(f"lmdb://{store}").get_library("wide", create_if_missing=True)
    tiny = pl.DataFrame({"close": [1.0, 2.0]}).to_pandas()
    for i in range(arctic.INLINE_SYMBOLS + 5):
        lib.write(f"T{i:03d}", tiny)
    cfg = ArcticSettings(uris=[f"arcticdb+lmdb://{store}?library=wide"])
    artifacts = ArtifactStore(tmp_path / "artifacts")
    [described] = arctic.describe(cfg, artifacts)
    version = described.arctic
    assert version is not None and version.symbols is None and version.symbols_ref is not None
    assert version.count == arctic.INLINE_SYMBOLS + 5 and described.rows == 2 * version.count
    listed = arctic.recorded_versions(version, artifacts.get_json)
    assert listed == {f"T{i:03d}": 0 for i in range(arctic.INLINE_SYMBOLS + 5)}
    assert arctic.versions_sha256(listed) == version.symbols_sha256 == described.sha256


def test_a_missing_extra_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from schemas.settings import ArcticSettings
    from stages.sources import arctic

    monkeypatch.setitem(sys.modules, "arcticdb", None)
    cfg = ArcticSettings(uris=["arcticdb+lmdb:///nowhere?library=m"])
    assert arctic.preflight_problems(cfg, "SPY") == ["ArcticDB is not installed: pip install '.[arctic]'"]


def test_only_the_adapter_imports_arcticdb() -> None:
    root = Path(__file__).resolve().parents[2]
    importers = sorted(
        str(p.relative_to(root))
        for folder in ("schemas", "ledger", "stages", "projectors", "bin")
        for p in (root / folder).rglob("*.py")
        if "import arcticdb" in p.read_text(encoding="utf-8")
    )
    assert importers == ["stages/sources/arctic.py"]


def test_a_long_version_list_is_an_artifact_the_ledger_records_and_a_rerun_reads(
    arctic_runs: tuple[Path, Path, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledger import ARTIFACTS_DIR
    from schemas.events import ArtifactWritten
    from stages.artifacts import ArtifactStore
    from stages.sources import arctic

    home, _, uri = arctic_runs
    monkeypatch.setattr(arctic, "INLINE_SYMBOLS", 5)
    run_id = "20261202-000000-arc3"
    assert run_main(["--home", str(home), "--source", uri, "--run-id", run_id, "--quiet"]) == 0
    version = started(home, run_id).data.inputs[0].arctic
    assert version is not None and version.symbols is None and version.symbols_ref is not None
    listed = arctic.recorded_versions(version, ArtifactStore(home / ARTIFACTS_DIR).get_json)
    assert len(listed) == 13 and listed["SPY"] == 1
    with Ledger.open(home, readonly=True) as ledger:
        written = [e for e in ledger.read() if isinstance(e, ArtifactWritten) and e.run_id == run_id]
    assert version.symbols_ref.hash in {e.data.hash for e in written}
    from bin.verify import main as verify_main

    capsys.readouterr()
    assert verify_main(["--home", str(home)]) == 0  # the listing's file is checked like any artifact
    capsys.readouterr()
    assert rerun_main(["--home", str(home), run_id, "--quiet"]) == 0
    assert "reproduced: identical stage outputs" in capsys.readouterr().out


def test_as_of_a_version_number_or_a_timestamp(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from schemas.settings import ArcticSettings
    from stages.sources import arctic

    store = tmp_path / "lmdb"
    lib = arctic.open_store(f"lmdb://{store}").get_library("m", create_if_missing=True)
    frame = pl.DataFrame({"close": [1.0]}).to_pandas()
    lib.write("SPY", frame)
    between = datetime.now(UTC).isoformat()
    lib.write("SPY", frame)
    lib.write("NEW", frame)
    uri = f"arcticdb+lmdb://{store}?library=m"

    def at(as_of: str | None) -> dict[str, int]:
        return arctic.resolve_versions(lib, ArcticSettings(uris=[uri], as_of=as_of), 0)[0]

    assert at(None) == {"NEW": 0, "SPY": 1}
    assert at(between) == {"SPY": 0}  # NEW did not exist then
    with pytest.raises(arctic.ArcticSourceError, match="symbol NEW has no version 1"):
        at("1")
    problems = arctic.preflight_problems(ArcticSettings(uris=[uri], as_of="nosuch"), "SPY")
    assert problems == [
        "library m: as-of 'nosuch' is neither a snapshot of the library, a version number nor an ISO timestamp"
    ]


def test_a_rerun_of_versions_pruned_since_is_refused_naming_them(tmp_path: Path) -> None:
    from schemas.events import ArcticVersion
    from schemas.settings import ArcticSettings
    from stages.sources import arctic

    store = tmp_path / "lmdb"
    lib = arctic.open_store(f"lmdb://{store}").get_library("m", create_if_missing=True)
    frame = pl.DataFrame({"close": [1.0]}).to_pandas()
    lib.write("SPY", frame)
    lib.write("SPY", frame)
    uri = f"arcticdb+lmdb://{store}?library=m"
    recorded = ArcticVersion(
        uri=uri, library="m", count=1, symbols_sha256=arctic.versions_sha256({"SPY": 0}), symbols={"SPY": 0}
    )
    cfg = ArcticSettings(uris=[uri])
    pinned, how = arctic.rerun_settings(cfg, [recorded], None)
    assert pinned.versions == [(0, "SPY", 0)] and "recorded versions of 1 symbols" in how
    lib.delete("SPY", versions=0)
    with pytest.raises(arctic.ArcticSourceError, match="library m no longer holds SPY v0"):
        arctic.rerun_settings(cfg, [recorded], None)


def test_one_arctic_instance_per_lmdb_path_with_a_map_size_that_fits(tmp_path: Path) -> None:
    from stages.sources import arctic

    store = tmp_path / "lmdb"
    first = arctic.open_store(f"lmdb://{store}", incoming_bytes=10_000_000)
    assert arctic.open_store(f"lmdb://{store}/") is first
    assert arctic.open_store(f"lmdb://{store}?map_size=2GB") is first  # the path decides, not the options
    assert arctic.fitting_map_size(tmp_path / "none") == "64MB"
    assert arctic.fitting_map_size(tmp_path / "none", 10_000_000) == "144MB"
    held = int(arctic.fitting_map_size(store).removesuffix("MB"))
    assert held >= 64 + 2 * sum(p.stat().st_size for p in store.rglob("*.mdb")) // 1_000_000


def test_a_run_on_the_frame_layout_set_in_the_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    market, store, home = tmp_path / "market", tmp_path / "lmdb", tmp_path / "runs"
    write_market(market)
    assert load_main([str(market), "--uri", f"lmdb://{store}", "--library", "f", "--layout", "frame", "--quiet"]) == 0
    capsys.readouterr()
    uri = f"arcticdb+lmdb://{store}?library=f"
    code, summary = run_json(capsys, "--home", str(home), "--source", uri, "--set", 'source.arctic.layout="frame"')
    assert code == 0 and summary["status"] == "succeeded"
    version = started(home, summary["run_id"]).data.inputs[0].arctic
    assert version is not None and version.layout == "frame" and version.symbols == {"bars": 0}
