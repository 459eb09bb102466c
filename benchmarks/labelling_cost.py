"""How many judgements does it take to teach pixgrade a team's own standard? Simulated annotators, real photos.

Photos: held-out product photos of ``products-fashion`` (``product_id % 6 == 0``: the shipped model never trained
on them), each clean and in ``--variants`` degraded copies (one or two random degradations at random levels).
A simulated **team standard** that differs from the shipped one: colour defects (casts, desaturation) cost much more,
noise little (``TEAM_PENALTY``, grade points per level). The photos are split by source photo into a labelling
pool (2/3) and held-out test photos (1/3).

Simulated annotators: a **grade** is the team quality plus Gaussian noise whose spread is drawn, per image, from
the spread of human ratings in ``livec-train`` (``mos_std / 20`` on the 0–5 scale), rounded to a whole grade;
a **comparison** follows a Thurstone model with the same noise (``P(i better) = Φ((q_i - q_j) / sqrt(s_i² + s_j²))``;
"about equal" when the noisy difference is under 0.25).

For each mode (grades, pairs) and strategy (active, random), judgements are collected in rounds; after each round
the scale is refitted (:func:`pixgrade.label.scale.fit_scale`), the head adapted
(:func:`pixgrade.label.adapt.fine_tune_head`) and the selector given the new head. Printed and plotted: SRCC with
the team standard on the held-out photos against the number of judgements, mean over ``--seeds``. Also timed:
adaptation with 5-fold CV on 200 labels, and the next item among 10 000 images.

    python benchmarks/labelling_cost.py --photos 300 --seeds 3 --plot docs/images/labelling_cost.png

The model's features of every photo are computed once and cached under ``runs/labelling_cost/`` (gitignored).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import stats

from pixgrade.catalog.judgements import Judgement
from pixgrade.degrade import degrade, get_degradation, list_degradations
from pixgrade.label.adapt import AdaptSettings, FeatureBasis, cross_validate, fine_tune_head, predict_head
from pixgrade.label.features import features_of_rgb, load_base_model
from pixgrade.label.scale import fit_scale
from pixgrade.label.selection import Selector

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = (25, 50, 100, 200, 400, 800)

#: The simulated team's penalty in grade points per degradation level, by severity channel.
TEAM_PENALTY = {
    "colour": 0.9,  # a colour cast or washed-out colour is a returned product: punished hard
    "noise": 0.1,  # mild grain is tolerated
    "blur": 0.55,
    "compression": 0.45,
    "overexposure": 0.5,
    "underexposure": 0.5,
    "low_contrast": 0.4,
    "low_resolution": 0.45,
}
CLEAN = 4.6


def build(args: argparse.Namespace) -> pd.DataFrame:
    """Degraded held-out photos and their features (cached)."""
    cache = ROOT / "runs" / "labelling_cost" / f"features_{args.photos}_{args.variants}_{args.seed}.pkl"
    if cache.is_file():
        return pd.read_pickle(cache)
    net, _, _ = load_base_model(args.model)
    table = pd.read_csv(Path(args.data) / "products.csv")
    table = table[table["product_id"] % 6 == 0].sort_values("product_id").head(args.photos)
    rng = np.random.default_rng(args.seed)
    names = list_degradations()
    rows = []
    started = time.perf_counter()
    for photo, row in enumerate(table.itertuples(index=False)):
        with Image.open(Path(args.data) / row.image) as image:
            rgb = np.asarray(image.convert("RGB"))
        versions: list[list[tuple[str, int]]] = [[]]
        for _ in range(args.variants):
            count = 1 if rng.random() < 0.7 else 2
            versions.append([(str(n), int(rng.integers(1, 6))) for n in rng.choice(names, count, replace=False)])
        for version in versions:
            out = rgb
            penalty = 0.0
            for name, level in version:
                out = degrade(out, name, level, seed=int(rng.integers(1 << 30)))
                penalty += TEAM_PENALTY[get_degradation(name).severity] * level
            pooled, embedding, score = features_of_rgb(net, out)
            rows.append(
                {
                    "photo": photo,
                    "degradations": "+".join(f"{n}:{lv}" for n, lv in version) or "clean",
                    "team": float(np.clip(CLEAN - penalty, 0.0, 5.0)),
                    "base": score,
                    "pooled": pooled.astype(np.float16),
                    "embedding": embedding.astype(np.float16),
                }
            )
    print(f"features of {len(rows)} images in {time.perf_counter() - started:.0f} s")
    frame = pd.DataFrame(rows)
    cache.parent.mkdir(parents=True, exist_ok=True)
    frame.to_pickle(cache)
    return frame


class Annotator:
    """A simulated reviewer of the team (see the module docstring)."""

    def __init__(self, quality: np.ndarray, spread: np.ndarray, rng: np.random.Generator) -> None:
        self.quality, self.spread, self.rng = quality, spread, rng

    def grade(self, i: int) -> float:
        return float(np.clip(np.rint(self.quality[i] + self.rng.normal(0, self.spread[i])), 0, 5))

    def compare(self, i: int, j: int) -> float:
        noise = self.rng.normal(0, np.hypot(self.spread[i], self.spread[j]))
        diff = self.quality[i] - self.quality[j] + noise
        return 0.5 if abs(diff) < 0.25 else float(diff > 0)


def simulate(
    frame: pd.DataFrame,
    pool: np.ndarray,
    test: np.ndarray,
    spread: np.ndarray,
    mode: str,
    strategy: str,
    seed: int,
    budgets: tuple[int, ...],
    head: object,
    settings: AdaptSettings,
) -> dict[int, float]:
    """SRCC on the test photos after each budget of judgements."""
    x = np.stack(frame["pooled"].to_numpy()).astype(np.float32)
    emb = np.stack(frame["embedding"].to_numpy()).astype(np.float32)
    quality = frame["team"].to_numpy()
    rng = np.random.default_rng(seed)
    annotator = Annotator(quality[pool], spread[pool], rng)
    selector = Selector(x[pool], emb[pool], head, strategy=strategy, seed=seed)  # type: ignore[arg-type]
    basis = FeatureBasis.fit(x[pool], settings.rank, seed=seed)
    base_scores = {str(i): float(s) for i, s in enumerate(frame["base"].to_numpy()[pool])}
    judgements: list[Judgement] = []
    seen: set[frozenset[int]] = set()
    out = {}
    current = head
    for budget in budgets:
        while len(judgements) < budget:
            if mode == "grades":
                i = selector.next_image()
                if i is None:
                    break
                selector.observe_grade(i)
                judgements.append(Judgement(len(judgements), "sim", "grade", str(i), None, annotator.grade(i), ""))
            else:
                pair = selector.next_pair(seen)
                if pair is None:
                    break
                i, j = pair
                seen.add(frozenset(pair))
                selector.observe_pair(i, j)
                value = annotator.compare(i, j)
                judgements.append(Judgement(len(judgements), "sim", "pair", str(i), str(j), value, ""))
            # refit after each round: 25 judgements up to 100, then 50, then 100
            step = 25 if len(judgements) < 100 else 50 if len(judgements) < 400 else 100
            if len(judgements) % step == 0 or len(judgements) == budget:
                fit = fit_scale(judgements, prior=base_scores)
                idx = np.array([int(s) for s in fit.scores])
                y = np.array([fit.scores[s] for s in fit.scores], dtype=np.float32)
                current = fine_tune_head(head, x[pool][idx], y, x[pool], settings, basis)  # type: ignore[arg-type]
                selector.set_head(current)  # type: ignore[arg-type]
                if mode == "pairs":
                    selector.set_scores({int(s): v for s, v in fit.scores.items()})
        pred = predict_head(current, x[test])  # type: ignore[arg-type]
        out[budget] = float(stats.spearmanr(pred, quality[test])[0])
    return out


def timings(frame: pd.DataFrame, head: object, settings: AdaptSettings) -> dict[str, float]:
    """Adaptation with CV on 200 labels; selector set-up and next item among 10 000 images."""
    x = np.stack(frame["pooled"].to_numpy()).astype(np.float32)
    emb = np.stack(frame["embedding"].to_numpy()).astype(np.float32)
    y = frame["team"].to_numpy().astype(np.float32)
    started = time.perf_counter()
    cross_validate(head, x[:200], y[:200], x, settings, folds=5)  # type: ignore[arg-type]
    fine_tune_head(head, x[:200], y[:200], x, settings)  # type: ignore[arg-type]
    adapt_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    reps = int(np.ceil(10_000 / len(x)))
    big_x = np.concatenate([x] * reps)[:10_000] + rng.normal(0, 0.05, (10_000, x.shape[1])).astype(np.float32)
    big_e = np.concatenate([emb] * reps)[:10_000] + rng.normal(0, 0.01, (10_000, emb.shape[1])).astype(np.float32)
    started = time.perf_counter()
    selector = Selector(big_x, big_e, head)  # type: ignore[arg-type]
    selector.neighbours()
    setup_s = time.perf_counter() - started
    grade_ms, pair_ms = [], []
    for _ in range(50):
        t0 = time.perf_counter()
        i = selector.next_image()
        grade_ms.append((time.perf_counter() - t0) * 1000)
        assert i is not None
        selector.observe_grade(i)
        t0 = time.perf_counter()
        selector.next_pair()
        pair_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "adapt_cv_200_s": adapt_s,
        "selector_setup_10k_s": setup_s,
        "next_image_10k_ms": float(np.median(grade_ms)),
        "next_pair_10k_ms": float(np.median(pair_ms)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", default=str(ROOT / "../shared/data/products-fashion"))
    parser.add_argument("--livec", default=str(ROOT / "../shared/data/livec-train/labels.csv"))
    parser.add_argument("--photos", type=int, default=300, help="held-out source photos")
    parser.add_argument("--variants", type=int, default=3, help="degraded copies per photo")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS))
    parser.add_argument("--plot", help="write the figure (PNG) here")
    args = parser.parse_args()

    frame = build(args)
    net, _, _ = load_base_model(args.model)
    head = net.score_head
    photos = frame["photo"].to_numpy()
    test_photos = photos % 3 == 0
    pool, test = np.flatnonzero(~test_photos), np.flatnonzero(test_photos)
    quality = frame["team"].to_numpy()
    base_srcc = float(stats.spearmanr(frame["base"].to_numpy()[test], quality[test])[0])
    spread_source = (pd.read_csv(args.livec)["mos_std"] / 20.0).to_numpy()
    spread = np.random.default_rng(args.seed).choice(spread_source, len(frame))
    settings = AdaptSettings()
    print(
        f"{len(frame)} images of {photos.max() + 1} photos: pool {len(pool)}, test {len(test)}; "
        f"annotator noise (livec mos_std/20) median {np.median(spread):.2f}"
    )
    print(f"unadapted model: SRCC {base_srcc:.3f} with the team standard on the test photos")
    budgets = tuple(b for b in args.budgets if b <= len(pool))
    results = []
    for mode in ("grades", "pairs"):
        for strategy in ("active", "random"):
            started = time.perf_counter()
            runs = [
                simulate(frame, pool, test, spread, mode, strategy, args.seed + s, budgets, head, settings)
                for s in range(args.seeds)
            ]
            for b in budgets:
                values = [r[b] for r in runs]
                results.append(
                    {"mode": mode, "strategy": strategy, "budget": b, "srcc": np.mean(values), "sd": np.std(values)}
                )
            print(f"  {mode}/{strategy}: {args.seeds} runs in {time.perf_counter() - started:.0f} s")
    table = pd.DataFrame(results)
    wide = table.pivot_table(index="budget", columns=["mode", "strategy"], values="srcc")
    print("\nSRCC with the team standard on held-out photos (mean over seeds):")
    print(wide.round(3).to_string())
    print("\n" + "  ".join(f"{k} {v:.3f}" for k, v in timings(frame, head, settings).items()))
    table.to_csv(ROOT / "runs" / "labelling_cost" / "results.csv", index=False)
    if args.plot:
        plot(table, base_srcc, budgets, args.plot)


def plot(table: pd.DataFrame, base_srcc: float, budgets: tuple[int, ...], path: str) -> None:
    """SRCC against judgements, one line per mode and strategy (error bars: SD over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for (mode, strategy), part in table.groupby(["mode", "strategy"]):
        style = "-" if strategy == "active" else "--"
        ax.errorbar(
            part["budget"],
            part["srcc"],
            yerr=part.get("sd"),
            fmt=style + "o",
            ms=3,
            capsize=2,
            label=f"{mode}, {strategy}",
        )
    ax.axhline(base_srcc, color="grey", lw=1, ls=":", label="unadapted model")
    ax.set_xscale("log")
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("judgements")
    ax.set_ylabel("SRCC with the team standard (held-out photos)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
