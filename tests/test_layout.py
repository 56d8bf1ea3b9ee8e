"""The package layout holds: projectors/ and stages/ import only `ledger`, never its submodules; no import cycles."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "ledger", "stages", "projectors", "bin")


def _modules() -> dict[str, Path]:
    """Every module of the product's packages, by dotted name (a package by its own name)."""
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(path: Path, name: str, known: frozenset[str] = frozenset()) -> Iterator[tuple[str, int]]:
    """(imported module, line) of every import in a file, at module level, in functions, under TYPE_CHECKING alike.

    `from pkg import sub` counts as importing pkg.sub alone when that is a module in known.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            subs = [f"{base}.{alias.name}" for alias in node.names]
            if not known or not all(sub in known for sub in subs):
                yield base, node.lineno
            for sub in subs:
                yield sub, node.lineno


def _edges(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, _ in _imports(path, name, frozenset(modules)):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def _ledger_submodule_imports(modules: dict[str, Path]) -> list[str]:
    """`file:line imports ledger.x` for every import of a ledger submodule from projectors/ or stages/."""
    known = frozenset(modules)
    return [
        f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line} imports {target}"
        for name, path in modules.items()
        if name.split(".")[0] in ("projectors", "stages")
        for target, line in _imports(path, name, known)
        if target.startswith("ledger.") and target in known
    ]


def test_projectors_and_stages_import_only_the_ledger_package() -> None:
    assert _ledger_submodule_imports(_modules()) == []


def test_the_submodule_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    path = tmp_path / "probe.py"
    path.write_text(
        "from ledger import Ledger\ndef f():\n    from ledger.codec import canonical\n    import ledger.lines\n"
    )
    modules = {**_modules(), "projectors.probe": path}
    found = _ledger_submodule_imports(modules)
    assert [f.split(" imports ")[1] for f in found] == ["ledger.codec", "ledger.lines"]


def test_no_import_cycles_counting_deferred_imports() -> None:
    assert _cycle(_edges(_modules())) is None


def test_the_cycle_check_finds_a_deferred_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _projectors_importing_stages(modules: dict[str, Path]) -> list[str]:
    """`file:line imports stages.x` for every import of stages from projectors/ (read models derive from the ledger)."""
    known = frozenset(modules)
    return [
        f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line} imports {target}"
        for name, path in modules.items()
        if name.split(".")[0] == "projectors"
        for target, line in _imports(path, name, known)
        if target.split(".")[0] == "stages"
    ]


def test_projectors_never_import_stages() -> None:
    assert _projectors_importing_stages(_modules()) == []


def test_the_stages_check_sees_a_deferred_import(tmp_path: Path) -> None:
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from stages.artifacts import ArtifactStore\n")
    found = _projectors_importing_stages({**_modules(), "projectors.probe": path})
    assert [f.split(" imports ")[1] for f in found] == ["stages.artifacts", "stages.artifacts.ArtifactStore"]
