"""The HTML page of scores: one card per image, errors shown, worst first, self-contained."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline_helpers import make_folder, product_photo, save

from pixgrade.pipeline import ImageResult, Scorer
from pixgrade.report.score_page import render_score_page, write_score_page


def cards(html: str) -> list[str]:
    return re.findall(r'<article class="card"[^>]*data-path="([^"]*)"', html)


def test_one_card_per_image_with_thumbnails_and_errors(tmp_path: Path) -> None:
    make_folder(tmp_path, n_good=3)
    scorer = Scorer(model=None)
    rows = [r.to_row() for r in scorer.score_paths(sorted(tmp_path.rglob("*.*")), workers=0)]
    out = write_score_page(rows, tmp_path / "page" / "index.html", model="none")
    html = out.read_text()
    assert sorted(cards(html)) == sorted(r["path"] for r in rows)
    assert html.count('src="data:image/jpeg;base64,') == 3  # thumbnails of the readable images, embedded
    assert html.count("cannot open") == 3
    assert "empty file (0 bytes)" in html and "truncated or damaged" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from elsewhere
    assert "measures-only heuristic" in html


def test_worst_first_and_errors_on_top(tmp_path: Path) -> None:
    rows = [
        ImageResult(path="b.jpg", score=4.2, grade=4).to_row(),
        ImageResult(path="a.jpg", score=1.1, grade=1, reasons=["blurry (model)"]).to_row(),
        ImageResult(path="c.jpg", error="not an image").to_row(),
        ImageResult(path="d.jpg", score=2.5, grade=3).to_row(),
    ]
    html = render_score_page(rows, thumbnails=False)
    assert cards(html) == ["c.jpg", "a.jpg", "d.jpg", "b.jpg"]
    assert "blurry (model)" in html and "1.1" in html


def test_paths_are_escaped(tmp_path: Path) -> None:
    path = save(product_photo(), tmp_path / "<b>odd & name</b>.png")
    rows = [Scorer(model=None).score_image(path).to_row()]
    html = render_score_page(rows)
    assert "<b>odd" not in html and "&lt;b&gt;odd &amp; name&lt;/b&gt;.png" in html


def test_max_cards_keeps_the_worst_and_says_so() -> None:
    rows = (ImageResult(path=f"{i}.jpg", score=i / 10, grade=round(i / 10)).to_row() for i in range(50))
    html = render_score_page(rows, thumbnails=False, max_cards=5, results_file="results.csv")
    assert cards(html) == [f"{i}.jpg" for i in range(5)]
    assert "Showing the 5 lowest-scored of 50 images" in html
