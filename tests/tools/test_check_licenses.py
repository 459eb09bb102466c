"""tools/check_licenses.py: the licence allow-list of pixgrade's runtime dependencies."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "check_licenses.py"


@pytest.fixture(scope="module")
def tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("check_licenses", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_licenses"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "expression",
    [
        "MIT",
        "BSD-3-Clause AND 0BSD AND MIT AND Zlib AND CC0-1.0",
        "Apache Software License; BSD License",
        "Mozilla Public License 2.0 (MPL 2.0)",
        "DFSG approved; MIT License",
        "Apache-2.0 OR BSD-3-Clause",
    ],
)
def test_permissive_expressions_pass(tool, expression: str) -> None:  # type: ignore[no-untyped-def]
    assert tool.verdict("somepkg", expression) is None


@pytest.mark.parametrize(
    "expression", ["GPL-2.0-or-later", "MIT AND GPL-3.0-only", "GNU General Public License v2 (GPLv2)", "UNKNOWN", ""]
)
def test_copyleft_or_unknown_fail(tool, expression: str) -> None:  # type: ignore[no-untyped-def]
    assert tool.verdict("somepkg", expression) is not None


def test_pillow_heif_is_denied_whatever_its_metadata_says(tool) -> None:  # type: ignore[no-untyped-def]
    assert "x265" in tool.verdict("pillow_heif", "BSD-3-Clause")
    assert tool.verdict("pi_heif", "GNU Lesser General Public License v3 (LGPLv3)") is None


def test_project_requirements_mark_extras(tool) -> None:  # type: ignore[no-untyped-def]
    lines = tool.project_requirements()
    assert any(line.startswith("numpy") and "extra" not in line for line in lines)
    assert any(line.startswith("fastapi") and "extra == 'serve'" in line for line in lines)
    assert not any("pillow-heif" in line for line in lines)


def test_installed_runtime_dependencies_pass(tool, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    status = tool.main(["--extras", "serve"])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "runtime dependencies of pixgrade[serve] pass" in out.out
