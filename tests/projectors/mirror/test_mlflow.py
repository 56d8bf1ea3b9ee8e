"""The MLflow mirror against the default SQLite store and a real `mlflow server`: one contract, two stores."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

from mlflow.store.tracking.rest_store import RestStore  # noqa: E402
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from projectors.errors import MirrorUnavailableError  # noqa: E402
from projectors.mirror import replay as mirror  # noqa: E402
from tests.support.mlflow_fixtures import (  # noqa: E402
    MlflowServer,
    TcpProxy,
    append,
    dump_store,
    epoch_of,
    run_events,
    run_id,
    tag,
)


class Mirror:
    """A home whose ledger only grows, mirrored into one store; each test appends runs of its own."""

    def __init__(
        self, home: Path, uri: str | None, scratch: Path, template: Path, server: MlflowServer | None = None
    ) -> None:
        self.home, self.uri, self.scratch, self.template, self.server = home, uri, scratch, template, server
        self._numbers = itertools.count(1)

    @property
    def tracking_uri(self) -> str:
        return self.uri or mirror.default_tracking_uri(self.home)

    def new_run(self, metrics: int = 30, **kw: Any) -> int:
        n = next(self._numbers)
        append(self.home, run_events(self.home, n, metrics, **kw))
        return n

    def replay(self, **kw: Any) -> mirror.ReplayReport:
        return mirror.replay(self.home, tracking_uri=self.uri, **kw)

    def dump(self) -> dict[str, Any]:
        """What the store holds; a test server's is read from its own SQLite file (an HTTP request per metric
        history otherwise: most of a test's time), with the artifacts it keeps in a folder."""
        if self.server is None:
            return dump_store(self.tracking_uri)
        return dump_store(self.server.backend, self.server.artifacts)

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def find(self, n: int) -> Any:
        client = self.client()
        exp = client.get_experiment_by_name("ledgerline-momentum")
        runs = client.search_runs([exp.experiment_id], f"tags.`ledger.run_id` = '{run_id(n)}'")
        assert len(runs) == 1, f"expected exactly one MLflow run for ledger run {n}, got {len(runs)}"
        return runs[0]

    def fresh_sqlite(self) -> str:
        """An empty SQLite store (a copy of a pre-initialized one: creating the tables costs seconds)."""
        path = self.scratch / f"fresh-{next(self._numbers)}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"


class MirrorContract:
    """What the mirror promises on any tracking store; subclasses provide the `m` fixture and store class."""

    store_class: type

    def test_run_reads_back_with_original_times_and_steps(self, m: Mirror) -> None:
        n = m.new_run(metrics=12)
        m.replay()
        run = m.find(n)
        assert run.info.run_name == run_id(n)
        assert run.info.status == "FINISHED"
        assert run.info.start_time == epoch_of(n, 0) and run.info.end_time == epoch_of(n, 22)
        assert run.data.params["selection.top_k"] == str(10 + n) and run.data.params["features.hurst"] == "true"
        assert run.data.tags["ledger.pipeline"] == "momentum" and run.data.tags["ledger.status"] == "succeeded"
        history = m.client().get_metric_history(run.info.run_id, "sharpe")
        assert [(h.step, h.timestamp, h.value) for h in history] == [
            (i // 3, epoch_of(n, 8 + i), i / 7 + n) for i in range(0, 12, 3)
        ]
        assert run.data.metrics["sharpe/AAA"] == 1.5 + n

    def test_failed_run_is_failed(self, m: Mirror) -> None:
        n = m.new_run(metrics=3, status="failed")
        m.replay()
        run = m.find(n)
        assert run.info.status == "FAILED" and run.data.tags["ledger.error"] == "boom"

    def test_replaying_twice_changes_nothing(self, m: Mirror) -> None:
        m.new_run()
        m.replay()
        before = m.dump()
        again = m.replay()
        assert m.dump() == before
        assert (again.runs, again.metrics, again.params) == (0, 0, 0)
        assert again.requests <= 2, "an up-to-date mirror only reads its witness"

    def test_2500_metrics_are_sent_in_3_requests(self, m: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
        sent: list[int] = []
        real = self.store_class.log_batch

        def counting(store: Any, run_id: str, metrics: Any, params: Any, tags: Any) -> Any:
            sent.append(len(metrics))
            return real(store, run_id, metrics, params, tags)

        n = m.new_run(metrics=2_498)  # plus one per-asset metric and one headline metric
        monkeypatch.setattr(self.store_class, "log_batch", counting)
        m.replay()
        carrying = [count for count in sent if count]  # the one other log_batch is the position mark (2 tags)
        assert sum(carrying) == 2_500 and len(carrying) == 3 and len(sent) == 4
        run = m.find(n)
        assert len(m.client().get_metric_history(run.info.run_id, "equity")) == 833

    def test_registry_follows_candidate_and_alias_tags(self, m: Mirror) -> None:
        a, b = m.new_run(metrics=3), m.new_run(metrics=3)
        append(m.home, [tag(a, "candidate", "true", 1), tag(a, "alias", "champion", 2)])
        m.replay()
        append(
            m.home,
            [
                tag(b, "candidate", "true", 3),
                tag(b, "alias", "champion", 4),
                tag(a, "alias", "challenger", 5),
                tag(b, "alias", "latest", 6),
            ],
        )
        m.replay()
        model = m.client().get_registered_model("ledgerline-momentum")
        version = {
            v.tags["ledger.run_id"]: v.version for v in m.client().search_model_versions("name = 'ledgerline-momentum'")
        }
        assert model.aliases["champion"] == version[run_id(b)] and model.aliases["challenger"] == version[run_id(a)]
        assert "latest" not in model.aliases, "reserved alias names are not mirrored into the registry"
        append(m.home, [tag(a, "alias", "champion", 7)])  # rollback is just another tag
        m.replay()
        model = m.client().get_registered_model("ledgerline-momentum")
        assert model.aliases["champion"] == version[run_id(a)]
        assert m.find(a).data.tags["aliases"] == "challenger,champion"
        assert m.find(b).data.tags["aliases"] == "", "the run that lost the alias is retagged"
        mv = m.client().get_model_version("ledgerline-momentum", version[run_id(a)])
        assert mv.source.endswith("/manifest") and mv.tags["candidate"] == "true"

    def test_an_alias_moved_by_hand_is_put_back_by_the_next_replay(self, m: Mirror) -> None:
        a, b = m.new_run(metrics=3), m.new_run(metrics=3)
        append(m.home, [tag(a, "candidate", "true", 1), tag(b, "candidate", "true", 2), tag(a, "alias", "steady", 3)])
        m.replay()
        client, name = m.client(), "ledgerline-momentum"
        version = {v.tags["ledger.run_id"]: v.version for v in client.search_model_versions(f"name = '{name}'")}
        before = client.get_registered_model(name).aliases
        assert before["steady"] == version[run_id(a)]
        client.set_registered_model_alias(name, "steady", version[run_id(b)])  # as in the MLflow UI
        client.set_registered_model_alias(name, "made-up", version[run_id(b)])
        said: list[str] = []
        again = m.replay(progress=said.append)  # the ledger did not move: an up-to-date replay still checks
        assert client.get_registered_model(name).aliases == before
        assert again.aliases == 2 and again.runs == 0
        assert any("alias steady pointed at version" in line and "restored" in line for line in said), said
        client.delete_registered_model_alias(name, "steady")
        m.new_run(metrics=3)  # and a replay that has new events to send checks them too
        m.replay()
        assert client.get_registered_model(name).aliases == before

    def test_incremental_mirror_equals_rebuild_into_empty_store(self, m: Mirror) -> None:
        m.new_run()
        m.replay()
        fresh = m.fresh_sqlite()
        mirror.replay(m.home, tracking_uri=fresh, rebuild=True)
        assert dump_store(fresh) == m.dump()


@pytest.fixture(scope="module")
def sqlite_mirror(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Mirror:
    root = tmp_path_factory.mktemp("sqlite-mirror")
    (root / "home").mkdir()
    shutil.copyfile(mlflow_template, root / "home" / "mlflow.db")
    return Mirror(root / "home", None, root, mlflow_template)


class TestSqliteMirror(MirrorContract):
    store_class = SqlAlchemyStore

    @pytest.fixture
    def m(self, sqlite_mirror: Mirror) -> Mirror:
        return sqlite_mirror


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[MlflowServer]:
    srv = MlflowServer(tmp_path_factory.mktemp("mlflow-server"), mlflow_template)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def server_link(mlflow_server: MlflowServer) -> Iterator[TcpProxy]:
    """The way to the server that tests cut and restore (a proxy: restarting `mlflow server` costs seconds)."""
    link = TcpProxy(mlflow_server.port)
    link.start()
    yield link
    link.stop()


@pytest.fixture(autouse=False)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the client's own retry loop short, so a dead server is reported in seconds."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


@pytest.fixture(scope="module")
def server_mirror(
    tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path, mlflow_server: MlflowServer, server_link: TcpProxy
) -> Mirror:
    root = tmp_path_factory.mktemp("server-mirror")
    return Mirror(root / "home", server_link.uri, root, mlflow_template, mlflow_server)


class TestServerMirror(MirrorContract):
    store_class = RestStore

    @pytest.fixture
    def m(self, server_mirror: Mirror) -> Mirror:
        return server_mirror

    @pytest.mark.usefixtures("fast_retries")
    def test_server_down_mid_replay_then_resume_without_duplicates(
        self, m: Mirror, mlflow_server: MlflowServer, server_link: TcpProxy
    ) -> None:
        first, second = m.new_run(metrics=300), m.new_run(metrics=300)

        def kill_after_first_run(line: str) -> None:
            if run_id(first) in line:
                server_link.stop()

        with pytest.raises(MirrorUnavailableError) as err:
            m.replay(progress=kill_after_first_run)
        assert server_link.uri in str(err.value) and "rerun" in str(err.value)
        with pytest.raises(MirrorUnavailableError):
            m.replay()
        server_link.start()
        m.replay()
        fresh = m.fresh_sqlite()
        mirror.replay(m.home, tracking_uri=fresh, rebuild=True)
        assert m.dump() == dump_store(fresh)
        for n in (first, second):
            run = m.find(n)
            history = m.client().get_metric_history(run.info.run_id, "equity")
            assert len(history) == 100 and len({(h.step, h.timestamp, h.value) for h in history}) == 100
        assert metric_rows_in(mlflow_server.backend) == metric_rows_in(fresh)


def metric_rows_in(uri: str) -> int:
    import sqlite3

    with sqlite3.connect(uri.removeprefix("sqlite:///")) as db:
        return int(db.execute("select count(*) from metrics").fetchone()[0])
