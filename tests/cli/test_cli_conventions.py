"""Conventions shared by every command: -q/--quiet, --no-progress, --overwrite (--force deprecated), one meaning per
flag name, -o - for JSON lines on stdout, --version with the model and runtimes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pixgrade import __version__
from pixgrade.cli.main import _subparsers, build_parser, main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _commands() -> dict[str, object]:
    parser = build_parser()
    return {command.prog: command for command in _subparsers(parser)}


def test_every_command_takes_quiet_and_no_progress() -> None:
    for prog, command in _commands().items():
        strings = command._option_string_actions  # type: ignore[attr-defined]
        assert "-q" in strings and "--quiet" in strings, prog
        assert "--no-progress" in strings, prog


def test_replacing_an_output_is_always_spelt_overwrite() -> None:
    for prog, command in _commands().items():
        strings = command._option_string_actions  # type: ignore[attr-defined]
        if "--force" in strings:
            assert strings["--force"] is strings["--overwrite"], prog  # the same option: --force is only an alias


def test_format_means_an_output_format_only() -> None:
    for prog, command in _commands().items():
        action = command._option_string_actions.get("--format")  # type: ignore[attr-defined]
        if action is not None and prog != "pixgrade dataset import":
            assert "format" in (action.help or ""), prog
    imp = _commands()["pixgrade dataset import"]
    assert imp._option_string_actions["--layout"] is imp._option_string_actions["--format"]  # type: ignore[attr-defined]


def test_force_still_works_with_a_deprecation_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "labels.csv"
    (tmp_path / "a.jpg").write_bytes((EXAMPLES / "mug_good.jpg").read_bytes())
    labels.write_text("image,mos\na.jpg,50\n")
    out = tmp_path / "m.csv"
    assert main(["dataset", "import", "--layout", "livec", str(labels), "-o", str(out)]) == 0
    assert main(["dataset", "import", "--layout", "livec", str(labels), "-o", str(out)]) == 2  # exists
    capsys.readouterr()
    assert main(["dataset", "import", "--layout", "livec", str(labels), "-o", str(out), "--overwrite"]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main(["dataset", "import", "--format", "livec", str(labels), "-o", str(out), "--force"]) == 0
    err = capsys.readouterr().err
    assert "--force is deprecated; use --overwrite" in err
    assert "--format is deprecated; use --layout" in err


def test_quiet_prints_nothing_but_errors(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixgrade",
            "score",
            str(EXAMPLES / "mug_good.jpg"),
            "-o",
            str(tmp_path / "r.csv"),
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert (tmp_path / "r.csv").exists()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    run = subprocess.run(
        [sys.executable, "-m", "pixgrade", "score", str(bad), "-o", str(tmp_path / "b.csv"), "-q"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1


def test_no_progress_removes_the_bar_but_keeps_the_summary(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pixgrade", "evaluate", "--help"], capture_output=True, text=True, check=True
    )
    assert "--no-progress" in run.stdout
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixgrade",
            "score",
            str(EXAMPLES / "mug_good.jpg"),
            "-o",
            str(tmp_path / "r.csv"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0
    assert "scored 1 image" in run.stderr
    assert "it/s" not in run.stderr and "img/s" not in run.stderr


def test_dash_output_streams_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(EXAMPLES / "mug_good.jpg"), str(EXAMPLES / "mug_blurred.jpg"), "-o", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [Path(r["path"]).name for r in rows] == ["mug_good.jpg", "mug_blurred.jpg"]
    assert all(0 <= r["score"] <= 5 for r in rows)


def test_version_names_the_model_and_runtimes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"pixgrade {__version__}\n")
    assert "model: pixgrade_mnv2 (weights sha256 " in out
    assert "onnxruntime " in out and "torch " in out and "python: " in out


def test_main_puts_stderr_and_the_environment_back(tmp_path: Path) -> None:
    import os

    before, variable = sys.stderr, os.environ.get("TQDM_DISABLE")
    out = tmp_path / "r.csv"
    assert main(["score", str(EXAMPLES / "mug_good.jpg"), "-o", str(out), "--no-progress", "--model", "none"]) == 0
    assert main(["score", str(EXAMPLES / "mug_good.jpg"), "-o", str(out), "-q", "--overwrite", "--model", "none"]) == 0
    assert sys.stderr is before
    assert os.environ.get("TQDM_DISABLE") == variable
