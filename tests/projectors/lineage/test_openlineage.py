"""bin/replay --to openlineage: events valid against OpenLineage 2-0-2, the mapping, HTTP delivery, resume, witness."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from bin import replay as replay_cli
from bin import verify as verify_cli
from ledger import Ledger
from projectors.errors import LineageDivergedError, LineageUnavailableError
from projectors.lineage.mapping import run_uuid
from projectors.registry import open_model
from projectors.witness import witnesses
from schemas.events import (
    ArtifactRef,
    ArtifactWrittenData,
    CodeVersion,
    DataContractCheckedData,
    DataInput,
    RowsDroppedData,
    RunCompletedData,
    RunStartedData,
    StageCompletedData,
    StageFailedData,
    StageStartedData,
    envelope,
)
from tests.support.openlineage_kit import Receiver, read_jsonl, validate
from tests.support.readmodel_contract import contract_run, rehash_from

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
GOOD, BAD = "20260301-090000-aaaa", "20260301-091000-bbbb"


def _artifact(home: Path, name: str, df: pl.DataFrame) -> tuple[ArtifactRef, ArtifactWrittenData]:
    folder = home / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "tmp.parquet"
    df.write_parquet(tmp, statistics=False)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    tmp.rename(folder / f"{digest}.parquet")
    size = (folder / f"{digest}.parquet").stat().st_size  # named by its file hash here; sha256 records the same
    return (
        ArtifactRef(name=name, hash=digest, rows=df.height, sha256=digest, bytes=size),
        ArtifactWrittenData(
            name=name,
            hash=digest,
            format="parquet",
            rows=df.height,
            sha256=digest,
            bytes=size,
            path=f"artifacts/{digest}.parquet",
        ),
    )


def lineage_home(home: Path) -> Path:
    """Two runs: GOOD (ingest, validate with a failed check and dropped rows, a postflight check) and BAD (a stage fails)."""
    home.mkdir(parents=True, exist_ok=True)
    raw, raw_w = _artifact(home, "raw", pl.DataFrame({"symbol": ["A", "B", None], "close": [1.0, None, 3.0]}))
    clean, clean_w = _artifact(home, "clean", pl.DataFrame({"symbol": ["A"], "close": [1.0]}))
    clock = iter(T0 + timedelta(seconds=s) for s in range(10_000))
    started = RunStartedData(
        pipeline="quant",
        profile="canary",
        params={"k": 1},
        config_hash="c" * 64,
        code_version=CodeVersion(git_sha="abc123", dirty=False),
        packages={},
        inputs=[DataInput(name="prices/a.csv", sha256="d" * 64, rows=3, format="csv")],
        seed=1,
    )

    def ev(data: object, run: str, stage: str | None = None):  # noqa: ANN202
        return envelope(data, run_id=run, stage=stage, ts=next(clock))  # type: ignore[arg-type]

    good = [
        ev(started, GOOD),
        ev(StageStartedData(inputs=[]), GOOD, "ingest"),
        ev(raw_w, GOOD, "ingest"),
        ev(StageCompletedData(rows_in=3, rows_out=3, duration_s=0.1, outputs=[raw]), GOOD, "ingest"),
        ev(StageStartedData(inputs=[raw]), GOOD, "validate"),
        ev(
            DataContractCheckedData(
                contract="tier1",
                tier=1,
                check="not_null_close",
                column="close",
                status="failed",
                failed=1,
                total=3,
                action="dropped",
            ),
            GOOD,
            "validate",
        ),
        ev(
            DataContractCheckedData(
                contract="tier1",
                tier=1,
                check="positive_close",
                column="close",
                status="passed",
                failed=0,
                total=3,
                action="none",
            ),
            GOOD,
            "validate",
        ),
        ev(RowsDroppedData(contract="tier1", check="not_null_close", reason="null_close", count=1), GOOD, "validate"),
        ev(RowsDroppedData(contract="tier1", check="not_null_symbol", reason="null_symbol", count=1), GOOD, "validate"),
        ev(clean_w, GOOD, "validate"),
        ev(StageCompletedData(rows_in=3, rows_out=1, duration_s=0.1, outputs=[clean]), GOOD, "validate"),
        ev(
            DataContractCheckedData(
                contract="postflight", tier=3, check="outputs_parse", status="passed", failed=0, total=2, action="none"
            ),
            GOOD,
            "postflight",
        ),
        ev(RunCompletedData(status="succeeded", duration_s=1.0), GOOD),
    ]
    bad = [
        ev(started, BAD),
        ev(StageStartedData(inputs=[]), BAD, "ingest"),
        ev(
            StageFailedData(error_type="IngestError", message="prices/a.csv: no such file", traceback_tail="line 3"),
            BAD,
            "ingest",
        ),
        ev(RunCompletedData(status="failed", duration_s=0.5, error="ingest: prices/a.csv: no such file"), BAD),
    ]
    with Ledger.open(home) as ledger:
        ledger.append(good)
        ledger.append(bad)
    return home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return lineage_home(tmp_path / "home")


def replayed(home: Path, **options: object) -> list[dict]:
    model = open_model("openlineage", home, options)
    model.catch_up()
    return read_jsonl(home / "openlineage.jsonl")


def by_job(events: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in events:
        out.setdefault(e["job"]["name"], []).append(e)
    return out


# ---------------------------------------------------------------- 1. valid against the spec


def test_every_event_and_facet_validates_against_openlineage_2_0_2(home: Path, two_runs: Path) -> None:
    events = replayed(home) + replayed(two_runs)
    assert validate(events) > 40  # facets checked one by one against the schema their _schemaURL names


def test_the_validator_really_checks_date_times_and_facets(home: Path) -> None:
    import jsonschema

    events = replayed(home)
    broken = json.loads(json.dumps(events[0]))
    broken["eventTime"] = "yesterday at nine"
    with pytest.raises(jsonschema.ValidationError):
        validate([broken])
    broken = json.loads(json.dumps(events[0]))
    del broken["run"]["facets"]["ledgerline"]["headHash"]
    with pytest.raises(jsonschema.ValidationError):
        validate([broken])


def test_the_custom_facet_schemas_ship_as_package_data() -> None:
    from projectors.lineage.facets import SCHEMA_BASE, schema_files

    files = schema_files()
    assert {"LedgerlineRunFacet.json", "LedgerlineRowsDroppedRunFacet.json"} <= set(files)
    for name, text in files.items():
        assert json.loads(text)["$id"] == SCHEMA_BASE + name


# ---------------------------------------------------------------- the mapping


def test_runs_and_stage_runs_have_one_start_and_one_terminal_with_derived_ids(home: Path) -> None:
    events = replayed(home)
    jobs = by_job(events)
    assert set(jobs) == {"quant", "quant.ingest", "quant.validate"}
    ids: dict[str, list[str]] = {}
    for e in events:
        ids.setdefault(e["run"]["runId"], []).append(e["eventType"])
    assert sorted(ids.values()) == sorted([["START", "COMPLETE"]] * 3 + [["START", "FAIL"]] * 2)
    assert run_uuid(GOOD) in ids and run_uuid(GOOD, "validate") in ids
    stage = next(e for e in jobs["quant.validate"] if e["eventType"] == "COMPLETE")
    parent = stage["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == run_uuid(GOOD) and (parent["job"]["namespace"], parent["job"]["name"]) == (
        "ledgerline",
        "quant",
    )
    assert all(e["job"]["namespace"] == "ledgerline" for e in events)
    times = [e["eventTime"] for e in events]
    assert times[0] == T0.isoformat() and times == sorted(times)


def test_datasets_carry_schema_metrics_assertions_and_rows_dropped(home: Path) -> None:
    jobs = by_job(replayed(home))
    done = next(e for e in jobs["quant.validate"] if e["eventType"] == "COMPLETE")
    (raw,) = done["inputs"]
    assert raw["namespace"] == "file" and raw["name"].endswith(".parquet") and Path(raw["name"]).is_file()
    assert [f["name"] for f in raw["facets"]["schema"]["fields"]] == ["symbol", "close"]
    metrics = raw["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == 3 and {c: m["nullCount"] for c, m in metrics["columnMetrics"].items()} == {
        "symbol": 1,
        "close": 1,
    }
    assertions = raw["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["success"], a["column"]) for a in assertions] == [
        ("not_null_close", False, "close"),
        ("positive_close", True, "close"),
    ]
    assert done["run"]["facets"]["ledgerlineRowsDropped"]["rowsDropped"] == {"null_close": 1, "null_symbol": 1}
    (clean,) = done["outputs"]
    assert clean["outputFacets"]["outputStatistics"]["rowCount"] == 1 and "schema" in clean["facets"]
    ingest = next(e for e in jobs["quant.ingest"] if e["eventType"] == "COMPLETE")
    assert [d["name"] for d in ingest["inputs"]] == ["prices/a.csv"]
    pipeline_end = [e for e in jobs["quant"] if e["eventType"] == "COMPLETE"][0]
    post = pipeline_end["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [a["assertion"] for a in post] == ["outputs_parse"]


def test_the_ledgerline_facet_names_the_seq_range_head_hash_config_and_code(home: Path) -> None:
    events = replayed(home)
    with Ledger.open(home, readonly=True) as ledger:
        hashes = {e.seq: e.hash for e in ledger.read()} if hasattr(ledger, "read") else None
    end = [e for e in by_job(events)["quant"] if e["eventType"] == "COMPLETE"][0]["run"]["facets"]["ledgerline"]
    assert (end["firstSeq"], end["lastSeq"], end["ledgerRunId"]) == (1, 13, GOOD)
    assert end["configHash"] == "c" * 64 and end["codeVersion"] == {"gitSha": "abc123", "dirty": False}
    from ledger import line_hash

    assert end["headHash"] == line_hash(home / "audit.jsonl", 13)
    del hashes


# ---------------------------------------------------------------- 4. failures


def test_a_failed_check_is_a_failing_assertion_and_a_failed_run_ends_with_fail_and_its_error(home: Path) -> None:
    jobs = by_job(replayed(home))
    failing = [
        a
        for e in jobs["quant.validate"]
        for d in e["inputs"]
        for a in d.get("inputFacets", {}).get("dataQualityAssertions", {}).get("assertions", [])
        if not a["success"]
    ]
    assert [a["assertion"] for a in failing] == ["not_null_close"]
    bad = [e for e in jobs["quant"] if e["run"]["runId"] == run_uuid(BAD)]
    assert [e["eventType"] for e in bad] == ["START", "FAIL"]
    assert bad[-1]["run"]["facets"]["errorMessage"]["message"] == "failed: ingest: prices/a.csv: no such file"
    stage = [e for e in jobs["quant.ingest"] if e["run"]["runId"] == run_uuid(BAD, "ingest")]
    assert [e["eventType"] for e in stage] == ["START", "FAIL"]
    error = stage[-1]["run"]["facets"]["errorMessage"]
    assert error["message"] == "IngestError: prices/a.csv: no such file" and error["stackTrace"] == "line 3"


@pytest.mark.parametrize("status", ["preflight_failed", "postflight_failed"])
def test_preflight_and_postflight_failures_end_with_fail(tmp_path: Path, status: str) -> None:
    events = contract_run(1)
    events[-1] = envelope(
        RunCompletedData(status=status, duration_s=1.0, error="x"), run_id=events[0].run_id, ts=events[-1].ts
    )
    home = tmp_path / "h"
    home.mkdir()
    with Ledger.open(home) as ledger:
        ledger.append(events)
    out = replayed(home)
    assert out[-1]["eventType"] == "FAIL" and out[-1]["run"]["facets"]["errorMessage"]["message"] == f"{status}: x"
    validate(out)


# ---------------------------------------------------------------- resume, torn tail, witness


def test_a_torn_tail_is_cut_back_and_the_resume_equals_a_clean_replay(home: Path, tmp_path: Path) -> None:
    shutil.copytree(home, tmp_path / "clean")
    replayed(tmp_path / "clean")
    clean = (tmp_path / "clean" / "openlineage.jsonl").read_bytes()
    first = open_model("openlineage", home, {"batch_lines": 5})
    with pytest.raises(RuntimeError):
        first.catch_up(progress=lambda s: (_ for _ in ()).throw(RuntimeError("kill")) if "seq 10" in s else None)
    with open(home / "openlineage.jsonl", "ab") as f:
        f.write(b'{"eventTime": "2026-03-01T09:0')  # a kill in the middle of a write
    open_model("openlineage", home).catch_up()
    assert (home / "openlineage.jsonl").read_bytes().replace(str(home.resolve()).encode(), b"H") == clean.replace(
        str((tmp_path / "clean").resolve()).encode(), b"H"
    )


def test_position_is_a_witness_and_verify_refuses_a_rewritten_ledger(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert [w.name for w in witnesses(home)] == []  # no output yet: nothing to list, nothing to complain about
    assert verify_cli.main(["--home", str(home)]) == 0
    assert "openlineage" not in capsys.readouterr().err
    replayed(home)
    found = witnesses(home)
    assert [(w.name, w.seq) for w in found if w.name == "openlineage position"] == [("openlineage position", 17)]
    assert verify_cli.main(["--home", str(home)]) == 0
    rehash_from(home / "audit.jsonl", 5, lambda obj: obj.update(ts="2026-03-01T09:00:04.5+00:00"))
    before = (home / "openlineage.jsonl").read_bytes()
    with pytest.raises(LineageDivergedError):
        open_model("openlineage", home).catch_up()
    assert (home / "openlineage.jsonl").read_bytes() == before
    capsys.readouterr()
    assert verify_cli.main(["--home", str(home)]) == 1
    assert "WITNESS DISAGREES: openlineage position" in capsys.readouterr().err
    assert replay_cli.main(["--to", "openlineage", "--home", str(home)]) == 1


def test_the_cli_writes_to_file_with_a_namespace_and_rebuild_is_identical(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "elsewhere" / "ol.jsonl"
    assert replay_cli.main(["--to", "openlineage", "--home", str(home), "--file", str(out), "--namespace", "prod"]) == 0
    assert "17 ledger events replayed" in capsys.readouterr().out
    first = out.read_bytes()
    assert {e["job"]["namespace"] for e in read_jsonl(out)} == {"prod"}
    assert (tmp_path / "elsewhere" / "ol.jsonl.position.json").is_file()
    assert (
        replay_cli.main(
            ["--to", "openlineage", "--home", str(home), "--file", str(out), "--namespace", "prod", "--rebuild"]
        )
        == 0
    )
    assert out.read_bytes() == first
    assert replay_cli.main(["--to", "duckdb", "--home", str(home), "--file", str(out)]) == 2
    assert "openlineage only" in capsys.readouterr().err


def test_a_missing_extra_is_one_line_naming_the_install(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "openlineage.client", None)  # import fails as if not installed
    assert replay_cli.main(["--to", "openlineage", "--home", str(home)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install -e '.[openlineage]'" in err[0]


# ---------------------------------------------------------------- 3. HTTP


def test_the_http_receiver_gets_the_same_events_as_the_file(home: Path) -> None:
    file_events = replayed(home)
    with Receiver() as receiver:
        model = open_model("openlineage", home, {"url": receiver.url})
        model.catch_up()
        assert model.catch_up() == 0
    assert receiver.events == file_events
    assert set(receiver.paths) == {"/api/v1/lineage"}
    assert (home / "openlineage.http.position.json").is_file()
    assert "openlineage position" in [w.name for w in witnesses(home)]


def test_a_receiver_down_is_retried_then_one_line_naming_the_url_and_a_rerun_completes(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file_events = replayed(home)
    monkeypatch.setenv("LEDGERLINE_OPENLINEAGE_RETRIES", "2")
    monkeypatch.setenv("LEDGERLINE_OPENLINEAGE_BACKOFF", "0.01")
    with Receiver() as receiver:
        model = open_model("openlineage", home, {"url": receiver.url, "batch_lines": 3})
        sent = []
        receiver_ok = [True]

        def flaky(step: str) -> None:  # the receiver goes down partway through
            sent.append(step)
            if len(receiver.events) >= 3 and receiver_ok[0]:
                receiver.fail = True
                receiver_ok[0] = False

        with pytest.raises(LineageUnavailableError):
            model.catch_up(progress=flaky)
        attempts = receiver.attempts - len(receiver.events)
        assert attempts == 3  # the first try and two retries
        got = len(receiver.events)
        assert 3 <= got < len(file_events)
        assert replay_cli.main(["--to", "openlineage", "--home", str(home), "--url", receiver.url]) == 1
        err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("replay:")]
        assert len(err) == 1 and f"{receiver.url}/api/v1/lineage" in err[0] and "Traceback" not in err[0]
        receiver.fail = False
        assert replay_cli.main(["--to", "openlineage", "--home", str(home), "--url", receiver.url]) == 0
    assert receiver.events == file_events  # no duplicates, none missing


def test_a_receiver_that_is_not_there_is_one_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.mlflow_fixtures import free_port

    monkeypatch.setenv("LEDGERLINE_OPENLINEAGE_RETRIES", "1")
    monkeypatch.setenv("LEDGERLINE_OPENLINEAGE_BACKOFF", "0")
    url = f"http://127.0.0.1:{free_port()}"
    assert replay_cli.main(["--to", "openlineage", "--home", str(home), "--url", url]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if line.startswith("replay:")] and url in err[-1]
    assert os.path.exists(home / "openlineage.http.position.json") is False


def test_position_and_the_witness_need_no_openlineage_import(home: Path) -> None:
    import subprocess
    import sys

    replayed(home)
    code = (
        "import sys; from pathlib import Path; from projectors.witness import witnesses; "
        f"w = witnesses(Path({str(home)!r})); "
        "assert any(x.name == 'openlineage position' for x in w), w; "
        "assert not any(m.startswith('openlineage') for m in sys.modules), 'openlineage imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[3])
    assert done.returncode == 0, done.stderr


def test_sigkilled_at_random_points_and_resumed_equals_a_clean_replay(tmp_path: Path) -> None:
    import random
    import signal
    import subprocess
    import time

    home = tmp_path / "home"
    home.mkdir()
    with Ledger.open(home) as ledger:
        for n in range(1, 100):
            ledger.append(contract_run(n, metrics=2, minute=n))
    shutil.copytree(home, tmp_path / "clean")
    replayed(tmp_path / "clean")
    clean = (tmp_path / "clean" / "openlineage.jsonl").read_bytes()
    rng = random.Random(16)
    cmd = [str(Path(__file__).parents[3] / "bin" / "replay"), "--to", "openlineage", "--home", str(home)]
    env = {**os.environ, "LEDGERLINE_OPENLINEAGE_BATCH": "7"}
    for _ in range(3):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(rng.uniform(0.3, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert subprocess.run(cmd, capture_output=True, env=env).returncode == 0
    assert (home / "openlineage.jsonl").read_bytes().replace(str(home.resolve()).encode(), b"H") == clean.replace(
        str((tmp_path / "clean").resolve()).encode(), b"H"
    )
    validate(read_jsonl(home / "openlineage.jsonl")[:20])
