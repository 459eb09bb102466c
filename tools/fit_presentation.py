"""Fit the presentation judgement (catalogue shot vs casual photo) and write ``model/weights/presentation.npz``.

    PYTHONPATH=src OMP_NUM_THREADS=1 python tools/fit_presentation.py            # fit, evaluate, write
    PYTHONPATH=src python tools/fit_presentation.py --check                      # is the shipped file current?

Examples come from :mod:`pixgrade.train.presentation_data` (real studio and phone photos plus composites, every
product kind on both sides). The shipped model's embedding and the background/fill/centring factors of each
example are extracted once and cached under ``runs/presentation/`` (keyed by the weights' SHA-256 and the
example settings), so a re-fit takes seconds; a new model (new weights) re-extracts (about 2 minutes on 2 busy
cores). The fit uses every category except :data:`HELD_OUT_CATEGORIES`; the held-out categories are evaluated
here and used by ``benchmarks/main_image.py``.

Two logistic regressions are fitted (scikit-learn, L2): on the embedding + factors (the default), and on the
factors alone (the fallback for ``--model none`` or other weights). Samples are weighted so that, within the
fashion and within the grocery examples, studio and casual carry equal weight: otherwise "grocery" would
predict "casual" (there are more casual grocery examples than studio ones).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pixgrade.io import sha256_file
from pixgrade.model.predictor import DEFAULT_MODEL_PATH
from pixgrade.model.presentation import FACTOR_FEATURES, PRESENTATION_PATH, PresentationModel, factor_features
from pixgrade.train.presentation_data import (
    EXAMPLES_VERSION,
    HELD_OUT_CATEGORIES,
    Example,
    load_sources,
    training_examples,
)

ROOT = Path(__file__).resolve().parents[1]


def extract(held_out: bool, args: argparse.Namespace, weights: Path, digest: str) -> dict[str, np.ndarray]:
    """Embeddings, factor features, scores and labels of the examples of one side of the split (cached)."""
    side = "heldout" if held_out else "fit"
    key = f"v{EXAMPLES_VERSION}-{digest[:16]}-s{args.seed}-f{args.n_fashion}-g{args.n_grocery}-{side}"
    cache = Path(args.cache) / f"{key}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            return dict(data)
    sources = load_sources(args.data)
    rows: dict[str, list] = {k: [] for k in ("name", "label", "kind", "category", "product", "emb", "fac", "score")}
    start = time.perf_counter()
    examples = training_examples(
        sources, held_out=held_out, seed=args.seed, n_fashion=args.n_fashion, n_grocery=args.n_grocery
    )
    with multiprocessing.get_context("spawn").Pool(
        max(1, args.workers), initializer=_init_worker, initargs=(str(weights),)
    ) as pool:
        # Examples are made here (in their fixed order, a few tens of MB of JPEGs); workers decode, measure, embed.
        batches = list(_batched(examples, 16))
        print(f"made {sum(map(len, batches))} examples in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        for batch, features in zip(batches, pool.imap(_features, [[e.jpeg for e in b] for b in batches]), strict=True):
            for example, (embedding, x, score, error) in zip(batch, features, strict=True):
                if x is None or embedding is None:
                    print(f"skipped {example.name}: {error or 'no factors or embedding'}", file=sys.stderr)
                    continue
                for field, value in (
                    ("name", example.name),
                    ("label", example.label),
                    ("kind", example.kind),
                    ("category", example.category),
                    ("product", example.product),
                    ("emb", embedding),
                    ("fac", x),
                    ("score", score),
                ):
                    rows[field].append(value)
    print(f"extracted {len(rows['name'])} examples in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    data = {k: np.array(v) for k, v in rows.items()}
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **data)
    return data


_SCORER: Any = None


def _init_worker(weights: str) -> None:
    global _SCORER
    from pixgrade.pipeline import Scorer

    # Only the three presentation factors are measured (the others do not change them, and cost time).
    _SCORER = Scorer(weights, factors=[name for name, _ in FACTOR_FEATURES[::2]])


def _features(jpegs: list[bytes]) -> list[tuple[np.ndarray | None, np.ndarray | None, float | None, str | None]]:
    out = []
    for data in jpegs:
        result = _SCORER.score_image(data)
        x = factor_features(result.factors) if result.error is None else None
        out.append((result.embedding, x, result.score, result.error))
    return out


def _batched(examples: Iterable[Example], size: int) -> Iterator[list[Example]]:
    batch: list[Example] = []
    for example in examples:
        batch.append(example)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def sample_weights(kind: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Equal total weight for studio and casual within each domain (fashion, grocery), and for both domains."""
    domain = np.array([k.split("-")[0] for k in kind])
    weights = np.zeros(len(kind))
    for d in np.unique(domain):
        for y in (0, 1):
            sel = (domain == d) & (label == y)
            if sel.any():
                weights[sel] = 1.0 / sel.sum()
    return weights * len(kind) / weights.sum()


def fit_head(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> dict[str, np.ndarray]:
    """A standardised L2 logistic regression as plain arrays."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x - mean) / scale, y, sample_weight=w)
    return {
        "mean": mean.astype(np.float32),
        "scale": scale.astype(np.float32),
        "coef": model.coef_[0].astype(np.float32),
        "b": np.float32(model.intercept_[0]),
    }


def evaluate(model: PresentationModel, data: dict[str, np.ndarray], digest: str) -> dict[str, float]:
    """AUC and accuracy at 0.5 of both heads, overall and per domain."""
    from sklearn.metrics import roc_auc_score

    pairs = zip(data["emb"], data["fac"], strict=True)
    full = np.array([model.full.probability(np.concatenate([e, f])) for e, f in pairs])
    fac = np.array([model.factors_only.probability(f) for f in data["fac"]])
    domain = np.array([k.split("-")[0] for k in data["kind"]])
    out: dict[str, float] = {"n": float(len(domain))}
    for name, p in (("model", full), ("factors", fac)):
        for d in ("all", "fashion", "grocery"):
            sel = np.ones(len(domain), bool) if d == "all" else domain == d
            y = data["label"][sel]
            if len(np.unique(y)) == 2:
                out[f"{name}_auc_{d}"] = round(float(roc_auc_score(y, p[sel])), 4)
            out[f"{name}_acc_{d}"] = round(float(((p[sel] >= 0.5) == (y == 1)).mean()), 4)
        for kind in np.unique(data["kind"]):
            out[f"{name}_mean_{kind}"] = round(float(p[data["kind"] == kind].mean()), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("PIXGRADE_DATA", str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--cache", default=str(ROOT / "runs" / "presentation"))
    parser.add_argument("--out", default=str(PRESENTATION_PATH))
    parser.add_argument("--weights", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-fashion", type=int, default=900)
    parser.add_argument("--n-grocery", type=int, default=900)
    parser.add_argument("--c", type=float, default=0.05, help="inverse L2 strength of the embedding head")
    parser.add_argument("--workers", type=int, default=2, help="processes that decode, measure and embed")
    parser.add_argument("--check", action="store_true", help="only check the shipped file is keyed to the weights")
    args = parser.parse_args(argv)
    weights = Path(args.weights)
    digest = sha256_file(weights)
    if args.check:
        shipped = PresentationModel.load(args.out)
        ok = shipped.weights_sha256 == digest
        print(
            f"{args.out}: fitted on {shipped.weights_sha256[:12]}…, weights {digest[:12]}…: {'OK' if ok else 'STALE'}"
        )
        return 0 if ok else 1
    fit = extract(False, args, weights, digest)
    held = extract(True, args, weights, digest)
    assert not set(fit["category"]) & HELD_OUT_CATEGORIES
    w = sample_weights(fit["kind"], fit["label"])
    x_full = np.concatenate([fit["emb"], fit["fac"]], axis=1)
    full = fit_head(x_full, fit["label"], w, args.c)
    factors = fit_head(fit["fac"], fit["label"], w, 1.0)
    info = {
        "command": "python tools/fit_presentation.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "factor_features": [f"{n}.{p}" for n, p in FACTOR_FEATURES],
        "embedding_dim": int(fit["emb"].shape[1]),
        "c_embedding_head": args.c,
        "n_fit": len(fit["label"]),
        "n_fit_by_kind": {str(k): int((fit["kind"] == k).sum()) for k in np.unique(fit["kind"])},
        "held_out_categories": sorted(HELD_OUT_CATEGORIES),
        "seed": args.seed,
    }
    arrays = {f"full_{k}": v for k, v in full.items()} | {f"factors_{k}": v for k, v in factors.items()}
    out = Path(args.out)
    tmp = out.with_name(out.name + ".part.npz")
    np.savez(tmp, weights_sha256=np.array(digest), info=np.array(json.dumps(info)), **arrays)
    model = PresentationModel.load(tmp)
    report = evaluate(model, held, digest)
    info["held_out"] = report
    np.savez(tmp, weights_sha256=np.array(digest), info=np.array(json.dumps(info)), **arrays)
    tmp.replace(out)
    print(json.dumps(info, indent=1))
    print(f"wrote {out} (weights {digest[:12]}…)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
