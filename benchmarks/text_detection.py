"""Precision and recall of pixgrade's overlaid-text detection on generated images.

Bases are clean product photos from ``products-fashion`` (224×224 studio shots on white, many with prints on the
product itself). Each base yields one negative (the photo as it is) and one positive: the photo with one added
overlay drawn at random from

- caption: a short text line (sizes 9–36 px, i.e. 4–16% of the height) at a random edge or corner position,
  dark, coloured or low-contrast grey;
- watermark: large semi-transparent text (opacity 0.15–0.6) across the middle, sometimes rotated 30°;
- logo: a small badge (filled rectangle with a word) in a corner.

Fonts: Pillow's default font and every DejaVu TTF found on the machine. An image counts as "text found" when it has a
text region that counts as overlay (:func:`pixgrade.policy.text.overlay_regions`, the quantity the presets test:
``ImageFacts.overlay_text_regions > 0``), for a range of the ``max_product_share`` setting, the default marked;
"any text" (prints included) is reported too. Run::

    python benchmarks/text_detection.py --n 150 --seed 0
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pixgrade.policy.layout import background_mask, product_mask
from pixgrade.policy.text import OVERLAY_MAX_PRODUCT_SHARE, available_text_detectors, detect_text, overlay_regions

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
    return found


def load_font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


def add_caption(image: Image.Image, rng: random.Random, font_paths: list[str | None]) -> dict[str, str]:
    width, height = image.size
    size = rng.choice([9, 12, 16, 20, 26, 36])
    font = load_font(rng.choice(font_paths), size)
    text = rng.choice(WORDS)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = right - left, bottom - top
    position = rng.choice(["top-left", "top", "top-right", "bottom-left", "bottom", "bottom-right", "middle"])
    margin = 4
    x = {"left": margin, "right": width - tw - margin}.get(position.split("-")[-1], (width - tw) // 2)
    y = {"top": margin, "bottom": height - th - margin - 2}.get(position.split("-")[0], (height - th) // 2)
    contrast = rng.choice(["dark", "colour", "low"])
    fill = {
        "dark": (20, 20, 20),
        "colour": rng.choice([(210, 20, 30), (20, 60, 200), (0, 140, 60)]),
        "low": (190, 190, 190),
    }[contrast]
    draw.text((x - left, y - top), text, font=font, fill=fill)
    return {"kind": "caption", "size": f"{size}px", "contrast": contrast, "position": position}


def add_watermark(image: Image.Image, rng: random.Random, font_paths: list[str | None]) -> dict[str, str]:
    width, height = image.size
    opacity = rng.choice([0.15, 0.3, 0.45, 0.6])
    size = rng.choice([20, 28, 36])
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
    return {"kind": "watermark", "size": f"{size}px", "opacity": f"{opacity:.2f}", "angle": str(angle)}


def add_logo(image: Image.Image, rng: random.Random, font_paths: list[str | None]) -> dict[str, str]:
    width, height = image.size
    font = load_font(rng.choice(font_paths), rng.choice([10, 14]))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=150, help="number of base photos")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detectors", nargs="+", default=available_text_detectors())
    args = parser.parse_args()

    rng = random.Random(args.seed)
    images = sorted((data_dir() / "products-fashion" / "images").glob("*.jpg"))
    if not images:
        raise SystemExit(f"no images under {data_dir() / 'products-fashion'}; set PIXGRADE_DATA")
    bases = rng.sample(images, min(args.n, len(images)))
    font_paths = fonts()
    adders = [add_caption, add_caption, add_watermark, add_logo]
    samples: list[tuple[np.ndarray, dict[str, str] | None]] = []
    for path in bases:
        base = Image.open(path).convert("RGB")
        samples.append((np.asarray(base), None))
        edited = base.copy()
        info = rng.choice(adders)(edited, rng, font_paths)
        samples.append((np.asarray(edited), info))
    print(
        f"{len(bases)} bases, {len(samples)} images ({len(bases)} clean, {len(bases)} with an overlay); "
        f"{len(font_paths)} fonts; seed {args.seed}"
    )

    shares = sorted({0.5, 0.7, 0.8, 0.9, 1.0, OVERLAY_MAX_PRODUCT_SHARE})
    for detector in args.detectors:
        start = time.perf_counter()
        found: dict[float, list[bool]] = {share: [] for share in shares}
        any_text: list[bool] = []
        for rgb, _ in samples:
            detection = detect_text(rgb, detector=detector)
            product = product_mask(background_mask(rgb))
            any_text.append(detection.count > 0)
            for share in shares:
                found[share].append(len(overlay_regions(detection, product, max_product_share=share)) > 0)
        elapsed = time.perf_counter() - start
        print(f"\ndetector={detector}: {1000 * elapsed / len(samples):.0f} ms/image (detection + masks)")
        truth = [info is not None for _, info in samples]
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
        per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for (_, info), hit in zip(samples, found[OVERLAY_MAX_PRODUCT_SHARE], strict=True):
            if info is None:
                continue
            labels = [info["kind"]] + [
                f"{info['kind']} {k}={info[k]}" for k in ("size", "contrast", "opacity") if k in info
            ]
            for label in labels:
                per_kind[label][0] += hit
                per_kind[label][1] += 1
        print("  recall at the default, by kind of overlay:")
        for label in sorted(per_kind):
            hit, total = per_kind[label]
            print(f"    {label:<32} {hit:>3}/{total:<3} = {hit / total:.2f}")


if __name__ == "__main__":
    main()
