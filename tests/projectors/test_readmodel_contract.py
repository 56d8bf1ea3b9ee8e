"""The read-model contract (readmodel_contract.py) run against the DuckDB projection, the MLflow mirror and OpenLineage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from projectors import projection
from projectors.readmodel import ReadModel
from projectors.registry import open_model
from tests.support.readmodel_contract import ReadModelContract


class TestDuckDBContract(ReadModelContract):
    def make_model(self, home: Path) -> ReadModel:
        return open_model("duckdb", home)

    def snapshot(self, model: ReadModel) -> object:
        con = projection.connect(model.home)
        try:
            return {
                t.table: con.execute(f'SELECT * FROM ledger."{t.table}" ORDER BY seq').fetchall()
                for t in projection.TABLES
            }
        finally:
            con.close()


class TestMLflowContract(ReadModelContract):
    template: Path

    @pytest.fixture(autouse=True)
    def _template(self, mlflow_template: Path) -> None:
        self.template = mlflow_template

    def make_model(self, home: Path) -> ReadModel:
        if not (home / "mlflow.db").exists():
            shutil.copyfile(self.template, home / "mlflow.db")
        return open_model("mlflow", home)

    def snapshot(self, model: ReadModel) -> object:
        from projectors.mirror.layout import default_tracking_uri
        from tests.support.mlflow_fixtures import dump_store

        dump = dump_store(default_tracking_uri(model.home))
        for run in dump["runs"].values():
            run["tags"] = {
                k: v for k, v in run["tags"].items() if not k.startswith("mlflow.") or k == "mlflow.note.content"
            }
        return dump


class TestOpenLineageContract(ReadModelContract):
    """The OpenLineage file output; small batches so a kill can land between committed batches."""

    def make_model(self, home: Path) -> ReadModel:
        return open_model("openlineage", home, {"batch_lines": 4})

    def snapshot(self, model: ReadModel) -> object:
        out = model.home / "openlineage.jsonl"
        return out.read_bytes().replace(str(model.home.resolve()).encode(), b"<home>") if out.exists() else None
