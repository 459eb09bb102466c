"""``--engine ray`` without Ray installed: a clear usage error, nothing half done (no Ray needed to run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import pixgrade.engines.ray.engine as ray_engine
from pixgrade.cli.main import main
from pixgrade.errors import ConfigError
from pixgrade.io.sources import list_sources


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray_engine, "ray_available", lambda: False)


@pytest.mark.parametrize("command", ["filter", "score"])
def test_engine_ray_without_ray_is_a_usage_error(
    no_ray: None, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Image.new("RGB", (64, 64), "white").save(tmp_path / "a.png")
    out = tmp_path / ("out" if command == "filter" else "out.parquet")
    assert main([command, str(tmp_path / "a.png"), "--model", "none", "--engine", "ray", "-o", str(out)]) == 2
    assert "pip install 'pixgrade[ray]'" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "catalog.sqlite").exists()


def test_listing_refuses_missing_paths_and_unknown_schemes(tmp_path: Path) -> None:
    (tmp_path / "b.jpg").write_bytes(b"x")
    (tmp_path / ".hidden.jpg").write_bytes(b"x")
    assert list_sources([tmp_path]) == [str(tmp_path / "b.jpg")]
    with pytest.raises(ConfigError, match="no such file or folder"):
        list_sources([tmp_path / "missing"])
    with pytest.raises(ConfigError, match="cannot list it"):
        list_sources(["nosuchscheme://bucket/photos/"])
    uris = list_sources([f"file://{tmp_path}"])
    assert uris == [f"file://{tmp_path / 'b.jpg'}"]
