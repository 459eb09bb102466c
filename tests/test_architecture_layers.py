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
