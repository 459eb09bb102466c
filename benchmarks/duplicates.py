"""Precision and recall of near-duplicate detection on generated copies of real product photos.

N distinct photos are drawn, half from ``products-fashion`` (studio shots on white, with many near-identical-looking
distinct products: plain T-shirts of one cut in several colours) and half from ``products-grocery-phone`` (phone
photos in shops: several *different* photos of each product, which are not duplicates of each other). Each photo gets
one altered copy, the alteration cycling through

- resize: to 35–60 % of the side (Lanczos);
- recompress: JPEG quality 15–35;
- colour: hue shift of ±15–35°, brightness ×0.8–1.25, saturation ×0.7–1.3;
- crop: a box keeping 60–90 % of the area at a random position and aspect;
- combined: crop keeping 75–95 %, resize to 50–80 %, JPEG quality 40–70.

Every pair of the 2N images is judged: a true duplicate when both come from one photo. Reported: precision, recall
overall and per alteration for the hashes alone, the content embedding alone, and pixgrade's full method
(:func:`pixgrade.dedupe.find_duplicates`: candidates from the pHash and embedding indexes, ORB verification), with
the time per image. Run::

    OMP_NUM_THREADS=1 python benchmarks/duplicates.py --n 200 --seed 0
"""

from __future__ import annotations

import argparse
import io
import os
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from pixgrade.dedupe import DuplicateSettings, find_duplicates, perceptual_hash
from pixgrade.dedupe.features import content_embedding

ALTERATIONS = ["resize", "recompress", "colour", "crop", "combined"]


def data_dir() -> Path:
    env = os.environ.get("PIXGRADE_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def random_crop(image: Image.Image, rng: random.Random, low: float, high: float) -> tuple[Image.Image, float]:
    w, h = image.size
    area = rng.uniform(low, high)
    aspect = rng.uniform(0.8, 1.25)
    cw = min(w, round(w * np.sqrt(area * aspect)))
    ch = min(h, round(h * area / (cw / w)))
    x = rng.randint(0, w - cw)
    y = rng.randint(0, h - ch)
    return image.crop((x, y, x + cw, y + ch)), cw * ch / (w * h)


def alter(image: Image.Image, kind: str, rng: random.Random) -> tuple[Image.Image, str]:
    w, h = image.size
    if kind == "resize":
        f = rng.uniform(0.35, 0.6)
        return image.resize((round(w * f), round(h * f)), Image.Resampling.LANCZOS), f"{f:.2f}"
    if kind == "recompress":
        q = rng.randint(15, 35)
        return jpeg(image, q), f"q{q}"
    if kind == "colour":
        hue = rng.choice([-1, 1]) * rng.uniform(15, 35)
        hsv = np.asarray(image.convert("HSV")).copy()
        hsv[..., 0] = (hsv[..., 0].astype(int) + round(hue * 256 / 360)) % 256
        out = Image.fromarray(hsv, "HSV").convert("RGB")
        out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.25))
        return ImageEnhance.Color(out).enhance(rng.uniform(0.7, 1.3)), f"hue {hue:+.0f}"
    if kind == "crop":
        out, kept = random_crop(image, rng, 0.6, 0.9)
        return out, f"keeps {kept:.0%}"
    if kind == "combined":
        out, kept = random_crop(image, rng, 0.75, 0.95)
        f = rng.uniform(0.5, 0.8)
        out = out.resize((max(8, round(out.width * f)), max(8, round(out.height * f))), Image.Resampling.LANCZOS)
        return jpeg(out, rng.randint(40, 70)), f"keeps {kept:.0%}"
    raise ValueError(kind)


def predictor() -> tuple[object | None, str]:
    from pixgrade.model.predictor import load_predictor

    try:
        return load_predictor("default"), "shipped pixgrade model (default weights)"
    except FileNotFoundError:
        return None, "no model weights: hashes only"


def pr(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, int, int]:
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    return tp / max(1, tp + fp), tp / max(1, tp + fn), tp, fp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="number of distinct photos (half studio, half phone)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-embeddings", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="folder to keep the generated images in")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    studio = sorted((data_dir() / "products-fashion" / "images").glob("*.jpg"))
    phone = sorted((data_dir() / "products-grocery-phone" / "images").glob("*.jpg"))
    if not studio or not phone:
        raise SystemExit(f"no images under {data_dir()}; set PIXGRADE_DATA")
    chosen = rng.sample(studio, args.n // 2) + rng.sample(phone, args.n - args.n // 2)
    import tempfile

    out = args.out or Path(tempfile.mkdtemp(prefix="pixgrade-dup-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    source: list[int] = []
    kinds: list[str] = []
    details: list[str] = []
    for i, path in enumerate(chosen):
        base = Image.open(path).convert("RGB")
        kind = ALTERATIONS[i % len(ALTERATIONS)]
        copy, detail = alter(base, kind, rng)
        for suffix, image in (("a", base), ("b", copy)):
            target = out / f"{i:04d}{suffix}.png"
            image.save(target)
            paths.append(target)
        source += [i, i]
        kinds += ["original", kind]
        details += ["", detail]
    n = len(paths)
    src = np.array(source)
    truth = src[:, None] == src[None, :]
    upper = np.triu(np.ones((n, n), bool), k=1)
    pair_kind = np.array(kinds)[None, :].repeat(n, axis=0)  # the copy is always the later image of its pair
    print(
        f"{len(chosen)} photos ({args.n // 2} studio, {args.n - args.n // 2} phone), {n} images, "
        f"{int((truth & upper).sum())} duplicate pairs, {int((~truth & upper).sum())} distinct pairs; seed {args.seed}"
    )

    rgbs = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    start = time.perf_counter()
    hashes = [perceptual_hash(x) for x in rgbs]
    hash_time = (time.perf_counter() - start) / n
    ints = [int(h, 16) for h in hashes]
    dist = np.array([[bin(a ^ b).count("1") for b in ints] for a in ints])
    model, label = (None, "embeddings off") if args.no_embeddings else predictor()
    emb: np.ndarray | None = None
    emb_time = 0.0
    if model is not None:
        start = time.perf_counter()
        emb = np.stack([content_embedding(x, model) for x in rgbs])
        emb_time = (time.perf_counter() - start) / n
    print(f"embeddings: {label}; {1000 * emb_time:.1f} ms/image; pHash {1000 * hash_time:.1f} ms/image")

    def report(name: str, linked: np.ndarray) -> None:
        p, r, tp, fp = pr(linked[upper], truth[upper])
        per = [f"{k} {linked[upper & truth & (pair_kind == k)].mean():.2f}" for k in ALTERATIONS]
        print(f"  {name:<30} precision {p:.3f}  recall {r:.3f}  (TP {tp}, FP {fp})   recall by copy: {', '.join(per)}")

    print("pHash 256 bits alone, Hamming distance <= d:")
    for d in (24, 32, 40):
        report(f"d <= {d}", dist <= d)
    if emb is not None:
        sims = emb @ emb.T
        print("content embedding alone (longest side 224), cosine >= s:")
        for s in (0.85, 0.9, 0.95, 0.97):
            report(f"s >= {s}", sims >= s)

    settings = DuplicateSettings()
    start = time.perf_counter()
    clusters = find_duplicates(
        hashes,
        None if emb is None else list(emb),
        settings=settings,
        loader=lambda i: rgbs[i],
        sizes=[(x.shape[1], x.shape[0]) for x in rgbs],
    )
    dup_time = time.perf_counter() - start
    linked = np.zeros((n, n), bool)
    match_kinds: Counter[tuple[str, str]] = Counter()
    for cluster in clusters:
        members = list(cluster.members)
        for a in members:
            for b in members:
                linked[a, b] = True
        for match in cluster.matches:
            a, b = sorted((match.a, match.b))
            truth_kind = kinds[b] if source[a] == source[b] else "distinct"
            match_kinds[(truth_kind, match.kind)] += 1
    print(f"pixgrade find_duplicates (defaults {settings}): {1000 * dup_time / n:.1f} ms/image after features")
    report("index + verification", linked)
    print("  kind reported, by the copy's true alteration:")
    for (truth_kind, kind), count in sorted(match_kinds.items()):
        print(f"    {truth_kind:<10} -> {kind:<14} {count}")
    missed = [
        f"{paths[2 * i + 1].name} ({kinds[2 * i + 1]} {details[2 * i + 1]})"
        for i in range(len(chosen))
        if not linked[2 * i, 2 * i + 1]
    ]
    print(f"  missed copies: {', '.join(missed[:20]) or 'none'}")
    wrong = np.argwhere(upper & ~truth & linked)
    if len(wrong):
        print(f"  distinct photos linked: {', '.join(f'{paths[a].name}~{paths[b].name}' for a, b in wrong[:10])}")
    print(f"images kept in {out}")


if __name__ == "__main__":
    main()
