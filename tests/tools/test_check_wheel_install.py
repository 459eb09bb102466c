"""tools/check_wheel_install.py: the interpreter that makes the fresh venv (``--python``)."""

from __future__ import annotations

import importlib.util
import platform
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "check_wheel_install.py"


@pytest.fixture(scope="module")
def tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("check_wheel_install", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_wheel_install"] = module
    spec.loader.exec_module(module)
    return module


def test_interpreter_version_of_the_running_python(tool) -> None:  # type: ignore[no-untyped-def]
    assert tool.interpreter_version(sys.executable) == platform.python_version()


def test_interpreter_that_does_not_exist_is_named(tool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "python3.99"
    with pytest.raises(SystemExit, match=rf"--python {missing}: cannot run this interpreter: .*No such file"):
        tool.interpreter_version(str(missing))


def test_interpreter_that_fails_is_named(tool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'broken interpreter' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(SystemExit, match=rf"--python {broken}: cannot run this interpreter: broken interpreter"):
        tool.interpreter_version(str(broken))


def _venv_commands(tool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, python: str | None) -> list[list[str]]:  # type: ignore[no-untyped-def]
    commands: list[list[str]] = []
    monkeypatch.setattr(tool, "_run", lambda cmd, **kwargs: commands.append([str(c) for c in cmd]))
    bin_dir = tool.fresh_venv(tmp_path / "venv", tmp_path / "pixgrade-0.1.0-py3-none-any.whl", python)
    assert bin_dir == tmp_path / "venv" / "bin"
    return commands


def test_fresh_venv_default_is_the_base_interpreter(tool, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    commands = _venv_commands(tool, monkeypatch, tmp_path, None)
    base = getattr(sys, "_base_executable", sys.executable)
    assert commands[0] == [base, "-m", "venv", str(tmp_path / "venv")]
    assert commands[1][0] == str(tmp_path / "venv" / "bin" / "pip")


def test_fresh_venv_with_another_python(tool, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    commands = _venv_commands(tool, monkeypatch, tmp_path, "/opt/python3.13/bin/python3.13")
    assert commands[0] == ["/opt/python3.13/bin/python3.13", "-m", "venv", str(tmp_path / "venv")]
