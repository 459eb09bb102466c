"""A file that kills its Ray worker becomes the local engine's crash row; the job neither hangs nor fails.

The session's Ray workers carry a setup hook (conftest / engines_ray_helpers) that makes pixgrade's decoder call
``os._exit`` on a file starting with ``CRASH_MAGIC``: the worker process really dies, as with a segfaulting decoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(400)]
pytest.importorskip("ray")
pytest.importorskip("ray.data")

import pyarrow.dataset as pads  # noqa: E402
from engines_ray_helpers import CRASH_MAGIC  # noqa: E402

from pixgrade.engines.local import LocalEngine  # noqa: E402
from pixgrade.engines.ray import RECOVERED_SUFFIX, score_with_ray, write_parquet_with_ray  # noqa: E402
from pixgrade.engines.ray.recovery import Recovery  # noqa: E402
from pixgrade.errors import PixgradeError  # noqa: E402
from pixgrade.io.sources import list_sources  # noqa: E402
from pixgrade.pipeline.parallel import CRASH_MESSAGE  # noqa: E402


@pytest.fixture
def with_crasher(photo_dir: Path, tmp_path: Path) -> tuple[list[str], str]:
    """Eight files: seven generated photos and, third, one that kills the worker decoding it."""
    crasher = tmp_path / "crasher.jpg"
    crasher.write_bytes(CRASH_MAGIC + b" looks like nothing a decoder expects")
    good = list_sources([photo_dir / "nested"])[:7]
    assert len(good) == 7
    return [*good[:2], str(crasher), *good[2:]], str(crasher)


def _local_rows(paths: list[str]) -> dict[str, dict[str, Any]]:
    return {r.path: r.to_row() for r in LocalEngine({"model": None}, workers=0).score(paths)}


def test_streamed_results_mark_only_the_crashing_file(ray_instance: Any, with_crasher: tuple[list[str], str]) -> None:
    paths, crasher = with_crasher
    results = list(score_with_ray(paths, {"model": None}, batch_size=4, num_actors=1))
    assert [r.path for r in results] == paths, "every file once, in input order"
    crashed = [r for r in results if r.error == CRASH_MESSAGE]
    assert [r.path for r in crashed] == [crasher]
    assert crashed[0].score is None and crashed[0].to_row()["error"] == CRASH_MESSAGE
    local = _local_rows([p for p in paths if p != crasher])
    for result in results:
        if result.path != crasher:
            assert result.to_row() == local[result.path], "the crasher's batch-mates are scored normally"


def test_parquet_output_gets_the_crash_row_in_a_recovered_file(
    ray_instance: Any, with_crasher: tuple[list[str], str], tmp_path: Path
) -> None:
    paths, crasher = with_crasher
    out = tmp_path / "out.parquet"
    summary = write_parquet_with_ray(paths, out, {"model": None}, batch_size=4, num_actors=1)
    assert summary.n_images == len(paths) and summary.n_failed == 1
    assert summary.n_recovered == 4  # only the lost batch: the crasher and its three batch-mates
    recovered = [f for f in summary.files if f.endswith(RECOVERED_SUFFIX)]
    assert len(recovered) == 1 and len(summary.files) == 2
    rows = {r["path"]: r for r in pads.dataset(out, format="parquet").to_table().to_pylist()}
    assert sorted(rows) == sorted(paths)
    assert rows[crasher]["error"] == CRASH_MESSAGE
    assert crasher in pads.dataset(recovered[0], format="parquet").to_table().column("path").to_pylist()
    local = _local_rows([p for p in paths if p != crasher])
    assert {p: r for p, r in rows.items() if p != crasher} == local


def test_workers_dying_on_every_call_end_the_job(ray_instance: Any, tmp_path: Path) -> None:
    """Re-scoring gives up after too many deaths in a row instead of starting workers for ever: here the pair
    kills one actor, the first file alone another, the second a third (one more than allowed)."""
    crashers = []
    for name in ("one.jpg", "two.jpg"):
        (tmp_path / name).write_bytes(CRASH_MAGIC)
        crashers.append(str(tmp_path / name))
    kwargs = {"scorer_kwargs": {"model": None}, "keep_results": True}
    recovery = Recovery(ray_instance, kwargs, batch_size=16, max_consecutive_crashes=2)
    try:
        with pytest.raises(PixgradeError, match="died 3 times in a row"):
            recovery(crashers)
    finally:
        recovery.close()
    assert recovery.crashes == 3
