"""Precision and recall of pixgrade's overlaid-text detection on generated images.

Bases come from three sets, in equal numbers: ``studio`` (``products-fashion``: 224×224 shots on white, many with
prints on the product itself), ``packaging`` (``products-grocery-phone`` photos of the *Packages* department:
phone photos in shops full of printed labels, which are not overlays) and ``photo`` (``products-grocery-phone``
fruit and vegetables and ``livec-train`` photos: photographic backgrounds). Each base yields one negative (the
photo as it is) and one positive: the photo with one added overlay drawn at random from

- caption: a short text line (4–16 % of the height) at a random edge, corner or middle position, dark, white,
  coloured or low-contrast, sometimes with an outline;
- banner: a price or sale banner, a filled strip across the top or bottom (or a corner ribbon) with text;
- watermark: large semi-transparent text (opacity 0.15–0.6) across the middle, sometimes rotated 30°;
- tiled watermark: one word repeated on a rotated grid over the whole image, opacity 0.12–0.4;
- logo: a small badge (filled rectangle with a word) in a corner.

Images are scaled to 224–640 px on the longest side first, and both versions are saved as JPEG (quality 80–95).
Fonts: Pillow's default font and every DejaVu and Liberation TTF found on the machine (``apt-get install
fonts-dejavu-core fonts-liberation``).
An image counts as "text found" when it has a
text region that counts as overlay (:func:`pixgrade.facts.text.overlay_regions`, the quantity the presets test:
``ImageFacts.overlay_text_regions > 0``), for a range of the ``max_product_share`` setting, the default marked,
and without the pixel tests (the box's position alone);
"any text" (prints included) is reported too. Run::

    python benchmarks/text_detection.py --n 60 --seed 0
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pixgrade.facts.layout import background_mask, product_mask
from pixgrade.facts.text import OVERLAY_MAX_PRODUCT_SHARE, available_text_detectors, detect_text, overlay_regions

WORDS = [
    "SALE",
    "50% OFF",
    "NEW",
    "Free Shipping",
    "BEST SELLER",
    "Limited Edition",
    "www.shop-example.com",
    "© Studio 2024",
    "BUY 1 GET 1",
    "Only $19.99",
    "HOT DEAL",
    "sample",
    "ORIGINAL",
    "Top Quality",
]


def data_dir() -> Path:
    env = os.environ.get("PIXGRADE_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def fonts() -> list[str | None]:
    found: list[str | None] = [None]  # None = Pillow's default font
    found += sorted(glob.glob("/usr/share/fonts/truetype/dejavu/*.ttf"))
    found += sorted(glob.glob("/usr/share/fonts/truetype/liberation*/*.ttf"))
    return found


def load_font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


def jpeg_round_trip(image: Image.Image, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def add_caption(image: Image.Image, rng: random.Random, font_paths: list[str | None]) -> dict[str, str]:
    width, height = image.size
    size = max(9, round(height * rng.choice([0.04, 0.055, 0.07, 0.09, 0.12, 0.16])))
    font = load_font(rng.choice(font_paths), size)
    text = rng.choice(WORDS)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = right - left, bottom - top
    position = rng.choice(["top-left", "top", "top-right", "bottom-left", "bottom", "bottom-right", "middle"])
    margin = 4
    x = {"left": margin, "right": width - tw - margin}.get(position.split("-")[-1], (width - tw) // 2)
    y = {"top": margin, "bottom": height - th - margin - 2}.get(position.split("-")[0], (height - th) // 2)
    contrast = rng.choice(["dark", "white", "colour", "low"])
    fill = {
        "dark": (20, 20, 20),
        "white": (250, 250, 250),
        "colour": rng.choice([(210, 20, 30), (20, 60, 200), (0, 140, 60), (250, 200, 0)]),
        "low": (190, 190, 190),
    }[contrast]
    outline = rng.random() < 0.3
    stroke = {"stroke_width": max(1, size // 12), "stroke_fill": (0, 0, 0) if contrast != "dark" else (255, 255, 255)}
    draw.text((x - left, y - top), text, font=font, fill=fill, **(stroke if outline else {}))
    size_label = f"{100 * size / height:.0f}% of h"
    return {"kind": "caption", "size": size_label, "contrast": contrast, "position": position}


def add_banner(image: Image.Image, rng: random.Random, font_paths: list[str | None]) -> dict[str, str]:
    width, height = image.size
    text = rng.choice(["SALE -50%", "Only $19.99", "FREE SHIPPING", "NEW ARRIVAL", "BEST PRICE", "2 FOR 1"])
    band = round(height * rng.uniform(0.09, 0.16))
    font = load_font(rng.choice(font_paths), max(9, round(band * 0.6)))
    draw = ImageDraw.Draw(image)
    colour = rng.choice([(220, 30, 40), (250, 190, 0), (20, 20, 20), (0, 110, 200)])
    ink = (255, 255, 255) if colour != (250, 190, 0) else (20, 20, 20)
    where = rng.choice(["top", "bottom", "ribbon"])
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    if where == "ribbon":
        bw = min(width, right - left + band)
        box = (width - bw, round(height * 0.06), width, round(height * 0.06) + band)
    else:
        y0 = 0 if where == "top" else height - band
        box = (0, y0, width, y0 + band)
    draw.rectangle(box, fill=colour)
    cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
    draw.text((cx - (right - left) // 2 - left, cy - (bottom - top) // 2 - top), text, font=font, fill=ink)
    return {"kind": "banner", "position": where}


def add_tiled_watermark(image: Image.Image, rng: random.Random, font_paths: list[str | None]) -> dict[str, str]:
    width, height = image.size
    opacity = rng.choice([0.12, 0.2, 0.3, 0.4])
    font = load_font(rng.choice(font_paths), max(10, round(height * rng.uniform(0.05, 0.09))))
    text = rng.choice(["SAMPLE", "© shop", "PREVIEW", "watermark", "DEMO"])
    side = 2 * max(width, height)
    layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    step_x, step_y = round((right - left) * 1.6), round((bottom - top) * 3)
    colour = rng.choice([(255, 255, 255), (0, 0, 0), (128, 128, 128)])
    for row, y in enumerate(range(0, side, step_y)):
        for x in range(-(row % 2) * step_x // 2, side, step_x):
            draw.text((x, y), text, font=font, fill=(*colour, round(255 * opacity)))
    layer = layer.rotate(rng.choice([0, 30, 45]), resample=Image.Resampling.BICUBIC)
    x0, y0 = (side - width) // 2, (side - height) // 2
    layer = layer.crop((x0, y0, x0 + width, y0 + height))
    image.paste(Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB"))
    return {"kind": "tiled watermark", "opacity": f"{opacity:.2f}"}


def add_watermark(image: Image.Image, rng: random.Random, font_paths: list[str | None]) -> dict[str, str]:
    width, height = image.size
    opacity = rng.choice([0.15, 0.3, 0.45, 0.6])
    size = max(12, round(height * rng.choice([0.09, 0.12, 0.16])))
    font = load_font(rng.choice(font_paths), size)
    text = rng.choice(["SAMPLE", "WATERMARK", "© shop", "PREVIEW", "PROOF"])
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    colour = rng.choice([(0, 0, 0), (128, 128, 128), (255, 255, 255)])
    draw.text(
        ((width - (right - left)) // 2 - left, (height - (bottom - top)) // 2 - top),
        text,
        font=font,
        fill=(*colour, round(255 * opacity)),
    )
    angle = rng.choice([0, 30])
    if angle:
        layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC)
    image.paste(Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB"))
    return {"kind": "watermark", "opacity": f"{opacity:.2f}", "angle": str(angle)}


def add_logo(image: Image.Image, rng: random.Random, font_paths: list[str | None]) -> dict[str, str]:
    width, height = image.size
    font = load_font(rng.choice(font_paths), max(10, round(height * rng.choice([0.045, 0.065]))))
    text = rng.choice(["SALE", "NEW", "-30%", "HOT"])
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = 4
    bw, bh = right - left + 2 * pad, bottom - top + 2 * pad
    corner = rng.choice(["top-left", "top-right", "bottom-left", "bottom-right"])
    x = 4 if corner.endswith("left") else width - bw - 4
    y = 4 if corner.startswith("top") else height - bh - 4
    colour = rng.choice([(220, 30, 40), (30, 30, 30), (250, 180, 0)])
    draw.rectangle([x, y, x + bw, y + bh], fill=colour)
    draw.text((x + pad - left, y + pad - top), text, font=font, fill=(255, 255, 255))
    return {"kind": "logo", "position": corner}


@dataclass
class Sample:
    """One benchmark image: the pixels, the overlay added (None = clean) and where it was drawn."""

    rgb: np.ndarray
    info: dict[str, str] | None
    background: str
    overlay_mask: np.ndarray | None
    """Pixels the overlay changed (before JPEG), for the per-box diagnostics; None on clean images."""


def make_samples(n: int, seed: int) -> tuple[list[Sample], str]:
    """The benchmark's images for ``n`` base photos and ``seed``, and a line describing them."""
    rng = random.Random(seed)
    root = data_dir()
    studio = sorted((root / "products-fashion" / "images").glob("*.jpg"))
    grocery = root / "products-grocery-phone"
    if not studio or not (grocery / "photos.csv").is_file():
        raise SystemExit(f"no images under {root}; set PIXGRADE_DATA")
    with (grocery / "photos.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    packaging = sorted(grocery / r["image"] for r in rows if r["department"] == "Packages")
    photo = sorted(grocery / r["image"] for r in rows if r["department"] != "Packages")
    photo += sorted((root / "livec-train" / "images").glob("*"))
    per = max(1, n // 3)
    bases = (
        [("studio", p) for p in rng.sample(studio, per)]
        + [("packaging", p) for p in rng.sample(packaging, per)]
        + [("photo", p) for p in rng.sample(photo, n - 2 * per)]
    )
    font_paths = fonts()
    adders = [add_caption, add_caption, add_banner, add_watermark, add_tiled_watermark, add_logo]
    samples: list[Sample] = []
    for background, path in bases:
        base = Image.open(path).convert("RGB")
        longest = rng.choice([224, 320, 480, 640])
        scale = longest / max(base.size)
        new_size = (max(1, round(base.width * scale)), max(1, round(base.height * scale)))
        base = base.resize(new_size, Image.Resampling.LANCZOS)
        edited = base.copy()
        info = rng.choice(adders)(edited, rng, font_paths)
        changed = np.abs(np.asarray(edited, np.int16) - np.asarray(base, np.int16)).max(axis=2) > 8
        quality = rng.choice([80, 90, 95])  # both saved as JPEG, as uploads are
        samples.append(Sample(jpeg_round_trip(base, quality), None, background, None))
        samples.append(Sample(jpeg_round_trip(edited, quality), info, background, changed))
    description = (
        f"{len(bases)} bases ({per} studio, {per} packaging, {n - 2 * per} photo), {len(samples)} images "
        f"(half clean, half with an overlay); {len(font_paths)} fonts; seed {seed}"
    )
    return samples, description


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=150, help="number of base photos")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detectors", nargs="+", default=available_text_detectors())
    args = parser.parse_args()

    samples, description = make_samples(args.n, args.seed)
    print(description)

    shares = sorted({0.5, 0.7, 0.8, 0.9, 1.0, OVERLAY_MAX_PRODUCT_SHARE})
    for detector in args.detectors:
        start = time.perf_counter()
        found: dict[float, list[bool]] = {share: [] for share in shares}
        any_text: list[bool] = []
        by_position: list[bool] = []
        for sample in samples:
            rgb = sample.rgb
            detection = detect_text(rgb, detector=detector)
            background = background_mask(rgb)
            product = product_mask(background)
            any_text.append(detection.count > 0)
            for share in shares:
                found[share].append(
                    len(overlay_regions(detection, product, max_product_share=share, rgb=rgb, background=background))
                    > 0
                )
            by_position.append(len(overlay_regions(detection, product)) > 0)  # the box's position alone
        elapsed = time.perf_counter() - start
        print(f"\ndetector={detector}: {1000 * elapsed / len(samples):.0f} ms/image (detection + masks)")
        truth = [s.info is not None for s in samples]
        n_clean = truth.count(False)
        any_fp = sum(a for a, t in zip(any_text, truth, strict=True) if not t)
        print(f"  any text found (product prints included) on {any_fp}/{n_clean} clean photos")
        for share in shares:
            tp = sum(f and t for f, t in zip(found[share], truth, strict=True))
            fp = sum(f and not t for f, t in zip(found[share], truth, strict=True))
            fn = sum(t and not f for f, t in zip(found[share], truth, strict=True))
            mark = "  <- default" if share == OVERLAY_MAX_PRODUCT_SHARE else ""
            print(
                f"  overlay if product share of box <= {share:.2f}: precision {tp / max(1, tp + fp):.3f}  "
                f"recall {tp / max(1, tp + fn):.3f}  (TP {tp}, FP {fp}, FN {fn}; false-positive rate on clean "
                f"photos {fp / max(1, n_clean):.3f}){mark}"
            )
        tp = sum(f and t for f, t in zip(by_position, truth, strict=True))
        fp = sum(f and not t for f, t in zip(by_position, truth, strict=True))
        print(
            f"  without the pixel tests (box position only, as before): precision {tp / max(1, tp + fp):.3f}  "
            f"recall {tp / max(1, truth.count(True)):.3f}  (TP {tp}, FP {fp})"
        )
        per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        false_alarms: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for sample, hit in zip(samples, found[OVERLAY_MAX_PRODUCT_SHARE], strict=True):
            info, background = sample.info, sample.background
            if info is None:
                false_alarms[background][0] += hit
                false_alarms[background][1] += 1
                continue
            labels = [info["kind"], f"{info['kind']} on {background}"] + [
                f"{info['kind']} {k}={info[k]}" for k in ("size", "contrast", "opacity") if k in info
            ]
            for label in labels:
                per_kind[label][0] += hit
                per_kind[label][1] += 1
        print("  recall at the default, by kind of overlay and background:")
        for label in sorted(per_kind):
            hit, total = per_kind[label]
            print(f"    {label:<36} {hit:>3}/{total:<3} = {hit / total:.2f}")
        print("  false alarms on clean images, by background:")
        for label in sorted(false_alarms):
            hit, total = false_alarms[label]
            print(f"    {label:<36} {hit:>3}/{total:<3} = {hit / total:.2f}")


if __name__ == "__main__":
    main()
