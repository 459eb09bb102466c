"""The predictor API in one place (kept for imports of ``pixgrade.model.predictor``): the interface
(:mod:`pixgrade.model.interface`: the :class:`Predictor` protocol, :class:`ModelOutput`, the input policy), the
torch backend (:mod:`pixgrade.model.torch_backend`: :class:`TorchPredictor`) and the loader
(:mod:`pixgrade.model.loader`: :func:`load_predictor`). None of those imports this module, so it closes no import
cycle; it loads no backend itself (the torch backend imports PyTorch only when a model runs).
"""

from __future__ import annotations

from pixgrade.model.interface import BackendUnavailableError, ModelOutput, Predictor, PredictorBase, resize_for_model
from pixgrade.model.loader import (
    BACKENDS,
    DEFAULT_INT8_PATH,
    DEFAULT_MODEL_PATH,
    int8_mismatch,
    int8_path_for,
    load_predictor,
)
from pixgrade.model.torch_backend import TorchPredictor, prepare_input, set_torch_threads

__all__ = [
    "BACKENDS",
    "DEFAULT_INT8_PATH",
    "DEFAULT_MODEL_PATH",
    "BackendUnavailableError",
    "ModelOutput",
    "Predictor",
    "PredictorBase",
    "TorchPredictor",
    "int8_mismatch",
    "int8_path_for",
    "load_predictor",
    "prepare_input",
    "resize_for_model",
    "set_torch_threads",
]
