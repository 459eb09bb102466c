"""Examples for the presentation judgement: catalogue shots and casual photos of the *same* product kinds.

The two real sources differ in product kind as well as in presentation — ``products-fashion`` is all studio
shots of clothes, ``products-grocery-phone`` all phone photos of groceries in shops — so a model trained on them
alone could learn "groceries are casual". To break that link every product kind appears on both sides:

- **studio** (label 1): the fashion photos as they are; fashion cut-outs re-rendered on white or a plain light
  backdrop at other sizes (so that size says nothing); grocery products cut out of the phone photos (OpenCV
  GrabCut in a central box) and placed centred on white or a plain light backdrop, filling 70–92% of the frame.
- **casual** (label 0): the grocery phone photos as they are; fashion and grocery cut-outs pasted onto real
  scenes (LIVE-C photos and grocery shop photos), scaled down, shifted off-centre, rotated, partly covered by
  a skin-coloured "hand" or a piece of another scene, with other products as clutter and price tags; studio
  shots spoiled by an added border or caption; and cut-outs on white that are small in the frame (spanning
  20–50%) and often off-centre — a plain background alone does not make a catalogue shot.

The grocery cut-outs are not real catalogue shots (GrabCut leaves bits of shelf or hand at the edges); they are
what makes a grocery product on white a studio example. The real studio ("iconic") images of the grocery
dataset are held out by the data provider and are not used here.

Every example has a ``category`` (fashion ``subCategory`` or grocery ``coarse_class``) so that evaluations can
hold out whole categories (:data:`HELD_OUT_CATEGORIES`).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "EXAMPLES_VERSION",
    "HELD_OUT_CATEGORIES",
    "Example",
    "Sources",
    "casual_composite",
    "grocery_cutout",
    "load_sources",
    "place_on_plain",
    "studio_cutout",
    "training_examples",
]

#: Categories never used to fit the shipped presentation model; the main-image benchmark uses only these.
#: Fashion ``subCategory`` values and grocery ``coarse_class`` values (fruit, vegetables and packages each).
HELD_OUT_CATEGORIES: frozenset[str] = frozenset(
    {"Bottomwear", "Bags", "Watches", "Sandal", "Belts", "Juice", "Yoghurt", "Pepper", "Carrots", "Pear", "Kiwi"}
)


#: Changes whenever :func:`training_examples` makes different examples (part of the fit's cache key).
EXAMPLES_VERSION = 2


@dataclass(frozen=True)
class Example:
    """One image for fitting or evaluating the presentation judgement."""

    name: str
    """Unique, stable id (the cache key together with the model's SHA-256)."""
    label: int
    """1 = catalogue (studio) shot, 0 = casual photo."""
    kind: str
    """How it was made: ``fashion``, ``fashion-plain``, ``grocery-plain``, ``grocery-phone``,
    ``fashion-scene``, ``grocery-scene``, ``fashion-overlay``."""
    category: str
    product: str
    jpeg: bytes


@dataclass(frozen=True)
class Sources:
    """Where the real photos are."""

    fashion: list[tuple[Path, str, str]]
    """(path, subCategory, product_id)."""
    grocery: list[tuple[Path, str, str]]
    """(path, coarse_class, product)."""
    scenes: list[Path]
    """LIVE-C photos used as backgrounds."""


def load_sources(data_root: str | Path) -> Sources:
    """Read the three data sets' file lists under ``data_root`` (``../shared/data``)."""
    root = Path(data_root)
    with open(root / "products-fashion" / "products.csv", newline="") as f:
        fashion = [
            (root / "products-fashion" / r["image"], r["subCategory"], r["product_id"]) for r in csv.DictReader(f)
        ]
    with open(root / "products-grocery-phone" / "photos.csv", newline="") as f:
        grocery = [
            (root / "products-grocery-phone" / r["image"], r["coarse_class"], r["product"]) for r in csv.DictReader(f)
        ]
    scenes = sorted((root / "livec-train" / "images").iterdir())
    return Sources(fashion, grocery, [p for p in scenes if p.suffix.lower() in (".jpg", ".jpeg", ".webp", ".bmp")])


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled > 0


def _crop_rgba(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The mask's bounding box as RGBA (alpha softened over 1–2 px), or None when the mask is (nearly) empty."""
    if mask.sum() < 0.01 * mask.size:
        return None
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0)[y0:y1, x0:x1]
    return np.dstack([rgb[y0:y1, x0:x1], np.clip(alpha * 255, 0, 255).astype(np.uint8)])


def studio_cutout(rgb: np.ndarray) -> np.ndarray | None:
    """The product of a studio shot on white as RGBA: backdrop = near-white pixels connected to the border."""
    near_white = (rgb.min(axis=2) >= 232) & ((rgb.max(axis=2).astype(int) - rgb.min(axis=2)) <= 20)
    _, labels = cv2.connectedComponents(near_white.astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    backdrop = np.isin(labels, border[border > 0]) & near_white
    mask = cv2.morphologyEx((~backdrop).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    return _crop_rgba(rgb, _fill_holes(mask))


def grocery_cutout(rgb: np.ndarray, rng: random.Random) -> np.ndarray | None:
    """A product cut out of a phone photo: GrabCut initialised with a central box (60–75% of the frame)."""
    h, w = rgb.shape[:2]
    scale = 200 / max(h, w)
    small = cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    fx, fy = rng.uniform(0.6, 0.75), rng.uniform(0.65, 0.8)
    rect = (round(sw * (1 - fx) / 2), round(sh * (1 - fy) / 2), round(sw * fx), round(sh * fy))
    mask = np.zeros((sh, sw), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(rng.randrange(1 << 30))
    cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), mask, rect, bgd, fgd, 3, cv2.GC_INIT_WITH_RECT)
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n <= 1:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    fg = cv2.resize((labels == largest).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    return _crop_rgba(rgb, _fill_holes(fg > 0))


def _resize_rgba(rgba: np.ndarray, longest: int) -> np.ndarray:
    h, w = rgba.shape[:2]
    scale = max(8, longest) / max(h, w)
    size = (max(4, round(w * scale)), max(4, round(h * scale)))
    return cv2.resize(rgba, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _paste(canvas: np.ndarray, rgba: np.ndarray, cx: float, cy: float) -> None:
    """Alpha-blend ``rgba`` onto ``canvas`` (float RGB, in place) centred at ``(cx, cy)`` pixels, clipped."""
    h, w = rgba.shape[:2]
    ch, cw = canvas.shape[:2]
    x0, y0 = round(cx - w / 2), round(cy - h / 2)
    ax0, ay0, ax1, ay1 = max(0, -x0), max(0, -y0), min(w, cw - x0), min(h, ch - y0)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    part = rgba[ay0:ay1, ax0:ax1].astype(np.float32)
    alpha = part[..., 3:] / 255.0
    region = canvas[y0 + ay0 : y0 + ay1, x0 + ax0 : x0 + ax1]
    region[:] = region * (1 - alpha) + part[..., :3] * alpha


def place_on_plain(
    rgba: np.ndarray,
    rng: random.Random,
    size: int | None = None,
    fill: tuple[float, float] = (0.7, 0.92),
    offset: float = 0.02,
) -> np.ndarray:
    """A catalogue-style shot: the cut-out on white (or a plain light grey/cream), spanning ``fill`` of the frame
    (70–92% by default), its centre at most ``offset`` of the frame from the middle (2% by default)."""
    side = size or rng.choice([224, 300, 400, 500, 600])
    colour = (255, 255, 255) if rng.random() < 0.75 else tuple([rng.randint(225, 250)] * 3)
    canvas = np.empty((side, side, 3), np.float32)
    canvas[:] = colour
    span = rng.uniform(*fill)
    product = _resize_rgba(rgba, round(side * span))
    room = min(offset, max(0.0, (1 - span) / 2))
    _paste(canvas, product, side * (0.5 + rng.uniform(-room, room)), side * (0.5 + rng.uniform(-room, room)))
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _scene(path: Path, rng: random.Random, side: int) -> np.ndarray:
    rgb = _rgb(path)
    h, w = rgb.shape[:2]
    crop = rng.uniform(0.6, 1.0)
    ch, cw = round(h * crop), round(w * crop)
    y, x = rng.randint(0, h - ch), rng.randint(0, w - cw)
    return cv2.resize(rgb[y : y + ch, x : x + cw], (side, side), interpolation=cv2.INTER_AREA)


def _rotate(rgba: np.ndarray, degrees: float, skew: float) -> np.ndarray:
    h, w = rgba.shape[:2]
    pad = round(0.3 * max(h, w))
    padded = cv2.copyMakeBorder(rgba, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
    ph, pw = padded.shape[:2]
    matrix = cv2.getRotationMatrix2D((pw / 2, ph / 2), degrees, 1.0)
    matrix[0, 1] += skew
    out = cv2.warpAffine(padded, matrix, (pw, ph), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    ys, xs = np.nonzero(out[..., 3] > 8)
    if len(ys) == 0:
        return rgba
    return out[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _hand(canvas: np.ndarray, rng: random.Random, cx: float, cy: float, size: float) -> None:
    """A crude skin-coloured hand: a palm ellipse and four finger strokes over part of the product."""
    tone = np.array(rng.choice([(224, 172, 140), (198, 134, 96), (141, 85, 55), (240, 200, 170)]), np.float32)
    layer = np.zeros(canvas.shape[:2], np.uint8)
    px, py = round(cx + rng.uniform(-0.4, 0.4) * size), round(cy + rng.uniform(0.1, 0.5) * size)
    cv2.ellipse(layer, (px, py), (round(0.22 * size), round(0.3 * size)), rng.uniform(0, 180), 0, 360, 255, -1)
    for k in range(4):
        angle = np.deg2rad(rng.uniform(-120, -60) + 12 * k)
        length = 0.35 * size
        end = (round(px + length * np.cos(angle) - 0.15 * size), round(py + length * np.sin(angle)))
        cv2.line(layer, (px - round(0.1 * size) + 6 * k, py), end, 255, max(3, round(0.07 * size)))
    alpha = cv2.GaussianBlur(layer, (5, 5), 0)[..., None].astype(np.float32) / 255.0
    shade = tone * rng.uniform(0.85, 1.05)
    canvas[:] = canvas * (1 - alpha) + shade * alpha


def _price_tag(canvas: np.ndarray, rng: random.Random) -> None:
    side = canvas.shape[0]
    w, h = round(side * rng.uniform(0.18, 0.3)), round(side * rng.uniform(0.08, 0.14))
    x, y = rng.randint(0, side - w), rng.randint(side // 2, side - h)
    tag = Image.new("RGB", (w, h), rng.choice([(255, 255, 255), (255, 230, 60), (250, 80, 60)]))
    draw = ImageDraw.Draw(tag)
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=max(8, round(h * 0.6)))
    except TypeError:  # pragma: no cover - Pillow < 10.1
        font = ImageFont.load_default()
    draw.text((3, 1), f"{rng.randint(5, 99)}.{rng.randint(0, 99):02d}", fill=(0, 0, 0), font=font)
    canvas[y : y + h, x : x + w] = np.asarray(tag, np.float32)


def casual_composite(
    product: np.ndarray, scene: Path, clutter: Sequence[np.ndarray], rng: random.Random, side: int | None = None
) -> np.ndarray:
    """A casual photo of ``product`` (RGBA): pasted onto a real scene, scaled down, off-centre, rotated or
    skewed, perhaps held by a hand or partly covered by another piece of scene, with clutter and a price tag."""
    side = side or rng.choice([224, 320, 400, 500])
    canvas = _scene(scene, rng, side).astype(np.float32)
    for other in clutter:
        item = _resize_rgba(_rotate(other, rng.uniform(-40, 40), 0.0), round(side * rng.uniform(0.2, 0.45)))
        _paste(canvas, item, rng.uniform(0, side), rng.uniform(0, side))
    item = _rotate(product, rng.uniform(-25, 25), rng.uniform(-0.25, 0.25))
    longest = side * rng.uniform(0.35, 0.8)
    item = _resize_rgba(item, round(longest))
    cx, cy = side * (0.5 + rng.uniform(-0.25, 0.25)), side * (0.5 + rng.uniform(-0.25, 0.25))
    _paste(canvas, item, cx, cy)
    cover = rng.random()
    if cover < 0.45:
        _hand(canvas, rng, cx, cy, longest)
    elif cover < 0.65:  # a piece of another scene covers a corner of the product
        patch = _scene(scene, rng, max(8, round(longest * rng.uniform(0.3, 0.5))))
        px, py = round(cx + rng.uniform(-0.5, 0.3) * longest), round(cy + rng.uniform(-0.5, 0.3) * longest)
        rgba = np.dstack([patch, np.full(patch.shape[:2], 255, np.uint8)])
        _paste(canvas, rgba, px, py)
    if rng.random() < 0.4:
        _price_tag(canvas, rng)
    out = np.clip(canvas, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        return np.asarray(cv2.GaussianBlur(out, (3, 3), rng.uniform(0.3, 1.0)), np.uint8)
    return out


def _overlay(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    """A studio shot spoiled by an added frame or a caption (not a catalogue main image)."""
    image = Image.fromarray(rgb.copy())
    draw = ImageDraw.Draw(image)
    w, h = image.size
    colour = tuple(rng.randint(0, 200) for _ in range(3))
    if rng.random() < 0.5:
        t = max(3, round(min(w, h) * rng.uniform(0.02, 0.06)))
        draw.rectangle((0, 0, w - 1, h - 1), outline=colour, width=t)
    else:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont
        try:
            font = ImageFont.load_default(size=max(10, round(h * rng.uniform(0.06, 0.12))))
        except TypeError:  # pragma: no cover - Pillow < 10.1
            font = ImageFont.load_default()
        text = rng.choice(["SALE -50%", "NEW", "FREE SHIPPING", "BEST PRICE", "www.shop.example"])
        draw.text((round(w * 0.05), round(h * rng.choice([0.03, 0.85]))), text, fill=colour, font=font)
    return np.asarray(image)


def training_examples(
    sources: Sources,
    *,
    held_out: bool,
    seed: int = 0,
    n_fashion: int = 900,
    n_grocery: int = 900,
) -> Iterator[Example]:
    """Examples of the held-out categories (``held_out=True``) or of all the others, deterministic for a seed.

    Per fashion photo drawn: the photo itself (studio), and in turn a re-rendering on a plain backdrop (studio),
    a scene composite (casual) or an overlay (casual). Per grocery photo drawn: the phone photo (casual) and in
    turn a cut-out on a plain backdrop (studio) or a cut-out on another scene (casual). Backgrounds are LIVE-C
    photos (the first half for fitting, the second half for held-out examples) and grocery photos of the same
    side of the split.
    """
    rng = random.Random(seed * 1000 + (1 if held_out else 0))
    fashion = [s for s in sources.fashion if (s[1] in HELD_OUT_CATEGORIES) == held_out]
    grocery = [s for s in sources.grocery if (s[1] in HELD_OUT_CATEGORIES) == held_out]
    half = len(sources.scenes) // 2
    scenes = sources.scenes[half:] if held_out else sources.scenes[:half]
    backgrounds = scenes + [g[0] for g in grocery[::4]]
    fashion = rng.sample(fashion, min(n_fashion, len(fashion)))
    grocery = rng.sample(grocery, min(n_grocery, len(grocery)))
    cutouts: list[np.ndarray] = []
    for i, (path, category, product) in enumerate(fashion):
        rgb = _rgb(path)
        base = f"fashion/{path.name}"
        yield Example(base, 1, "fashion", category, product, path.read_bytes())
        cut = studio_cutout(rgb)
        if cut is None:
            continue
        cutouts.append(cut)
        if len(cutouts) > 60:
            cutouts.pop(rng.randrange(len(cutouts)))
        turn = i % 4
        if turn == 0:
            yield Example(base + "#plain", 1, "fashion-plain", category, product, _jpeg(place_on_plain(cut, rng)))
        elif turn == 2:
            small = place_on_plain(cut, rng, fill=(0.2, 0.5), offset=0.25)
            yield Example(base + "#small", 0, "fashion-small", category, product, _jpeg(small))
        if turn == 3:
            yield Example(base + "#overlay", 0, "fashion-overlay", category, product, _jpeg(_overlay(rgb, rng)))
        else:
            clutter = rng.sample(cutouts[:-1], min(len(cutouts) - 1, rng.choice([0, 0, 1, 2, 3])))
            image = casual_composite(cut, rng.choice(backgrounds), clutter, rng)
            yield Example(base + "#scene", 0, "fashion-scene", category, product, _jpeg(image, rng.randint(75, 92)))
    for i, (path, category, product) in enumerate(grocery):
        base = f"grocery/{path.name}"
        yield Example(base, 0, "grocery-phone", category, product, path.read_bytes())
        if i % 3 == 2:
            continue
        cut = grocery_cutout(_rgb(path), rng)
        if cut is None:
            continue
        cutouts.append(cut)
        if len(cutouts) > 60:
            cutouts.pop(rng.randrange(len(cutouts)))
        if i % 3 == 0:
            yield Example(base + "#plain", 1, "grocery-plain", category, product, _jpeg(place_on_plain(cut, rng)))
            if i % 6 == 3:
                small = place_on_plain(cut, rng, fill=(0.2, 0.5), offset=0.25)
                yield Example(base + "#small", 0, "grocery-small", category, product, _jpeg(small))
        else:
            clutter = rng.sample(cutouts[:-1], min(len(cutouts) - 1, rng.choice([0, 1, 2])))
            image = casual_composite(cut, rng.choice(backgrounds), clutter, rng)
            yield Example(base + "#scene", 0, "grocery-scene", category, product, _jpeg(image, rng.randint(75, 92)))
