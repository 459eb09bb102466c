"""Precision and recall of near-duplicate detection on generated copies of product photos.

N distinct products are drawn from ``products-fashion``; each gets one altered copy, the alteration cycling through
resize (to 50%), JPEG re-compression (quality 25), crop (central 80%), colour shift (hue +25°, brightness +12%), and
all of resize + re-compression + small crop together. Every pair of the 2N images is judged: a pair is a true
duplicate when both come from the same product photo. All other pairs are distinct products, including the many
near-identical-looking distinct products of that set (plain T-shirts of one cut in different colours, the same shoe
photographed twice as different SKUs): when a method links those, it counts as a false positive.

Methods: pHash Hamming distance at several thresholds (the 256-bit pHash pixgrade uses and the common 64-bit one),
CNN-embedding cosine similarity at several thresholds
(``load_predictor("default")`` when the shipped weights exist, else the ImageNet-initialised backbone of
``create_model(pretrained_backbone=True)``; the output says which), and the two combined with OR. Run::

    OMP_NUM_THREADS=1 python benchmarks/duplicates.py --n 200 --seed 0
"""

from __future__ import annotations

import argparse
import io
import os
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from pixgrade.dedupe import perceptual_hash

ALTERATIONS = ["resize", "recompress", "crop", "colour", "combined"]


def data_dir() -> Path:
    env = os.environ.get("PIXGRADE_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def crop(image: Image.Image, keep: float) -> Image.Image:
    w, h = image.size
    dx, dy = round(w * (1 - keep) / 2), round(h * (1 - keep) / 2)
    return image.crop((dx, dy, w - dx, h - dy))


def alter(image: Image.Image, kind: str) -> Image.Image:
    w, h = image.size
    if kind == "resize":
        return image.resize((w // 2, h // 2), Image.Resampling.LANCZOS)
    if kind == "recompress":
        return jpeg(image, 25)
    if kind == "crop":
        return crop(image, 0.8)
    if kind == "colour":
        hsv = np.asarray(image.convert("HSV")).copy()
        hsv[..., 0] = (hsv[..., 0].astype(int) + 18) % 256  # +25 degrees
        return ImageEnhance.Brightness(Image.fromarray(hsv, "HSV").convert("RGB")).enhance(1.12)
    if kind == "combined":
        return jpeg(crop(image, 0.92).resize((w * 2 // 3, h * 2 // 3), Image.Resampling.LANCZOS), 50)
    raise ValueError(kind)


def embedder() -> tuple[object, str]:
    from pixgrade.model.predictor import load_predictor

    try:
        return load_predictor("default"), "shipped pixgrade model (default weights)"
    except FileNotFoundError:
        from pixgrade.model import create_model
        from pixgrade.model.predictor import Predictor

        return Predictor(
            create_model(pretrained_backbone=True)
        ), "ImageNet-initialised MobileNetV2 backbone (no trained weights yet)"


def pr(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, int, int]:
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    return tp / max(1, tp + fp), tp / max(1, tp + fn), tp, fp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="number of distinct product photos")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-embeddings", action="store_true")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    files = sorted((data_dir() / "products-fashion" / "images").glob("*.jpg"))
    if not files:
        raise SystemExit(f"no images under {data_dir() / 'products-fashion'}; set PIXGRADE_DATA")
    chosen = rng.sample(files, min(args.n, len(files)))
    images: list[np.ndarray] = []
    source: list[int] = []
    kinds: list[str] = []
    for i, path in enumerate(chosen):
        base = Image.open(path).convert("RGB")
        kind = ALTERATIONS[i % len(ALTERATIONS)]
        images += [np.asarray(base), np.asarray(alter(base, kind))]
        source += [i, i]
        kinds += ["original", kind]
    n = len(images)
    src = np.array(source)
    truth = src[:, None] == src[None, :]
    upper = np.triu(np.ones((n, n), bool), k=1)
    pair_kind = np.array(kinds)[None, :].repeat(n, axis=0)  # the copy is always the later image of its pair
    print(
        f"{len(chosen)} products, {n} images, {int((truth & upper).sum())} duplicate pairs, "
        f"{int((~truth & upper).sum())} distinct pairs; seed {args.seed}"
    )

    start = time.perf_counter()
    print("hashing and embedding...", flush=True)
    hashes16 = [int(perceptual_hash(x), 16) for x in images]  # pixgrade's default: 256 bits
    hash_time = (time.perf_counter() - start) / n
    dist16 = np.array([[bin(a ^ b).count("1") for b in hashes16] for a in hashes16])
    hashes = [int(perceptual_hash(x, hash_size=8), 16) for x in images]  # the common 64-bit pHash, for comparison
    dist = np.array([[bin(a ^ b).count("1") for b in hashes] for a in hashes])
    sims = None
    if not args.no_embeddings:
        model, label = embedder()
        start = time.perf_counter()
        emb = model.embed(images)  # type: ignore[attr-defined]
        emb_time = (time.perf_counter() - start) / n
        sims = emb @ emb.T
        print(f"embeddings: {label}; {1000 * emb_time:.0f} ms/image; pHash {1000 * hash_time:.1f} ms/image")

    def report(name: str, linked: np.ndarray) -> None:
        p, r, tp, fp = pr(linked[upper], truth[upper])
        per = []
        for kind in ALTERATIONS:
            mask = upper & truth & (pair_kind == kind)
            per.append(f"{kind} {linked[mask].mean():.2f}")
        print(f"  {name:<34} precision {p:.3f}  recall {r:.3f}  (TP {tp}, FP {fp})   recall by copy: {', '.join(per)}")

    print("pHash, 256 bits (pixgrade's default hash_size=16), Hamming distance <= d:")
    for d in (16, 24, 32, 40, 48):
        report(f"d <= {d} of 256", dist16 <= d)
    print("pHash, 64 bits (hash_size=8), Hamming distance <= d:")
    for d in (4, 6, 8, 10):
        report(f"d <= {d} of 64", dist <= d)
    linked = dist16 <= 32
    if sims is not None:
        print("embedding cosine similarity >= s:")
        for s in (0.90, 0.93, 0.95, 0.97, 0.98):
            report(f"s >= {s}", sims >= s)
        print("combined, pHash-256 OR embedding (pixgrade's default rule: d <= 32, s >= 0.97):")
        for d, s in ((32, 0.97), (32, 0.98), (24, 0.97), (40, 0.97), (32, 0.95)):
            report(f"d <= {d} or s >= {s}", (dist16 <= d) | (sims >= s))
        print("combined, pHash-256 AND embedding (DuplicateSettings(require_both=True)):")
        for d, s in ((40, 0.9), (48, 0.9), (48, 0.85)):
            report(f"d <= {d} and s >= {s}", (dist16 <= d) & (sims >= s))
        linked = (dist16 <= 32) | (sims >= 0.97)
    fp_pairs = np.argwhere(upper & ~truth & linked)
    product_pairs = sorted({tuple(sorted((source[a], source[b]))) for a, b in fp_pairs})
    if product_pairs:
        examples = ", ".join(f"{chosen[a].name}~{chosen[b].name}" for a, b in product_pairs[:10])
        print(
            f"distinct products linked at the defaults: {len(product_pairs)} product pairs "
            f"({len(fp_pairs)} image pairs), e.g. {examples}"
        )


if __name__ == "__main__":
    main()
