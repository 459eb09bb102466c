"""Inputs on ``s3://`` and Parquet output to ``s3://`` through pyarrow's filesystems, against a local S3 endpoint
(moto in server mode, started by conftest; skipped when moto is not installed).

The endpoint reaches pyarrow the documented way, ``AWS_ENDPOINT_URL`` (plus the usual ``AWS_ACCESS_KEY_ID`` …):
set here for the driver and, through Ray's ``runtime_env``, for the workers (conftest's ``ray_instance``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.s3, pytest.mark.slow]
pytest.importorskip("ray")
pytest.importorskip("ray.data")
pytest.importorskip("moto")

import pyarrow.dataset as pads  # noqa: E402
import pyarrow.fs as pafs  # noqa: E402
from engines_ray_helpers import S3_ENV  # noqa: E402

from pixgrade.cli.main import main  # noqa: E402
from pixgrade.engines.local import score_local  # noqa: E402
from pixgrade.engines.ray_engine import list_inputs  # noqa: E402
from pixgrade.errors import ConfigError  # noqa: E402


@pytest.fixture
def bucket(s3_endpoint: str | None, photo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Bucket ``shop`` holding nested/*, broken.jpg and a hidden file under ``photos/``; returns {uri: local file}."""
    if s3_endpoint is None:
        pytest.skip("moto is not installed")
    for key, value in {**S3_ENV, "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(key, value)
    admin = pafs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
        endpoint_override=s3_endpoint,
        allow_bucket_creation=True,
    )
    admin.create_dir("shop")
    uploaded = {}
    files = [*sorted((photo_dir / "nested").iterdir()), photo_dir / "broken.jpg"]
    for file in files:
        key = f"shop/photos/{'nested/' if file.parent.name == 'nested' else ''}{file.name}"
        with admin.open_output_stream(key) as handle:
            handle.write(file.read_bytes())
        uploaded[f"s3://{key}"] = str(file)
    with admin.open_output_stream("shop/photos/.hidden.jpg") as handle:
        handle.write((photo_dir / "broken.jpg").read_bytes())
    return uploaded


def test_listing_an_s3_prefix(bucket: dict[str, str]) -> None:
    assert list_inputs(["s3://shop/photos/"]) == sorted(bucket)  # recursive, sorted, hidden files skipped
    assert list_inputs(["s3://shop/photos/broken.jpg"]) == ["s3://shop/photos/broken.jpg"]
    with pytest.raises(ConfigError, match="no such file or folder"):
        list_inputs(["s3://shop/nothing-here/"])


def test_cli_scores_s3_inputs_into_s3_parquet(ray_instance: Any, bucket: dict[str, str]) -> None:
    output = "s3://shop/results/run-1.parquet"
    args = ["score", "s3://shop/photos/", "--model", "none", "--engine", "ray", "--workers", "1"]
    assert main([*args, "-o", output]) == 1  # broken.jpg fails, the run goes on
    rows = pads.dataset(output, format="parquet").to_table().to_pylist()
    assert [r["path"] for r in rows] == sorted(bucket)
    local = {r.path: r.to_row() for r in score_local(list(bucket.values()), {"model": None}, workers=0)}
    for row in rows:
        expected = local[bucket[row["path"]]]
        assert {k: v for k, v in row.items() if k != "path"} == {k: v for k, v in expected.items() if k != "path"}
    assert [Path(r["path"]).name for r in rows if r["error"]] == ["broken.jpg"]
