"""What produced an output: pixgrade's version, the model and its weights' SHA-256, the backend, the text detector
and the policy (name and a hash of its rules).

Every writer of results puts the same mapping beside them (:func:`provenance`): ``pixgrade score``'s
``<output>.provenance.json`` (and, for Parquet, the file's schema metadata under the key ``pixgrade``),
``decisions.json`` of ``pixgrade filter``, the footer of the HTML reports (:func:`provenance_text`), the
catalogue's ``runs.provenance`` column, the HTTP service's answers and ``/v1/health``, and ``.provenance`` of the
Python API's results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pixgrade import __version__
from pixgrade.io import sha256_file

__all__ = [
    "SIDECAR_SUFFIX",
    "model_sha256",
    "policy_sha256",
    "provenance",
    "provenance_text",
    "resolved_text_detector",
    "write_sidecar",
]

SIDECAR_SUFFIX = ".provenance.json"
"""``<output>.provenance.json``: the provenance of a results table (or Parquet folder), beside it."""


@lru_cache(maxsize=32)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def _named(model: Any) -> Any:
    """A :class:`~pixgrade.model.reference.ModelRef` as the name it was resolved from (``None`` for no model)."""
    from pixgrade.model.reference import ModelRef

    if isinstance(model, ModelRef):
        return None if model.is_none else model.name
    return model


def model_sha256(model: Any) -> str | None:
    """SHA-256 of a model's weights file (``"default"``: the shipped one); None for ``none`` or a loaded object."""
    model = _named(model)
    if model is None or (isinstance(model, str) and model.lower() == "none"):
        return None
    path = getattr(model, "path", None)  # an ONNX predictor knows its file
    if isinstance(model, str | Path):
        from pixgrade.model.loader import DEFAULT_MODEL_PATH

        path = DEFAULT_MODEL_PATH if str(model) == "default" else Path(model)
    if path is None or not Path(path).is_file():
        return None
    stat = Path(path).stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


def policy_sha256(policy: Any) -> str | None:
    """SHA-256 of a policy's name and rules as canonical JSON (the same rules give the same hash)."""
    if policy is None:
        return None
    rules = [
        dataclasses.asdict(r) if dataclasses.is_dataclass(r) and not isinstance(r, type) else repr(r)
        for r in policy.rules
    ]
    text = json.dumps({"name": policy.name, "rules": rules}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def resolved_text_detector(name: str | None) -> str | None:
    """``auto`` resolved to the detector that runs here (``db`` = PP-OCRv4, ``classical``); None stays None."""
    if name != "auto":
        return name
    from pixgrade.facts.text import available_text_detectors

    return available_text_detectors()[0]


def provenance(
    model: Any = "default",
    predictor: Any = None,
    *,
    backend: str | None = None,
    text_detector: str | None = None,
    policy: Any = None,
) -> dict[str, Any]:
    """The provenance mapping (JSON-ready).

    Args:
        model: what was asked for (``"default"``, ``"none"``, a checkpoint path, a ``ModelRef`` or a loaded
            predictor).
        predictor: the loaded predictor that ran (its ``description`` names the backend), or None.
        backend: the backend's name when no predictor is at hand (e.g. ``"auto (requested)"``).
        text_detector: the text detector used (``auto`` is resolved), or None when none ran.
        policy: the :class:`pixgrade.policy.Policy` applied, or None.
    """
    model = _named(model)
    name = str(model) if isinstance(model, str | Path) or model is None else type(model).__name__
    if predictor is not None:
        backend = str(
            getattr(predictor, "description", None) or getattr(predictor, "backend", type(predictor).__name__)
        )
    elif backend is None or model is None or (isinstance(model, str) and model.lower() == "none"):
        backend = "none"
    return {
        "pixgrade_version": __version__,
        "model": name if model is not None else "none",
        "model_sha256": model_sha256(model if isinstance(model, str | Path) or model is None else predictor),
        "backend": backend,
        "text_detector": resolved_text_detector(text_detector),
        "policy": None if policy is None else str(policy.name),
        "policy_sha256": policy_sha256(policy),
    }


def provenance_text(record: dict[str, Any]) -> str:
    """One human-readable line of a provenance mapping (the HTML reports' footer), hashes shortened to 12 digits."""

    def short(digest: Any) -> str:
        return f" (sha256 {str(digest)[:12]})" if digest else ""

    parts = [
        f"pixgrade {record.get('pixgrade_version')}",
        f"model {record.get('model')}{short(record.get('model_sha256'))}",
        f"backend {record.get('backend')}",
        f"text detector {record.get('text_detector') or 'none'}",
        f"policy {record.get('policy') or 'none'}{short(record.get('policy_sha256'))}",
    ]
    return " · ".join(parts)


def write_sidecar(output: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` as ``<output>.provenance.json`` beside ``output`` (with ``"output": output.name``)."""
    sidecar = output.with_name(output.name + SIDECAR_SUFFIX)
    sidecar.write_text(json.dumps({"output": output.name, **record}, indent=2) + "\n", encoding="utf-8")
    return sidecar
