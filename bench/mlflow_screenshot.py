"""Screenshot of the MLflow UI showing a mirrored run: replay, serve the store, open the run page in headless Chromium."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1400,1000",
    "--virtual-time-budget=15000",
)


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium binary to use, or None when there is none on this machine."""
    if explicit:
        return explicit if Path(explicit).exists() else None
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def demo_home(folder: Path) -> Path:
    """A home with a small synthetic history (three runs, candidates, champion/challenger), for a demo screenshot."""
    from tests.support.mlflow_fixtures import append, standard_history

    home = folder / "home"
    for batch in standard_history(home, metrics=60):
        append(home, batch)
    return home


def serve(backend: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`mlflow server` on 127.0.0.1 over the mirrored store, waited for until /health answers."""
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        str(log.parent / "served-artifacts"),
    ]
    from tests.support.mlflow_fixtures import SERVER_ENV  # no telemetry, no job runner

    env = {**os.environ, **SERVER_ENV}
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mlflow server exited; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise SystemExit("mlflow server did not answer /health within 120 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


def run_page(uri: str, base: str, ledger_run: str | None) -> str:
    """URL of the run page of a mirrored run (the given ledger run, else the champion, else the latest)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exps = [e for e in client.search_experiments() if e.name.startswith("ledgerline-")]
    if not exps:
        raise SystemExit("the store holds no mirrored runs; replay a ledger first")
    where = f"tags.`ledger.run_id` = '{ledger_run}'" if ledger_run else "tags.aliases LIKE '%champion%'"
    runs = client.search_runs([e.experiment_id for e in exps], where, order_by=["attributes.start_time DESC"])
    runs = runs or client.search_runs([e.experiment_id for e in exps], order_by=["attributes.start_time DESC"])
    run = runs[0]
    return f"{base}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"


def render(chromium: str, url: str, out: Path) -> str:
    """Load url in headless Chromium (a throwaway profile), save a PNG and return the DOM after its scripts ran.

    One browser start does both: the MLflow UI's bundle is most of the cost, and it is loaded once.
    """
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}", "--dump-dom", url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if done.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        raise SystemExit(f"chromium failed ({done.returncode}): {done.stderr[-1500:]}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__,
        epilog="example: .venv/bin/python bench/mlflow_screenshot.py --home runs --out /tmp/mlflow-run.png",
    )
    p.add_argument(
        "--home",
        type=Path,
        help="a ledgerline home to mirror (default: ./runs from `make run` if it "
        "exists, else a small synthetic demo history)",
    )
    p.add_argument("--run", help="ledger run id to show (default: the champion, else the latest run)")
    p.add_argument("--out", type=Path, default=Path("/tmp/mlflow-run.png"))
    p.add_argument("--chromium", help="path of the Chromium binary (default: found on PATH)")
    p.add_argument(
        "--expect",
        action="append",
        default=[],
        help="fail unless the rendered run page contains this text (e.g. the ledger run id); repeatable",
    )
    args = p.parse_args(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("skipped: no Chromium found (apt-get install chromium, or pass --chromium PATH)")
        return 0
    from projectors.mirror import replay as mirror
    from projectors.mirror.sink import forget_engines  # noqa: F401  (imports mlflow once, before the server)

    with tempfile.TemporaryDirectory(prefix="mlflow-screenshot-") as tmp:
        made = ROOT / "runs"
        home = args.home or (made if (made / "audit.jsonl").exists() else demo_home(Path(tmp)))
        print(mirror.replay(home))
        uri = mirror.default_tracking_uri(home)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = serve(uri, port, Path(tmp) / "server.log")
        try:
            url = run_page(uri, f"http://127.0.0.1:{port}", args.run)
            text = render(chromium, url, args.out.resolve())
            missing = [e for e in args.expect if e not in text]
            if missing:
                raise SystemExit(f"the run page at {url} does not show {', '.join(map(repr, missing))}")
        finally:
            stop(server)
    print(f"saved {args.out} ({args.out.stat().st_size:,} bytes) of {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
