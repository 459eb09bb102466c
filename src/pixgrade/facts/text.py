"""Detection of overlaid text, logos and watermarks.

Two detectors share one output type, :class:`TextDetection`:

- ``"db"`` — the PP-OCRv4 text *detection* network (Differentiable Binarization, Liao et al., AAAI 2020;
  PaddleOCR, Apache-2.0) run with ONNX Runtime. The model file ships inside pixgrade
  (``pixgrade/facts/models/ch_PP-OCRv4_det_infer.onnx``, 4.7 MB, with its licence ``LICENSE-PaddleOCR.txt``),
  taken unchanged from the PyPI wheel ``rapidocr-onnxruntime`` 1.4.4 (RapidOCR's ONNX conversion); see NOTICE.
- ``"classical"`` — a fallback without any model: morphological gradient, Otsu binarisation, horizontal
  closing into line candidates, then connected-component filters on size, aspect ratio and fill (the usual
  "text regions by gradient" recipe; see docs/filtering.md). Much weaker; used only when the model is absent.

``detect_text(rgb)`` picks ``"db"`` when available, else ``"classical"``. Precision and recall of both on generated
images are measured by ``benchmarks/text_detection.py``.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from pixgrade.io.arrays import fit_longest_side

__all__ = [
    "OVERLAY_MAX_PRODUCT_SHARE",
    "TextBox",
    "TextDetection",
    "available_text_detectors",
    "backing_patch",
    "db_model_path",
    "detect_text",
    "flat_glyphs",
    "overlay_regions",
    "plain_backdrop",
    "rendered_text_score",
    "repeated_lines",
]

TextDetectorName = Literal["auto", "db", "classical"]

OVERLAY_MAX_PRODUCT_SHARE = 0.8
"""Default of :func:`overlay_regions`: a text region whose box is more than this share product is taken for a
print on the product, not an overlay (measured trade-off in docs/filtering.md)."""


@dataclass(frozen=True)
class TextBox:
    """One detected text region, axis-aligned, in pixels of the analysed image."""

    x: int
    y: int
    width: int
    height: int
    confidence: float
    """Mean text probability inside the box (``db``) or 1.0 (``classical``)."""
    line_height: float = 0.0
    """Thickness of the text line along its own orientation (the short side of the minimum-area rectangle), in
    pixels; equals ``height`` for horizontal text. 0 = unknown (use ``height``)."""

    line_length: float = 0.0
    """Length of the text line along its own orientation (the long side of the minimum-area rectangle), in pixels;
    0 = unknown (use ``width``)."""

    @property
    def aspect(self) -> float:
        """Line length over thickness: text lines are elongated, blobs of texture are not."""
        return (self.line_length or float(self.width)) / max(1.0, self.thickness)

    @property
    def thickness(self) -> float:
        """Line thickness in pixels (rotated text is thin even when its axis-aligned box is tall)."""
        return self.line_height or float(self.height)


@dataclass(frozen=True)
class TextDetection:
    """Text regions found in an image.

    ``area_fraction`` is the union area of the boxes over the image area, in [0, 1].
    """

    boxes: tuple[TextBox, ...]
    area_fraction: float
    detector: str
    image_size: tuple[int, int] = field(default=(0, 0))
    """(width, height) of the image the boxes refer to."""

    @property
    def count(self) -> int:
        """Number of text regions."""
        return len(self.boxes)


DB_MODEL_FILE = Path(__file__).resolve().parent / "models" / "ch_PP-OCRv4_det_infer.onnx"
"""The PP-OCRv4 detection model shipped inside pixgrade (Apache-2.0; licence beside it)."""

DB_MODEL_SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
"""SHA-256 of :data:`DB_MODEL_FILE` (the file of ``rapidocr-onnxruntime`` 1.4.4, unchanged)."""


def db_model_path() -> Path | None:
    """Path of the shipped PP-OCRv4 detection model, or None when the file is missing (a damaged install)."""
    return DB_MODEL_FILE if DB_MODEL_FILE.is_file() else None


def available_text_detectors() -> list[str]:
    """Names of the detectors usable here, best first."""
    names = []
    if db_model_path() is not None and importlib.util.find_spec("onnxruntime") is not None:
        names.append("db")
    names.append("classical")
    return names


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        shape = getattr(rgb, "shape", None)
        raise ValueError(
            f"expected an RGB uint8 array of shape (H, W, 3), got {getattr(rgb, 'dtype', type(rgb))} {shape}"
        )


def _union_area_fraction(boxes: list[TextBox], width: int, height: int) -> float:
    if not boxes or width == 0 or height == 0:
        return 0.0
    mask = np.zeros((height, width), dtype=bool)
    for b in boxes:
        mask[b.y : b.y + b.height, b.x : b.x + b.width] = True
    return float(mask.mean())


class _DBDetector:
    """PP-OCRv4 DB text detector on ONNX Runtime (thread-safe: one session, guarded)."""

    def __init__(self, model_path: Path, side: int = 736) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.side = side
        self.lock = threading.Lock()

    def __call__(self, rgb: np.ndarray, box_threshold: float, pixel_threshold: float = 0.3) -> list[TextBox]:
        height, width = rgb.shape[:2]
        # Longest side to `side` (up or down), each side a multiple of 32 as the network requires.
        scale = self.side / max(height, width)
        new_h = max(32, round(height * scale / 32) * 32)
        new_w = max(32, round(width * scale / 32) * 32)
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
        bgr = resized[:, :, ::-1].astype(np.float32)  # PaddleOCR models are trained on BGR input
        x = ((bgr / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None]
        with self.lock:
            prob = self.session.run(None, {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})[0][0, 0]
        mask = cv2.dilate((prob > pixel_threshold).astype(np.uint8), np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        sx, sy = width / new_w, height / new_h
        boxes = []
        for contour in contours[:1000]:
            x0, y0, w0, h0 = cv2.boundingRect(contour)
            if min(w0, h0) < 3:
                continue
            region = np.zeros((h0, w0), np.uint8)
            cv2.fillPoly(region, [contour - np.array([x0, y0])], 1)
            confidence = float(prob[y0 : y0 + h0, x0 : x0 + w0][region > 0].mean())
            if confidence < box_threshold:
                continue
            # DB "unclip": the shrunk text kernel is grown back by area * ratio / perimeter (ratio 1.6).
            area = float(cv2.contourArea(contour))
            perimeter = float(cv2.arcLength(contour, True)) or 1.0
            d = area * 1.6 / perimeter
            bx0, by0 = max(0.0, x0 - d), max(0.0, y0 - d)
            bx1, by1 = min(new_w, x0 + w0 + d), min(new_h, y0 + h0 + d)
            rect_sides = cv2.minAreaRect(contour)[1]
            short_side, long_side = float(min(rect_sides)) + 2 * d, float(max(rect_sides)) + 2 * d
            box = TextBox(
                x=int(bx0 * sx),
                y=int(by0 * sy),
                width=max(1, round((bx1 - bx0) * sx)),
                height=max(1, round((by1 - by0) * sy)),
                confidence=confidence,
                line_height=short_side * (sx + sy) / 2,
                line_length=long_side * (sx + sy) / 2,
            )
            if box.width > 3 and box.height > 3:
                boxes.append(box)
        return boxes


@lru_cache(maxsize=1)
def _db_detector() -> _DBDetector:
    path = db_model_path()
    if path is None:
        raise RuntimeError(f"the DB text detector's model file is missing ({DB_MODEL_FILE}); reinstall pixgrade")
    return _DBDetector(path)


def _classical_boxes(rgb: np.ndarray, max_side: int = 640) -> list[TextBox]:
    """Gradient + connected components text-line candidates (no model)."""
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    small = fit_longest_side(rgb, max_side)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    gradient = cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    _, binary = cv2.threshold(gradient, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    # Weak gradients (smooth shading) are never text, whatever Otsu picked.
    binary[gradient < 40] = 0
    connected = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1)))
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(connected, connectivity=8)
    sh, sw = grey.shape
    boxes = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if h < 6 or h > 0.2 * sh or w < 2 * h or w > 0.95 * sw:
            continue
        fill = area / float(w * h)
        if not 0.35 <= fill <= 0.95:
            continue
        # Text has many short strokes: count vertical transitions of the binary mask along the line's middle.
        row = binary[y + h // 2, x : x + w] > 0
        transitions = int(np.count_nonzero(row[1:] != row[:-1]))
        if transitions < 2 * (w / h):
            continue
        boxes.append(
            TextBox(
                x=int(x / scale),
                y=int(y / scale),
                width=max(1, round(w / scale)),
                height=max(1, round(h / scale)),
                confidence=1.0,
            )
        )
    return boxes


def detect_text(
    rgb: np.ndarray,
    *,
    detector: TextDetectorName = "auto",
    box_threshold: float = 0.6,
    min_height_fraction: float = 0.0,
) -> TextDetection:
    """Find text (overlaid captions, logos made of letters, watermarks) in an image.

    Args:
        rgb: the image.
        detector: ``"db"`` (PP-OCRv4 DB network), ``"classical"`` (gradient heuristics) or ``"auto"`` (db when its
            model is installed, else classical).
        box_threshold: minimum mean text probability of a region (db only), in [0, 1].
        min_height_fraction: drop regions whose height is below this fraction of the image height.

    Returns:
        The regions in the input's pixel coordinates and their union area fraction (0 = no text).

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
    """
    _check_rgb(rgb)
    if detector == "auto":
        detector = "db" if "db" in available_text_detectors() else "classical"
    if detector == "db":
        boxes = _db_detector()(rgb, box_threshold)
    elif detector == "classical":
        boxes = _classical_boxes(rgb)
    else:
        raise ValueError(f"unknown text detector {detector!r}; choose auto, db or classical")
    height, width = rgb.shape[:2]
    boxes = [b for b in boxes if b.height >= min_height_fraction * height]
    return TextDetection(
        boxes=tuple(boxes),
        area_fraction=_union_area_fraction(boxes, width, height),
        detector=detector,
        image_size=(width, height),
    )


def overlay_regions(
    detection: TextDetection,
    product: np.ndarray,
    *,
    max_product_share: float | None = None,
    max_height_fraction: float = 0.25,
    min_aspect: float = 1.5,
    rgb: np.ndarray | None = None,
    background: np.ndarray | None = None,
) -> list[TextBox]:
    """The detected regions that look *added* rather than printed on the product.

    Only lines of text are looked at: line thickness (along the text's own orientation, so a diagonal watermark
    qualifies) at most ``max_height_fraction`` of the image height (thicker "text" is a whole object) and length at
    least ``min_aspect`` times the thickness (the DB network also fires on some fine textures, such as leather
    grain, as round blobs; a single glyph is missed by this).

    Without the pixels (``rgb``), a line counts as overlay when at most ``max_product_share`` of its box is product
    (``product`` True, see :func:`pixgrade.facts.layout.product_mask`): the box's position alone. With them, a line
    counts as overlay when any of these holds:

    - *on the backdrop*: the picture is a studio shot (:func:`plain_backdrop`), at most ``max_product_share`` of the
      box is product and at least 3 % of it is small islands off the product and off the backdrop (the glyphs; a
      box that merely straddles the product's outline over a texture has none). On a photo the "backdrop" found
      by :func:`pixgrade.facts.layout.background_mask` is just the region of the edge's colour, so position says
      nothing there;
    - *tiled watermark*: one of several lines of nearly one size spread over the whole frame (:func:`repeated_lines`
      across both width and height; shelves of one product repeat along one axis);
    - *banner or badge*: the line is written on a flat axis-aligned rectangle at the frame's edge
      (:func:`backing_patch`);
    - *drawn glyphs*, on a photo or at the frame's edge: at least 3 glyphs of one flat colour (:func:`flat_glyphs`)
      or a clean glyph/surround split with flat glyphs (:func:`rendered_text_score`). On a studio shot, text well
      inside the product is taken for a print (a flat-coloured print on a garment looks drawn too).

    Shape:
        - product, background: ``(H, W)`` bool, the same size as the analysed image (``background`` from
          :func:`pixgrade.facts.layout.background_mask`; computed from ``rgb`` when not given).
        - rgb: ``(H, W, 3)`` uint8, the analysed image.
    """
    if max_product_share is None:
        max_product_share = OVERLAY_MAX_PRODUCT_SHARE
    width, height = detection.image_size
    if product.shape != (height, width):
        raise ValueError(f"product mask shape {product.shape} does not match the image ({height}, {width})")
    if rgb is not None and rgb.shape[:2] != (height, width):
        raise ValueError(f"image shape {rgb.shape[:2]} does not match the detection ({height}, {width})")
    if background is not None and background.shape != (height, width):
        raise ValueError(f"background mask shape {background.shape} does not match the image ({height}, {width})")
    lines = [b for b in detection.boxes if b.thickness <= max_height_fraction * height and b.aspect >= min_aspect]
    if rgb is None:
        return [b for b in lines if _product_share(product, b) <= max_product_share]
    if background is None:
        from pixgrade.facts.layout import background_mask

        background = background_mask(rgb)
    islands = ~background & ~product
    plain = plain_backdrop(rgb)
    repeated = repeated_lines(lines, (width, height), both_axes=True)
    margin = 0.04 * min(width, height)
    selected = []
    for i, box in enumerate(lines):
        window = (slice(box.y, box.y + box.height), slice(box.x, box.x + box.width))
        on_backdrop = (
            plain
            and _product_share(product, box) <= max_product_share
            and bool(islands[window].size)
            and islands[window].mean() >= MIN_GLYPH_ISLAND_SHARE
        )
        at_edge = (
            box.x <= margin
            or box.y <= margin
            or box.x + box.width >= width - margin
            or box.y + box.height >= height - margin
        )
        drawn = (not plain or at_edge) and (
            flat_glyphs(rgb, box) >= MIN_FLAT_GLYPHS or rendered_text_score(rgb, box) >= RENDERED_TEXT_THRESHOLD
        )
        if on_backdrop or i in repeated or drawn or backing_patch(rgb, box) is not None:
            selected.append(box)
    return selected


def _product_share(product: np.ndarray, box: TextBox) -> float:
    region = product[box.y : box.y + box.height, box.x : box.x + box.width]
    return float(region.mean()) if region.size else 1.0


MIN_GLYPH_ISLAND_SHARE = 0.03
"""Default of :func:`overlay_regions`: share of a box on a studio backdrop that must be glyph islands (neither
product nor backdrop) for the line to count as written on the backdrop."""

MIN_FLAT_GLYPHS = 3
"""Default of :func:`overlay_regions`: glyphs of one flat colour (:func:`flat_glyphs`) that make a line look drawn."""


RENDERED_TEXT_THRESHOLD = 0.5
"""Default of :func:`overlay_regions`: a text line inside the product with a :func:`rendered_text_score` at least
this high counts as added."""


def rendered_text_score(rgb: np.ndarray, box: TextBox) -> float:
    """How much a text line looks drawn onto the image rather than photographed, in [0, 1].

    The box is split into glyphs and surround by Otsu's threshold on its greyscale pixels (the glyphs are the
    smaller class). Text drawn by an editor — a badge, a banner, a caption on a plain patch — has glyphs of one flat
    colour: their inner pixels vary little compared with the glyph/surround contrast, even after JPEG compression.
    Text printed on a photographed package or garment is shaded and noisy. The score falls from 1 at a relative
    spread (inner standard deviation over contrast) of 0.02 to 0 at 0.05; on the benchmark's JPEG images, printed
    text on packages and garments measured 0.042 and above, drawn badges and banners 0.005–0.045.
    Limitation: a caption straight on a busy photo is not split cleanly by one threshold and scores low.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
    """
    x0, y0 = max(0, box.x), max(0, box.y)
    crop = rgb[y0 : y0 + box.height, x0 : x0 + box.width]
    if crop.shape[0] < 6 or crop.shape[1] < 6:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    bright = binary > 0
    glyphs = bright if bright.mean() < 0.5 else ~bright
    if not 0.03 <= glyphs.mean() <= 0.6:
        return 0.0
    inner = cv2.erode(glyphs.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if inner.sum() < 12:
        inner = glyphs
    surround = cv2.erode((~glyphs).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if surround.sum() < 12:
        return 0.0
    pixels = crop.astype(np.float32)
    contrast = float(np.abs(pixels[inner].mean(axis=0) - pixels[surround].mean(axis=0)).max())
    if contrast < 40.0:
        return 0.0
    spread = float(pixels[inner].std(axis=0).mean()) / contrast
    return float(np.clip((0.05 - spread) / 0.03, 0.0, 1.0))


def repeated_lines(
    boxes: list[TextBox],
    image_size: tuple[int, int],
    min_repeats: int = 3,
    min_spread: float = 0.5,
    both_axes: bool = False,
) -> set[int]:
    """Indices of the text lines that belong to a tiled watermark: at least ``min_repeats`` lines of nearly the same
    thickness and length (within 20 %), spread over at least ``min_spread`` of the image's width or height (of both
    with ``both_axes``: a shelf of one product repeats its label along one row or column; a tiled watermark covers
    the frame).

    Printed labels repeat text too, but rarely at one size over the whole frame; a tiled watermark does nothing
    else."""
    width, height = image_size
    found: set[int] = set()
    for box in boxes:
        alike = [
            j
            for j, other in enumerate(boxes)
            if abs(other.thickness - box.thickness) <= 0.2 * box.thickness
            and abs((other.line_length or other.width) - (box.line_length or box.width))
            <= 0.2 * (box.line_length or box.width)
        ]
        if len(alike) < min_repeats:
            continue
        xs = [boxes[j].x + boxes[j].width / 2 for j in alike]
        ys = [boxes[j].y + boxes[j].height / 2 for j in alike]
        wide, tall = max(xs) - min(xs) >= min_spread * width, max(ys) - min(ys) >= min_spread * height
        if (wide and tall) if both_axes else (wide or tall):
            found.update(alike)
    return found


def plain_backdrop(rgb: np.ndarray, tolerance: int = 12, min_flat_share: float = 0.5) -> bool:
    """Whether the picture is a studio shot on a plain backdrop: at least ``min_flat_share`` of the outer 2 % band
    is within ``tolerance`` of that band's median colour (studio shots measured 0.53–1.0 on the benchmark, phone and
    scene photos 0.0–0.47). Only on such a backdrop does a text line's position off the product say it was added.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
    """
    height, width = rgb.shape[:2]
    depth = max(2, round(0.02 * min(height, width)))
    band = np.concatenate(
        [
            rgb[:depth].reshape(-1, 3),
            rgb[-depth:].reshape(-1, 3),
            rgb[:, :depth].reshape(-1, 3),
            rgb[:, -depth:].reshape(-1, 3),
        ]
    ).astype(np.int16)
    median = np.median(band, axis=0)
    return bool((np.abs(band - median).max(axis=1) <= tolerance).mean() >= min_flat_share)


def backing_patch(
    rgb: np.ndarray,
    box: TextBox,
    *,
    tolerance: int = 24,
    min_rectangularity: float = 0.92,
    max_patch_side: float = 0.3,
    edge_margin: float = 0.08,
) -> tuple[int, int, int, int] | None:
    """The flat-coloured rectangle a text line is written on, when it is a banner or badge added by an editor.

    The patch is the connected region of the box's most common colour (within ``tolerance`` per channel) that covers
    the box's centre, holes (the glyphs) filled. It counts when it is an axis-aligned rectangle (at least
    ``min_rectangularity`` of its bounding box; a label photographed at even a slight angle or in perspective fills
    much less), at most ``max_patch_side`` of the image along one side (a strip or a badge, not the backdrop),
    within ``edge_margin`` of the frame (banners run along an edge, badges sit in corners), and the text inside
    contrasts with it. Returns the patch as ``(x, y, width, height)`` or None.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
    """
    height, width = rgb.shape[:2]
    crop = rgb[box.y : box.y + box.height, box.x : box.x + box.width]
    if crop.shape[0] < 4 or crop.shape[1] < 4:
        return None
    # Most common colour of the box, on 16-level bins, refined to the median of that bin.
    pixels = crop.reshape(-1, 3)
    bins = (pixels // 16).astype(np.int32)
    codes = bins[:, 0] * 256 + bins[:, 1] * 16 + bins[:, 2]
    top = np.bincount(codes).argmax()
    colour = np.median(pixels[codes == top], axis=0).astype(np.int16)
    # Search a window a few line heights above and below the box, across the whole width.
    reach = 3 * box.height
    wy0, wy1 = max(0, box.y - reach), min(height, box.y + box.height + reach)
    window = rgb[wy0:wy1].astype(np.int16)
    close = (np.abs(window - colour).max(axis=2) <= tolerance).astype(np.uint8)
    _n, labels = cv2.connectedComponents(close, connectivity=4)
    inside = labels[box.y - wy0 : box.y - wy0 + box.height, box.x : box.x + box.width]
    inside = inside[inside > 0]
    if inside.size < 0.3 * box.width * box.height:
        return None
    label = np.bincount(inside).argmax()
    component = (labels == label).astype(np.uint8)
    contours, _ = cv2.findContours(component, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(component)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    x, y, w, h = cv2.boundingRect(filled)
    y += wy0
    # A patch cut by the window's (not the image's) top or bottom is taller than a banner: the backdrop.
    if (y == wy0 and wy0 > 0) or (y + h == wy1 and wy1 < height):
        return None
    if h > max_patch_side * height and w > max_patch_side * width:
        return None
    if filled.sum() < min_rectangularity * w * h:
        return None
    margin = edge_margin * min(height, width)
    if not (x <= margin or y <= margin or x + w >= width - margin or y + h >= height - margin):
        return None
    # The text: pixels of the filled patch that are not of its colour, inside the box.
    holes = (filled - component)[box.y - wy0 : box.y - wy0 + box.height, box.x : box.x + box.width]
    if holes.mean() < 0.03:
        return None
    return (x, y, w, h)


def flat_glyphs(rgb: np.ndarray, box: TextBox, *, min_tightness: float = 0.7, tolerance: int = 24) -> int:
    """How many glyph-like shapes of one flat colour a text line holds (0 when its glyphs do not look drawn).

    Candidate glyph colours are the three most common colours of the box (16-level bins). For each, the pixels
    within ``tolerance`` of it (per channel) are its mask; the colour is a flat glyph colour when the mask covers
    5–60 % of the box and at least ``min_tightness`` of the mask lies within 8 levels of the colour. Text drawn by
    an editor has exactly one fill colour, so its glyphs stay this tight after JPEG compression even on a busy
    photo; text printed on a photographed package carries the photo's noise, blur and shading. The count is the
    mask's connected components 35–95 % of the box's height tall (characters, not specks or the whole line).

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
    """
    crop = rgb[max(0, box.y) : box.y + box.height, max(0, box.x) : box.x + box.width]
    if crop.shape[0] < 6 or crop.shape[1] < 6:
        return 0
    pixels = crop.reshape(-1, 3).astype(np.int16)
    bins = (pixels // 16).astype(np.int32)
    codes = bins[:, 0] * 256 + bins[:, 1] * 16 + bins[:, 2]
    best = 0
    for code in np.argsort(np.bincount(codes))[::-1][:3]:
        colour = np.median(pixels[codes == code], axis=0)
        distance = np.abs(pixels - colour).max(axis=1)
        mask = distance <= tolerance
        if not 0.05 <= mask.mean() <= 0.6 or (distance <= 8).sum() < min_tightness * mask.sum():
            continue
        n, _labels, stats, _ = cv2.connectedComponentsWithStats(
            mask.reshape(crop.shape[:2]).astype(np.uint8), connectivity=8
        )
        heights = stats[1:n, cv2.CC_STAT_HEIGHT]
        best = max(best, int(((heights >= 0.35 * crop.shape[0]) & (heights <= 0.95 * crop.shape[0])).sum()))
    return best
