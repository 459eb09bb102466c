"""Training losses and configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from pixgrade.errors import ConfigError
from pixgrade.train.config import TrainConfig, load_config
from pixgrade.train.losses import pairwise_rank_loss, plcc_loss, score_loss, severity_loss


def test_plcc_loss_is_one_minus_scipy_pearson() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=20), rng.normal(size=20)
    loss = plcc_loss(torch.tensor(a), torch.tensor(b))
    assert float(loss) == pytest.approx(1 - stats.pearsonr(a, b)[0], abs=1e-6)
    assert float(plcc_loss(torch.tensor(a), torch.tensor(2 * a + 1))) == pytest.approx(0, abs=1e-6)


def test_plcc_loss_checks_shapes() -> None:
    with pytest.raises(ValueError, match="two"):
        plcc_loss(torch.zeros(3), torch.zeros(4))


def test_pairwise_rank_loss_is_zero_only_when_ranked_right() -> None:
    target = torch.tensor([1.0, 2.0, 3.0])
    assert float(pairwise_rank_loss(torch.tensor([0.0, 1.0, 2.0]), target)) == 0.0
    assert float(pairwise_rank_loss(torch.tensor([2.0, 1.0, 0.0]), target)) > 0.0
    # pairs across groups are ignored
    group = torch.tensor([0, 1, 2])
    assert float(pairwise_rank_loss(torch.tensor([2.0, 1.0, 0.0]), target, group)) == 0.0


def test_score_and_severity_losses_decrease_towards_the_target() -> None:
    target = torch.tensor([1.0, 2.0, 4.0, 3.0])
    assert float(score_loss(target.clone(), target)) < float(score_loss(target.flip(0), target))
    sev = torch.tensor([[0.0, 1.0]])
    assert float(severity_loss(torch.tensor([[0.1, 0.9]]), sev)) < float(severity_loss(torch.tensor([[0.9, 0.1]]), sev))


def test_config_loads_yaml_and_toml_and_rejects_unknown_keys(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("epochs: 3\nmanifests: [x.csv]\n")
    (tmp_path / "b.toml").write_text('epochs = 4\nmodel = "pixgrade_mnv2_small"\n')
    assert load_config(tmp_path / "a.yaml").epochs == 3
    assert load_config(tmp_path / "a.yaml").manifests == ["x.csv"]
    assert load_config(tmp_path / "b.toml").model == "pixgrade_mnv2_small"
    (tmp_path / "c.yaml").write_text("epochz: 3\n")
    with pytest.raises(ConfigError, match="epochz"):
        load_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()
