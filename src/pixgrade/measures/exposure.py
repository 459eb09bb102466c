"""Exposure (crushed shadows, clipped highlights, brightness) and contrast."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pixgrade.io import LoadedImage
from pixgrade.measures.base import Factor, make_factor, piecewise, register_factor
from pixgrade.measures.prepared import PreparedImage, masked_mean_std, prepare

__all__ = [
    "CLIPPED_MIN",
    "CRUSHED_MAX",
    "ExposureStats",
    "contrast",
    "exposure",
    "exposure_stats",
    "rms_contrast",
]

#: Luma at or below this is a crushed shadow (0-255).
CRUSHED_MAX = 16
#: A pixel is a clipped highlight when its largest channel is at least ``CLIPPED_MIN`` and its luma ``BRIGHT_LUMA``.
CLIPPED_MIN = 250
BRIGHT_LUMA = 200
#: Flag limits (shares of pixels, mean luma 0-255).
CRUSHED_SHARE_FLAG = 0.25
CLIPPED_SHARE_FLAG = 0.35
DARK_MEAN_FLAG = 60.0
BRIGHT_MEAN_FLAG = 225.0
CONTRAST_ANCHORS: tuple[tuple[float, ...], tuple[float, ...]] = ((0.04, 0.15), (0.0, 1.0))
CONTRAST_FLAG_BELOW = 0.08


@dataclass(frozen=True)
class ExposureStats:
    """Brightness statistics behind the exposure factor.

    Attributes:
        crushed_share: share of all pixels with luma <= 16 (0-1).
        clipped_share: share of the non-background pixels whose highlights are clipped: a channel >= 250 in a
            bright pixel (luma >= 200), so a washed-out colour counts too (0-1). A plain near-white backdrop is
            excluded: it is meant to be white.
        mean_luma: mean luma of the whole frame (0-255).
        subject_mean_luma: mean luma of the non-background pixels (the whole frame when there is no plain backdrop).
    """

    crushed_share: float
    clipped_share: float
    mean_luma: float
    subject_mean_luma: float


def exposure_stats(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> ExposureStats:
    """Crushed/clipped shares and mean brightness on the working copy (BT.601 luma).

    Shape:
        ``image``: ``(H, W, 3)`` uint8 RGB (or a loaded/prepared image); ``alpha``: ``(H, W)`` uint8 or None.
    """
    prep = prepare(image, alpha)
    gray = prep.work_gray
    fg = prep.foreground
    backdrop = fg.white_backdrop and fg.bbox is not None
    subject = prep.foreground_mask if backdrop else None
    n_subject = gray.size if subject is None else cv2.countNonZero(subject)
    top = cv2.max(cv2.max(prep.work_rgb[:, :, 0], prep.work_rgb[:, :, 1]), prep.work_rgb[:, :, 2])
    clipped: np.ndarray = ((top >= CLIPPED_MIN) & (gray >= BRIGHT_LUMA)).view(np.uint8)
    if subject is not None:
        clipped = np.asarray(cv2.bitwise_and(clipped, subject))
    return ExposureStats(
        crushed_share=np.count_nonzero(gray <= CRUSHED_MAX) / gray.size,
        clipped_share=cv2.countNonZero(clipped) / max(1, n_subject),
        mean_luma=float(cv2.mean(gray)[0]),
        subject_mean_luma=float(cv2.mean(gray, mask=subject)[0]),
    )


@register_factor(
    "exposure",
    description="share of crushed-shadow (luma <= 16) and clipped-highlight (channel >= 250) pixels, backdrop excluded",
    unit="share of pixels, 0-1",
    direction="lower is better",
    threshold="flag when crushed share > 0.25, clipped share > 0.35, frame mean luma < 60 or subject mean > 225",
)
def exposure(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> Factor:
    """Exposure: badly exposed pixels and overall brightness (see :class:`ExposureStats`).

    Args:
        image: RGB uint8 ``(H, W, 3)``, a ``LoadedImage`` or a ``PreparedImage``.
        alpha: optional ``(H, W)`` uint8 alpha.

    Returns:
        Factor ``exposure``: value = crushed share + clipped share (0-1, lower is better). Score = the lowest of
        four piecewise-linear sub-scores: crushed share 0.05 -> 1, 0.40 -> 0; clipped share the same; frame mean
        luma 20 -> 0, 70 -> 1; subject mean luma 200 -> 1, 245 -> 0. Flagged "underexposed" when the crushed share
        is > 0.25 or the mean luma < 60, "overexposed" when the clipped share is > 0.35 or the subject mean > 225.
        White and bright yellow products on white can read as overexposed (4 of 100 clean studio photos in
        ``benchmarks/factor_calibration.py``).
    """
    stats = exposure_stats(image, alpha)
    score = min(
        piecewise(stats.crushed_share, (0.05, 0.40), (1.0, 0.0)),
        piecewise(stats.clipped_share, (0.05, 0.40), (1.0, 0.0)),
        piecewise(stats.mean_luma, (20.0, 70.0), (0.0, 1.0)),
        piecewise(stats.subject_mean_luma, (200.0, 245.0), (1.0, 0.0)),
    )
    reasons = []
    if stats.crushed_share > CRUSHED_SHARE_FLAG:
        reasons.append(f"underexposed: {stats.crushed_share:.0%} of pixels crushed to black")
    elif stats.mean_luma < DARK_MEAN_FLAG:
        reasons.append(f"underexposed: mean brightness {stats.mean_luma:.0f}/255")
    if stats.clipped_share > CLIPPED_SHARE_FLAG:
        reasons.append(f"overexposed: {stats.clipped_share:.0%} of the subject's pixels have clipped highlights")
    elif stats.subject_mean_luma > BRIGHT_MEAN_FLAG:
        reasons.append(f"overexposed: subject mean brightness {stats.subject_mean_luma:.0f}/255")
    value = stats.crushed_share + stats.clipped_share
    return make_factor("exposure", value, score, "; ".join(reasons) or None)


def rms_contrast(gray: np.ndarray, mask: np.ndarray | None = None) -> float:
    """RMS contrast: standard deviation of luma scaled to [0, 1] (Peli, "Contrast in complex images", JOSA A 1990).

    Shape:
        ``gray``: ``(H, W)`` uint8; ``mask``: ``(H, W)`` bool or uint8 (non-zero = use), or None.

    Returns:
        Value in [0, 0.5]; higher = more contrast.
    """
    _, std, _ = masked_mean_std(gray, mask)
    return std / 255.0


@register_factor(
    "contrast",
    description="RMS contrast (std of luma / 255) of the whole 512-px working copy",
    unit="0-0.5",
    direction="higher is better",
    threshold=f"flag 'low contrast' below {CONTRAST_FLAG_BELOW:g}",
)
def contrast(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> Factor:
    """Global contrast: :func:`rms_contrast` of the whole working copy (backdrop included: a product that does not
    stand out from its background is low contrast too).

    Args:
        image: RGB uint8 ``(H, W, 3)``, a ``LoadedImage`` or a ``PreparedImage``.
        alpha: optional ``(H, W)`` uint8 alpha (unused).

    Returns:
        Factor ``contrast``: value in [0, 0.5]; score piecewise-linear 0.04 -> 0, 0.15 -> 1; flagged below 0.08.
    """
    prep = prepare(image, alpha)
    value = rms_contrast(prep.work_gray)
    score = piecewise(value, *CONTRAST_ANCHORS)
    reason = (
        f"low contrast: RMS contrast {value:.2f} (below {CONTRAST_FLAG_BELOW:g})"
        if value < CONTRAST_FLAG_BELOW
        else None
    )
    return make_factor("contrast", value, score, reason)
