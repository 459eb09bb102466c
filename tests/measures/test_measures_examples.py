"""The bundled example photos (drawn by tools/make_examples.py) show the problems their names promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixgrade.io import iter_image_files, load_image
from pixgrade.measures import measure_all

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# file -> factors that must be flagged (good pictures: none at all)
EXPECTED: dict[str, set[str]] = {
    "mug_good.jpg": set(),
    "sneaker_good.jpg": set(),
    "handbag_transparent.png": set(),
    "mug_watermark.jpg": set(),  # no measured factor looks for text; the watermark is for the model and the demo
    "mug_blurred.jpg": {"sharpness"},
    "sneaker_dark.jpg": {"exposure"},
    "bottle_overexposed.jpg": {"exposure"},
    "handbag_noisy.jpg": {"noise"},
    "sneaker_compressed.jpg": {"blockiness"},
    "bottle_low_resolution.jpg": {"resolution"},
    "bottle_cluttered_background.jpg": {"background"},
    "handbag_small_in_frame.jpg": {"fill", "centring"},
}

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/ not present")


def test_examples_folder_holds_only_the_expected_images() -> None:
    names = {p.name for p in iter_image_files(EXAMPLES)}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_shows_its_problem(name: str) -> None:
    path = EXAMPLES / name
    assert path.stat().st_size <= 100 * 1024
    loaded = load_image(path)
    assert max(loaded.original_size) <= 800
    flagged = {n for n, f in measure_all(loaded).items() if f.flag}
    expected = EXPECTED[name]
    if expected:
        assert expected <= flagged, (name, flagged)
    else:
        assert flagged == set(), (name, flagged)
    if name.endswith(".png"):
        assert loaded.alpha is not None and loaded.alpha.min() == 0
