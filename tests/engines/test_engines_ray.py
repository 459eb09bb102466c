"""The Ray engine gives exactly the local engine's rows (one local Ray instance for the session: see conftest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]
ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

import pyarrow.dataset as pads  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from engines_ray_helpers import N_GOOD  # noqa: E402

from pixgrade.engines.local import LocalEngine  # noqa: E402
from pixgrade.engines.ray import score_with_ray, write_parquet_with_ray  # noqa: E402
from pixgrade.errors import ConfigError  # noqa: E402
from pixgrade.io.sources import list_sources  # noqa: E402
from pixgrade.pipeline import open_writer  # noqa: E402


def _local_parquet(paths: list[str], scorer_kwargs: dict[str, Any], out: Path) -> Any:
    with open_writer(out) as writer:
        for result in LocalEngine(scorer_kwargs, workers=2, batch_size=8).score(paths):
            writer.write(result.to_row())
    return pq.read_table(out)


@pytest.mark.parametrize("model", ["none", "checkpoint"])
def test_ray_parquet_equals_local_row_by_row(
    ray_instance: Any, photo_dir: Path, tmp_path: Path, model: str, request: pytest.FixtureRequest
) -> None:
    paths = list_sources([photo_dir])
    assert len(paths) == N_GOOD + 3
    scorer_kwargs: dict[str, Any] = {"model": None}
    if model == "checkpoint":
        scorer_kwargs = {"model": str(request.getfixturevalue("tiny_checkpoint")), "backend": "onnx"}
    local = _local_parquet(paths, scorer_kwargs, tmp_path / "local.parquet")
    actors = 2 if model == "none" else 1  # each new actor is a new Ray worker process: slow to start on 2 cores
    summary = write_parquet_with_ray(paths, tmp_path / "ray-out", scorer_kwargs, batch_size=8, num_actors=actors)
    remote = pads.dataset(tmp_path / "ray-out", format="parquet").to_table()
    assert summary.n_images == len(paths) and summary.n_failed == 3
    assert remote.schema == local.schema
    assert remote.column("path").to_pylist() == paths, "rows are written in input order"
    local_rows, remote_rows = local.to_pylist(), remote.to_pylist()
    for mine, theirs in zip(remote_rows, local_rows, strict=True):
        assert mine == theirs
    failed = {Path(r["path"]).name: r["error"] for r in remote_rows if r["error"]}
    assert set(failed) == {"broken.jpg", "empty.png", "notes.txt"}
    assert all(r["score"] is not None for r in remote_rows if not r["error"])
    if model == "checkpoint":
        assert all(r["severity_blur"] is not None for r in remote_rows if not r["error"])


def test_score_with_ray_streams_image_results_in_order(ray_instance: Any, photo_dir: Path) -> None:
    paths = list_sources([photo_dir])[:12]
    results = list(score_with_ray(paths, {"model": None}, batch_size=4, num_actors=2))
    local = list(LocalEngine({"model": None}, workers=0).score(paths))
    assert [r.path for r in results] == paths
    assert [r.to_row() for r in results] == [r.to_row() for r in local]
    assert [sorted(r.factors) for r in results] == [sorted(r.factors) for r in local]


def test_uri_inputs_read_through_pyarrow_filesystems(ray_instance: Any, photo_dir: Path) -> None:
    uris = list_sources([f"file://{photo_dir / 'nested'}"])
    assert uris and all(u.startswith("file:///") for u in uris)
    results = list(score_with_ray([*uris, f"file://{photo_dir}/missing.jpg"], {"model": None}, num_actors=1))
    local = {
        Path(r.path).name: r.to_row() for r in LocalEngine({"model": None}).score(list_sources([photo_dir / "nested"]))
    }
    for result in results[:-1]:
        row = result.to_row()
        assert result.path.startswith("file:///") and result.error is None
        expected = local[Path(result.path).name]
        assert {k: v for k, v in row.items() if k != "path"} == {k: v for k, v in expected.items() if k != "path"}
    assert results[-1].error is not None and "cannot read" in results[-1].error


def test_output_folder_is_never_clobbered(photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.csv").write_text("precious")
    with pytest.raises(ConfigError, match="not empty"):
        write_parquet_with_ray(list_sources([photo_dir])[:2], out, {"model": None})
    with pytest.raises(ConfigError, match="other than Parquet"):
        write_parquet_with_ray(list_sources([photo_dir])[:2], out, {"model": None}, overwrite=True)
    assert (out / "keep.csv").read_text() == "precious"


def test_cli_score_engine_ray_writes_parquet_folder(ray_instance: Any, photo_dir: Path, tmp_path: Path) -> None:
    from pixgrade.cli.main import main

    out = tmp_path / "results.parquet"
    code = main(["score", str(photo_dir / "nested"), "--model", "none", "--engine", "ray", "-o", str(out)])
    assert code == 0  # every image in nested/ is readable
    assert out.is_dir() and list(out.glob("*.parquet"))
    local = tmp_path / "local.parquet"
    assert main(["score", str(photo_dir / "nested"), "--model", "none", "-o", str(local), "--no-progress"]) == 0
    assert pads.dataset(out, format="parquet").to_table().to_pylist() == pq.read_table(local).to_pylist()
    # every file written by the workers records what produced it, as a single Parquet file does; so does a sidecar
    expected = json.loads((tmp_path / "local.parquet.provenance.json").read_text())
    for part in out.glob("*.parquet"):
        record = json.loads(pq.read_schema(part).metadata[b"pixgrade"])
        assert record["model"] == "none" and record["pixgrade_version"] == expected["pixgrade_version"]
        assert record["backend"] == expected["backend"] == "none"
    sidecar = json.loads((tmp_path / "results.parquet.provenance.json").read_text())
    assert sidecar["output"] == "results.parquet" and sidecar["model"] == "none"
    # an existing output is never replaced without --overwrite
    assert main(["score", str(photo_dir / "nested"), "--model", "none", "--engine", "ray", "-o", str(out)]) == 2


def test_cli_score_engine_ray_streams_to_csv(ray_instance: Any, photo_dir: Path, tmp_path: Path) -> None:
    import csv

    from pixgrade.cli.main import main

    out = tmp_path / "results.csv"
    args = ["score", str(photo_dir), "--model", "none", "--engine", "ray", "-o", str(out), "--no-progress"]
    assert main(args) == 1  # the broken files fail, the run goes on
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == list_sources([photo_dir])
    assert sum(bool(r["error"]) for r in rows) == 3


def test_parquet_folder_names_are_lossless(ray_instance: Any, photo_dir: Path, tmp_path: Path) -> None:
    import os
    import shutil

    from pixgrade.io.files import path_from_text, path_text

    odd = tmp_path / "odd"
    odd.mkdir()
    source = sorted(photo_dir.glob("photo_*.png"))[0]
    names = [os.fsdecode(b"caf\xe9 \xff.png"), "two\nlines.png", "back\\slash.png", "plain.png"]
    for name in names:
        shutil.copyfile(source, odd / name)
    inputs = list_sources([odd])
    out = tmp_path / "odd.parquet"
    summary = write_parquet_with_ray(inputs, out, {"model": None}, batch_size=2, num_actors=1)
    assert summary.n_failed == 0
    written = [r["path"] for r in pads.dataset(out, format="parquet").to_table().to_pylist()]
    assert written == [path_text(p) for p in inputs]  # the local writers' escaping
    assert sorted(os.fsencode(Path(path_from_text(p)).name) for p in written) == sorted(map(os.fsencode, names))
    assert not (out / ".pixgrade-lock").exists()  # the lock is given up when the run ends


def test_parquet_folder_is_locked(photo_dir: Path, tmp_path: Path) -> None:
    from pixgrade.io.locks import OutputLock, OutputLockedError

    out = tmp_path / "out.parquet"
    out.mkdir()
    with OutputLock(out, what="output folder"), pytest.raises(OutputLockedError, match="being written by"):
        write_parquet_with_ray(list_sources([photo_dir])[:2], out, {"model": None})
    from pixgrade.engines.ray.sink import check_output_dir

    (out / ".pixgrade-lock").write_text("{}")  # left by a run that was killed: not held, and not a foreign file
    check_output_dir(str(out), overwrite=False)
    (out / "keep.csv").write_text("precious")
    with pytest.raises(ConfigError, match="not empty"):  # the lock is free, then the usual checks apply
        write_parquet_with_ray(list_sources([photo_dir])[:2], out, {"model": None})
    assert (out / "keep.csv").read_text() == "precious"
