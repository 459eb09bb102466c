"""``--plugin`` on Ray: the actors load the plugin from the Scorer options they receive, so a custom factor gets its
columns in the streamed rows and in the Parquet folder the workers write, as locally."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.ray, pytest.mark.slow]
pytest.importorskip("ray")
pytest.importorskip("ray.data")

import pyarrow.dataset as pads  # noqa: E402

from pixgrade.cli.main import main  # noqa: E402
from pixgrade.measures import base, plugins  # noqa: E402

PLUGIN = """
import os
from pixgrade.measures import Factor, register_factor


@register_factor("redness", description="red minus grey", unit="grey levels", direction="lower is better",
                 threshold="> 50")
def redness(prep):
    rgb = prep.rgb.astype(float)
    value = float(rgb[..., 0].mean() - (rgb[..., 1].mean() + rgb[..., 2].mean()) / 2)
    return Factor("redness", value, max(0.0, 1.0 - value / 200.0), value > 50, f"too red (pid {os.getpid()})")
"""


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    registry, loaded, modules = dict(base._REGISTRY), dict(plugins._LOADED), set(sys.modules)
    yield
    base._REGISTRY.clear()
    base._REGISTRY.update(registry)
    plugins._LOADED.clear()
    plugins._LOADED.update(loaded)
    for name in set(sys.modules) - modules:
        if name.startswith("pixgrade_plugin_"):
            del sys.modules[name]


def test_ray_actors_measure_a_plugin_factor(ray_instance: Any, tmp_path: Path) -> None:
    plugin = tmp_path / "redness.py"
    plugin.write_text(PLUGIN)
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.full((40, 48, 3), (200, 20, 40), np.uint8)).save(folder / "red.png")
    Image.fromarray(np.full((40, 48, 3), 128, np.uint8)).save(folder / "grey.png")
    common = ["score", str(folder), "--model", "none", "--engine", "ray", "--no-progress", "--plugin", str(plugin)]
    assert main([*common, "-o", str(tmp_path / "rows.csv")]) == 0
    with (tmp_path / "rows.csv").open(newline="") as handle:
        streamed = {Path(r["path"]).name: r for r in csv.DictReader(handle)}
    assert float(streamed["red.png"]["redness_value"]) == pytest.approx(170.0, abs=0.01)
    assert f"pid {os.getpid()})" not in streamed["red.png"]["reasons"]  # measured in a Ray worker
    assert main([*common, "-o", str(tmp_path / "rows.parquet")]) == 0
    written = {Path(r["path"]).name: r for r in pads.dataset(tmp_path / "rows.parquet").to_table().to_pylist()}
    assert written["red.png"]["redness_value"] == pytest.approx(170.0, abs=0.01)
    assert written["grey.png"]["redness_flag"] is False
