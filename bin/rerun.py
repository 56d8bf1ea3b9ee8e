"""bin/rerun: re-execute a past run with its exact resolved config and data version, then compare stage by stage."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from bin._cli import EXIT_FOUND, EXIT_OK, UsageError, parser, run
from bin._progress import Reporter
from ledger import LEDGER_NAME, Ledger
from projectors.runs.diff import RunDiff, diff_runs
from schemas.context import check_run_id
from schemas.events import RunStarted, RunStartedData
from schemas.settings import Settings

PROG = "rerun"


def recorded_start(home: Path, run_id: str) -> RunStartedData:
    """The RunStarted payload of run_id, or a usage error naming the unknown id."""
    check_run_id(run_id)
    if (home / LEDGER_NAME).is_file():
        with Ledger.open(home, readonly=True) as ledger:
            for event in ledger.read():
                if isinstance(event, RunStarted) and event.run_id == run_id:
                    return event.data
    raise UsageError(
        f'unknown run id {run_id!r}: no RunStarted for it in {home} (see: bin/query "SELECT run_id FROM runs")'
    )


def recorded_settings(started: RunStartedData) -> Settings:
    """The run's resolved settings rebuilt from its params; refused when they no longer hash to its config_hash."""
    tree: dict[str, Any] = {}
    for key, value in started.params.items():
        if isinstance(value, str) and value[:1] in "[{":
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        settings = Settings.model_validate(tree)
    except ValueError as exc:
        raise UsageError(f"the recorded params no longer make valid settings: {str(exc).splitlines()[0]}") from exc
    if settings.config_hash() != started.config_hash:
        raise UsageError(
            "the recorded params no longer resolve to the recorded config_hash (the settings schema changed)"
        )
    return settings


def _first_changed(folder: Path, started: RunStartedData) -> str | None:
    """The first data file that differs from what the run read (changed, gone or new), else None."""
    from stages.sources.directory import data_files, input_name, sha256_file

    recorded = {i.name: i.sha256 for i in started.inputs}
    present = {input_name(folder, p): p for p in data_files(folder)} if folder.exists() else {}
    for name in sorted(set(recorded) | set(present)):
        if name not in present:
            return f"{name} (gone)"
        if name not in recorded:
            return f"{name} (new)"
        if sha256_file(present[name]) != recorded[name]:
            return f"{name} (content changed)"
    return None


def _arctic_version(settings: Settings, started: RunStartedData, home: Path) -> tuple[Settings, str]:
    """Settings reading the recorded ArcticDB snapshot (while it holds the recorded versions) or those versions."""
    from ledger import ARTIFACTS_DIR
    from stages.artifacts import ArtifactStore
    from stages.sources.arctic import rerun_settings

    assert settings.source.arctic is not None
    recorded = [i.arctic for i in started.inputs if i.arctic is not None]
    if len(recorded) != len(settings.source.arctic.uris):
        raise UsageError("the run recorded no ArcticDB version for each of its libraries (preflight failed?)")
    arctic, how = rerun_settings(settings.source.arctic, recorded, ArtifactStore(home / ARTIFACTS_DIR).get_json)
    return settings.model_copy(update={"source": settings.source.model_copy(update={"arctic": arctic})}), how


def data_folder(
    settings: Settings, started: RunStartedData, scratch: Path, home: Path = Path("runs")
) -> tuple[Settings, str]:
    """Settings pointing at the data the run read (its DVC version from the cache, or the same files), and how."""
    if settings.source.kind == "arcticdb" and settings.source.arctic is not None:
        return _arctic_version(settings, started, home)
    if settings.source.kind != "directory":
        return settings, f"synthetic market, seed {settings.seed}"
    folder = Path(settings.source.path or ".")
    version = next((i.dvc for i in started.inputs if i.dvc is not None), None)
    if version is not None and version.matches:
        from stages.sources.dvc import materialize

        path = materialize(folder, version, scratch)
        source = settings.source.model_copy(update={"path": str(path)})
        commit = (version.repo_commit or "no commit")[:12]
        return settings.model_copy(
            update={"source": source}
        ), f"DVC version {version.md5} of {version.path} (commit {commit})"
    changed = _first_changed(folder, started)
    if changed is not None:
        why = "and its files did not match their DVC version" if version is not None else "and it has no DVC version"
        raise UsageError(f"cannot reproduce the data: {folder}/{changed} differs from what the run read, {why}")
    return settings, f"the same files in {folder}"


def verdict(diff: RunDiff) -> dict[str, Any]:
    """reproduced, or the first divergent stage and what differs (code version, packages, data); code shown beside."""
    code = [c for c in diff.section("code_version") if not c.same]
    packages = [f"{c.key[8:]} {c.a} -> {c.b}" for c in code if c.key.startswith("package ")]
    code_version = [f"{c.key} {_short(c.a)} -> {_short(c.b)}" for c in code if not c.key.startswith("package ")]
    data = [f"{c.key}: {c.a} -> {c.b}" for c in diff.section("inputs") if not c.same and not c.key.startswith("dvc ")]
    stages = [c for c in diff.section("stages") if not c.same]
    return {
        "run_id": diff.run_b,
        "rerun_of": diff.run_a,
        "reproduced": diff.first_divergent_stage is None and not stages,
        "first_divergent_stage": diff.first_divergent_stage,
        "stage_changes": [f"{c.key}: {c.a} -> {c.b}" for c in stages],
        "code_version": code_version,
        "packages": packages,
        "data": data,
    }


def _short(value: Any) -> Any:
    return value[:12] if isinstance(value, str) and len(value) == 40 else value


def _text(report: dict[str, Any], how: str) -> str:
    lines = [f"rerun {report['run_id']} of {report['rerun_of']} on {how}"]
    if report["reproduced"]:
        lines.append("reproduced: identical stage outputs")
    else:
        lines.append(f"not reproduced: first divergent stage {report['first_divergent_stage']}")
        lines += [f"  stage   {c}" for c in report["stage_changes"][:5]]
        lines += [f"  package {c}" for c in report["packages"]]
        lines += [f"  data    {c}" for c in report["data"][:5]]
    lines.append("code version: " + ("; ".join(report["code_version"]) if report["code_version"] else "the same"))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        PROG,
        "Re-execute a past run with its exact resolved config (from RunStarted), the same pipeline and the same data "
        "version (the same seed; the same files; the recorded DVC version read from the cache even when the workspace "
        "moved on; the recorded ArcticDB snapshot, or the recorded symbol versions when it no longer holds them), record it with rerun_of, then compare the two runs stage by stage. Exit 0 when reproduced, 1 when a "
        "stage diverges, 2 on an unknown run id or data that can no longer be read as it was.",
        "bin/rerun 20260105-090000-aaaa --home runs",
    )
    p.add_argument("run_id", help="the run to re-execute")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)

    def body() -> int:
        from projectors.runs.workflow import after_run
        from stages.runner import run_pipeline

        started = recorded_start(args.home, args.run_id)
        settings = recorded_settings(started)

        with Reporter(PROG, quiet=args.quiet) as progress:
            with tempfile.TemporaryDirectory(prefix="ledgerline-rerun-") as scratch:
                settings, how = data_folder(settings, started, Path(scratch), args.home)
                progress(f"rerun of {args.run_id}: {how}")
                outcome = run_pipeline(settings, args.home, progress=progress, rerun_of=args.run_id)
            after_run(args.home, outcome.run_id, policy=settings.tagging, progress=progress)
        report = verdict(diff_runs(args.home, args.run_id, outcome.run_id))
        print(json.dumps({**report, "data_version": how}) if args.json else _text(report, how))
        return EXIT_OK if report["reproduced"] else EXIT_FOUND

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
