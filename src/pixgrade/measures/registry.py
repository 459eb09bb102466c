"""Run registered factors on one image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pixgrade.io import LoadedImage
from pixgrade.measures import background as _background  # noqa: F401  (registers factors)
from pixgrade.measures import colour as _colour  # noqa: F401
from pixgrade.measures import compression as _compression  # noqa: F401
from pixgrade.measures import exposure as _exposure  # noqa: F401
from pixgrade.measures import geometry as _geometry  # noqa: F401
from pixgrade.measures import noise as _noise  # noqa: F401
from pixgrade.measures import sharpness as _sharpness  # noqa: F401
from pixgrade.measures.base import FACTOR_NAMES, Factor, get_factor, list_factors
from pixgrade.measures.prepared import PreparedImage, prepare

__all__ = ["FACTOR_NAMES", "measure_all"]

if not set(FACTOR_NAMES) <= {spec.name for spec in list_factors()}:  # pragma: no cover - a packaging mistake
    raise ImportError("a built-in factor module did not register its factor")


def measure_all(
    image: LoadedImage | PreparedImage | np.ndarray,
    names: Sequence[str] | None = None,
) -> dict[str, Factor]:
    """Measure the named factors (all of :data:`FACTOR_NAMES` by default) on one image.

    Intermediates (working copy, luma, foreground mask) are computed once and shared.

    Args:
        image: a ``LoadedImage`` (preferred: it carries the file's size and JPEG quality), a ``PreparedImage``, or
            an RGB uint8 ``(H, W, 3)`` array.
        names: factor names, in the order wanted.

    Returns:
        ``{name: Factor}`` in the order of ``names``.

    Raises:
        ConfigError: an unknown factor name.
    """
    specs = [get_factor(name) for name in (FACTOR_NAMES if names is None else names)]
    prep = prepare(image)
    return {spec.name: spec.fn(prep) for spec in specs}
