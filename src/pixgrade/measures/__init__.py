"""pixgrade.measures: measured, explainable quality factors of one image.

Each factor is a typed function ``f(image, alpha=None) -> Factor`` (image: RGB uint8 ``(H, W, 3)``, a
``LoadedImage`` or a ``PreparedImage``) whose docstring states the raw value's unit and range, its direction, the
score curve, the flag threshold and the reference. They are registered (:func:`list_factors`) and run together by
:func:`measure_all`, which shares intermediates between them.
"""

from pixgrade.measures.background import background, centring, fill
from pixgrade.measures.base import Factor, FactorSpec, get_factor, list_factors, register_factor
from pixgrade.measures.colour import colourfulness, hasler_susstrunk
from pixgrade.measures.compression import blockiness, blockiness_ratio
from pixgrade.measures.exposure import ExposureStats, contrast, exposure, exposure_stats, rms_contrast
from pixgrade.measures.geometry import aspect_ratio, resolution
from pixgrade.measures.noise import noise, noise_sigma
from pixgrade.measures.prepared import WORK_SIDE, Foreground, PreparedImage, prepare
from pixgrade.measures.registry import FACTOR_NAMES, measure_all
from pixgrade.measures.sharpness import laplacian_variance, sharpness

__all__ = [
    "FACTOR_NAMES",
    "WORK_SIDE",
    "ExposureStats",
    "Factor",
    "FactorSpec",
    "Foreground",
    "PreparedImage",
    "aspect_ratio",
    "background",
    "blockiness",
    "blockiness_ratio",
    "centring",
    "colourfulness",
    "contrast",
    "exposure",
    "exposure_stats",
    "fill",
    "get_factor",
    "hasler_susstrunk",
    "laplacian_variance",
    "list_factors",
    "measure_all",
    "noise",
    "noise_sigma",
    "prepare",
    "register_factor",
    "resolution",
    "rms_contrast",
    "sharpness",
]
