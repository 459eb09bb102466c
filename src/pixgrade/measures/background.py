"""E-commerce layout: white background, how much of the frame the product fills, and whether it is centred."""

from __future__ import annotations

import numpy as np

from pixgrade.io import LoadedImage
from pixgrade.measures.base import Factor, make_factor, piecewise, register_factor
from pixgrade.measures.prepared import PreparedImage, prepare

__all__ = ["CENTRING_FLAG_ABOVE", "FILL_FLAG_BELOW", "WHITE_FLAG_BELOW", "background", "centring", "fill"]

#: Flag "background not white" when fewer border pixels than this are near-white.
WHITE_FLAG_BELOW = 0.8
#: Flag "product too small" when it spans less than this share of the frame (marketplaces ask for about 85%).
FILL_FLAG_BELOW = 0.6
#: Flag "off-centre" when the product's box centre is further than this share of the frame from the centre.
CENTRING_FLAG_ABOVE = 0.1


@register_factor(
    "background",
    description="share of near-white (or transparent) pixels in the 2% border band, and its uniformity",
    unit="share of border pixels, 0-1",
    direction="higher is better",
    threshold=f"flag below {WHITE_FLAG_BELOW:g}",
)
def background(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> Factor:
    """White-background check on the border band (``max(2 px, 2%)`` of the short side) of the working copy.

    A border pixel is near-white when its smallest channel is >= 235 and its channels differ by <= 20 (so a
    colour cast is not white); transparent pixels (alpha < 128) count as white.

    Args:
        image: RGB uint8 ``(H, W, 3)``, a ``LoadedImage`` or a ``PreparedImage``.
        alpha: optional ``(H, W)`` uint8 alpha.

    Returns:
        Factor ``background``: value = near-white share of the border (0-1). Score = 0.6 x whiteness
        (share 0.5 -> 0, 0.95 -> 1) + 0.4 x uniformity (robust border brightness sigma 4 -> 1, 20 -> 0; see
        :class:`~pixgrade.measures.prepared.Foreground`). Flagged when the share is below 0.8: "background not
        white" (plain other colour), "background cluttered" (not plain), or, when the backdrop is white but the
        product covers much of the border, "product touches the frame edge".
    """
    prep = prepare(image, alpha)
    fg = prep.foreground
    value = fg.border_white_share
    whiteness = piecewise(value, (0.5, 0.95), (0.0, 1.0))
    uniformity = piecewise(fg.border_sigma, (4.0, 20.0), (1.0, 0.0))
    score = 0.6 * whiteness + 0.4 * uniformity
    reason = None
    if value < WHITE_FLAG_BELOW:
        r, g, b = fg.background_rgb
        if fg.white_backdrop:
            reason = (
                f"background white but only {value:.0%} of the border is: the product touches the frame edge "
                "or the backdrop has marks"
            )
        elif fg.uniform:
            reason = f"background not white: plain RGB({r}, {g}, {b}), {value:.0%} of the border is white"
        else:
            reason = f"background cluttered: not a plain colour, only {value:.0%} of the border is white"
    return make_factor("background", value, score, reason)


def _box_in_frame(prep: PreparedImage) -> tuple[float, float, float, float] | None:
    """Foreground box as fractions of the frame: ``(x0, y0, x1, y1)`` in [0, 1]."""
    fg = prep.foreground
    if fg.bbox is None:
        return None
    bbox = fg.bbox
    h, w = fg.mask.shape[:2]
    return bbox[0] / w, bbox[1] / h, bbox[2] / w, bbox[3] / h


@register_factor(
    "fill",
    description="how far the product's bounding box spans the frame: max(box width / width, box height / height)",
    unit="share of the frame side, 0-1",
    direction="higher is better",
    threshold=f"flag below {FILL_FLAG_BELOW:g} (plain backgrounds only)",
)
def fill(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> Factor:
    """Product fill: the larger of the foreground box's width and height as a share of the frame's.

    The foreground is everything that differs from the border's median colour by more than 12 levels plus three
    times the border's noise (at most 40) in some channel (median-filtered, specks under 0.05% of the frame
    dropped), or alpha >= 128 when there is alpha.
    A tall bottle that spans 90% of the height scores like a wide bag that spans 90% of the width.

    Args:
        image: RGB uint8 ``(H, W, 3)``, a ``LoadedImage`` or a ``PreparedImage``.
        alpha: optional ``(H, W)`` uint8 alpha.

    Returns:
        Factor ``fill``: value in [0, 1]; score piecewise-linear 0.3 -> 0, 0.8 -> 1. Flagged below 0.6 only when the
        background is a plain colour (otherwise the product cannot be told from the scene), and always when nothing
        stands out from the background at all ("no product found").
    """
    prep = prepare(image, alpha)
    box = _box_in_frame(prep)
    if box is None:
        return make_factor("fill", 0.0, 0.0, "no product found: nothing stands out from the background")
    value = max(box[2] - box[0], box[3] - box[1])
    score = piecewise(value, (0.3, 0.8), (0.0, 1.0))
    reason = None
    if prep.foreground.uniform and value < FILL_FLAG_BELOW:
        reason = f"product too small in the frame: it spans only {value:.0%} of the frame (aim for about 85%)"
    return make_factor("fill", value, score, reason)


@register_factor(
    "centring",
    description="offset of the product box centre from the frame centre, as a share of the frame side",
    unit="share of the frame side, 0-0.5",
    direction="lower is better",
    threshold=f"flag above {CENTRING_FLAG_ABOVE:g} (plain backgrounds only)",
)
def centring(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> Factor:
    """Centring: ``max(|cx - 0.5|, |cy - 0.5|)`` for the foreground box centre ``(cx, cy)`` in frame fractions.

    Args:
        image: RGB uint8 ``(H, W, 3)``, a ``LoadedImage`` or a ``PreparedImage``.
        alpha: optional ``(H, W)`` uint8 alpha.

    Returns:
        Factor ``centring``: value in [0, 0.5] (0 = centred); score piecewise-linear 0.05 -> 1, 0.25 -> 0; flagged
        above 0.1 when the background is a plain colour. With no product found, value 0 and no flag (``fill``
        reports it).
    """
    prep = prepare(image, alpha)
    box = _box_in_frame(prep)
    if box is None:
        return make_factor("centring", 0.0, 1.0, None)
    dx = (box[0] + box[2]) / 2 - 0.5
    dy = (box[1] + box[3]) / 2 - 0.5
    value = max(abs(dx), abs(dy))
    score = piecewise(value, (0.05, 0.25), (1.0, 0.0))
    reason = None
    if prep.foreground.uniform and value > CENTRING_FLAG_ABOVE:
        parts = []
        if abs(dx) > CENTRING_FLAG_ABOVE:
            parts.append(f"{abs(dx):.0%} of the frame to the {'right' if dx > 0 else 'left'}")
        if abs(dy) > CENTRING_FLAG_ABOVE:
            parts.append(f"{abs(dy):.0%} {'down' if dy > 0 else 'up'}")
        reason = f"product off-centre: shifted {' and '.join(parts)}"
    return make_factor("centring", value, score, reason)
