"""``pixgrade score``: exit codes, outputs, refusing to overwrite, resume after an interruption."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from pixgrade.cli.main import main
from pixgrade.pipeline import read_rows, result_columns
from pixgrade.pipeline.scorer import Scorer


def photo(seed: int, size: tuple[int, int] = (160, 200)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((*size, 3), 248, np.uint8)
    colour = tuple(int(v) for v in rng.integers(30, 200, 3))
    cv2.circle(img, (size[1] // 2, size[0] // 2), min(size) // 3, colour, -1)
    cv2.rectangle(img, (size[1] // 2 - 20, size[0] // 2 - 8), (size[1] // 2 + 20, size[0] // 2 + 8), (10, 10, 10), 2)
    return img


def make_images(folder: Path, n: int, bad_every: int = 0) -> list[Path]:
    """``n`` files; with ``bad_every`` every k-th one is not an image (alternately zero bytes and text)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img{i:03d}.{'png' if i % 2 else 'jpg'}"
        if bad_every and i % bad_every == bad_every - 1:
            path.write_bytes(b"" if (i // bad_every) % 2 == 0 else b"hello, not an image")
        else:
            Image.fromarray(photo(i)).save(path)
        paths.append(path)
    return paths


def csv_paths(path: Path) -> list[str]:
    with open(path, newline="") as fh:
        return [row["path"] for row in csv.DictReader(fh)]


def score(*args: str) -> int:
    return main(["score", "--model", "none", "--no-progress", *args])


def test_all_good_exits_0_with_documented_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = make_images(tmp_path / "imgs", 3)
    out = tmp_path / "out" / "results.csv"
    assert score(str(tmp_path / "imgs"), "-o", str(out), "--workers", "0") == 0
    with open(out, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == result_columns()
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in images)
    assert all(r["error"] == "" and 0 <= float(r["score"]) <= 5 for r in rows)
    assert "scored 3 images" in capsys.readouterr().err


def test_bad_files_give_one_row_each_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = make_images(tmp_path / "imgs", 6, bad_every=3)  # img002 empty, img005 text
    (tmp_path / "imgs" / "sub").mkdir()
    truncated = tmp_path / "imgs" / "sub" / "cut.jpg"
    Image.fromarray(photo(50)).save(truncated, quality=90)
    truncated.write_bytes(truncated.read_bytes()[:-400])
    out = tmp_path / "results.jsonl"
    assert score(str(tmp_path / "imgs"), "-o", str(out), "--workers", "2") == 1
    rows = {r["path"]: r for r in read_rows(out)}
    assert sorted(rows) == sorted(str(p) for p in [*images, truncated])
    assert "empty file" in rows[str(images[2])]["error"]
    assert "not an image" in rows[str(images[5])]["error"]
    assert "truncated or damaged" in rows[str(truncated)]["error"]
    assert sum(r["error"] is not None for r in rows.values()) == 3
    assert "scored 7 images, 3 failed: see the error column" in capsys.readouterr().err


def test_table_on_stdout_without_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = make_images(tmp_path, 2)
    (tmp_path / "zero.jpg").write_bytes(b"")
    assert score(str(tmp_path), "--workers", "0") == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["score", "grade", "presentation", "main_score", "path", "reasons"]
    assert len(lines) == 4
    scored = next(line for line in lines if str(images[0]) in line).split()
    assert 0.0 <= float(scored[2]) <= 1.0 and 0.0 <= float(scored[3]) <= 1.0
    assert any(str(images[0]) in line for line in lines)
    assert any(line.strip().startswith(str(tmp_path / "zero.jpg")) and "error: empty file" in line for line in lines)


@pytest.mark.parametrize(
    "args",
    [
        ["missing-folder", "-o", "{tmp}/r.csv"],
        ["{tmp}/imgs", "-o", "{tmp}/r.xlsx"],
        ["{tmp}/imgs", "-o", "{tmp}/existing.csv"],
        ["{tmp}/imgs", "-o", "{tmp}/r.csv", "--resume", "--overwrite"],
        ["{tmp}/imgs", "--resume"],
        ["{tmp}/imgs", "-o", "{tmp}/r.csv", "--html", "{tmp}/existing.html"],
        ["{tmp}/empty-folder", "-o", "{tmp}/r.csv"],
        ["{tmp}/imgs", "--model", "{tmp}/no-such-model.safetensors"],
    ],
)
def test_usage_errors_exit_2_and_touch_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    make_images(tmp_path / "imgs", 1)
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "existing.csv").write_text("precious data\n")
    (tmp_path / "existing.html").write_text("<p>precious page</p>")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert score(*(a.format(tmp=tmp_path) for a in args)) == 2
    assert "pixgrade score: error:" in capsys.readouterr().err
    assert (tmp_path / "existing.csv").read_text() == "precious data\n"
    assert (tmp_path / "existing.html").read_text() == "<p>precious page</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_default_model_missing_is_a_clear_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pixgrade.model.loader

    monkeypatch.setattr(pixgrade.model.loader, "DEFAULT_MODEL_PATH", tmp_path / "not-installed.safetensors")
    make_images(tmp_path / "imgs", 1)
    assert main(["score", str(tmp_path / "imgs"), "--no-progress", "-o", str(tmp_path / "r.csv")]) == 2
    assert "--model none" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()


def test_overwrite_replaces(tmp_path: Path) -> None:
    make_images(tmp_path / "imgs", 2)
    out = tmp_path / "r.csv"
    out.write_text("old\n")
    assert score(str(tmp_path / "imgs"), "-o", str(out), "--overwrite", "--workers", "0") == 0
    assert len(csv_paths(out)) == 2


def test_html_page_has_one_card_per_image(tmp_path: Path) -> None:
    make_images(tmp_path / "imgs", 5, bad_every=5)
    page = tmp_path / "site" / "index.html"
    out = tmp_path / "results.parquet"
    assert score(str(tmp_path / "imgs"), "-o", str(out), "--html", str(page), "--workers", "0") == 1
    html = page.read_text()
    assert html.count('<article class="card"') == 5
    assert html.count("data:image/jpeg;base64,") == 4 and "empty file (0 bytes)" in html
    assert len(list(read_rows(out))) == 5


def interrupt_after(n: int) -> Any:
    original = Scorer.score_paths

    def score_paths(self: Scorer, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for i, result in enumerate(original(self, *args, **kwargs)):
            if i == n:
                raise KeyboardInterrupt
            yield result

    return score_paths


@pytest.mark.parametrize("ext", ["csv", "jsonl", "json", "parquet"])
def test_resume_after_ctrl_c_gives_every_file_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], ext: str
) -> None:
    images = make_images(tmp_path / "imgs", 9, bad_every=4)
    out = tmp_path / f"results.{ext}"
    with monkeypatch.context() as patch:
        patch.setattr(Scorer, "score_paths", interrupt_after(5))
        assert score(str(tmp_path / "imgs"), "-o", str(out), "--workers", "0") == 130
    assert "--resume" in capsys.readouterr().err
    assert len(list(read_rows(out))) == 5
    assert score(str(tmp_path / "imgs"), "-o", str(out), "--workers", "0") == 2  # refuses to overwrite
    assert score(str(tmp_path / "imgs"), "-o", str(out), "--resume", "--workers", "0") == 1  # img007 is bad
    assert "(5 already in" in capsys.readouterr().err
    counts = Counter(r["path"] for r in read_rows(out))
    assert counts == Counter(str(p) for p in images)
    # resuming a finished run scores nothing and changes nothing
    assert score(str(tmp_path / "imgs"), "-o", str(out), "--resume", "--workers", "0") == 0
    assert Counter(r["path"] for r in read_rows(out)) == counts


def test_json_output_is_one_array_of_rows(tmp_path: Path) -> None:
    import json

    make_images(tmp_path / "imgs", 2)
    out = tmp_path / "results.json"
    assert score(str(tmp_path / "imgs"), "-o", str(out), "--workers", "0", "--model", "none") == 0
    document = json.loads(out.read_text())
    assert [list(row) for row in document] == [result_columns()] * 2
    assert (tmp_path / "results.json.provenance.json").exists()


def test_own_outputs_inside_the_scanned_folder_are_not_scored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_images(tmp_path, 2)
    assert score(".", "-o", "results.parquet", "--html", "page.html", "--workers", "0") == 0
    (tmp_path / "more.png").write_bytes((tmp_path / "img001.png").read_bytes())
    assert score(".", "-o", "results.parquet", "--html", "page.html", "--resume", "--workers", "0") == 0
    assert sorted(r["path"] for r in read_rows("results.parquet")) == ["img000.jpg", "img001.png", "more.png"]


@pytest.mark.slow
def test_resume_after_the_process_is_killed(tmp_path: Path) -> None:
    images = make_images(tmp_path / "imgs", 150)
    out = tmp_path / "results.csv"
    command = [sys.executable, "-m", "pixgrade", "score", str(tmp_path / "imgs"), "-o", str(out), "--model", "none"]
    command += ["--workers", "0", "--no-progress"]
    proc = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_text().count("\n") > 10:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be interrupted"
    done = len(csv_paths(out))
    assert 10 <= done < len(images)
    subprocess.run([*command, "--resume"], check=True, stderr=subprocess.DEVNULL)
    assert Counter(csv_paths(out)) == Counter(str(p) for p in images)


ODD_NAMES = [
    os.fsdecode(b"caf\xe9-latin1.jpg"),  # not UTF-8 (an old Windows / zip archive name)
    "new\nline.png",
    "tab\there.jpg",
    "quote \"double\", 'single'.png",
    "back\\slash.jpg",
]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_any_file_name_is_written_losslessly_and_recognised_on_resume(
    tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pixgrade.io.files import path_from_text

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, name in enumerate(ODD_NAMES):
        cv2.imwrite(str(folder / f"img{i}.png"), photo(i))
        os.rename(folder / f"img{i}.png", os.path.join(os.fsencode(folder), os.fsencode(name)))
    out = tmp_path / f"results.{fmt}"
    assert score(str(folder), "-o", str(out), "--workers", "0") == 0
    first = list(read_rows(out))
    names = sorted(os.path.basename(path_from_text(r["path"])) for r in first)
    assert names == sorted(ODD_NAMES)
    assert all(r["error"] is None for r in first)
    assert all(Path(path_from_text(r["path"])).is_file() for r in first)
    assert score(str(folder), "-o", str(out), "--resume", "--workers", "0") == 0
    assert f"{len(ODD_NAMES)} already in" in capsys.readouterr().err
    again = list(read_rows(out))
    assert [r["path"] for r in again] == [r["path"] for r in first]  # nothing added, nothing garbled
    if fmt != "parquet":
        out.read_bytes().decode("utf-8")  # valid UTF-8 throughout


def test_odd_names_on_the_stdout_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), photo(1))
    os.rename(folder / "a.png", os.path.join(os.fsencode(folder), b"caf\xe9\n.png"))
    assert score(str(folder), "--workers", "0") == 0
    assert "caf\\xe9\\n.png" in capsys.readouterr().out


def test_unreadable_folder_and_broken_link_get_a_row_with_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_images(tmp_path / "imgs", 2)
    make_images(tmp_path / "imgs" / "locked", 2)
    (tmp_path / "imgs" / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if Path(path).name == "locked":  # the tests run as root, where chmod 000 would not stop reading
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr("pixgrade.io.files.os.scandir", scandir)
    out = tmp_path / "results.csv"
    assert score(str(tmp_path / "imgs"), "-o", str(out), "--workers", "0") == 1
    rows = {Path(r["path"]).name: r for r in read_rows(out)}
    assert rows["locked"]["error"] == "cannot read the folder: Permission denied"
    assert rows["dangling.jpg"]["error"].startswith("broken symbolic link")
    assert rows["img000.jpg"]["error"] is None and len(rows) == 4
    assert score(str(tmp_path / "imgs"), "-o", str(out), "--resume", "--workers", "0") == 0
    assert len(list(read_rows(out))) == 4  # recognised on resume: no duplicate rows


def test_a_second_run_on_a_locked_output_exits_2_naming_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pixgrade.io.locks import OutputLock

    make_images(tmp_path / "imgs", 2)
    out = tmp_path / "results.csv"
    with OutputLock(out, what="results file"):
        assert score(str(tmp_path / "imgs"), "-o", str(out), "--resume", "--workers", "0") == 2
        err = capsys.readouterr().err
        assert f"pid {os.getpid()}" in err and "being written by another pixgrade run" in err
        assert not out.exists()  # nothing written
    assert score(str(tmp_path / "imgs"), "-o", str(out), "--resume", "--workers", "0") == 0  # free again
    assert not list(tmp_path.glob(".*pixgrade-lock"))


@pytest.mark.slow
@pytest.mark.parametrize("wait", [False, True])
def test_two_writers_on_one_results_file(tmp_path: Path, wait: bool) -> None:
    """Two `--resume` runs started together on one file: one writes, the other waits for it (then has nothing
    left to do) or exits 2; never a duplicated or garbled row. (A refusal while the lock is held is checked
    deterministically by the test above; here the two processes' timing is the operating system's.)"""
    images = make_images(tmp_path / "imgs", 40)
    out = tmp_path / "results.csv"
    command = [sys.executable, "-m", "pixgrade", "score", str(tmp_path / "imgs"), "-o", str(out), "--resume"]
    command += ["--model", "none", "--workers", "0", "--no-progress"] + (["--lock-wait", "120"] if wait else [])
    procs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = []
    errors = []
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        codes.append(proc.returncode)
        errors.append(err)
    if wait:
        assert codes == [0, 0], errors
        assert any(f"{len(images)} already in" in e for e in errors)
    elif sorted(codes) == [0, 2]:  # the runs overlapped: the second one refused
        assert "being written by another pixgrade run (pid" in errors[codes.index(2)], errors
    else:  # on a busy machine the first run can finish before the second starts: the second finds it all done
        assert codes == [0, 0], errors
        assert any(f"{len(images)} already in" in e for e in errors), errors
    assert Counter(csv_paths(out)) == Counter(str(p) for p in images)  # each image exactly once


def test_limits_and_faked_headers_give_error_rows(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    data = bytearray(cv2.imencode(".jpg", photo(3))[1].tobytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (9000).to_bytes(2, "big") * 2
    sos = data.find(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    (folder / "faked.jpg").write_bytes(bytes(data[: start + 10]) + b"\xff\xd9")
    wide = np.zeros((1500, 2000), np.uint16)
    wide[::40] = 50000
    cv2.imwrite(str(folder / "deep.png"), wide)  # 16-bit: about 17 MiB to decode
    (folder / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024 + 1))
    cv2.imwrite(str(folder / "ok.png"), photo(4))
    out = tmp_path / "results.csv"
    args = [str(folder), "-o", str(out), "--workers", "0", "--max-image-memory", "10", "--max-file-mb", "2"]
    assert score(*args) == 1
    rows = {Path(r["path"]).name: r for r in read_rows(out)}
    assert "at least 99.9% of the picture is missing" in rows["faked.jpg"]["error"]
    assert "over the per-image memory budget of 10 MiB" in rows["deep.png"]["error"]
    assert rows["big.bin"]["error"].startswith("file of 2,097,153 bytes is over the limit of 2,097,152 bytes")
    assert rows["ok.png"]["error"] is None


def test_memory_limits_reach_the_ray_actors() -> None:
    from pixgrade.cli.engine import scorer_kwargs
    from pixgrade.cli.main import build_parser

    base = ["score", "x", "--model", "none", "--engine", "ray"]
    kwargs = scorer_kwargs(build_parser().parse_args([*base, "--max-image-memory", "10", "--max-file-mb", "3"]))
    assert kwargs["max_image_bytes"] == 10 * 1024 * 1024 and kwargs["max_file_bytes"] == 3 * 1024 * 1024
    defaults = scorer_kwargs(build_parser().parse_args(base))
    assert defaults["max_image_bytes"] == defaults["max_file_bytes"] == 1024 * 1024 * 1024
