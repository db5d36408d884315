"""The layers hold: no import cycle in the package (type-only imports included), the HTTP layer
imports neither telemetry nor the client, the wire imports no I/O, the core no framework."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lyzr_stream", "langchain_lyzr_stream", "llamaindex_lyzr_stream")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports, at any place (type-only and function-level included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # ``from . import x`` loads the sibling module x, not a dependency on the package;
            # ``from .pkg import name`` loads pkg (and pkg.name when that is a module).
            if node.module is not None:
                found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {
        _module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }
    return {
        name: {m for m in _imports(path, name) if m in modules and m != name}
        for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def _reaches(graph: dict[str, set[str]], start: str, prefix: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        if node != start and (node == prefix or node.startswith(prefix + ".")):
            return True
        todo.extend(graph.get(node, ()))
    return False


def _direct(graph: dict[str, set[str]], package: str) -> set[str]:
    return {m for name, deps in graph.items() if name.startswith(package) for m in deps}


def test_no_import_cycle_type_only_ones_included() -> None:
    assert _cycle(_graph()) is None


def test_the_http_layer_reports_upward() -> None:
    imported = _direct(_graph(), "lyzr_stream._http")
    above = ("lyzr_stream._telemetry", "lyzr_stream._client", "lyzr_stream._stream")
    assert [m for m in imported if m.startswith(above)] == []


def test_the_wire_does_no_io() -> None:
    graph = _graph()
    layers = ("lyzr_stream.dialects", "lyzr_stream._routes")
    wire = [name for name in graph if name.startswith(layers)]
    assert [w for w in wire if _reaches(graph, w, "lyzr_stream._http")] == []


def test_the_core_imports_no_framework() -> None:
    """Below the apps (the CLI and the playground drive the frameworks), nothing in
    ``lyzr_stream`` imports LangChain, LlamaIndex or this package's adapters."""
    frameworks = ("langchain", "llama_index", "langchain_lyzr_stream", "llamaindex_lyzr_stream")
    offenders = [
        (name, module)
        for path in (ROOT / "lyzr_stream").rglob("*.py")
        if "_apps" not in path.parts
        for name in [_module_name(path)]
        for module in _imports(path, name)
        if module.split(".")[0].startswith(frameworks)
    ]
    assert offenders == []
