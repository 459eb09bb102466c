"""CSV / JSONL / JSON / Parquet writers: round trips, refusing to overwrite, resume and crash repair."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pixgrade.errors import ConfigError
from pixgrade.measures import FACTOR_NAMES, Factor
from pixgrade.pipeline import ImageResult, open_writer, output_format, read_rows, result_columns

FORMATS = ["csv", "jsonl", "json", "parquet"]


def rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + n):
        if i % 3 == 2:
            out.append(ImageResult(path=f"img/{i:03d}.jpg", error=f'not an image, "quoted", {i}').to_row())
            continue
        factors = {
            name: Factor(name, float(i) + 0.5, (i % 10) / 10, i % 2 == 0, "r" if i % 2 == 0 else None)
            for name in FACTOR_NAMES
        }
        out.append(
            ImageResult(
                path=f"img/{i:03d}.jpg",
                score=i % 5 + 0.25,
                grade=i % 5,
                factors=factors,
                severities={"blur": 0.5},
                reasons=["a, b", "c; d"],
                width=100 + i,
                height=50,
                format="JPEG",
                sha256=f"{i:064x}",
            ).to_row()
        )
    return out


def write(path: Path, data: list[dict[str, Any]], **kwargs: Any) -> set[str]:
    with open_writer(path, **kwargs) as writer:
        existing = set(writer.existing_paths)
        for row in data:
            writer.write(row)
    return existing


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out/results.{fmt}"
    data = rows(7)
    write(path, data)
    back = list(read_rows(path))
    assert back == data
    assert list(back[0]) == result_columns()
    assert not (tmp_path / "out" / f"results.{fmt}.partial.jsonl").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_never_overwrites_without_being_told(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"results.{fmt}"
    write(path, rows(3))
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="already exists"):
        open_writer(path)
    assert path.read_bytes() == before
    with pytest.raises(ConfigError, match="not both"):
        open_writer(path, resume=True, overwrite=True)
    write(path, rows(2, start=10), overwrite=True)
    assert [r["path"] for r in read_rows(path)] == ["img/010.jpg", "img/011.jpg"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_resume_appends_and_reports_existing_paths(tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = Path(f"results.{fmt}")
    write(path, rows(4))
    existing = write(path, rows(3, start=4), resume=True)
    assert existing == {os.path.abspath(f"img/{i:03d}.jpg") for i in range(4)}
    assert list(read_rows(path)) == rows(7)


def test_resume_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "new.csv"
    assert write(path, rows(2), resume=True) == set()
    assert len(list(read_rows(path))) == 2


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_resume_cuts_a_half_written_last_line(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"results.{fmt}"
    write(path, rows(3))
    with open(path, "ab") as fh:  # a hard kill in the middle of writing row 3
        fh.write(b'img/003.jpg,2.5,"half a r' if fmt == "csv" else b'{"path": "img/003.jpg", "sco')
    assert [r["path"] for r in read_rows(path)] == [f"img/{i:03d}.jpg" for i in range(3)]
    existing = write(path, rows(2, start=3), resume=True)
    assert len(existing) == 3
    assert list(read_rows(path)) == rows(5)


@pytest.mark.parametrize("fmt", ["parquet", "json"])
def test_interrupted_run_keeps_rows_in_the_sidecar_and_resume_merges(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"results.{fmt}"
    write(path, rows(2))
    writer = open_writer(path, resume=True)
    for row in rows(3, start=2):
        writer.write(row)
    # the process dies here: no close(); the old file is intact and the new rows are in the sidecar
    sidecar = tmp_path / f"results.{fmt}.partial.jsonl"
    assert sidecar.exists() and len(sidecar.read_text().splitlines()) == 3
    assert [r["path"] for r in read_rows(path)] == [f"img/{i:03d}.jpg" for i in range(5)]
    writer._sidecar._fh.close()  # type: ignore[attr-defined]  # what the OS does when the process dies
    with pytest.raises(ConfigError, match="already exists"):
        open_writer(path)
    existing = write(path, rows(2, start=5), resume=True)
    assert len(existing) == 5
    assert list(read_rows(path)) == rows(7)
    assert not sidecar.exists()


@pytest.mark.parametrize("fmt", ["parquet", "json"])
def test_sidecar_rows_already_merged_are_not_duplicated(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"results.{fmt}"
    write(path, rows(4))
    sidecar = tmp_path / f"results.{fmt}.partial.jsonl"
    # a crash after the merged file replaced the old one but before the sidecar was deleted
    sidecar.write_text("".join(json.dumps(r) + "\n" for r in rows(2, start=2)))
    assert len(list(read_rows(path))) == 4
    write(path, rows(1, start=4), resume=True)
    assert list(read_rows(path)) == rows(5)


@pytest.mark.parametrize("fmt", ["parquet", "json"])
def test_sidecar_alone_is_refused_without_resume(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"results.{fmt}"
    (tmp_path / f"results.{fmt}.partial.jsonl").write_text(json.dumps(rows(1)[0]) + "\n")
    with pytest.raises(ConfigError, match="interrupted run"):
        open_writer(path)
    existing = write(path, rows(1, start=1), resume=True)
    assert len(existing) == 1 and len(list(read_rows(path))) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_resume_refuses_a_file_with_other_columns(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"results.{fmt}"
    write(path, [{"path": "a.jpg", "score": 1.0}], columns=["path", "score"])
    with pytest.raises(ConfigError, match="columns do not match"):
        open_writer(path, resume=True)


def test_json_is_one_array_of_rows_in_column_order(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write(path, [])
    assert json.loads(path.read_text()) == []
    write(path, rows(3), overwrite=True)
    document = json.loads(path.read_text())
    assert isinstance(document, list) and [r["path"] for r in document] == ["img/000.jpg", "img/001.jpg", "img/002.jpg"]
    assert list(document[0]) == result_columns()
    path.write_text('{"not": "a table"}')
    with pytest.raises(ConfigError, match="not a pixgrade JSON table"):
        open_writer(path, resume=True)
    path.write_text("[{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        list(read_rows(path))


def test_bad_extension_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown output format"):
        output_format(tmp_path / "results.xlsx")
    with pytest.raises(ConfigError, match="unknown output format"):
        open_writer(tmp_path / "results")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        open_writer(tmp_path / "d.csv", overwrite=True)


def test_csv_rows_are_flushed_as_written(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    writer = open_writer(path)
    for row in rows(2):
        writer.write(row)
    assert [r["path"] for r in read_rows(path)] == ["img/000.jpg", "img/001.jpg"]  # readable before close
    writer.close()
