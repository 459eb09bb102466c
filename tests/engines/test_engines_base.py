"""The engine interface: one factory choosing by name, engines that satisfy the protocol (no Ray job started)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pixgrade.engines import ENGINES, Engine, ParquetFolderEngine, create_engine
from pixgrade.engines.local import LocalEngine
from pixgrade.errors import ConfigError
from pixgrade.pipeline import Scorer


def test_unknown_engine_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown engine 'spark'; known: local, ray"):
        create_engine("spark")


def test_local_engine_streams_in_input_order_and_leaves_filter_its_own_scoring(tmp_path: Path) -> None:
    for name, colour in (("b.png", "white"), ("a.png", "red")):
        Image.new("RGB", (80, 60), colour).save(tmp_path / name)
    (tmp_path / "c.jpg").write_bytes(b"not an image")
    engine = create_engine("local", {"model": None}, workers=0, batch_size=2)
    assert isinstance(engine, Engine) and not isinstance(engine, ParquetFolderEngine)
    assert engine.name == "local" and engine.file_engine() is None
    sources = [str(tmp_path / n) for n in ("c.jpg", "b.png", "a.png")]
    results = list(engine.score(sources))
    assert [r.path for r in results] == sources
    assert results[0].error is not None and results[1].error is None and results[2].error is None


def test_local_engine_scores_with_the_scorer_it_is_given() -> None:
    scorer = Scorer(None)
    assert LocalEngine(workers=0, scorer=scorer).scorer is scorer


def test_ray_engine_is_chosen_by_name_and_writes_parquet_folders() -> None:
    pytest.importorskip("ray.data")
    engine = create_engine("ray", {"model": None}, workers=0, batch_size=4, address="auto")
    assert isinstance(engine, ParquetFolderEngine) and engine.name == "ray"
    assert engine.num_actors is None and engine.batch_size == 4  # type: ignore[attr-defined]
    file_engine = engine.file_engine()
    assert file_engine is not None and file_engine.keywords["address"] == "auto"  # type: ignore[attr-defined]
    assert set(ENGINES) == {"local", "ray"}
