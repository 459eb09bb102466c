"""Inputs on ``s3://`` and Parquet output to ``s3://`` through pyarrow's filesystems on Ray, against a local S3
endpoint (moto in server mode and the ``bucket`` fixture, from conftest; skipped when moto is not installed).

The endpoint reaches pyarrow the documented way, ``AWS_ENDPOINT_URL`` (plus the usual ``AWS_ACCESS_KEY_ID`` …):
set by the ``bucket`` fixture for the driver and, through Ray's ``runtime_env``, for the workers (conftest's
``ray_instance``). The listing and the local engine on S3 are tested without Ray in ``test_engines_local_s3.py``.
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

from pixgrade.cli.main import main  # noqa: E402
from pixgrade.engines.local import LocalEngine  # noqa: E402


def test_cli_scores_s3_inputs_into_s3_parquet(ray_instance: Any, bucket: dict[str, str]) -> None:
    output = "s3://shop/results/run-1.parquet"
    args = ["score", "s3://shop/photos/", "--model", "none", "--engine", "ray", "--workers", "1"]
    assert main([*args, "-o", output]) == 1  # broken.jpg fails, the run goes on
    rows = pads.dataset(output, format="parquet").to_table().to_pylist()
    assert [r["path"] for r in rows] == sorted(bucket)
    local = {r.path: r.to_row() for r in LocalEngine({"model": None}, workers=0).score(list(bucket.values()))}
    for row in rows:
        expected = local[bucket[row["path"]]]
        assert {k: v for k, v in row.items() if k != "path"} == {k: v for k, v in expected.items() if k != "path"}
    assert [Path(r["path"]).name for r in rows if r["error"]] == ["broken.jpg"]
