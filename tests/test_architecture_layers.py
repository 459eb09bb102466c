"""Lower layers never import higher ones (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "pixgrade"

# layer of each subpackage/module of pixgrade; a module may import its own layer or lower ones
LAYERS: dict[str, int] = {
    "errors": 0,
    "io": 1,
    "measures": 2,
    "facts": 2,
    "degrade": 2,
    "model": 3,
    "data": 3,
    "train": 4,
    "evaluate": 4,
    "pipeline": 4,
    "policy": 5,
    "dedupe": 5,
    "catalog": 5,
    "explain": 4,
    "export": 5,
    "report": 5,
    "provenance": 5,
    "fullref": 5,
    "engines": 6,
    "label": 6,
    "cli": 7,
    "serve": 7,
    "api": 7,
    "hf": 7,
}


def _part(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "pixgrade" or len(parts) < 2:
        return None
    return parts[1]


def test_every_package_has_a_layer() -> None:
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if not p.name.startswith("_")}
    names.discard("py")
    missing = {n for n in names if n not in LAYERS and n not in {"py.typed"}}
    assert not missing, f"assign a layer in this test to: {sorted(missing)}"


def test_no_import_goes_up_a_layer() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        own = _part("pixgrade." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        if own not in LAYERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            for module in modules:
                target = _part(module)
                if target in LAYERS and LAYERS[target] > LAYERS[own]:
                    violations.append(f"{path.relative_to(PACKAGE)}:{node.lineno} imports {module}")
    assert not violations, "imports that go up a layer:\n" + "\n".join(violations)


def _module_imports() -> dict[str, set[str]]:
    """Every pixgrade module and the pixgrade modules it imports anywhere (lazy imports in functions included)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("pixgrade", *parts[:-1])) if parts[-1] == "__init__" else ".".join(("pixgrade", *parts))
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.update(
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                    for alias in node.names
                )
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_no_import_cycle_between_modules() -> None:
    """No module reaches itself through imports (a package's ``__init__`` re-exporting its own modules aside:
    edges from a module to its own package's ``__init__`` are not followed)."""
    graph = _module_imports()
    for name, targets in graph.items():
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
