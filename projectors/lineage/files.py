"""What the lineage fold reads of the artifact files: where each one is, and what its Parquet footer says."""

from __future__ import annotations

from pathlib import Path

from ledger import ARTIFACTS_DIR
from schemas.events import ArtifactRef

#: artifacts larger than this are not read for null counts when their footer has no statistics
NULL_COUNT_READ_LIMIT = 64 * 1024 * 1024


class ArtifactFiles:
    """The files of a home's artifacts, with each folder's resolution remembered."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._dirs: dict[Path, Path] = {}  # artifact folder -> resolved

    def path(self, paths: dict[str, str], ref: ArtifactRef) -> Path:
        """The artifact's file: the path its ArtifactWritten gave, else artifacts/<hash>.parquet|json as found."""
        if ref.hash in paths:
            return self.resolve(self.home / paths[ref.hash])
        folder = self.home / ARTIFACTS_DIR
        for suffix in (".parquet", ".json") if ref.rows is not None else (".json", ".parquet"):
            if (folder / f"{ref.hash}{suffix}").exists():
                return self.resolve(folder / f"{ref.hash}{suffix}")
        return self.resolve(folder / f"{ref.hash}{'.parquet' if ref.rows is not None else '.json'}")

    def resolve(self, path: Path) -> Path:
        """path.resolve(), with the folder's resolution remembered: only the file itself is checked for a symlink."""
        name = path.name
        if name in ("", ".", "..") or ".." in path.parts:
            return path.resolve()
        folder = self._dirs.get(path.parent)
        if folder is None:
            folder = self._dirs[path.parent] = path.parent.resolve()
        resolved = folder / name
        return path.resolve() if resolved.is_symlink() else resolved


class Parquet:
    """What the Parquet footers of the artifacts say (schema, null counts), read once per file (artifacts never change)."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[list[tuple[str, str]], dict[str, int]] | None] = {}

    def describe(self, path: Path) -> tuple[list[tuple[str, str]], dict[str, int]] | None:
        """((column, type) pairs, column -> null count where known) of a Parquet file; None when absent or unreadable."""
        if path not in self._seen:
            self._seen[path] = self._read(path)
        return self._seen[path]

    @staticmethod
    def _read(path: Path) -> tuple[list[tuple[str, str]], dict[str, int]] | None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        if not path.is_file():  # what read_metadata would fail on, without the cost of its exception
            return None
        try:
            meta = pq.read_metadata(path)
        except (OSError, ValueError):
            return None
        schema = meta.schema.to_arrow_schema()
        fields = [(f.name, str(f.type)) for f in schema]
        nulls: dict[str, int] = {}
        known = True
        for j, name in enumerate(schema.names):
            total = 0
            for i in range(meta.num_row_groups):
                stats = meta.row_group(i).column(j).statistics
                if stats is None or not stats.has_null_count:
                    known = False
                    break
                total += stats.null_count
            if not known:
                break
            nulls[name] = total
        if not known and path.stat().st_size <= NULL_COUNT_READ_LIMIT:  # no statistics (stages write none): count them
            try:
                table = pq.read_table(path)
            except (OSError, ValueError):
                return fields, {}
            nulls = {name: table.column(name).null_count for name in table.column_names}
        elif not known:
            nulls = {}
        return fields, nulls
