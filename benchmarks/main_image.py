"""Main-image choice: is a product's studio shot ranked first among casual photos of the same product?

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/main_image.py --seed 0

Only categories held out from the presentation model's fit are used
(:data:`pixgrade.train.presentation_data.HELD_OUT_CATEGORIES`); the backgrounds are the other half of LIVE-C and
grocery photos of held-out categories. Two kinds of product:

- **fashion**: the studio photo (224 px, as shipped in ``products-fashion``) and 5 casual composites of the same
  product at 300–500 px (pasted onto a real scene, scaled down, off-centre, rotated, perhaps held or partly
  covered, with clutter and price tags): the studio shot is always the *smaller* image;
- **grocery**: a studio-like shot (a GrabCut cut-out of one phone photo, centred on white at 224 px — synthetic:
  the data set's real studio images are held out by its provider) and 5 *real* phone photos (348 px) of the same
  product, the source photo excluded.

Each product is ranked by :func:`pixgrade.policy.decide` under the ``generic`` policy and under no policy, with
(a) the default presentation (embedding + factors), (b) the factor-only fallback, (c) no presentation (the grade
alone, what pixgrade did before). Prints the share of products whose studio shot is ranked first, per kind.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from pixgrade.model.presentation import PRESENTATION_PATH, PresentationModel, main_score
from pixgrade.pipeline import ImageResult, Scorer
from pixgrade.policy import Candidate, Verdict, decide, load_policy
from pixgrade.train.presentation_data import (
    HELD_OUT_CATEGORIES,
    casual_composite,
    grocery_cutout,
    load_sources,
    place_on_plain,
    studio_cutout,
)

ROOT = Path(__file__).resolve().parents[1]


def _jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def build_products(args: argparse.Namespace) -> list[tuple[str, str, list[tuple[bytes, bool]]]]:
    """(domain, product id, [(image bytes, is studio)]) for every benchmark product."""
    rng = random.Random(args.seed + 7)
    sources = load_sources(args.data)
    fashion = [s for s in sources.fashion if s[1] in HELD_OUT_CATEGORIES]
    grocery = [s for s in sources.grocery if s[1] in HELD_OUT_CATEGORIES]
    scenes = sources.scenes[len(sources.scenes) // 2 :] + [g[0] for g in grocery[1::4]]
    products: list[tuple[str, str, list[tuple[bytes, bool]]]] = []
    cutouts: list[np.ndarray] = []
    for path, _, product in rng.sample(fashion, min(args.fashion_products, len(fashion))):
        cut = studio_cutout(_rgb(path))
        if cut is None:
            continue
        images = [(path.read_bytes(), True)]
        for _ in range(args.casual):
            clutter = rng.sample(cutouts, min(len(cutouts), rng.choice([0, 1, 2])))
            side = rng.choice([300, 400, 500])
            images.append((_jpeg(casual_composite(cut, rng.choice(scenes), clutter, rng, side)), False))
        cutouts = [*cutouts, cut][-40:]
        products.append(("fashion", product, images))
    by_product: dict[str, list[Path]] = defaultdict(list)
    for path, _, product in grocery:
        by_product[product].append(path)
    for product, paths in sorted(by_product.items()):
        for k in range(args.grocery_instances):
            if len(paths) < args.casual + 1:
                break
            source, *others = rng.sample(paths, args.casual + 1)
            cut = grocery_cutout(_rgb(source), rng)
            if cut is None:
                continue
            images = [(_jpeg(place_on_plain(cut, rng, size=224), 92), True)]
            images += [(p.read_bytes(), False) for p in others]
            products.append(("grocery", f"{product}#{k}", images))
    return products


def _verdict(policy: object | None, result: ImageResult) -> Verdict:
    if policy is None:
        return Verdict("none", (), error=result.error)
    return policy.judge(result, None)  # type: ignore[attr-defined, no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("PIXGRADE_DATA", str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fashion-products", type=int, default=80)
    parser.add_argument("--grocery-instances", type=int, default=3, help="studio-like shots per grocery product")
    parser.add_argument("--casual", type=int, default=5, help="casual photos per product")
    parser.add_argument("--model", default="default")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    products = build_products(args)
    scorer = Scorer(args.model)
    factor_model = PresentationModel.load(PRESENTATION_PATH)
    print(
        f"{len(products)} products ({sum(d == 'fashion' for d, _, _ in products)} fashion, "
        f"{sum(d == 'grocery' for d, _, _ in products)} grocery), held-out categories: "
        f"{', '.join(sorted(HELD_OUT_CATEGORIES))}",
        file=sys.stderr,
    )
    policies = {"generic": load_policy("generic"), "no policy": None}
    variants = ("default (embedding + factors)", "factor-only fallback", "grade only (no presentation)")
    first: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    presentation: dict[tuple[str, bool], list[float]] = defaultdict(list)
    studio_smaller = 0
    studio_failures: dict[str, int] = defaultdict(int)
    studio_scores: list[float] = []
    for domain, product, images in products:
        results = [scorer.score_image(data) for data, _ in images]
        studio_result = results[0]
        studio_smaller += int(
            (studio_result.width or 0) * (studio_result.height or 0)
            < min((r.width or 0) * (r.height or 0) for r in results[1:])
        )
        verdict = policies["generic"].judge(studio_result, None)  # type: ignore[union-attr]
        for failure in verdict.failures:
            studio_failures[failure.rule] += 1
        if studio_result.score is not None:
            studio_scores.append(studio_result.score)
        fallback = [factor_model.judge(r.factors) if r.error is None else None for r in results]
        for r, (_, is_studio) in zip(results, images, strict=True):
            if r.presentation is not None:
                presentation[(domain, is_studio)].append(r.presentation)
        for policy_name, policy in policies.items():
            for variant in variants:
                candidates = []
                for i, (r, (_, is_studio)) in enumerate(zip(results, images, strict=True)):
                    if variant.startswith("default"):
                        p, m = r.presentation, r.main_score
                    elif variant.startswith("factor"):
                        p = None if fallback[i] is None else fallback[i].score  # type: ignore[union-attr]
                        m = main_score(r.score, p)
                    else:
                        p, m = None, None
                    candidates.append(
                        Candidate(
                            f"{product}/{i}{'-studio' if is_studio else ''}.jpg",
                            product,
                            r.score,
                            _verdict(policy, r),
                            presentation=p,
                            main_score=m,
                            pixels=(r.width or 0) * (r.height or 0),
                            sha256=r.sha256,
                        )
                    )
                _, (summary,) = decide(candidates)
                won = summary.main is not None and summary.main.endswith("-studio.jpg")
                first[(policy_name, variant, domain)].append(won)
                first[(policy_name, variant, "all")].append(won)
    print(f"scored {sum(len(i) for _, _, i in products)} images in {time.perf_counter() - start:.0f} s")
    print(f"the studio shot has fewer pixels than every casual photo in {studio_smaller} of {len(products)} products")
    failed = ", ".join(f"{rule} {n}" for rule, n in sorted(studio_failures.items())) or "none"
    print(
        f"studio shots: median score {np.median(studio_scores):.2f}; rules of 'generic' they fail: {failed} "
        f"(of {len(products)})"
    )
    print("\nstudio shot ranked first (share of products):")
    print(f"{'policy':<10} {'ranking':<32} {'fashion':>9} {'grocery':>9} {'all':>9}")
    for policy_name in policies:
        for variant in variants:
            cells = []
            for domain in ("fashion", "grocery", "all"):
                won = first[(policy_name, variant, domain)]
                cells.append(f"{np.mean(won):.3f}" if won else "-")
            print(f"{policy_name:<10} {variant:<32} {cells[0]:>9} {cells[1]:>9} {cells[2]:>9}")
    print("\nmean presentation (default judgement):")
    for (domain, is_studio), values in sorted(presentation.items()):
        label = "studio" if is_studio else "casual"
        print(
            f"  {domain:<8} {label:<7} {np.mean(values):.3f}  (n={len(values)}, 10th-90th pct "
            f"{np.percentile(values, 10):.2f}-{np.percentile(values, 90):.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
