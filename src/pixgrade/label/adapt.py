"""Adapt a model to a catalogue's own standard: fine-tune its score head on cached features of labelled images.

The backbone and the severity head are kept as they are (so the features, the embeddings and the model's reasons
stay the base model's); only the score head — the two-layer network from pooled statistics to the score — is
fine-tuned: its output layer and hidden biases freely, its first layer within the top principal directions of the
catalogue's features (a low-rank update ``W1 + A·P``, folded back into ``W1``, so the result has the base model's
architecture). It learns from the fitted scores of the judged images (:func:`pixgrade.label.scale.fit_scale`).
Two terms keep a few dozen labels from wrecking it:

- **L2-SP**: a penalty on the distance of every head weight from the base model's (Li et al., "Explicit Inductive
  Bias for Transfer Learning with Convolutional Networks", ICML 2018), instead of a decay toward 0;
- **anchoring**: on images of the catalogue (up to ``anchor_samples`` unlabelled ones, plus the labelled), the new
  head's scores (centred) are held to the base
  head's (centred), with a weight that falls as labels grow (``anchor_weight * 50 / (50 + n_labels)``); the
  overall level can move freely (a harsher team standard), the ordering of unlabelled photos only as far as the
  labels justify.

The loss on the labels is smooth-L1 on the 0–5 scale plus ``1 - PLCC`` (as in training). Everything runs on the
cached ``feature_dim``-vectors (the first layer's base output is computed once), full batch, so 200 labels and
5-fold cross-validation take seconds on a CPU. The backbone's top layers are not fine-tuned: that would need the
cached feature maps instead of their statistics, and minutes per fold.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from torch import nn

    from pixgrade.model.net import QualityNet

__all__ = [
    "AdaptReport",
    "AdaptSettings",
    "FeatureBasis",
    "adapt_catalog",
    "adapted_model",
    "cross_validate",
    "fine_tune_head",
    "grade_accuracy",
    "metrics",
    "predict_head",
]


@dataclass
class AdaptSettings:
    """Optimisation of :func:`fine_tune_head` (defaults: what ``pixgrade adapt`` uses)."""

    steps: int = 300
    lr: float = 3e-3
    rank: int = 64
    l2sp: float = 1e-2
    anchor_weight: float = 1.0
    rank_weight: float = 1.0
    anchor_samples: int = 2000
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FeatureBasis:
    """The top principal directions of a catalogue's features: the subspace in which the head's first layer is
    fine-tuned (``W1 + A @ components``, ``A`` of shape ``(hidden, k)``)."""

    mean: np.ndarray
    components: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, rank: int = 64, max_rows: int = 4000, seed: int = 0) -> FeatureBasis:
        """Principal directions of (a sample of) the rows of ``x``."""
        rows = x[np.random.default_rng(seed).permutation(len(x))[:max_rows]].astype(np.float64)
        mean = rows.mean(0)
        _, _, vt = np.linalg.svd(rows - mean, full_matrices=False)
        return cls(mean.astype(np.float32), vt[: min(rank, len(vt))].astype(np.float32))

    def project(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) @ self.components.T).astype(np.float32)


def grade_accuracy(pred: np.ndarray, true: np.ndarray) -> float:
    """Share of images whose predicted grade (rounded, 0–5) is within one grade of the label's."""
    p = np.clip(np.rint(pred), 0, 5)
    t = np.clip(np.rint(true), 0, 5)
    return float(np.mean(np.abs(p - t) <= 1)) if len(true) else float("nan")


def metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """SRCC and grade accuracy within ±1 of predictions against labels."""
    srcc = float(stats.spearmanr(pred, true)[0]) if len(true) > 2 and np.std(true) > 0 else float("nan")
    return {"srcc": srcc, "grade_within_1": grade_accuracy(pred, true), "n": len(true)}


def _layers(head: nn.Module) -> tuple[nn.Linear, nn.Linear]:
    from torch import nn

    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if len(linears) != 2:
        raise ValueError("the score head must be Dropout, Linear, GELU, Dropout, Linear (QualityNet.score_head)")
    return linears[0], linears[1]


def fine_tune_head(
    base_head: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    anchor_x: np.ndarray | None = None,
    settings: AdaptSettings | None = None,
    basis: FeatureBasis | None = None,
) -> nn.Module:
    """A copy of ``base_head`` fine-tuned on features ``x`` ``(N, D)`` and scores ``y`` ``(N,)``.

    The first layer moves within ``basis`` (default: fitted on ``x`` and ``anchor_x``), its bias and the output
    layer freely; L2-SP and anchoring on ``anchor_x`` (module docstring) regularise toward the base. Dropout
    acts on the hidden layer."""
    import torch
    from torch.nn import functional as F

    settings = settings or AdaptSettings()
    torch.manual_seed(settings.seed)
    first, last = _layers(base_head)
    if basis is None:
        pool = x if anchor_x is None or not len(anchor_x) else np.concatenate([x, anchor_x])
        basis = FeatureBasis.fit(pool, settings.rank, seed=settings.seed)
    w1, b1 = first.weight.detach().float(), first.bias.detach().float()
    w2, b2 = last.weight.detach().float(), last.bias.detach().float()

    def prepared(features: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        xt = torch.as_tensor(features, dtype=torch.float32)
        return xt @ w1.T + b1, torch.as_tensor(basis.project(features))

    z0, px = prepared(x)
    yt = torch.as_tensor(y, dtype=torch.float32)
    a = torch.zeros((w1.shape[0], basis.components.shape[0]), requires_grad=True)
    db1 = torch.zeros_like(b1, requires_grad=True)
    v2, c2 = w2.clone().requires_grad_(True), b2.clone().requires_grad_(True)
    drop = float(next((m.p for m in base_head.modules() if isinstance(m, torch.nn.Dropout)), 0.0))

    def forward(z: torch.Tensor, p: torch.Tensor, train: bool) -> torch.Tensor:
        hidden = F.gelu(z + p @ a.T + db1)
        if train and drop:
            hidden = F.dropout(hidden, drop)
        return (hidden @ v2.T + c2).squeeze(1)

    anchor = None
    if anchor_x is not None and len(anchor_x):
        chosen = np.random.default_rng(settings.seed).permutation(len(anchor_x))[: settings.anchor_samples]
        anchor = prepared(anchor_x[chosen])
        with torch.no_grad():
            anchor_target = (F.gelu(anchor[0]) @ w2.T + b2).squeeze(1)
            anchor_target = anchor_target - anchor_target.mean()
    anchor_weight = settings.anchor_weight * 50.0 / (50.0 + len(y))
    optimizer = torch.optim.Adam([a, db1, v2, c2], lr=settings.lr)
    for _ in range(settings.steps):
        pred = forward(z0, px, True)
        loss = F.smooth_l1_loss(pred, yt, beta=0.5)
        if settings.rank_weight and len(y) > 2:
            p, t = pred - pred.mean(), yt - yt.mean()
            loss = loss + settings.rank_weight * (1 - (p * t).sum() / (p.norm() * t.norm() + 1e-8))
        if anchor is not None:
            out = forward(anchor[0], anchor[1], False)
            loss = loss + anchor_weight * F.mse_loss(out - out.mean(), anchor_target)
        loss = loss + settings.l2sp * ((a**2).sum() + (db1**2).sum() + ((v2 - w2) ** 2).sum() + ((c2 - b2) ** 2).sum())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    head = copy.deepcopy(base_head).float().eval()
    new_first, new_last = _layers(head)
    with torch.no_grad():
        components = torch.as_tensor(basis.components)
        mean = torch.as_tensor(basis.mean)
        new_first.weight.copy_(w1 + a @ components)
        new_first.bias.copy_(b1 + db1 - a @ (components @ mean))
        new_last.weight.copy_(v2)
        new_last.bias.copy_(c2)
    for param in head.parameters():
        param.requires_grad_(False)
    return head


def predict_head(head: nn.Module, x: np.ndarray) -> np.ndarray:
    """Scores of features ``x`` by a score head (eval mode)."""
    import torch

    head.eval()
    with torch.no_grad():
        return head(torch.as_tensor(x, dtype=torch.float32)).squeeze(1).numpy()


def cross_validate(
    base_head: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    anchor_x: np.ndarray | None = None,
    settings: AdaptSettings | None = None,
    folds: int = 5,
    seed: int = 0,
    basis: FeatureBasis | None = None,
) -> dict[str, Any]:
    """k-fold cross-validation of the adaptation: metrics of the base head and of out-of-fold fine-tuned
    predictions against the labels (``before``/``after``); None for ``after`` with fewer than 10 labels."""
    before = metrics(predict_head(base_head, x), y)
    if len(y) < 10:
        return {"before": before, "after": None, "folds": 0}
    folds = min(folds, len(y))
    order = np.random.default_rng(seed).permutation(len(y))
    fold_of = np.empty(len(y), dtype=int)
    fold_of[order] = np.arange(len(y)) % folds
    out_of_fold = np.empty(len(y), dtype=np.float32)
    for k in range(folds):
        train, test = fold_of != k, fold_of == k
        head = fine_tune_head(base_head, x[train], y[train], anchor_x, settings, basis)
        out_of_fold[test] = predict_head(head, x[test])
    return {"before": before, "after": metrics(out_of_fold, y), "folds": folds}


def adapted_model(base: QualityNet, head: nn.Module) -> QualityNet:
    """A copy of ``base`` whose score head is ``head`` (same architecture: loads wherever a model does)."""
    model = copy.deepcopy(base)
    model.score_head.load_state_dict(head.state_dict())
    return model.eval()


@dataclass
class AdaptReport:
    """What :func:`adapt_catalog` did."""

    output: str
    int8: str | None
    n_labels: int
    n_anchor: int
    cross_validation: dict[str, Any]
    seconds: float
    int8_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def adapt_catalog(
    catalog: str,
    output: str,
    base: str = "default",
    *,
    folds: int = 5,
    settings: AdaptSettings | None = None,
    int8: bool = True,
    overwrite: bool = False,
    calibration: int = 32,
    progress: Any = None,
) -> AdaptReport:
    """Adapt ``base`` to the judgements of ``catalog`` and write the checkpoint ``output`` (and its INT8 export
    next to it, ``<name>.int8.onnx``, calibrated on catalogue photos, unless ``int8`` is false).

    Raises:
        ConfigError: no judgements, an existing ``output`` without ``overwrite``, or an unusable base checkpoint.
    """
    import time
    from pathlib import Path

    from pixgrade.catalog.judgements import JudgementStore
    from pixgrade.errors import ConfigError
    from pixgrade.label.features import ensure_features, load_base_model
    from pixgrade.label.scale import fit_scale
    from pixgrade.model.checkpoint import save_checkpoint
    from pixgrade.model.loader import int8_path_for

    started = time.perf_counter()
    settings = settings or AdaptSettings()
    out_path = Path(output)
    if out_path.exists() and not overwrite:
        raise ConfigError(f"{out_path}: already exists (pass --overwrite to replace it)")
    if out_path.suffix != ".safetensors":
        raise ConfigError(f"{out_path}: the adapted model is a .safetensors checkpoint")
    net, metadata, key = load_base_model(base)
    with JudgementStore(catalog) as store:
        judgements = store.judgements()
        judged = {j.sha256 for j in judgements if j.kind != "skip"}
        judged |= {str(j.other_sha256) for j in judgements if j.kind == "pair"}
        if not judged:
            raise ConfigError(f"{catalog}: no judgements to adapt to (label some photos first)")
        others = [sha for sha, _ in store.images() if sha not in judged]
        rng = np.random.default_rng(settings.seed)
        anchors = [others[i] for i in rng.permutation(len(others))[: settings.anchor_samples]]
        table = ensure_features(store, net, key, only=sorted(judged) + anchors, progress=progress)
        paths = dict(store.images())
    index = table.index()
    fit = fit_scale(judgements, prior={sha: float(table.score[i]) for sha, i in index.items()})
    labelled = [sha for sha in fit.scores if sha in index]
    if not labelled:
        raise ConfigError(f"{catalog}: none of the judged images could be read")
    x = table.pooled[[index[s] for s in labelled]]
    y = np.array([fit.scores[s] for s in labelled], dtype=np.float32)
    # anchors: unlabelled catalogue images, and the labelled ones too (a catalogue may hold only those)
    anchor_rows = [index[s] for s in anchors if s in index] + [index[s] for s in labelled]
    anchor_x = table.pooled[anchor_rows]
    basis = FeatureBasis.fit(table.pooled, settings.rank, seed=settings.seed)
    report = cross_validate(net.score_head, x, y, anchor_x, settings, folds=folds, seed=settings.seed, basis=basis)
    head = fine_tune_head(net.score_head, x, y, anchor_x, settings, basis)
    model = adapted_model(net, head)
    meta = {key_: value for key_, value in metadata.items() if key_ not in ("config",)}
    meta["adaptation"] = {
        "base": str(base),
        "base_sha256_prefix": key,
        "catalog": str(catalog),
        "n_labels": len(labelled),
        "n_anchor": len(anchor_rows),
        "cross_validation": report,
        "settings": settings.to_dict(),
        "scale": "pixgrade.label.scale.fit_scale (grades + Bradley-Terry pairs)",
    }
    save_checkpoint(out_path, model, meta)
    int8_out: str | None = None
    note = ""
    if int8:
        from pixgrade.model.onnx_predictor import onnx_available

        if onnx_available():
            from pixgrade.export import export_model

            calibration_paths = [paths[s] for s in (labelled + anchors)[:calibration] if s in paths]
            target = int8_path_for(out_path)
            export_model(
                out_path,
                target,
                int8=True,
                calibration_images=calibration_paths,
                overwrite=True,
                calibration_info={"images": len(calibration_paths), "source": f"catalogue {catalog}"},
            )
            int8_out = str(target)
        else:
            note = "no INT8 export: onnx and onnxruntime are not installed (pip install 'pixgrade[onnx]')"
    return AdaptReport(
        str(out_path), int8_out, len(labelled), len(anchor_rows), report, time.perf_counter() - started, note
    )
