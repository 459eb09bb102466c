"""A worker process that runs the model itself (``Scorer(model_in_workers=True)``) uses one thread for it."""

from __future__ import annotations

import signal
from pathlib import Path

import cv2
import pytest
import torch

from pixgrade.pipeline import analysis


def test_worker_runs_onnx_runtime_with_one_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from pixgrade.model import create_model
    from pixgrade.model.onnx_predictor import export_onnx

    torch.manual_seed(0)
    path = export_onnx(create_model(pretrained_backbone=False, max_side=64, hidden=8).eval(), tmp_path / "m.onnx")
    monkeypatch.setattr(analysis, "_WORKER_PREDICTOR", None)
    monkeypatch.setenv("PIXGRADE_NUM_THREADS", "2")  # what the main process's model would use
    saved = signal.getsignal(signal.SIGINT), cv2.getNumThreads(), torch.get_num_threads()
    try:
        analysis.init_worker(str(path), "auto")
        predictor = analysis._WORKER_PREDICTOR
    finally:  # init_worker is meant for a fresh worker process: undo its process-wide settings here
        signal.signal(signal.SIGINT, saved[0])
        cv2.setNumThreads(saved[1])
        torch.set_num_threads(saved[2])
    assert predictor is not None and predictor.backend == "onnx"
    assert predictor.session.get_session_options().intra_op_num_threads == 1
