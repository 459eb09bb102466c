"""`pixgrade degrade` and make_degraded_dataset: outputs, manifest, seeds, refusing to overwrite, resuming."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from degrade_testkit import make_product_photo
from PIL import Image

from pixgrade.cli.main import main
from pixgrade.degrade import degrade, level_score
from pixgrade.degrade.dataset import DegradeSettings, load_settings, make_degraded_dataset, variant_seed
from pixgrade.errors import PixgradeError


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "clean"
    (folder / "shoes").mkdir(parents=True)
    Image.fromarray(make_product_photo(64, 80, seed=1)).save(folder / "a.png")
    Image.fromarray(make_product_photo(72, 64, seed=2)).save(folder / "shoes" / "b.jpg", quality=95)
    return folder


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_cli_writes_pictures_and_manifest(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc = main(["degrade", str(src), "-o", str(out), "--types", "jpeg", "gaussian_noise", "--levels", "1,5"])
    assert rc == 0
    table = rows(out)
    assert list(table[0]) == ["image", "score", "group", "source", "degradation", "level"]
    assert len(table) == 2 * (1 + 2 * 2)  # two sources × (clean + 2 types × 2 levels)
    assert {r["group"] for r in table} == {"a.png", "shoes/b.jpg"}
    for r in table:
        assert (out / r["image"]).is_file()
        assert (out / r["source"]).resolve() == (src / r["group"]).resolve()
        assert float(r["score"]) == pytest.approx(level_score(int(r["level"])), abs=1e-3)
        assert (r["degradation"] == "") == (r["level"] == "0")
    # the written picture is exactly degrade(source, type, level, derived seed)
    noisy = next(
        r for r in table if r["group"] == "a.png" and r["degradation"] == "gaussian_noise" and r["level"] == "5"
    )
    source = np.asarray(Image.open(src / "a.png").convert("RGB"))
    expected = degrade(source, "gaussian_noise", 5, variant_seed(0, "a.png", "gaussian_noise", 5))
    assert np.array_equal(np.asarray(Image.open(out / noisy["image"])), expected)
    clean = next(r for r in table if r["group"] == "a.png" and r["level"] == "0")
    assert np.array_equal(np.asarray(Image.open(out / clean["image"])), source)


def test_refuses_non_empty_output_and_keeps_user_files(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["degrade", str(src), "-o", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    # --resume on a folder that is not ours is refused too
    assert main(["degrade", str(src), "-o", str(out), "--resume"]) == 2
    assert "degrade.json missing" in capsys.readouterr().err


def test_refuses_output_inside_source(src: Path) -> None:
    with pytest.raises(PixgradeError, match="inside the source"):
        make_degraded_dataset(src, src / "out")


def test_resume_completes_an_interrupted_run(src: Path, tmp_path: Path) -> None:
    settings = DegradeSettings(types=("gaussian_blur", "desaturation"), levels=(2, 3), seed=5)
    full = tmp_path / "full"
    make_degraded_dataset(src, full, settings)
    expected = {r["image"]: r for r in rows(full)}

    out = tmp_path / "out"
    calls = []

    def stop_after_first(done: int, total: int) -> None:
        calls.append(done)
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_degraded_dataset(src, out, settings, progress=stop_after_first)
    first = rows(out)
    assert 0 < len(first) < len(expected)
    # simulate a crash in the middle of appending a row and a picture written without its row
    with (out / "manifest.csv").open("a") as handle:
        handle.write("images/shoes/b.jpg__clean.png,4.5,sho")
    lost = next(name for name in expected if name not in {r["image"] for r in first})
    (out / lost).parent.mkdir(parents=True, exist_ok=True)
    Image.open(full / lost).save(out / lost)
    before = (out / lost).stat().st_mtime_ns

    with pytest.raises(PixgradeError, match="not empty"):
        make_degraded_dataset(src, out, settings)
    with pytest.raises(PixgradeError, match=r"different settings .*seed: 5 -> 6"):
        make_degraded_dataset(src, out, DegradeSettings(types=settings.types, levels=(2, 3), seed=6), resume=True)
    summary = make_degraded_dataset(src, out, settings, resume=True)
    assert summary.skipped == len(first) + 1 and summary.written == len(expected) - len(first) - 1
    assert (out / lost).stat().st_mtime_ns == before, "an existing picture must not be rewritten"
    resumed = rows(out)
    assert sorted(r["image"] for r in resumed) == sorted(expected)
    assert {r["image"]: r for r in resumed} == expected
    for name in expected:
        assert np.array_equal(np.asarray(Image.open(out / name)), np.asarray(Image.open(full / name)))
    assert load_settings(out) == settings
    with pytest.raises(PixgradeError, match="was made from"):
        make_degraded_dataset(tmp_path / "full", out, settings, resume=True)


def test_cli_resume_takes_settings_from_the_earlier_run(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["degrade", str(src), "-o", str(out), "--types", "haze", "--levels", "4", "--seed", "9"]) == 0
    (out / "manifest.csv").write_text("")  # killed before even the header was written
    assert main(["degrade", str(src), "-o", str(out), "--resume"]) == 0
    assert len(rows(out)) == 4 and rows(out)[0]["degradation"] in ("", "haze")
    assert main(["degrade", str(src), "-o", str(out), "--resume", "--seed", "1"]) == 2


def test_bad_source_is_recorded_and_the_rest_goes_on(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "out"
    rc = main(["degrade", str(src), "-o", str(out), "--types", "jpeg", "--levels", "3", "--no-clean"])
    assert rc == 1
    assert "broken.jpg" in capsys.readouterr().err
    assert len(rows(out)) == 2
    with (out / "errors.csv").open(newline="") as handle:
        errors = list(csv.DictReader(handle))
    assert len(errors) == 1 and errors[0]["path"].endswith("broken.jpg") and errors[0]["error"]


def test_per_image_sampling_and_max_side(src: Path, tmp_path: Path) -> None:
    settings = DegradeSettings(per_image=3, include_clean=False, max_side=32, seed=1)
    make_degraded_dataset(src, tmp_path / "a", settings)
    make_degraded_dataset(src, tmp_path / "b", settings)
    table = rows(tmp_path / "a")
    assert len(table) == 6 and len({(r["degradation"], r["level"]) for r in table if r["group"] == "a.png"}) == 3
    assert table == rows(tmp_path / "b"), "same seed, same choice"
    assert max(Image.open(tmp_path / "a" / table[0]["image"]).size) == 32


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--levels", "0-3"], "levels run from 1 to 5"),
        (["--levels", "x"], "invalid levels"),
        (["--types", "sparkle"], "unknown degradation type"),
        (["--per-image", "0"], "per_image must be >= 1"),
    ],
)
def test_cli_usage_errors(
    src: Path, tmp_path: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        rc = main(["degrade", str(src), "-o", str(tmp_path / "out"), *argv])
    except SystemExit as exc:  # argparse type errors exit directly
        rc = int(exc.code or 0)
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
