"""Training losses: regression plus ranking terms for the overall score, and severity loss."""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["pairwise_rank_loss", "plcc_loss", "score_loss", "severity_loss"]


def plcc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - PLCC(pred, target)`` over the batch, in [0, 2], lower is better (differentiable).

    Reference: Li et al., "Norm-in-Norm Loss with Faster Convergence and Better Performance for Image Quality
    Assessment", ACM MM 2020 (PLCC-style correlation losses).

    Shape:
        - pred, target: ``(B,)`` with ``B >= 2``.
    """
    if pred.shape != target.shape or pred.ndim != 1:
        raise ValueError(f"plcc_loss expects two (B,) tensors, got {tuple(pred.shape)} and {tuple(target.shape)}")
    if pred.numel() < 2:
        return pred.new_zeros(())
    p = pred - pred.mean()
    t = target - target.mean()
    plcc = (p * t).sum() / (p.norm() * t.norm() + 1e-8)
    return 1.0 - plcc


def pairwise_rank_loss(
    pred: torch.Tensor, target: torch.Tensor, group: torch.Tensor | None = None, margin: float = 0.0
) -> torch.Tensor:
    """Mean hinge loss over ordered pairs: ``relu(margin * |dt| - sign(dt) * dp)``, 0 when every pair is ranked
    right with the margin. Only pairs within the same ``group`` count when given (e.g. degradations of one
    source image). Lower is better; 0 when there are no pairs.

    Shape:
        - pred, target, group: ``(B,)``.
    """
    dp = pred.unsqueeze(0) - pred.unsqueeze(1)
    dt = target.unsqueeze(0) - target.unsqueeze(1)
    mask = dt > 0
    if group is not None:
        mask &= group.unsqueeze(0) == group.unsqueeze(1)
    if not bool(mask.any()):
        return pred.new_zeros(())
    return F.relu(margin * dt[mask] - dp[mask]).mean()


def score_loss(pred: torch.Tensor, target: torch.Tensor, rank_weight: float = 1.0) -> torch.Tensor:
    """Smooth-L1 regression on the 0–5 scale plus ``rank_weight`` times :func:`plcc_loss`."""
    return F.smooth_l1_loss(pred, target, beta=0.5) + rank_weight * plcc_loss(pred, target)


def severity_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy between predicted and target severities in [0, 1] (masked rows ignored).

    Shape:
        - pred, target: ``(B, K)``; mask: ``(B,)`` bool, rows that carry severity labels.
    """
    if mask is not None:
        if not bool(mask.any()):
            return pred.new_zeros(())
        pred, target = pred[mask], target[mask]
    return F.binary_cross_entropy(pred.clamp(1e-6, 1 - 1e-6), target)
