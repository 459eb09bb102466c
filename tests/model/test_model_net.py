"""QualityNet, the model and backbone registries, checkpoints and the predictor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pixgrade.model import SEVERITY_NAMES, create_backbone, create_model, list_backbones, list_models
from pixgrade.model.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from pixgrade.model.predictor import TorchPredictor, resize_for_model


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_builds_and_outputs_the_documented_shapes(name: str) -> None:
    model = create_model(name).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 96, 128))
    assert out["score"].shape == (2,)
    assert out["severities"].shape == (2, len(SEVERITY_NAMES))
    assert bool(((out["severities"] >= 0) & (out["severities"] <= 1)).all())
    norms = out["embedding"].norm(dim=1)
    assert torch.allclose(norms, torch.ones(2), atol=1e-5)


@pytest.mark.parametrize("name", list_backbones())
def test_every_registered_backbone_loads_imagenet_weights_offline(name: str) -> None:
    backbone = create_backbone(name, pretrained=True).eval()
    with torch.no_grad():
        stages = backbone(torch.randn(1, 3, 64, 64))
    assert [s.shape[1] for s in stages] == list(backbone.stage_channels)
    # ImageNet weights differ from a fresh random initialisation
    fresh = create_backbone(name, pretrained=False)
    first = next(iter(backbone.state_dict()))
    assert not torch.equal(backbone.state_dict()[first], fresh.state_dict()[first])


def test_unknown_names_list_the_registered_ones() -> None:
    with pytest.raises(KeyError, match="pixgrade_mnv2"):
        create_model("nope")
    with pytest.raises(KeyError, match="mobilenet_v2"):
        create_backbone("nope")


def test_model_rejects_wrong_input_shape() -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        create_model()(torch.randn(3, 64, 64))


@pytest.mark.parametrize("name", list_models())
def test_cached_stem_path_equals_the_full_forward(name: str) -> None:
    model = create_model(name).eval()
    x = torch.randn(1, 3, 80, 120)
    with torch.no_grad():
        full = model(x)
        for stop in (7, 11, 14):
            hidden, stats = model.forward_stem(x, stop)
            split = model.forward_from_stem(hidden, stop, stats)
            assert torch.allclose(full["score"], split["score"], atol=1e-5)
            assert torch.allclose(full["severities"], split["severities"], atol=1e-5)


def test_detached_features_train_the_heads_only() -> None:
    model = create_model("pixgrade_mnv2")
    x = torch.rand(2, 3, 64, 64)
    hidden, stats = model.forward_stem(x, 14)
    for detach in (False, True):
        model.zero_grad(set_to_none=True)
        out = model.forward_from_stem(hidden, 14, stats, detach_features=detach)
        (out["score"].sum() + out["severities"].sum()).backward()
        backbone_grads = [p.grad for p in model.backbone.parameters() if p.grad is not None]
        head_grads = [p.grad for p in model.score_head.parameters() if p.grad is not None]
        assert head_grads, "the score head must learn either way"
        assert bool(backbone_grads) is not detach


def test_checkpoint_round_trip_keeps_outputs_and_metadata(tmp_path: Path) -> None:
    model = create_model(hidden=32).eval()
    with torch.no_grad():
        model.score_head[-1].bias.fill_(3.3)
    path = save_checkpoint(tmp_path / "m.safetensors", model, {"metrics": {"srcc": 0.5}})
    loaded, meta = load_checkpoint(path)
    assert meta["metrics"] == {"srcc": 0.5}
    assert meta["config"]["hidden"] == 32
    assert read_metadata(path)["config"]["name"] == "pixgrade_mnv2"
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x)["score"], loaded(x)["score"], atol=1e-5)
    half = save_checkpoint(tmp_path / "h.safetensors", model, half=True)
    assert half.stat().st_size < path.stat().st_size * 0.6
    with torch.no_grad():
        assert torch.allclose(model(x)["score"], load_checkpoint(half)[0](x)["score"], atol=0.05)


def test_bad_checkpoints_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"junk\.safetensors"):
        load_checkpoint(junk)


def test_resize_policy_caps_longest_side_and_never_upscales_needlessly() -> None:
    big = np.zeros((1000, 600, 3), np.uint8)
    assert resize_for_model(big, 512).shape == (512, 307, 3)
    small = np.zeros((200, 100, 3), np.uint8)
    assert resize_for_model(small, 512) is small
    tiny = np.zeros((20, 40, 3), np.uint8)
    assert resize_for_model(tiny, 512, min_side=64).shape[0] == 64
    with pytest.raises(ValueError, match="RGB uint8"):
        resize_for_model(np.zeros((10, 10), np.uint8), 512)


def test_predictor_scores_any_size_and_names_severities() -> None:
    predictor = TorchPredictor(create_model())
    outs = predictor.predict([np.full((50, 70, 3), 128, np.uint8), np.zeros((700, 300, 3), np.uint8)])
    assert len(outs) == 2
    for out in outs:
        assert 0.0 <= out.score <= 5.0
        assert set(out.severities) == set(SEVERITY_NAMES)
    assert predictor.embed([np.zeros((64, 64, 3), np.uint8)]).shape == (1, 1280)


def test_efficientnet_lite0_converts_imagenet_input_to_its_own_pixel_scaling() -> None:
    from pixgrade.model.backbones import IMAGENET_MEAN, IMAGENET_STD, EfficientNetLite0

    backbone = EfficientNetLite0()
    rgb = torch.rand(1, 3, 8, 8)
    imagenet = (rgb - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    converted = imagenet * backbone.input_scale + backbone.input_shift
    assert torch.allclose(converted, (255 * rgb - 127) / 128, atol=1e-4)
