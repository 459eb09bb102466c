"""``pixgrade filter`` and ``pixgrade catalog`` end to end on generated photos (measures only, classical text)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont, ImageOps

from pixgrade.cli.main import main

FAST = ["--model", "none", "--workers", "0", "--text-detector", "classical"]


def photo(path: Path, size: int = 640, fill: float = 0.9, shade: int = 50) -> Image.Image:
    image = Image.new("RGB", (size, size), "white")
    m = int(size * (1 - fill) / 2)
    ImageDraw.Draw(image).rounded_rectangle([m, m, size - m, size - m], radius=size // 8, fill=(shade, 80, 170))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=92)
    return image


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    good = photo(root / "SKU1" / "good.jpg")
    good.resize((520, 520)).save(root / "SKU1" / "good_copy.jpg", quality=70)  # near-duplicate, smaller
    ImageOps.expand(good.resize((600, 600)), border=20, fill=(20, 20, 20)).save(root / "SKU1" / "framed.jpg")
    photo(root / "SKU2" / "small.jpg", size=300)
    small_text = photo(root / "SKU2" / "caption.jpg", fill=0.6).copy()
    ImageDraw.Draw(small_text).text((40, 30), "BIG SALE TODAY", fill=(200, 0, 0), font=ImageFont.load_default(size=44))
    small_text.save(root / "SKU2" / "caption.jpg")
    (root / "SKU2" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def read_decisions(out: Path) -> dict[str, dict[str, str]]:
    with (out / "decisions.csv").open() as fh:
        return {Path(r["path"]).name: r for r in csv.DictReader(fh)}


def test_filter_decides_copies_and_reports(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["filter", str(shop), "--policy", "amazon-main", "-o", str(out), *FAST])
    assert code == 1  # broken.jpg could not be read; the run went on
    d = read_decisions(out)
    assert d["good.jpg"]["decision"] == "main" and d["good.jpg"]["main"] == "True"
    assert d["good_copy.jpg"]["decision"] == "duplicate" and d["good_copy.jpg"]["duplicate_of"].endswith("good.jpg")
    assert d["framed.jpg"]["decision"] == "reject" and "border" in d["framed.jpg"]["reasons"]
    assert d["broken.jpg"]["decision"] == "reject" and "could not read the image" in d["broken.jpg"]["reasons"]
    assert "too small" in d["small.jpg"]["reasons"]
    assert (out / "accepted" / "SKU1" / "good.jpg").is_file()
    assert (out / "rejected" / "SKU1" / "framed.jpg").is_file()
    assert (out / "duplicates" / "SKU1" / "good_copy.jpg").is_file()
    doc = json.loads((out / "decisions.json").read_text())
    assert doc["summary"]["images"] == 6 and doc["summary"]["products"] == 2
    assert {p["product"]: p["main_passes"] for p in doc["products"]} == {"SKU1": True, "SKU2": False}
    html = (out / "report.html").read_text()
    assert "no image passes" in html and "data:image/jpeg;base64," in html and "duplicate of good.jpg" in html
    assert (out / "catalog.sqlite").is_file()
    assert (shop / "SKU1" / "good.jpg").is_file()  # copies: originals untouched


def test_rerun_reuses_and_never_overwrites_users_files(
    shop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    main(["filter", str(shop), "-o", str(out), *FAST])
    (out / "report.html").write_text("my own notes")  # the user replaced our report with their file
    capsys.readouterr()
    main(["filter", str(shop), "-o", str(out), *FAST])
    err = capsys.readouterr().err
    assert "5 unchanged (stored scores reused)" in err
    assert (out / "report.html").read_text() == "my own notes"
    assert (out / "report-1.html").is_file()
    placed = [p.name for p in out.rglob("*.jpg")]
    assert placed and not [n for n in placed if "-1." in n]  # no second copies


def test_dry_run_writes_nothing(shop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    main(["filter", str(shop), "-o", str(out), "--move", "--dry-run", *FAST])
    printed = capsys.readouterr().out
    assert "would move" in printed and '"images": 6' in printed
    assert not out.exists()
    assert (shop / "SKU1" / "good.jpg").is_file()


def test_move_only_when_asked_and_never_replaces(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "accepted" / "SKU1").mkdir(parents=True)
    (out / "accepted" / "SKU1" / "good.jpg").write_bytes(b"someone else's file")
    main(["filter", str(shop), "-o", str(out), "--move", *FAST])
    assert not (shop / "SKU1" / "good.jpg").exists()
    assert (out / "accepted" / "SKU1" / "good.jpg").read_bytes() == b"someone else's file"
    assert (out / "accepted" / "SKU1" / "good-1.jpg").is_file()


def test_output_inside_input_is_not_rescanned(shop: Path) -> None:
    out = shop / "filtered"
    main(["filter", str(shop), "-o", str(out), *FAST])
    main(["filter", str(shop), "-o", str(out), *FAST])
    assert len(read_decisions(out)) == 6


def test_group_by_pattern_and_csv(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    photo(flat / "AB1_front.jpg", shade=30)
    photo(flat / "AB1_back.jpg", shade=160, fill=0.7)
    photo(flat / "CD2_front.jpg", shade=100)
    out = tmp_path / "o1"
    main(["filter", str(flat), "-o", str(out), "--group-by", "pattern:^(?P<product>[A-Z]+\\d+)_", "--no-files", *FAST])
    assert {r["product"] for r in read_decisions(out).values()} == {"AB1", "CD2"}
    mapping = tmp_path / "map.csv"
    mapping.write_text("image,product\nAB1_front.jpg,X\nAB1_back.jpg,X\nCD2_front.jpg,X\n")
    out2 = tmp_path / "o2"
    main(["filter", str(flat), "-o", str(out2), "--group-by", f"csv:{mapping}", "--no-files", *FAST])
    rows = read_decisions(out2)
    assert {r["product"] for r in rows.values()} == {"X"} and sum(r["main"] == "True" for r in rows.values()) == 1


def test_show_policy_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["filter", "--show-policy", "amazon-main"]) == 0
    text = capsys.readouterr().out
    assert "name: amazon-main" in text and "product-fill" in text
    assert main(["filter", str(tmp_path), "--policy", "nope", "-o", str(tmp_path / "o"), *FAST]) == 2
    assert "unknown policy" in capsys.readouterr().err
    assert main(["filter", str(tmp_path / "missing"), "-o", str(tmp_path / "o"), *FAST]) == 2


def test_catalog_export_cli(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    main(["filter", str(shop), "-o", str(out), "--no-files", "--no-report", *FAST])
    assert main(["catalog", "export", str(out / "catalog.sqlite"), "-o", str(tmp_path / "cat.csv")]) == 0
    with (tmp_path / "cat.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {"decision", "score", "sha256"} <= set(rows[0])
    assert main(["catalog", "export", str(out / "catalog.sqlite"), "-o", str(tmp_path / "cat.csv")]) == 2


def test_dry_run_reads_but_never_writes_the_catalogue(
    shop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    out = tmp_path / "out"
    main(["filter", str(shop), "-o", str(out), "--no-files", "--no-report", *FAST])
    db = out / "catalog.sqlite"
    before = db.stat().st_mtime_ns
    capsys.readouterr()
    main(["filter", str(shop), "-o", str(out), "--dry-run", *FAST])
    assert "5 unchanged (stored scores reused)" in capsys.readouterr().err
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    conn.close()
    assert db.stat().st_mtime_ns == before


def test_odd_file_names_survive_every_filter_output(tmp_path: Path) -> None:
    from pixgrade.catalog import Catalog
    from pixgrade.io.files import path_from_text

    root = tmp_path / "shop" / "SKU1"
    photo(root / "a.jpg")
    photo(root / "b.jpg", shade=120)
    raw = os.fsencode(root)
    os.rename(root / "a.jpg", os.path.join(raw, b'caf\xe9 "q"\n.jpg'))
    os.rename(root / "b.jpg", os.path.join(raw, b"tab\there.jpg"))
    out = tmp_path / "out"
    args = ["filter", str(tmp_path / "shop"), "--model", "none", "-o", str(out), "--duplicates", "off"]
    assert main(args) == 0
    with (out / "decisions.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = sorted(os.fsencode(os.path.basename(path_from_text(r["path"]))) for r in rows)
    assert names == sorted([b'caf\xe9 "q"\n.jpg', b"tab\there.jpg"])
    assert all(Path(path_from_text(r["destination"])).is_file() for r in rows)
    document = json.loads((out / "decisions.json").read_text(encoding="utf-8"))
    assert sorted(i["path"] for i in document["images"]) == sorted(r["path"] for r in rows)
    (out / "report.html").read_text(encoding="utf-8")
    with Catalog(out / "catalog.sqlite") as catalog:
        assert sorted(r["path"] for r in catalog.rows()) == sorted(r["path"] for r in rows)
    assert main(args) == 0  # a rerun recognises them (stored scores reused)
    with Catalog(out / "catalog.sqlite") as catalog:
        assert catalog.count("images") == 2


def test_second_filter_on_a_locked_folder_or_catalogue_exits_2(
    shop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pixgrade.io.locks import OutputLock

    out = tmp_path / "out"
    out.mkdir()
    base = ["filter", str(shop), "--model", "none", "-o", str(out)]
    with OutputLock(out, what="output folder"):
        assert main(base) == 2
        assert "output folder is being written by another pixgrade run" in capsys.readouterr().err
    shared = tmp_path / "shared.sqlite"
    with OutputLock(shared, what="catalogue"):
        assert main([*base, "--catalog", str(shared)]) == 2
        assert "catalogue is being written by another pixgrade run" in capsys.readouterr().err
    assert not (out / "accepted").exists() and not shared.exists()


def test_killed_run_is_marked_interrupted_and_its_part_files_removed(shop: Path, tmp_path: Path) -> None:
    from pixgrade.catalog import Catalog

    out = tmp_path / "out"
    with Catalog(out / "catalog.sqlite") as catalog:
        stale = catalog.start_run("pixgrade filter (killed)", "generic", "none")  # never finished: a kill -9
    part = out / "accepted" / "SKU1" / ".good.jpg.pixgrade-part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"half a copy")
    users = out / "accepted" / "SKU1" / "notes.pixgrade-part.txt"
    users.write_text("not ours")
    assert main(["filter", str(shop), "--model", "none", "-o", str(out)]) == 1  # broken.jpg is unreadable
    assert not part.exists() and users.exists()
    with Catalog(out / "catalog.sqlite") as catalog:
        status = dict(catalog.conn.execute("SELECT id, status FROM runs").fetchall())
    assert status[stale] == "interrupted" and sorted(status.values()) == ["done", "interrupted"]


@pytest.mark.parametrize("crash_after", [1, 4])
def test_interrupted_move_is_finished_by_the_rerun(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_after: int
) -> None:
    """A run killed after some moves: the rerun decides for every original image, as one uninterrupted run
    would (an exact copy does not become a second main image), and finishes the moves."""
    import shutil

    import pixgrade.catalog

    reference_shop = tmp_path / "reference-shop"
    shutil.copytree(shop, reference_shop)
    main(["filter", str(reference_shop), "-o", str(tmp_path / "reference"), "--no-files", *FAST])
    expected = {name: row["decision"] for name, row in read_decisions(tmp_path / "reference").items()}
    originals = sorted(p for p in shop.rglob("*") if p.is_file())

    real = pixgrade.catalog.placement.place_file
    calls: list[Path] = []

    def crash(src: str | Path, *args: object, **kwargs: object) -> tuple[Path, bool]:
        if len(calls) == crash_after:
            raise KeyboardInterrupt  # as a kill would, between two moves
        calls.append(Path(src))
        return real(src, *args, **kwargs)  # type: ignore[arg-type]

    out = tmp_path / "out"
    monkeypatch.setattr(pixgrade.catalog.placement, "place_file", crash)  # where place_decided finds it
    assert main(["filter", str(shop), "-o", str(out), "--move", *FAST]) == 130
    monkeypatch.undo()
    assert sum(1 for p in originals if not p.exists()) == crash_after
    assert main(["filter", str(shop), "-o", str(out), "--move", *FAST]) == 1  # broken.jpg is unreadable
    decided = read_decisions(out)
    assert {name: row["decision"] for name, row in decided.items()} == expected
    assert len(decided) == len(originals)
    assert all(Path(row["destination"]).is_file() for row in decided.values() if row["destination"])
    assert not any(p.exists() for p in originals if p.name != "broken.jpg" or decided[p.name]["destination"])
    main(["filter", str(shop), "-o", str(out), "--move", *FAST])  # later reruns still see every image
    assert len(read_decisions(out)) == len(originals)


def test_move_keeps_symlinks_resolving_and_refuses_broken_ones(tmp_path: Path) -> None:
    external = tmp_path / "library" / "photo.jpg"
    photo(external)
    shop = tmp_path / "shop"
    (shop / "SKU1").mkdir(parents=True)
    (shop / "SKU1" / "linked.jpg").symlink_to(Path("..") / ".." / "library" / "photo.jpg")  # relative link
    (shop / "SKU1" / "dangling.jpg").symlink_to("missing.jpg")
    out = tmp_path / "out"
    assert main(["filter", str(shop), "-o", str(out), "--move", *FAST]) == 1
    decided = read_decisions(out)
    moved = Path(decided["linked.jpg"]["destination"])
    assert moved.is_symlink() and moved.resolve() == external.resolve() and external.is_file()
    assert not os.path.lexists(shop / "SKU1" / "linked.jpg")
    assert decided["dangling.jpg"]["error"].startswith("broken symbolic link")
    assert (shop / "SKU1" / "dangling.jpg").is_symlink()  # refused, left where it is


def test_place_file_refuses_to_move_a_broken_link(tmp_path: Path) -> None:
    from pixgrade.catalog import place_file

    link = tmp_path / "a.jpg"
    link.symlink_to("nowhere.jpg")
    with pytest.raises(OSError, match="broken symbolic link"):
        place_file(link, tmp_path / "dest", "move")
    assert link.is_symlink()


def test_summary_counts_best_available_main_images(shop: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    main(["filter", str(shop), "--policy", "amazon-main", "-o", str(out), "--no-files", "--no-report", *FAST])
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("6 images"))
    # SKU1's main passes; SKU2 has none that passes, so its best available is a main image too (decision reject)
    assert "2 products: 2 main images (1 pass, 1 only best available" in line
    assert "of the other images 0 accepted, 3 rejected, 1 duplicate" in line
    doc = json.loads((out / "decisions.json").read_text())
    assert doc["summary"]["main_images"] == {"passing": 1, "best_available": 1, "none": 0}
    d = read_decisions(out)
    assert sum(r["main"] == "True" for r in d.values()) == 2
    for name in ("good.jpg", "small.jpg", "framed.jpg"):
        assert 0.0 <= float(d[name]["presentation"]) <= 1.0 and d[name]["presentation_reasons"]
        assert 0.0 <= float(d[name]["main_score"]) <= 1.0
    assert d["broken.jpg"]["presentation"] == "" and d["good_copy.jpg"]["cluster"] == d["good.jpg"]["cluster"] != ""
    assert "kept copy of duplicate cluster" in d["good.jpg"]["notes"]


def test_strip_metadata_copies_carry_no_exif(shop: Path, tmp_path: Path) -> None:
    good = shop / "SKU1" / "good.jpg"
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0)}  # a GPS position
    Image.open(good).save(good, quality=92, exif=exif.tobytes())
    original = good.read_bytes()
    out = tmp_path / "out"
    assert main(["filter", str(shop), "--policy", "amazon-main", "-o", str(out), "--strip-metadata", *FAST]) == 1
    copy = out / "accepted" / "SKU1" / "good.jpg"
    with Image.open(copy) as im:
        assert not im.getexif()
    assert good.read_bytes() == original  # the original keeps its metadata
    assert main(["filter", str(shop), "-o", str(tmp_path / "o2"), "--strip-metadata", "--move", *FAST]) == 2


def test_renditions_of_accepted_images_resume_and_never_overwrite(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["filter", str(shop), "--policy", "amazon-main", "-o", str(out), "--renditions", "200,1000:jpeg", *FAST]
    argv += ["--rendition-min-ssim", "0.95"]
    assert main(argv) == 1  # broken.jpg
    with (out / "renditions" / "renditions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    accepted = {r["path"] for r in read_decisions(out).values() if r["decision"] in ("main", "accept")}
    assert {r["source"] for r in rows} == accepted and accepted  # only the accepted images
    by_size = {(Path(r["source"]).name, r["size"]): r for r in rows}
    ok = by_size[("good.jpg", "200")]
    assert ok["status"] == "ok" and float(ok["ssim_y"]) >= 0.95
    rendition = out / "renditions" / "SKU1" / "good-200.jpg"
    assert Path(ok["path"]) == rendition and rendition.stat().st_size == int(ok["bytes"])
    with Image.open(rendition) as im:
        assert max(im.size) == 200
    assert by_size[("good.jpg", "1000")]["status"] == "skipped"  # never upscaled
    mtime = rendition.stat().st_mtime_ns
    assert main(argv) == 1  # a rerun finds them in the manifest: nothing new, nothing overwritten
    with (out / "renditions" / "renditions.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    assert rendition.stat().st_mtime_ns == mtime
    assert main([*argv[:-2], "--renditions", "200:gif"]) == 2  # unknown format: usage error


def test_filter_memory_and_file_size_limits(tmp_path: Path) -> None:
    import numpy as np

    root = tmp_path / "shop" / "SKU1"
    photo(root / "ok.jpg")
    wide = np.zeros((1500, 2000), np.uint16)
    wide[::40] = 50000
    Image.fromarray(wide).save(root / "deep.png")  # 16-bit grey: about 17 MiB to decode (6 MiB as 8-bit)
    (root / "big.png").write_bytes(os.urandom(2 * 1024 * 1024 + 1))
    out = tmp_path / "out"
    limits = ["--max-image-memory", "10", "--max-file-mb", "2"]
    assert main(["filter", str(tmp_path / "shop"), "-o", str(out), *FAST, *limits]) == 1
    d = read_decisions(out)
    assert "over the per-image memory budget of 10 MiB" in d["deep.png"]["error"]
    assert d["big.png"]["error"].startswith("file of 2,097,153 bytes is over the limit of 2,097,152 bytes")
    assert d["deep.png"]["decision"] == d["big.png"]["decision"] == "reject"
    assert d["ok.jpg"]["error"] == ""
    # The refusals are not cached: a rerun with the default limits reads both (big.png is then not an image).
    assert main(["filter", str(tmp_path / "shop"), "-o", str(out), *FAST]) == 1
    d = read_decisions(out)
    assert d["deep.png"]["error"] == ""
    assert "over the limit" not in d["big.png"]["error"] and d["big.png"]["error"]


def test_filter_limits_reach_every_scorer() -> None:
    from pixgrade.catalog.filtering import FilterSettings, scorer_options
    from pixgrade.policy import load_policy

    settings = FilterSettings(policy=load_policy("generic"), max_image_bytes=10, max_file_bytes=3)
    options = scorer_options(settings, "classical")  # what the local workers and the Ray actors are built with
    assert options["max_image_bytes"] == 10 and options["max_file_bytes"] == 3


def test_rerun_removes_renditions_of_images_no_longer_accepted_but_never_users_files(
    shop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["filter", str(shop), "--policy", "amazon-main", "-o", str(out), "--renditions", "200,100:jpeg", *FAST]
    main(argv)
    manifest = out / "renditions" / "renditions.csv"
    with manifest.open() as fh:
        first = list(csv.DictReader(fh))
    accepted = {Path(r["source"]).name for r in first}
    assert "good.jpg" in accepted
    gone = out / "renditions" / "SKU1" / "good-200.jpg"
    tampered = out / "renditions" / "SKU1" / "good-100.jpg"
    assert gone.is_file() and tampered.is_file()
    tampered.write_bytes(tampered.read_bytes() + b"user edit")  # changed since pixgrade wrote it
    users = out / "renditions" / "SKU1" / "mine.jpg"
    users.write_bytes(b"the user's own file")
    (shop / "SKU1" / "good.jpg").unlink()  # no longer in the catalogue, so no longer accepted
    capsys.readouterr()
    main(argv)
    said = capsys.readouterr()
    with manifest.open() as fh:
        second = list(csv.DictReader(fh))
    assert "good.jpg" not in {Path(r["source"]).name for r in second}  # its rows are gone
    assert all(r in second for r in first if Path(r["source"]).name != "good.jpg")  # the others stay as they were
    assert not gone.exists()  # pixgrade's own file of a dropped image: removed
    assert tampered.read_bytes().endswith(b"user edit")  # changed: left in place, and said so
    assert users.read_bytes() == b"the user's own file"  # never in the manifest: never touched
    text = said.out + said.err
    assert "removed 1 rendition file(s) of images no longer accepted (2 manifest row(s))" in text
    assert f"{tampered}: not removed" in text and "left 1 file(s)" in text
    main(argv)  # a third run finds nothing stale
    with manifest.open() as fh:
        assert list(csv.DictReader(fh)) == second
    assert tampered.exists()
