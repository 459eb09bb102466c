"""The local engine on ``s3://`` inputs (listed by :func:`pixgrade.io.sources.list_sources`, read by
:func:`~pixgrade.io.sources.read_source` in the worker processes), against the local S3 endpoint of conftest
(moto in server mode; skipped when moto is not installed). No Ray involved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.s3]
pytest.importorskip("moto")

from pixgrade.cli.main import main  # noqa: E402
from pixgrade.engines import create_engine  # noqa: E402
from pixgrade.errors import ConfigError  # noqa: E402
from pixgrade.io.sources import list_sources  # noqa: E402


def _rows_without_path(results: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if k != "path"} for row in results]


def test_listing_an_s3_prefix(bucket: dict[str, str]) -> None:
    assert list_sources(["s3://shop/photos/"]) == sorted(bucket)  # recursive, sorted, hidden files skipped
    assert list_sources(["s3://shop/photos/broken.jpg"]) == ["s3://shop/photos/broken.jpg"]
    with pytest.raises(ConfigError, match="no such file or folder"):
        list_sources(["s3://shop/nothing-here/"])


def test_local_engine_scores_s3_objects_like_the_same_local_files(bucket: dict[str, str]) -> None:
    uris = list_sources(["s3://shop/photos/"])
    engine = create_engine("local", {"model": None}, workers=1)  # one worker process reads from S3
    on_s3 = [r.to_row() for r in engine.score(uris)]
    local = [r.to_row() for r in create_engine("local", {"model": None}, workers=0).score([bucket[u] for u in uris])]
    assert [r["path"] for r in on_s3] == uris
    assert _rows_without_path(on_s3) == _rows_without_path(local)
    assert [Path(r["path"]).name for r in on_s3 if r["error"]] == ["broken.jpg"]


def test_cli_score_lists_and_scores_s3_with_the_local_engine(
    bucket: dict[str, str], photo_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    args = ["score", "s3://shop/photos/", str(photo_dir / "nested"), "--model", "none", "--workers", "1"]
    assert main([*args, "--no-progress", "-o", str(out)]) == 1  # broken.jpg fails, the run goes on
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    nested = list_sources([photo_dir / "nested"])
    assert [r["path"] for r in rows] == [*sorted(bucket), *nested]  # inputs in the order given, each listed
    by_path = {r["path"]: r for r in rows}
    for uri, file in bucket.items():
        if file in by_path:  # the same bytes on S3 and on disk give the same row
            assert _rows_without_path([by_path[uri]]) == _rows_without_path([by_path[file]])
    assert [Path(r["path"]).name for r in rows if r["error"]] == ["broken.jpg"]


def test_python_api_scores_an_s3_prefix(bucket: dict[str, str]) -> None:
    import pixgrade

    results = pixgrade.score("s3://shop/photos/", model="none")
    assert [r.path for r in results] == sorted(bucket)
    local = pixgrade.score([bucket[uri] for uri in sorted(bucket)], model="none")
    assert _rows_without_path([r.to_row() for r in results]) == _rows_without_path([r.to_row() for r in local])
    assert [Path(r.path).name for r in results if r.error] == ["broken.jpg"]


def _decisions(out: Path) -> dict[str, dict[str, str]]:
    import csv

    with (out / "decisions.csv").open(encoding="utf-8") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def test_filter_judges_an_s3_prefix_as_the_same_files_on_disk(bucket: dict[str, str], tmp_path: Path) -> None:
    import shutil

    local_root = tmp_path / "photos"  # the bucket's tree on disk: nested/*, broken.jpg
    for uri, file in bucket.items():
        target = local_root / uri.removeprefix("s3://shop/photos/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
    fast = ["--policy", "generic", "--group-by", "folder", "--model", "none", "--text-detector", "classical"]
    assert main(["filter", "s3://shop/photos/", "-o", str(tmp_path / "s3out"), *fast]) == 1  # broken.jpg
    assert main(["filter", str(local_root), "-o", str(tmp_path / "localout"), "--no-files", *fast]) == 1
    on_s3, on_disk = _decisions(tmp_path / "s3out"), _decisions(tmp_path / "localout")
    assert sorted(on_s3) == sorted(bucket)  # keyed by URI
    same = ("product", "decision", "main", "score", "reasons", "sha256", "width", "height", "cluster")

    def relative(row: dict[str, str], prefix: str) -> dict[str, str]:  # reasons name other images by their path
        return {k: row[k].replace(prefix, "") for k in same}

    for uri in bucket:
        local = on_disk[str(local_root / uri.removeprefix("s3://shop/photos/"))]
        assert relative(on_s3[uri], "s3://shop/photos/") == relative(local, f"{local_root}/"), uri
    assert {row["product"] for row in on_s3.values()} == {"nested", "."}  # folders relative to the prefix
    for uri, row in on_s3.items():  # each object downloaded, byte for byte, into its decision folder
        copy = Path(row["destination"])
        assert copy.is_relative_to(tmp_path / "s3out") and copy.read_bytes() == Path(bucket[uri]).read_bytes()
    # a rerun reuses the stored results and writes no second copy
    assert main(["filter", "s3://shop/photos/", "-o", str(tmp_path / "s3out"), *fast]) == 1
    assert _decisions(tmp_path / "s3out") == on_s3
    folders = [tmp_path / "s3out" / name for name in ("accepted", "rejected", "duplicates")]
    assert sum(1 for folder in folders for p in folder.rglob("*") if p.is_file()) == len(bucket)
    assert main(["filter", "s3://shop/photos/", "-o", str(tmp_path / "moved"), "--move", *fast]) == 2


def test_filter_strips_the_metadata_of_downloaded_copies(bucket: dict[str, str], tmp_path: Path) -> None:
    fast = ["--policy", "generic", "--model", "none", "--text-detector", "classical", "--duplicates", "off"]
    uri = next(u for u in sorted(bucket) if u.endswith(".jpg") and "broken" not in u)
    assert main(["filter", uri, "-o", str(tmp_path / "out"), "--strip-metadata", *fast]) == 0
    (row,) = _decisions(tmp_path / "out").values()
    copy = Path(row["destination"])
    assert copy.suffix == ".jpg" and copy.read_bytes() != Path(bucket[uri]).read_bytes()  # re-encoded, not copied


def test_python_api_filter_judges_s3_objects(bucket: dict[str, str]) -> None:
    import pixgrade

    uris = sorted(bucket)
    on_s3 = pixgrade.filter("s3://shop/photos/", policy="generic", model="none", text_detector="classical")
    local = pixgrade.filter([bucket[u] for u in uris], policy="generic", model="none", text_detector="classical")
    assert [d.path for d in on_s3] == uris
    assert [(d.decision, d.reasons) for d in on_s3] == [(d.decision, d.reasons) for d in local]
    assert [d.decision for d in on_s3 if d.result.error] == [None]  # broken.jpg: not judged, the rest goes on
