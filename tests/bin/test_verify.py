"""bin/verify: exit 0 intact, 1 broken or a witness disagrees (named), 2 unusable input."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import duckdb
import orjson
import pytest

from bin.verify import main
from ledger import Ledger
from projectors.witness import Witness, cross_check, witnesses
from schemas.events import MetricLogged, MetricLoggedData

ROOT = Path(__file__).resolve().parents[2]


def _home(tmp_path: Path, n: int = 8) -> Path:
    with Ledger.open(tmp_path) as ledger:
        ledger.append(
            [MetricLogged(run_id=None, data=MetricLoggedData(key="pnl", value=float(i), step=i)) for i in range(n)]
        )
    return tmp_path


def _checkpoint(home: Path, seq: int, digest: str) -> None:
    with duckdb.connect(str(home / "projections.duckdb")) as con:
        con.execute('CREATE TABLE checkpoint (seq BIGINT, hash VARCHAR, "offset" BIGINT, line_offset BIGINT)')
        con.execute("INSERT INTO checkpoint VALUES (?, ?, 0, 0)", [seq, digest])


def _rewrite_from_start(path: Path, edit_seq: int) -> None:
    """What a forger with write access does: change one event, then re-hash the whole chain."""
    prev, out = "0" * 64, b""
    for line in path.read_bytes().splitlines():
        obj = orjson.loads(line)
        obj.pop("hash")
        obj["prev"] = prev
        if obj["seq"] == edit_seq:
            obj["data"]["value"] = 1e9
        body = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        prev = hashlib.sha256(body).hexdigest()
        out += body[:-1] + b',"hash":"' + prev.encode() + b'"}\n'
    path.write_bytes(out)


def test_intact_ledger_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = _home(tmp_path)
    assert main(["--home", str(home)]) == 0
    assert "chain intact, 8 events" in capsys.readouterr().out
    assert main([str(home / "audit.jsonl"), "--json", "--deep"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["head_seq"] == 8 and report["first_bad_seq"] is None and report["witnesses"] == []


def test_edited_line_exits_1_naming_the_seq(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = _home(tmp_path)
    path = home / "audit.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"step":3', b'"step":4', 1))
    assert main(["--home", str(home)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "BROKEN at seq 4: hash does not match content" in err
    assert main(["--home", str(home), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["first_bad_seq"] == 4


def test_unusable_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no ledger at" in err and "Traceback" not in err


def test_rewritten_and_rehashed_ledger_is_caught_by_the_duckdb_witness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _home(tmp_path)
    with Ledger.open(home, readonly=True) as ledger:
        seq, digest = ledger.head()
    _checkpoint(home, seq, digest)
    assert main(["--home", str(home)]) == 0
    assert "witnesses agree: duckdb checkpoint at seq 8" in capsys.readouterr().out

    _rewrite_from_start(home / "audit.jsonl", edit_seq=2)
    assert Ledger.open(home, readonly=True).verify(deep=True).ok  # on its own the forgery verifies
    assert main(["--home", str(home)]) == 1
    err = capsys.readouterr().err
    assert "WITNESS DISAGREES: duckdb checkpoint" in err and "seq 8" in err and str(home / "projections.duckdb") in err
    assert main(["--home", str(home), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["chain_ok"] and not out["ok"] and out["witness_problems"]


def test_truncated_ledger_is_caught_by_a_witness_past_its_head(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _home(tmp_path)
    _checkpoint(home, *Ledger.open(home, readonly=True).head())
    path = home / "audit.jsonl"
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))  # the last line is gone
    assert main(["--home", str(home)]) == 1
    assert "witnessed seq 8 but the ledger ends before it" in capsys.readouterr().err


def test_mlflow_witness_of_a_server_uri_is_read_through_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _home(tmp_path)
    fake = types.ModuleType("projectors.mirror.replay")
    fake.read_witness = lambda h, uri=None: (3, "f" * 64)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "projectors.mirror.replay", fake)
    assert witnesses(home) == []  # no mlflow.db: the mirror is not consulted
    found = witnesses(home, options={"tracking_uri": "http://127.0.0.1:9"})
    assert found == [Witness("mlflow mirror", 3, "f" * 64, "http://127.0.0.1:9")]
    (problem,) = cross_check(home / "audit.jsonl", found)
    assert problem.startswith("mlflow mirror") and "seq 3" in problem


def _mirrored_home(tmp_path: Path, template: Path) -> Path:
    from projectors.mirror.replay import replay

    home = _home(tmp_path)
    shutil.copyfile(template, home / "mlflow.db")
    replay(home)
    return home


_PROBE = """
import json, sys
from bin.verify import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "loaded": sorted(m for m in ("mlflow", "sqlalchemy", "numba", "polars") if m in sys.modules)}))
"""


def test_verify_reads_a_sqlite_mirror_witness_without_importing_mlflow(tmp_path: Path, mlflow_template: Path) -> None:
    home = _mirrored_home(tmp_path, mlflow_template)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "--home", str(home), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    report, probe = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert probe == {"rc": 0, "loaded": []}, done.stderr
    assert [w["name"] for w in report["witnesses"]] == ["mlflow mirror"] and report["witnesses"][0]["seq"] == 8


def test_a_forged_sqlite_witness_disagrees(
    tmp_path: Path, mlflow_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _mirrored_home(tmp_path, mlflow_template)
    with sqlite3.connect(home / "mlflow.db") as con:
        con.execute("UPDATE experiment_tags SET value = ? WHERE key = 'ledger.head_hash'", ["e" * 64])
    assert main(["--home", str(home)]) == 1
    assert "mlflow mirror" in capsys.readouterr().err


def test_a_hot_journal_of_a_killed_mirror_is_rolled_back_and_its_witness_read(
    tmp_path: Path, mlflow_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.mlflow_fixtures import kill_mid_transaction

    home = _mirrored_home(tmp_path, mlflow_template)
    forged = "UPDATE experiment_tags SET value = ? WHERE key = 'ledger.head_hash'"
    journal = kill_mid_transaction(home / "mlflow.db", forged, ["e" * 64])
    assert main(["--home", str(home), "--json"]) == 0  # the uncommitted forgery is undone, not read
    out, err = capsys.readouterr()
    assert "half-created" not in err and "not checked" not in err, err
    report = json.loads(out)
    assert [(w["name"], w["seq"]) for w in report["witnesses"]] == [("mlflow mirror", 8)]
    assert not journal.exists()


def test_a_half_created_sqlite_store_is_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = _home(tmp_path)
    with sqlite3.connect(home / "mlflow.db") as con:
        con.execute("CREATE TABLE experiments (experiment_id INTEGER)")
    assert main(["--home", str(home)]) == 0
    assert "half-created" in capsys.readouterr().err


def test_an_unreadable_witness_is_a_note_not_a_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = _home(tmp_path)
    (home / "projections.duckdb").write_bytes(b"not a database")
    assert main(["--home", str(home)]) == 0
    assert "note: duckdb checkpoint not checked" in capsys.readouterr().err


def test_shim_runs_from_anywhere(tmp_path: Path) -> None:
    home = _home(tmp_path)
    done = subprocess.run([str(ROOT / "bin" / "verify"), str(home)], capture_output=True, text=True, cwd="/")
    assert done.returncode == 0 and "chain intact" in done.stdout
    (home / "audit.jsonl").write_bytes(b"garbage\n")
    done = subprocess.run([str(ROOT / "bin" / "verify"), str(home)], capture_output=True, text=True, cwd="/")
    assert done.returncode == 1 and "BROKEN at seq 1" in done.stderr


def _projected(tmp_path: Path) -> Path:
    from projectors.projection import catch_up

    home = _home(tmp_path)
    catch_up(home)
    return home


def test_an_edited_projection_row_is_named_by_verify_and_healed_by_catch_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from projectors.projection import catch_up

    home = _projected(tmp_path)
    assert main(["--home", str(home)]) == 0
    with duckdb.connect(str(home / "projections.duckdb")) as con:
        con.execute("UPDATE ledger.metric_logged SET value = 1e9 WHERE seq = 3")
    capsys.readouterr()
    assert main(["--home", str(home)]) == 1
    err = capsys.readouterr().err
    assert "READ MODEL DAMAGED" in err and "ledger.metric_logged was edited" in err
    said: list[str] = []
    catch_up(home, progress=said.append)
    assert any("damaged" in line and "rebuilding" in line for line in said)
    assert main(["--home", str(home)]) == 0
    with duckdb.connect(str(home / "projections.duckdb"), read_only=True) as con:
        assert con.execute("SELECT value FROM ledger.metric_logged WHERE seq = 3").fetchone() == (2.0,)


def test_a_dropped_view_or_table_is_named_and_healed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from projectors.projection import catch_up, view_names

    home = _projected(tmp_path)
    view = view_names()[0]
    with duckdb.connect(str(home / "projections.duckdb")) as con:
        con.execute(f"DROP VIEW {view} CASCADE")
        con.execute("DROP TABLE ledger.metric_logged")
    assert main(["--home", str(home)]) == 1
    err = capsys.readouterr().err
    assert "table ledger.metric_logged missing" in err and f"view {view} missing" in err
    said: list[str] = []
    catch_up(home, progress=said.append)
    assert any("table ledger.metric_logged missing" in line and "rebuilding" in line for line in said)
    assert main(["--home", str(home)]) == 0


def test_deep_verify_rebuilds_and_compares_even_when_the_digest_was_forged_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from projectors.projection import digest

    home = _projected(tmp_path)
    with duckdb.connect(str(home / "projections.duckdb")) as con:
        con.execute("UPDATE ledger.metric_logged SET value = 1e9 WHERE seq = 3")
        con.execute("UPDATE checkpoint SET digests = ?", [digest.encode(digest.all_digests(con))])
    assert main(["--home", str(home)]) == 0  # the cheap check trusts a digest forged with the rows
    assert main(["--home", str(home), "--deep"]) == 1
    assert "ledger.metric_logged differs from a rebuild" in capsys.readouterr().err


def test_deep_verify_compares_the_sqlite_mirror_with_the_ledger(
    tmp_path: Path, mlflow_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from projectors.mirror.replay import replay
    from tests.support.mlflow_fixtures import append, standard_history

    home = tmp_path / "home"
    for batch in standard_history(home, metrics=5):
        append(home, batch)
    shutil.copyfile(mlflow_template, home / "mlflow.db")
    replay(home)
    assert main(["--home", str(home), "--deep"]) == 0, capsys.readouterr().err
    with sqlite3.connect(home / "mlflow.db") as con:
        (key,) = con.execute("SELECT key FROM metrics LIMIT 1").fetchone()
        con.execute("UPDATE metrics SET value = value + 1 WHERE rowid = (SELECT min(rowid) FROM metrics)")
    capsys.readouterr()
    assert main(["--home", str(home)]) == 0  # the cheap check reads the witness only
    assert main(["--home", str(home), "--deep"]) == 1
    assert f"metric values differ from the ledger ({key}" in capsys.readouterr().err
