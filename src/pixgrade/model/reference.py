"""Which model? One answer for every command, the service, the Ray actors and export: :func:`resolve_model`.

A model is named by ``"default"`` (the weights shipped with pixgrade), ``"none"`` / ``None`` (no model: the
factor measures only), or the path of a safetensors checkpoint or of an ONNX file written by ``pixgrade export``
(in the spirit of timm's ``parse_model_name`` and pyiqa's ``create_metric``: one function parses the name, one
loads it). :func:`resolve_model` checks the name once and gives a :class:`ModelRef`: small, frozen and picklable,
so it travels to worker processes and Ray actors, which load it there (:meth:`ModelRef.load`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pixgrade.errors import ConfigError

if TYPE_CHECKING:
    from pixgrade.model.interface import Predictor

__all__ = ["ModelNotFoundError", "ModelRef", "resolve_model"]


class ModelNotFoundError(ConfigError, FileNotFoundError):
    """The named model file does not exist (or the default weights are not installed). Both a usage error
    (``ConfigError``) and a ``FileNotFoundError``, as loading a missing checkpoint always raised."""


@dataclass(frozen=True)
class ModelRef:
    """A checked reference to a model (see :func:`resolve_model`).

    Attributes:
        name: ``"none"``, ``"default"`` or the file's path as given.
        backend: the runtime to load it with (:data:`pixgrade.model.loader.BACKENDS`).
    """

    name: str
    backend: str = "auto"

    @property
    def is_none(self) -> bool:
        """True for "no model" (measures only)."""
        return self.name == "none"

    @property
    def path(self) -> Path | None:
        """The model file (the shipped weights for ``default``), ``None`` without a model."""
        if self.is_none:
            return None
        if self.name == "default":
            from pixgrade.model.loader import DEFAULT_MODEL_PATH

            return DEFAULT_MODEL_PATH
        return Path(self.name)

    @property
    def is_onnx(self) -> bool:
        """True for an ONNX file (runs on ONNX Runtime only: no PyTorch model to explain with)."""
        return self.path is not None and self.path.suffix.lower() == ".onnx"

    def load(self, num_threads: int | None = None) -> Predictor | None:
        """The predictor (``None`` without a model), by :func:`pixgrade.model.loader.load_predictor`."""
        if self.is_none:
            return None
        from pixgrade.model.loader import load_predictor

        return load_predictor(self.name, backend=self.backend, num_threads=num_threads)

    def with_backend(self, backend: str) -> ModelRef:
        """The same model on another runtime (e.g. ``torch`` for heatmaps)."""
        return ModelRef(self.name, backend)


def resolve_model(model: str | Path | ModelRef | None = "default", backend: str | None = None) -> ModelRef:
    """The one interpretation of a model name.

    Args:
        model: ``"default"``, ``"none"``/``None``, a checkpoint or ONNX path, or a :class:`ModelRef` (kept).
        backend: the runtime (``None``: the reference's own, ``auto`` for a name).

    Raises:
        ModelNotFoundError: the file does not exist, or the default weights are not installed (the message says
            what to pass instead).
        ConfigError: an unknown backend.
    """
    from pixgrade.model.loader import BACKENDS, DEFAULT_MODEL_PATH

    if isinstance(model, ModelRef):
        ref = model if backend is None else model.with_backend(backend)
    else:
        text = "none" if model is None else str(model)
        if text.lower() == "none":
            text = "none"
        ref = ModelRef(text, backend or "auto")
    if ref.backend not in BACKENDS:
        raise ConfigError(f"unknown backend {ref.backend!r}; choose one of {', '.join(BACKENDS)}")
    if ref.name == "default" and not DEFAULT_MODEL_PATH.is_file():
        raise ModelNotFoundError(
            f"the default model weights are not installed ({DEFAULT_MODEL_PATH}); use --model none for measures "
            "only, or --model PATH for a checkpoint"
        )
    if ref.path is not None and ref.name != "default" and not ref.path.is_file():
        raise ModelNotFoundError(
            f"{ref.name}: model checkpoint not found (use --model default, --model none for the factor measures "
            "only, or --model PATH of a trained checkpoint)"
        )
    return ref
