"""What near-duplicate search knows about one image: a content embedding at a fixed size, a colour signature and,
for verifying candidate pairs, ORB local features matched under a similarity transform.

- :func:`content_embedding` (:mod:`pixgrade.pipeline.content`) runs the quality model on a copy resized to
  :data:`CONTENT_SIDE` pixels (longest side):
  the model's own embedding is computed at the image's resolution (it judges sharpness and resolution), so a
  half-size copy of a photo lands far from the original; at a fixed size copies, crops and re-framings of one photo
  stay close (measured in ``benchmarks/duplicates.py``).
- :func:`local_features` and :func:`geometric_match`: ORB keypoints (Rublee et al., ICCV 2011; OpenCV) matched with
  Lowe's ratio test, then a RANSAC fit of a similarity transform (``cv2.estimateAffinePartial2D``). Two photos
  of one scene agree on many keypoints under one transform; two photos of similar-looking distinct products
  (another colour of a T-shirt, another shoe of the same cut) do not. The transform also says *what kind* of copy
  it is: the share of each image the other covers tells a crop from a resize.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pixgrade.io.arrays import check_rgb, resize_longest_side
from pixgrade.pipeline.content import CONTENT_SIDE, content_embedding

__all__ = [
    "CONTENT_SIDE",
    "GeometricMatch",
    "LocalFeatures",
    "colour_signature",
    "content_embedding",
    "geometric_match",
    "local_features",
]

LOCAL_SIDE = 192
"""Longest side, in pixels, of the copy ORB features are computed on."""

THUMB_FACTOR = 2


def colour_signature(rgb: np.ndarray) -> np.ndarray:
    """Mean CIELAB colour of a 4×4 grid of the image (48 floats, L in 0–100, a and b around 0): how two aligned
    copies differ in colour.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
        - output: ``(48,)`` float32.
    """
    check_rgb(rgb)
    small = cv2.resize(rgb, (4, 4), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return cv2.cvtColor(small, cv2.COLOR_RGB2LAB).reshape(-1).astype(np.float32)


@dataclass(frozen=True)
class LocalFeatures:
    """ORB keypoints of one image, in pixels of a copy whose longest side is :data:`LOCAL_SIDE`."""

    points: np.ndarray
    """``(N, 2)`` float32 keypoint positions."""
    descriptors: np.ndarray
    """``(N, 32)`` uint8 binary descriptors."""
    size: tuple[int, int]
    """(width, height) of the copy the points refer to."""
    thumbnail: np.ndarray
    """The equalised greyscale copy at a quarter of that size (float32), for comparing aligned pixels."""


_ORB: Any = None


def local_features(rgb: np.ndarray, n_features: int = 700) -> LocalFeatures:
    """ORB keypoints and descriptors of ``rgb`` (resized to :data:`LOCAL_SIDE`, greyscale, contrast-equalised so
    a brightness or colour shift changes little).

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
    """
    check_rgb(rgb)
    small = resize_longest_side(rgb, LOCAL_SIDE)
    grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    create: Any = getattr(cv2, "ORB_create")  # noqa: B009 - not in OpenCV's type stubs
    orb = create(nfeatures=n_features, fastThreshold=10, edgeThreshold=15, patchSize=15)
    keypoints, descriptors = orb.detectAndCompute(grey, None)
    size = (small.shape[1], small.shape[0])
    thumb = cv2.resize(
        grey, (max(1, size[0] // THUMB_FACTOR), max(1, size[1] // THUMB_FACTOR)), interpolation=cv2.INTER_AREA
    )
    thumbnail = thumb.astype(np.float32)
    if descriptors is None or not keypoints:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), size, thumbnail)
    points = np.array([k.pt for k in keypoints], dtype=np.float32)
    return LocalFeatures(points, descriptors, size, thumbnail)


@dataclass(frozen=True)
class GeometricMatch:
    """Two images related by a similarity transform (scale, rotation, shift) that many keypoints agree on."""

    inliers: int
    """Keypoint pairs consistent with the transform."""
    scale: float
    """Size of image b's content in image a over its size in b (in the :data:`LOCAL_SIDE` copies)."""
    coverage_a: float
    """Share of image a's area that image b shows, in [0, 1] (1 = b shows all of a)."""
    coverage_b: float
    """Share of image b's area that shows image a, in [0, 1] (1 = all of b comes from a)."""
    correlation: float
    """Agreement of the two equalised greyscale thumbnails once aligned, in [-1, 1]: the lowest quartile of the
    pixel correlations of textured blocks of the overlap. Near 1 for copies of one photo; lower for two photos of
    one scene (parallax, light) and for look-alike shots that differ where the product is."""


def geometric_match(
    a: LocalFeatures, b: LocalFeatures, *, min_inliers: int = 15, min_inlier_share: float = 0.25
) -> GeometricMatch | None:
    """The similarity transform mapping ``b`` into ``a`` when at least ``min_inliers`` matched keypoints (and that
    share of the ratio-test matches) agree on it, else None."""
    if len(a.descriptors) < min_inliers or len(b.descriptors) < min_inliers:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(b.descriptors, a.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < min_inliers:
        return None
    src = b.points[[m.queryIdx for m in good]]
    dst = a.points[[m.trainIdx for m in good]]
    transform, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=4.0, maxIters=1000, confidence=0.99
    )
    if transform is None or mask is None:
        return None
    inliers = int(mask.sum())
    if inliers < min_inliers or inliers < min_inlier_share * len(good):
        return None
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    if not 0.2 <= scale <= 5.0:
        return None
    wa, ha = a.size
    wb, hb = b.size
    corners = np.array([[0, 0], [wb, 0], [wb, hb], [0, hb]], np.float32)
    mapped = corners @ transform[:, :2].T + transform[:, 2]
    # Area of b's outline inside a (both convex): intersection of the mapped quadrilateral with a's rectangle.
    frame = np.array([[0, 0], [wa, 0], [wa, ha], [0, ha]], np.float32)
    overlap, _ = cv2.intersectConvexConvex(mapped.astype(np.float32), frame)
    overlap = max(0.0, float(overlap))
    mapped_area = abs(float(cv2.contourArea(mapped.astype(np.float32)))) or 1.0
    return GeometricMatch(
        inliers=inliers,
        scale=scale,
        coverage_a=min(1.0, overlap / float(wa * ha)),
        coverage_b=min(1.0, overlap / mapped_area),
        correlation=_aligned_correlation(a.thumbnail, b.thumbnail, transform),
    )


def _aligned_correlation(a: np.ndarray, b: np.ndarray, transform: np.ndarray, grid: int = 6) -> float:
    """How well thumbnail ``b`` warped onto thumbnail ``a`` agrees with it: the lowest quartile of the Pearson
    correlations of a ``grid`` × ``grid`` of blocks (those inside the overlap and with texture in both).

    Blockwise, because two look-alike studio shots (one model, one pose, another shirt) agree on the backdrop and
    the silhouette and differ only where the product is: one global correlation is high for them too.
    """
    small = transform.astype(np.float64).copy()
    small[:, 2] /= THUMB_FACTOR  # same linear part, shift in thumbnail pixels
    height, width = a.shape
    warped = cv2.warpAffine(b, small, (width, height), flags=cv2.INTER_LINEAR, borderValue=0.0)
    inside = cv2.warpAffine(np.ones_like(b), small, (width, height), flags=cv2.INTER_NEAREST, borderValue=0.0)
    mask = cv2.erode((inside > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    x_all = cv2.GaussianBlur(a, (3, 3), 0)
    y_all = cv2.GaussianBlur(warped, (3, 3), 0)
    scores = []
    for rows in np.array_split(np.arange(height), grid):
        for cols in np.array_split(np.arange(width), grid):
            block = np.ix_(rows, cols)
            m = mask[block]
            if m.mean() < 0.8:
                continue
            x, y = x_all[block][m], y_all[block][m]
            if x.std() < 6.0 or y.std() < 6.0:  # flat backdrop: says nothing
                continue
            x, y = x - x.mean(), y - y.mean()
            scores.append(float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum())))
    if len(scores) < 4:
        return 0.0
    return float(np.percentile(scores, 25))
