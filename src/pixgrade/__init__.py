"""pixgrade: quality grading and filtering of e-commerce product photos.

The one-call API (imported on first use, so ``import pixgrade`` stays fast and loads no model):

- :func:`pixgrade.score` — scores, grades, factors and reasons of paths, folders, bytes, PIL images or arrays;
- :func:`pixgrade.filter` — accept/reject under a marketplace policy;
- :func:`pixgrade.load_model` — load a model once for many calls;
- :func:`pixgrade.add_columns` — pixgrade's columns on a Hugging Face ``datasets`` image column
  (``pip install 'pixgrade[datasets]'``).

See :mod:`pixgrade.api`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Results", "__version__", "add_columns", "filter", "load_model", "score"]

_LAZY = {
    "score": "pixgrade.api",
    "filter": "pixgrade.api",
    "load_model": "pixgrade.api",
    "Results": "pixgrade.api",
    "add_columns": "pixgrade.hf",
}

if TYPE_CHECKING:
    from pixgrade.api import Results, filter, load_model, score
    from pixgrade.hf import add_columns


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pixgrade' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
