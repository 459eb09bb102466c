"""Scoring on ONNX Runtime never imports PyTorch (start-up about 1.3 s and ~300 MB lighter)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from pixgrade.model.predictor import DEFAULT_INT8_PATH, DEFAULT_MODEL_PATH, load_predictor

# Runs `pixgrade score` in-process for each argument list and reports, after each, whether torch was imported.
PROBE = """
import json, sys
from pixgrade.cli.main import main
report = []
for argv in json.loads(sys.argv[1]):
    code = main(argv)
    report.append({"backend": argv[argv.index("--backend") + 1], "code": code, "torch": "torch" in sys.modules})
print("REPORT " + json.dumps(report))
"""


def _run_probe(runs: list[list[str]], env_cache: Path) -> list[dict]:
    import os

    env = {**os.environ, "PIXGRADE_CACHE_DIR": str(env_cache)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(runs)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("REPORT "))
    return list(json.loads(line[len("REPORT ") :]))


@pytest.fixture
def photo(tmp_path: Path, make_photo: Callable[[int, int, int], np.ndarray]) -> Path:
    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(make_photo(200, 260, 3), cv2.COLOR_RGB2BGR))
    return path


def _score(photo: Path, out: Path, *options: str) -> list[str]:
    return ["score", str(photo), "-o", str(out), "--workers", "0", "--no-progress", *options]


@pytest.mark.skipif(not DEFAULT_INT8_PATH.is_file(), reason="the shipped INT8 model is not built")
def test_shipped_model_scores_without_torch(photo: Path, tmp_path: Path) -> None:
    runs = [
        _score(photo, tmp_path / "int8.csv", "--backend", "int8"),
        _score(photo, tmp_path / "auto.csv", "--backend", "auto"),
        _score(photo, tmp_path / "torch.csv", "--backend", "torch"),  # shows that the probe can see torch
    ]
    report = _run_probe(runs, tmp_path / "cache")
    assert [r["code"] for r in report] == [0, 0, 0]
    assert [r["torch"] for r in report] == [False, False, True]
    assert DEFAULT_MODEL_PATH.is_file()
    for name in ("int8.csv", "auto.csv"):
        assert "photo.jpg" in (tmp_path / name).read_text()


def test_exported_checkpoint_scores_without_torch(checkpoint: Path, photo: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    ckpt = models / checkpoint.name
    ckpt.write_bytes(checkpoint.read_bytes())
    load_predictor(ckpt, backend="onnx")  # exports to fp32 ONNX once, next to the checkpoint (needs torch)
    runs = [
        _score(photo, tmp_path / "onnx.csv", "--model", str(ckpt), "--backend", "onnx"),
        _score(photo, tmp_path / "auto.csv", "--model", str(ckpt), "--backend", "auto"),
    ]
    report = _run_probe(runs, tmp_path / "cache")
    assert [(r["code"], r["torch"]) for r in report] == [(0, False), (0, False)]
