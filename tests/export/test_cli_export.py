"""``pixgrade export`` on the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pixgrade.cli.main import main
from pixgrade.export import read_onnx_metadata


def test_export_writes_onnx_and_refuses_to_overwrite(checkpoint: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "model.onnx"
    assert main(["export", "--format", "onnx", "--model", str(checkpoint), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    info = read_onnx_metadata(out)
    assert info["onnx"]["quantization"] is None and info["source_checkpoint"] == checkpoint.name
    before = out.read_bytes()
    assert main(["export", "--model", str(checkpoint), "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--int8"], "needs --calibration"),
        (["--calibration", "x.jpg"], "only used with --int8"),
        (["--opset", "13"], "opset must be >= 17"),
    ],
)
def test_export_usage_errors(checkpoint: Path, tmp_path: Path, capsys, extra: list[str], message: str) -> None:
    assert main(["export", "--model", str(checkpoint), "-o", str(tmp_path / "m.onnx"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_export_missing_checkpoint_names_the_file(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.safetensors"
    assert main(["export", "--model", str(missing), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "nope.safetensors" in capsys.readouterr().err


@pytest.mark.slow
def test_export_int8_with_calibration_folder(
    checkpoint: Path, tmp_path: Path, make_photo: Callable[[int, int, int], np.ndarray]
) -> None:
    from PIL import Image

    folder = tmp_path / "calib"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(make_photo(80, 100, i)).save(folder / f"{i}.jpg")
    out = tmp_path / "int8.onnx"
    code = main(["export", "--model", str(checkpoint), "-o", str(out), "--int8", "--calibration", str(folder)])
    assert code == 0
    info = read_onnx_metadata(out)
    assert info["onnx"]["quantization"] == "int8-static-qdq-per-channel" and info["onnx"]["calibration_images"] == 3
